"""Which requests a webhook or a ValidatingAdmissionPolicy applies to: rules (operations,
groups, versions, resources with subresources, scope, resource names), namespace and
object selectors, and the configuration objects exempt from both — kube's
``webhook/predicates/{rules,namespace,object}`` and ``policy/matching``.

A ``Criteria`` is built once per configuration object (selectors parsed then) and
matched per request (``select``): the answer is the resource the request is seen as.
A rule matching the request itself gives the request's own; else, under
``matchPolicy: Equivalent``, the first (rules in order, then equivalents in order) of
the resource's other served versions a rule names (``Attributes.equivalents``: kube's
EquivalentResourceMapper) — the caller then converts the object to it
(``versioned``). Exclusions match the request itself only, as kube's
``policy/matching`` excludes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapi import errors, selectors
from services.authz.admission import Attributes, Served

ADMISSION_GROUP = "admissionregistration.k8s.io"
SELECTED_CACHE = 1024  # request shapes a Criteria remembers its rules' verdict for
_UNKNOWN = object()  # not in the verdict cache
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

    def matches(self, attributes: Attributes, *, as_: Served | None = None) -> bool:
        """Whether the rule selects the request, or the request seen as ``as_`` (an
        equivalent resource: its group, version and resource stand for the request's)."""
        group, version, resource = (
            (attributes.group, attributes.version, attributes.resource)
            if as_ is None
            else (as_.group, as_.version, as_.resource)
        )
        return (
            self._scope(attributes)
            and _listed(self.operations, attributes.operation)
            and _listed(self.groups, group)
            and _listed(self.versions, version)
            and self._resource(resource, attributes.subresource)
            and (not self.names or attributes.name in self.names)
        )

    def _scope(self, attributes: Attributes) -> bool:
        namespace_object = attributes.group == "" and attributes.resource == "namespaces"
        if self.scope == "Namespaced":
            return not namespace_object and bool(attributes.namespace)
        if self.scope == "Cluster":
            return namespace_object or not attributes.namespace
        return True

    def _resource(self, name: str, subresource: str) -> bool:
        for resource, sub in self.resources:
            if resource in ("*", name) and sub in ("*", subresource):
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


def select(rules: Sequence[Rule], attributes: Attributes, match_policy: str) -> Served | None:
    """The resource the request is seen as by ``rules`` (None: not selected): kube's
    ``generic/webhook.go`` ShouldCallHook and ``policy/matching`` resourceMatches."""
    own = attributes.request_as
    if any(rule.matches(attributes, as_=own) for rule in rules):
        return own
    if match_policy != "Equivalent" or not attributes.equivalents:
        return None
    for rule in rules:
        for equivalent in attributes.equivalents:
            if (equivalent.group, equivalent.version, equivalent.resource) == (
                own.group,
                own.version,
                own.resource,
            ):
                continue
            if rule.matches(attributes, as_=equivalent):
                return equivalent
    return None


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
    # What the rules see a request as, by what they read of it (``selected``).
    _selected: dict[tuple[object, ...], object] = field(
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
        return await self.select(attributes, namespaces) is not None

    async def select(self, attributes: Attributes, namespaces: Namespaces) -> Served | None:
        """The resource the request is seen as (None: not selected); a configuration
        error raises ``ValueError`` (after the checks that do not need it said no)."""
        seen_as = self.selected(attributes)
        if seen_as is None:
            return None
        if self.error:
            raise ValueError(self.error)
        if not self._object_matches(attributes):
            return None
        if not await self._namespace_matches(attributes, namespaces):
            return None
        return seen_as

    @functools.cached_property
    def _by_name(self) -> bool:
        return any(rule.names for rule in (*self.rules, *self.exclude))

    def selects(self, attributes: Attributes) -> bool:
        """Whether the rules and exclusions select the request (``selected``)."""
        return self.selected(attributes) is not None

    def selected(self, attributes: Attributes) -> Served | None:
        """The rules' and exclusions' verdict: the resource the request is seen as
        (``select`` at module level), None when not selected; kept per request shape: a
        policy or webhook is asked on every write, its rules only ever read these."""
        key = (
            attributes.operation,
            attributes.group,
            attributes.version,
            attributes.resource,
            attributes.subresource,
            "namespaced" if attributes.namespace else "",
            attributes.name if self._by_name else "",
            attributes.requested,
            attributes.equivalents,
        )
        found = self._selected.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            own = attributes.request_as
            if self.exclude and any(rule.matches(attributes, as_=own) for rule in self.exclude):
                found = None
            elif self.rules or not self.all_when_no_rules:
                found = select(self.rules, attributes, self.match_policy)
            else:
                found = own
            if len(self._selected) >= SELECTED_CACHE:
                self._selected.clear()
            self._selected[key] = found
        return found  # type: ignore[return-value]

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
