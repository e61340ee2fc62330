"""Which fields a resource may be selected by, and how storage reads them.

kube-apiserver checks a field selector's labels against the type's field label
conversion (400 for one it does not know, in that conversion's words) and selects on
the fields its ``ToSelectableFields`` computes. Storage compares the stored JSON, so
each definition's ``FieldSelection`` rewrites a selector into what storage applies:

- a label that is not the stored object's path reads that path (a Job's
  ``status.successful`` is its ``status.succeeded``; events.k8s.io's ``regarding.kind``
  the core Event's ``involvedObject.kind``);
- a field kube computes from a bool (``fmt.Sprint(node.Spec.Unschedulable)``) is
  "true" or "false", never absent: ``=false`` is ``!=true``, which a missing field
  satisfies; ``!=false`` is ``=true``; ``=`` (empty) selects nothing, ``!=`` (empty)
  everything;
- an integer kube prints is "0" when Go's JSON omits it.

Custom resources select by ``metadata.name``, ``metadata.namespace`` and their CRD's
``selectableFields``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kapi import errors, selectors
from kapi.selectors import ABSENT_AS, FieldTerm

META_FIELD_SELECTORS = ("metadata.name", "metadata.namespace")
_FIELD_TERM = re.compile(r"^\s*([^!=\s]+)\s*(==|!=|=)")

# apimachinery's DefaultMetaV1FieldSelectorConversion: the words of a type without its
# own field label conversion.
META_ONLY = '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
# The words of the conversions that list their own labels (core v1, events.k8s.io, and
# custom resources with selectableFields).
NOT_SUPPORTED = "field label not supported: {label}"


@dataclass(frozen=True)
class FieldSelection:
    """The field selectors one resource takes beyond ``metadata.name`` and
    ``metadata.namespace``, and how storage reads them."""

    labels: tuple[str, ...] = ()
    # label -> the stored object's dotted path, where not the label itself.
    paths: Mapping[str, str] = field(default_factory=dict)
    # Stored paths kube computes from a bool, or prints as an integer ("0" when absent).
    booleans: frozenset[str] = frozenset()
    zero_ints: frozenset[str] = frozenset()
    # How an unknown label is refused ("{label}" is filled in); by default kube's
    # generic words, or "field label not supported" when the type lists labels.
    unknown: str = ""

    def allowed(self) -> frozenset[str]:
        return frozenset((*META_FIELD_SELECTORS, *self.labels))

    def error(self, label: str) -> str:
        """kube-apiserver's words for a label this resource cannot be selected by."""
        template = self.unknown or (NOT_SUPPORTED if self.labels else META_ONLY)
        return template.format(label=label)

    def for_storage(self, selector: str) -> str:
        """``selector`` as storage applies it; 400 BadRequest for a label the resource
        cannot be selected by (kube's ConvertFieldLabel; kubectl prefixes its words with
        'Unable to find "/v1, Resource=pods" that match label selector ...')."""
        allowed = self.allowed()
        for term in filter(None, (t.strip() for t in selector.split(","))):
            match = _FIELD_TERM.match(term)
            label = match.group(1) if match else term
            if label not in allowed:
                raise errors.bad_request(self.error(label))
        parsed = selectors.parse_field_selector(selector)
        terms = parsed.terms
        if self.paths:
            terms = tuple(
                dataclasses.replace(t, path=self.paths.get(t.path, t.path)) for t in terms
            )
        terms = self.selectable_terms(terms)
        if terms == parsed.terms:
            return selector
        return str(selectors.FieldSelector(terms))

    def selectable_terms(self, terms: tuple[FieldTerm, ...]) -> tuple[FieldTerm, ...]:
        """Terms on stored paths rewritten to select what kube selects from its computed
        fields (see the module docstring); other terms are returned as they are."""
        if self.zero_ints and any(t.path in self.zero_ints for t in terms):
            terms = tuple(
                FieldTerm(f"{t.path}{ABSENT_AS}0", t.value, t.equal)
                if t.path in self.zero_ints
                else t
                for t in terms
            )
        if not self.booleans or not any(t.path in self.booleans for t in terms):
            return terms
        out: list[FieldTerm] = []
        for term in terms:
            if term.path not in self.booleans:
                out.append(term)
            elif term.value == "false":
                out.append(FieldTerm(term.path, "true", not term.equal))
            elif term.value != "":
                out.append(term)  # "true", or a value no bool prints: kube compares as we do
            elif term.equal:  # nothing reads "": a contradiction selects nothing
                out += [FieldTerm(term.path, "true", True), FieldTerm(term.path, "true", False)]
            # "!=" (empty) holds for every object: the term goes
        return tuple(out)


META_ONLY_SELECTION = FieldSelection()
