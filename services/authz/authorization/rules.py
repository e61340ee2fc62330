"""RBAC policy rules: what one rule allows, and whether some rules cover others.

The matching is kube's ``pkg/apis/rbac/v1/evaluation_helpers.go`` (``VerbMatches``,
``APIGroupMatches``, ``ResourceMatches`` with ``*`` and ``*/subresource``,
``ResourceNameMatches``, ``NonResourceURLMatches`` with a trailing ``*``) and
``plugin/pkg/auth/authorizer/rbac/rbac.go`` ``RuleAllows``. The covering is
``k8s.io/component-helpers/auth/rbac/validation/policy_comparator.go`` (``Covers``,
``BreakdownRule``), the escalation message's compact form ``CompactString`` and
``pkg/registry/rbac/validation/policy_compact.go`` ``CompactRules``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ALL = "*"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule of a Role or ClusterRole, its lists as tuples."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, rule: Any) -> PolicyRule:
        """A rule as stored (``apiGroups``, ``nonResourceURLs``...); what is not a list of
        strings counts as empty."""
        if not isinstance(rule, dict):
            return cls()

        def strings(key: str) -> tuple[str, ...]:
            value = rule.get(key)
            if not isinstance(value, list):
                return ()
            return tuple(v for v in value if isinstance(v, str))

        return cls(
            verbs=strings("verbs"),
            api_groups=strings("apiGroups"),
            resources=strings("resources"),
            resource_names=strings("resourceNames"),
            non_resource_urls=strings("nonResourceURLs"),
        )

    def to_json(self) -> dict[str, list[str]]:
        """As a PolicyRule is written (empty lists left out, in the API's field order)."""
        out: dict[str, list[str]] = {"verbs": list(self.verbs)}
        if self.api_groups:
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out

    def compact_string(self) -> str:
        """CompactString: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
        parts = []
        for label, values in (
            ("APIGroups", self.api_groups),
            ("Resources", self.resources),
            ("NonResourceURLs", self.non_resource_urls),
            ("ResourceNames", self.resource_names),
            ("Verbs", self.verbs),
        ):
            if values:
                parts.append(f"{label}:{go_quoted_list(values)}")
        return "{" + ", ".join(parts) + "}"


def rules_from_json(rules: Any) -> tuple[PolicyRule, ...]:
    return tuple(PolicyRule.from_json(r) for r in rules) if isinstance(rules, list) else ()


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote), for the printable texts names are."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_quoted_list(values: Iterable[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


# --- what a rule allows (evaluation_helpers.go) -----------------------------------------


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    """``combined`` is ``resource`` or ``resource/subresource``; ``*/sub`` matches any
    resource's ``sub``."""
    for allowed in rule.resources:
        if allowed in (ALL, combined):
            return True
        if (
            subresource
            and len(allowed) == len(subresource) + 2
            and allowed.startswith("*/")
            and allowed.endswith(subresource)
        ):
            return True
    return False


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for allowed in rule.non_resource_urls:
        if allowed in (ALL, path):
            return True
        if allowed.endswith("*") and path.startswith(allowed.rstrip("*")):
            return True
    return False


def rule_allows(
    rule: PolicyRule,
    *,
    verb: str,
    resource_request: bool,
    api_group: str = "",
    resource: str = "",
    subresource: str = "",
    name: str = "",
    path: str = "",
) -> bool:
    """RuleAllows: whether ``rule`` allows one request."""
    if resource_request:
        combined = f"{resource}/{subresource}" if subresource else resource
        return (
            verb_matches(rule, verb)
            and api_group_matches(rule, api_group)
            and resource_matches(rule, combined, subresource)
            and resource_name_matches(rule, name)
        )
    return verb_matches(rule, verb) and non_resource_url_matches(rule, path)


# --- whether some rules cover others (policy_comparator.go) ------------------------------


def breakdown(rule: PolicyRule) -> list[PolicyRule]:
    """BreakdownRule: one rule per group, resource, verb (and name), and per URL and verb."""
    out = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out += [
                        PolicyRule((verb,), (group,), (resource,), (name,))
                        for name in rule.resource_names
                    ]
                else:
                    out.append(PolicyRule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        out += [PolicyRule((verb,), non_resource_urls=(url,)) for verb in rule.verbs]
    return out


def _has_all(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    return set(wanted) <= set(owned)


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owned or _has_all(owned, wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: PolicyRule, sub: PolicyRule) -> bool:
    verbs = ALL in owner.verbs or _has_all(owner.verbs, sub.verbs)
    groups = ALL in owner.api_groups or _has_all(owner.api_groups, sub.api_groups)
    resources = _resources_cover(owner.resources, sub.resources)
    urls = all(
        any(_url_covers(o, p) for o in owner.non_resource_urls) for p in sub.non_resource_urls
    )
    if not sub.resource_names:
        names = not owner.resource_names
    else:
        names = not owner.resource_names or _has_all(owner.resource_names, sub.resource_names)
    return verbs and groups and resources and names and urls


def covers(
    owner_rules: Sequence[PolicyRule], servant_rules: Iterable[PolicyRule]
) -> tuple[bool, list[PolicyRule]]:
    """Covers: whether ``owner_rules`` allow everything ``servant_rules`` do, and the
    broken-down servant rules they do not."""
    missing = [
        sub
        for servant in servant_rules
        for sub in breakdown(servant)
        if not any(_rule_covers(owner, sub) for owner in owner_rules)
    ]
    return not missing, missing


def compact(rules: Sequence[PolicyRule]) -> list[PolicyRule]:
    """CompactRules: rules of one group and one resource, nothing else, merged by verb."""
    out: list[PolicyRule] = []
    simple: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        if (
            not rule.resource_names
            and not rule.non_resource_urls
            and len(rule.api_groups) == 1
            and len(rule.resources) == 1
        ):
            simple.setdefault((rule.api_groups[0], rule.resources[0]), []).extend(rule.verbs)
        else:
            out.append(rule)
    out += [
        PolicyRule(tuple(verbs), (group,), (resource,))
        for (group, resource), verbs in simple.items()
    ]
    return out
