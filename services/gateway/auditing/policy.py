"""The audit policy: which requests are recorded, at which level, in which stages.

An ``audit.k8s.io/v1`` ``Policy`` file is read, validated and matched as kube-apiserver
does (k8s.io/apiserver/pkg/audit/policy/reader.go, checker.go;
pkg/apis/audit/validation/validation.go): the first rule whose every field matches the
request decides its level; no match is level None. A rule's ``omitStages`` is the union
of its own and the policy's; its ``omitManagedFields``, when set, overrides the
policy's. Rules match the *authenticated* user (impersonation comes later in kube's
handler chain), the request's verb and, exclusively, either its resource (group,
``resource/subresource`` with the ``*``, ``*/sub`` and ``resource/*`` wildcards,
resource names, namespace — ``""`` for cluster-scoped) or its non-resource path (``*``
anywhere, or a trailing ``*`` for a prefix).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kapi import names
from services.gateway.request_info import RequestInfo

log = logging.getLogger(__name__)

API_VERSION = "audit.k8s.io/v1"
KIND = "Policy"


class Level(enum.IntEnum):
    """How much of a request is recorded; ordered as kube's ``Level.Less``."""

    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3

    @property
    def wire(self) -> str:
        return _LEVEL_NAMES[self]

    @classmethod
    def parse(cls, value: str) -> Level:
        return _LEVELS[value]


_LEVEL_NAMES = {
    Level.NONE: "None",
    Level.METADATA: "Metadata",
    Level.REQUEST: "Request",
    Level.REQUEST_RESPONSE: "RequestResponse",
}
_LEVELS = {name: level for level, name in _LEVEL_NAMES.items()}


class Stage(enum.StrEnum):
    REQUEST_RECEIVED = "RequestReceived"
    RESPONSE_STARTED = "ResponseStarted"  # long-running requests only (watch, exec, ...)
    RESPONSE_COMPLETE = "ResponseComplete"
    PANIC = "Panic"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message is kube's."""


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    level: Level
    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    resources: tuple[GroupResources, ...] = ()
    namespaces: frozenset[str] = frozenset()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[Stage] = frozenset()
    omit_managed_fields: bool | None = None


@dataclass(frozen=True)
class RequestAuditConfig:
    """What the policy says of one request (kube's ``audit.RequestAuditConfig``)."""

    level: Level
    omit_stages: frozenset[Stage] = frozenset()
    omit_managed_fields: bool = False


NOT_AUDITED = RequestAuditConfig(Level.NONE)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    omit_stages: frozenset[Stage] = frozenset()
    omit_managed_fields: bool = False
    # Each rule's verdict, its stages already the union with the policy's (NewChecker).
    _configs: tuple[RequestAuditConfig, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        configs = tuple(
            RequestAuditConfig(
                rule.level,
                self.omit_stages | rule.omit_stages,
                self.omit_managed_fields
                if rule.omit_managed_fields is None
                else rule.omit_managed_fields,
            )
            for rule in self.rules
        )
        object.__setattr__(self, "_configs", configs)

    def evaluate(
        self, username: str | None, groups: Sequence[str], info: RequestInfo
    ) -> RequestAuditConfig:
        """The level and stages of a request by ``username`` (None: not authenticated)
        in ``groups``: the first matching rule's, else None with the policy's stages."""
        for rule, config in zip(self.rules, self._configs, strict=True):
            if rule_matches(rule, username, groups, info):
                return config
        return RequestAuditConfig(Level.NONE, self.omit_stages, self.omit_managed_fields)


def rule_matches(
    rule: Rule, username: str | None, groups: Sequence[str], info: RequestInfo
) -> bool:
    """checker.go ruleMatches: every field the rule sets must match."""
    if rule.users and (username is None or username not in rule.users):
        return False
    if rule.user_groups and (
        username is None or not any(group in rule.user_groups for group in groups)
    ):
        return False
    if rule.verbs and info.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        return _matches_resource(rule, info)
    if rule.non_resource_urls:
        return not info.is_resource_request and any(
            path_matches(info.path, spec) for spec in rule.non_resource_urls
        )
    return True


def path_matches(path: str, spec: str) -> bool:
    """``*``, the exact path, or a prefix given with a trailing ``*``."""
    if spec == "*" or spec == path:
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


def _matches_resource(rule: Rule, info: RequestInfo) -> bool:
    if not info.is_resource_request:
        return False
    if rule.namespaces and info.namespace not in rule.namespaces:
        return False
    if not rule.resources:
        return True
    resource, subresource = info.resource, info.subresource
    combined = f"{resource}/{subresource}" if subresource else resource
    for group_resources in rule.resources:
        if group_resources.group != info.group:
            continue
        if not group_resources.resources:
            return True
        if group_resources.resource_names and info.name not in group_resources.resource_names:
            continue
        for spec in group_resources.resources:
            if spec == combined or spec == "*":
                return True
            if subresource and spec.startswith("*/") and spec[2:] == subresource:
                return True
            if spec.endswith("/*") and spec[:-2] == resource:
                return True
    return False


# --- reading a policy file ---------------------------------------------------------------


def load_file(path: str | Path) -> Policy:
    """reader.go LoadPolicyFromFile: the policy, or PolicyError in kube's words."""
    if not str(path):
        raise PolicyError("file path not specified")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(f'failed to read file path "{path}": {_os_error(exc)}') from None
    try:
        return load_bytes(data)
    except PolicyError as exc:
        raise PolicyError(f"{exc}: from file {path}") from None


def load_bytes(data: bytes) -> Policy:
    """reader.go LoadPolicyFromBytes: decode (unknown fields are warned of and ignored,
    as kube's fallback to lenient decoding), check the version, validate, refuse a policy
    without rules."""
    try:
        document = yaml.safe_load(data) if data.strip() else None
    except yaml.YAMLError as exc:
        raise PolicyError(f"failed decoding: {exc}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise PolicyError("failed decoding: the policy is not a mapping")
    api_version, kind = document.get("apiVersion") or "", document.get("kind") or ""
    if api_version != API_VERSION or kind != KIND:
        group, _, version = str(api_version).rpartition("/")
        # schema.GroupVersionKind's String(), as kube prints it.
        raise PolicyError(f"unknown group version field {group}/{version}, Kind={kind} in policy")
    decoder = _Decoder()
    raw_rules = decoder.list_of(document, "rules", "rules", dict)
    omit_stages = decoder.strings(document, "omitStages", "omitStages")
    omit_managed_fields = decoder.boolean(document, "omitManagedFields", "omitManagedFields")
    decoder.unknown(document, _POLICY_FIELDS, "")
    errors: list[str] = []
    errors += _validate_stages(omit_stages, "omitStages")
    rules = []
    for index, raw in enumerate(raw_rules):
        rule, rule_errors = _rule(decoder, raw, f"rules[{index}]")
        errors += rule_errors
        if rule is not None:
            rules.append(rule)
    if decoder.problems:
        raise PolicyError("failed decoding: " + "; ".join(decoder.problems))
    if decoder.unknown_fields:
        log.warning(
            "Audit policy contains errors, falling back to lenient decoding: %s",
            ", ".join(f'unknown field "{name}"' for name in decoder.unknown_fields),
        )
    if errors:
        raise PolicyError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    if not rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    return Policy(
        rules=tuple(rules),
        omit_stages=frozenset(Stage(s) for s in omit_stages),
        omit_managed_fields=bool(omit_managed_fields),
    )


_POLICY_FIELDS = ("apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields")
_LEVEL_VALUES = '"None", "Metadata", "Request", "RequestResponse"'
_STAGE_VALUES = "RequestReceived,ResponseStarted,ResponseComplete,Panic"
_RULE_FIELDS = (
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
)


def _rule(decoder: _Decoder, raw: dict[str, Any], where: str) -> tuple[Rule | None, list[str]]:
    """One rule decoded, and validatePolicyRule's errors for it."""
    errors: list[str] = []
    decoder.unknown(raw, _RULE_FIELDS, where)
    users = decoder.strings(raw, "users", f"{where}.users")
    user_groups = decoder.strings(raw, "userGroups", f"{where}.userGroups")
    verbs = decoder.strings(raw, "verbs", f"{where}.verbs")
    level_name = decoder.string(raw, "level", f"{where}.level")
    if not level_name:
        errors.append(f"{where}.level: Required value")
    elif level_name not in _LEVELS:
        errors.append(
            f'{where}.level: Unsupported value: "{level_name}": supported values: {_LEVEL_VALUES}'
        )
    urls = decoder.strings(raw, "nonResourceURLs", f"{where}.nonResourceURLs")
    for index, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.append(
                f'{where}.nonResourceURLs[{index}]: Invalid value: "{url}": non-resource URL '
                "rules must begin with a '/' character"
            )
        if url and "*" in url[:-1]:
            errors.append(
                f'{where}.nonResourceURLs[{index}]: Invalid value: "{url}": non-resource URL '
                "wildcards '*' must be the final character of the rule"
            )
    groups: list[GroupResources] = []
    for index, item in enumerate(decoder.list_of(raw, "resources", f"{where}.resources", dict)):
        at = f"{where}.resources[{index}]"
        decoder.unknown(item, ("group", "resources", "resourceNames"), at)
        group = decoder.string(item, "group", f"{at}.group")
        resources = decoder.strings(item, "resources", f"{at}.resources")
        resource_names = decoder.strings(item, "resourceNames", f"{at}.resourceNames")
        # kube names the path without the index here (validation.go validateResources).
        if group:
            problems = names.dns1123_subdomain(group)
            if problems:
                errors.append(
                    f'{where}.resources.group: Invalid value: "{group}": {",".join(problems)}'
                )
        if resource_names and not resources:
            errors.append(
                f"{where}.resources.resourceNames: Invalid value: {_go_strings(resource_names)}: "
                "using resourceNames requires at least one resource"
            )
        groups.append(GroupResources(group, tuple(resources), frozenset(resource_names)))
    namespaces = decoder.strings(raw, "namespaces", f"{where}.namespaces")
    stages = decoder.strings(raw, "omitStages", f"{where}.omitStages")
    errors += _validate_stages(stages, f"{where}.omitStages")
    if urls and (groups or namespaces):
        errors.append(
            f"{where}.nonResourceURLs: Invalid value: {_go_strings(urls)}: rules cannot apply "
            "to both regular resources and non-resource URLs"
        )
    omit_managed_fields = decoder.boolean(raw, "omitManagedFields", f"{where}.omitManagedFields")
    if errors or level_name not in _LEVELS:
        return None, errors
    return (
        Rule(
            level=Level.parse(level_name),
            users=frozenset(users),
            user_groups=frozenset(user_groups),
            verbs=frozenset(verbs),
            resources=tuple(groups),
            namespaces=frozenset(namespaces),
            non_resource_urls=tuple(urls),
            omit_stages=frozenset(Stage(s) for s in stages),
            omit_managed_fields=omit_managed_fields,
        ),
        [],
    )


def _validate_stages(stages: Iterable[str], where: str) -> list[str]:
    valid = {stage.value for stage in Stage}
    return [
        f'{where}[{index}]: Invalid value: "{stage}": allowed stages are {_STAGE_VALUES}'
        for index, stage in enumerate(stages)
        if stage not in valid
    ]


def _go_strings(values: Sequence[str]) -> str:
    """Go's ``%#v`` of a []string, as field.Invalid prints one."""
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def _os_error(exc: OSError) -> str:
    """Go's *PathError text: ``open PATH: no such file or directory``."""
    reason = (exc.strerror or str(exc)).lower()
    return f"open {exc.filename}: {reason}" if exc.filename else reason


class _Decoder:
    """Reads typed fields, collecting type errors (kube: a decoding failure) and unknown
    fields (kube: strict decoding fails, then lenient decoding ignores them)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.unknown_fields: list[str] = []

    def unknown(self, raw: dict[str, Any], known: Sequence[str], where: str) -> None:
        for key in raw:
            if key not in known:
                self.unknown_fields.append(f"{where}.{key}" if where else str(key))

    def string(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problems.append(f"{where}: expected a string, got {value!r}")
            return ""
        return value

    def boolean(self, raw: dict[str, Any], key: str, where: str) -> bool | None:
        value = raw.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.problems.append(f"{where}: expected a boolean, got {value!r}")
        return None

    def list_of(self, raw: dict[str, Any], key: str, where: str, kind: type) -> list[Any]:
        value = raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
            self.problems.append(f"{where}: expected a list of {_KIND_NAMES[kind]}, got {value!r}")
            return []
        return value

    def strings(self, raw: dict[str, Any], key: str, where: str) -> list[str]:
        return [str(v) for v in self.list_of(raw, key, where, str)]


_KIND_NAMES: dict[type, str] = {dict: "objects", str: "strings"}
