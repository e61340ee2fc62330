"""Which cached objects a list or watch selects (kube-apiserver's ``SelectionPredicate``).

A ``Predicate`` is compiled once per request from the key prefix it covers and its
label and field selectors. It answers from what the watch cache keeps per object —
namespace and name (from the key), labels — and only decodes the object's JSON for a
field other than ``metadata.name`` / ``metadata.namespace``. It also says how the
cache can index the watcher, so an event is offered only to watchers that may want it:
by exact name, by an exact field value (a "trigger", e.g. ``spec.nodeName=n1`` as
kubelets watch pods), by namespace, or else to all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kapi import selectors

NAME = "metadata.name"
NAMESPACE = "metadata.namespace"

JSON = dict[str, Any]


class Selectable(Protocol):
    """What a predicate reads of an object: its key-derived namespace and name, labels."""

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Predicate:
    """Compiled selectors for objects of one resource.

    ``namespace`` / ``name``: the exact values a match needs (from the request's
    namespace or ``metadata.namespace=``/``metadata.name=`` terms), or None.
    ``trigger``: an exact ``(field path, value)`` term on any other field, or None.
    """

    labels: selectors.LabelSelector
    fields: selectors.FieldSelector
    namespace: str | None = None
    name: str | None = None
    trigger: tuple[str, str] | None = None

    @classmethod
    def build(
        cls,
        labels: selectors.LabelSelector,
        fields: selectors.FieldSelector,
        *,
        namespace: str = "",
    ) -> Predicate:
        """``namespace``: the request's namespace ("" for all, or cluster-scoped)."""
        ns = namespace or fields.requires_exact_match(NAMESPACE)
        name = fields.requires_exact_match(NAME)
        others = [t for t in fields.terms if t.equal and t.path not in (NAME, NAMESPACE)]
        trigger = (others[0].path, others[0].value) if others else None
        return cls(labels, fields, ns, name, trigger)

    @property
    def everything(self) -> bool:
        """Matches every object of the resource (no scope, no selector)."""
        return self.namespace is None and self.labels.empty and self.fields.empty

    @property
    def needs_object(self) -> bool:
        """Whether matching reads a field other than name and namespace."""
        return any(t.path not in (NAME, NAMESPACE) for t in self.fields.terms)

    def matches(self, obj: Selectable, decoded: Callable[[], JSON]) -> bool:
        """Whether ``obj`` is selected; ``decoded`` gives its JSON (called only if needed)."""
        if self.namespace is not None and obj.namespace != self.namespace:
            return False
        if self.name is not None and obj.name != self.name:
            return False
        if not self.labels.empty and not self.labels.matches_labels(obj.labels):
            return False
        for term in self.fields.terms:
            if term.path == NAME:
                value = obj.name
            elif term.path == NAMESPACE:
                value = obj.namespace
            else:
                value = selectors.field_value(decoded(), term.path)
            if (value == term.value) is not term.equal:
                return False
        return True
