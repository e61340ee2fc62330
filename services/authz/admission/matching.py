"""Which requests a webhook or a ValidatingAdmissionPolicy applies to: rules (operations,
groups, versions, resources with subresources, scope, resource names), namespace and
object selectors, and the configuration objects exempt from both — kube's
``webhook/predicates/{rules,namespace,object}`` and ``policy/matching``.

A ``Criteria`` is built once per configuration object (selectors parsed then) and
matched per request. ``matchPolicy: Equivalent`` matches a rule naming another version
of the request's group and resource too (kapi converts nothing for it: the object is
the request's version).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapi import errors, selectors
from services.authz.admission import Attributes

ADMISSION_GROUP = "admissionregistration.k8s.io"
SELECTED_CACHE = 1024  # request shapes a Criteria remembers its rules' verdict for
# IsExemptAdmissionConfigurationResource: no webhook or policy sees writes of these.
EXEMPT_KINDS = frozenset(
    {
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    }
)

Obj = dict[str, Any]


def exempt(attributes: Attributes) -> bool:
    return attributes.group == ADMISSION_GROUP and attributes.kind in EXEMPT_KINDS


class Namespaces(Protocol):
    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        """The namespace, or None (see ``namespace_lifecycle.NamespaceLookup``)."""


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class Rule:
    """A RuleWithOperations (with resourceNames: a NamedRuleWithOperations)."""

    operations: tuple[str, ...]
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # (resource, subresource) as the rule says
    scope: str
    names: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, rule: Obj) -> Rule:
        resources = []
        for each in _strings(rule.get("resources")):
            resource, _, sub = each.partition("/")
            resources.append((resource, sub))
        return cls(
            operations=_strings(rule.get("operations")),
            groups=_strings(rule.get("apiGroups")),
            versions=_strings(rule.get("apiVersions")),
            resources=tuple(resources),
            scope=str(rule.get("scope") or "*"),
            names=_strings(rule.get("resourceNames")),
        )

    def matches(self, attributes: Attributes, *, any_version: bool = False) -> bool:
        return (
            self._scope(attributes)
            and _listed(self.operations, attributes.operation)
            and _listed(self.groups, attributes.group)
            and (any_version or _listed(self.versions, attributes.version))
            and self._resource(attributes)
            and (not self.names or attributes.name in self.names)
        )

    def _scope(self, attributes: Attributes) -> bool:
        namespace_object = attributes.group == "" and attributes.resource == "namespaces"
        if self.scope == "Namespaced":
            return not namespace_object and bool(attributes.namespace)
        if self.scope == "Cluster":
            return namespace_object or not attributes.namespace
        return True

    def _resource(self, attributes: Attributes) -> bool:
        for resource, sub in self.resources:
            if resource in ("*", attributes.resource) and sub in ("*", attributes.subresource):
                return True
        return False


def _listed(values: Sequence[str], value: str) -> bool:
    return "*" in values or value in values


def rules_of(value: object) -> tuple[Rule, ...]:
    return (
        tuple(Rule.from_json(r) for r in value if isinstance(r, dict))
        if isinstance(value, list)
        else ()
    )


def rules_match(rules: Sequence[Rule], attributes: Attributes, match_policy: str) -> bool:
    if any(rule.matches(attributes) for rule in rules):
        return True
    return match_policy == "Equivalent" and any(
        rule.matches(attributes, any_version=True) for rule in rules
    )


def labels_of(obj: Obj | None) -> dict[str, str]:
    labels = ((obj or {}).get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


@dataclass(frozen=True)
class Criteria:
    """What a webhook, a policy's matchConstraints or a binding's matchResources select.

    ``error``: a selector that does not parse (kube: a configuration error).
    """

    rules: tuple[Rule, ...] = ()
    exclude: tuple[Rule, ...] = ()
    namespace_selector: selectors.LabelSelector | None = None
    object_selector: selectors.LabelSelector | None = None
    match_policy: str = "Equivalent"
    error: str = ""
    # A binding's matchResources without resourceRules matches every resource.
    all_when_no_rules: bool = False
    # Whether the rules select a request, by what they read of it (``selects``).
    _selected: dict[tuple[str, ...], bool] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def build(
        cls,
        *,
        rules: object,
        exclude: object = None,
        namespace_selector: object,
        object_selector: object,
        match_policy: object,
        all_when_no_rules: bool = False,
    ) -> Criteria:
        error = ""
        parsed: list[selectors.LabelSelector | None] = []
        for selector in (namespace_selector, object_selector):
            try:
                parsed.append(
                    selectors.from_label_selector(selector if isinstance(selector, dict) else {})
                )
            except errors.StatusError as err:
                error = err.message
                parsed.append(None)
        return cls(
            rules=rules_of(rules),
            exclude=rules_of(exclude),
            namespace_selector=parsed[0],
            object_selector=parsed[1],
            match_policy=str(match_policy or "Equivalent"),
            error=error,
            all_when_no_rules=all_when_no_rules,
        )

    async def matches(self, attributes: Attributes, namespaces: Namespaces) -> bool:
        """Whether the request is selected; a configuration error raises ``ValueError``
        (after the checks that do not need it have said no)."""
        if not self.selects(attributes):
            return False
        if self.error:
            raise ValueError(self.error)
        if not self._object_matches(attributes):
            return False
        return await self._namespace_matches(attributes, namespaces)

    @functools.cached_property
    def _by_name(self) -> bool:
        return any(rule.names for rule in (*self.rules, *self.exclude))

    def selects(self, attributes: Attributes) -> bool:
        """The rules' and exclusions' verdict, kept per request shape: a policy or
        webhook is asked on every write, its rules only ever read these."""
        key = (
            attributes.operation,
            attributes.group,
            attributes.version,
            attributes.resource,
            attributes.subresource,
            "namespaced" if attributes.namespace else "",
            attributes.name if self._by_name else "",
        )
        found = self._selected.get(key)
        if found is None:
            found = not (
                self.exclude and rules_match(self.exclude, attributes, self.match_policy)
            ) and (
                (not self.rules and self.all_when_no_rules)
                or rules_match(self.rules, attributes, self.match_policy)
            )
            if len(self._selected) >= SELECTED_CACHE:
                self._selected.clear()
            self._selected[key] = found
        return found

    def _object_matches(self, attributes: Attributes) -> bool:
        selector = self.object_selector
        if selector is None or selector.empty:
            return True
        return any(
            obj is not None and selector.matches_labels(labels_of(obj))
            for obj in (attributes.object, attributes.old_object)
        )

    async def _namespace_matches(self, attributes: Attributes, namespaces: Namespaces) -> bool:
        selector = self.namespace_selector
        if selector is None or selector.empty:
            return True
        if attributes.group == "" and attributes.resource == "namespaces":
            # The namespace's own labels: the new object's, the old one's on delete.
            namespace = (
                attributes.object if attributes.object is not None else attributes.old_object
            )
        elif not attributes.namespace:
            return True  # cluster-scoped: never exempted by a namespace selector
        else:
            namespace = await namespaces.get(attributes.namespace)
            if namespace is None:
                raise errors.not_found("namespaces", "", attributes.namespace)
        return selector.matches_labels(labels_of(namespace))
