"""A create's fieldsV1 in one walk of the new object.

On a create the creator owns what ``Typed.compare`` finds added or modified between the
kind's empty object (``FieldManager._zero``) and the new one, less the fields nobody
owns (``STRIPPED``, a plain difference) and those the strategy resets (``ignored``,
everything below them too), as FieldsV1. ``FieldManager``'s general path gets there
through a three-way comparison, set algebra over tries and an encoding pass; on every
create that was a quarter of the registry's time. This is the same function computed
directly: each rule below is the matching branch of ``Typed._compare`` with the left
side the empty object (only maps and nulls, never a list: ``plain_zero``), and the
removed side, which a create never uses, not computed. The two are compared on many
objects by ``tests/unit/registry/test_patching_created.py``.
"""

from __future__ import annotations

from typing import Any

from services.registry.patching.fieldpath import (
    EMPTY,
    FIELD,
    FieldSet,
    PathElement,
    element_name,
    element_order,
)
from services.registry.patching.schema import ATOMIC, LIST, SCALAR, Atom
from services.registry.patching.typed import MISSING, Typed, TypeRef, json_equal

Obj = dict[str, Any]


def plain_zero(value: Any) -> bool:
    """Whether ``value`` holds only maps and nulls (what the walk assumes of the left)."""
    if value is None:
        return True
    return isinstance(value, dict) and all(plain_zero(v) for v in value.values())


class _Plan:
    """What the walk needs of one type, compiled once: the container (``dict`` or
    ``list``) a value of it is walked into when set on a create, ``None`` for a leaf
    whatever the value (a scalar, an atomic list or map); the plans of its fields and
    items, made on first use (schemas are recursive)."""

    __slots__ = ("_elem", "_fields", "_other", "atom", "container", "plans")

    def __init__(self, plans: _Plans, atom: Atom) -> None:
        self.plans = plans
        self.atom = atom
        self.container: type[Any] | None = None
        if atom.kind != SCALAR and atom.relationship != ATOMIC:
            self.container = list if atom.kind == LIST else dict
        self._fields: dict[str, _Plan] | None = None
        self._other: _Plan | None = None
        self._elem: _Plan | None = None

    def field(self, name: str) -> _Plan:
        """The plan of map key ``name`` (``Typed.field_type``)."""
        if self._fields is None:
            typed = self.plans.typed
            self._fields = {
                n: self.plans.of(typed.field_type(self.atom, n)[0]) for n in self.atom.fields
            }
            # Any other key: asked of field_type itself, with a name no schema declares.
            self._other = self.plans.of(typed.field_type(self.atom, "\x00undeclared")[0])
        found = self._fields.get(name)
        if found is not None:
            return found
        assert self._other is not None
        return self._other

    def elem(self) -> _Plan:
        """The plan of a list's items (``Typed.elem``)."""
        if self._elem is None:
            self._elem = self.plans.of(self.plans.typed.elem(self.atom))
        return self._elem


class _Plans:
    """Plans by type, for one ``Typed``."""

    def __init__(self, typed: Typed) -> None:
        self.typed = typed
        self._by_atom: dict[Atom, _Plan] = {}

    def of(self, ref: TypeRef) -> _Plan:
        atom = self.typed.atom(ref)
        plan = self._by_atom.get(atom)
        if plan is None:
            plan = self._by_atom[atom] = _Plan(self, atom)
        return plan


class CreatedFields:
    """The creator's FieldsV1 for objects of one type."""

    def __init__(
        self, typed: Typed, root: TypeRef, *, zero: Obj, ignored: FieldSet, stripped: FieldSet
    ) -> None:
        if not plain_zero(zero):
            raise ValueError("the empty object may hold only maps and nulls")
        self.typed = typed
        self.root = _Plans(typed).of(root)
        self.zero = zero
        self.ignored = ignored
        self.stripped = stripped

    def fields_v1(self, obj: Obj) -> dict[str, Any]:
        """The FieldsV1 of what creating ``obj`` sets (``{}``: nothing)."""
        _, below = self._node(self.zero, obj, self.root, self.ignored, self.stripped)
        return below or {}

    def _node(
        self, zero: Any, value: Any, plan: _Plan, ignored: FieldSet, stripped: FieldSet
    ) -> tuple[bool, dict[str, Any] | None]:
        """Whether this path is added or modified itself, and the FieldsV1 below it."""
        if zero is MISSING and ignored.empty() and stripped.empty():
            return True, self._added(value, plan)
        typed = self.typed
        atom = plan.atom
        shape = typed.shape(atom, value)
        if zero is MISSING:
            # Added: a leaf, or a container with whatever is below it.
            if shape == SCALAR or shape == "leaf" or typed.atomic(atom, shape) or not value:
                return True, None
            return True, self._below(MISSING, value, plan, shape, ignored, stripped)
        if (
            typed.shape(atom, zero) != shape
            or shape == SCALAR
            or shape == "leaf"
            or typed.atomic(atom, shape)
            or (not zero and not value)
        ):
            return not json_equal(zero, value), None  # a leaf: modified when it differs
        return False, self._below(zero, value, plan, shape, ignored, stripped)

    def _added(self, value: Any, plan: _Plan) -> dict[str, Any] | None:
        """``_node`` of a value with nothing to compare with and nothing filtered out:
        the FieldsV1 below it, ``None`` for a leaf (an empty container is one too)."""
        container = plan.container
        if container is None or not value or not isinstance(value, container):
            return None
        out: dict[str, Any] = {}
        if isinstance(value, dict):
            for name in sorted(value):
                below = self._added(value[name], plan.field(name))
                out["f:" + name] = {".": {}, **below} if below else {}
            return out
        elem = plan.elem()
        for pe, same in self._items(plan.atom, value):
            below = None if len(same) >= 2 else self._added(same[0], elem)
            out[element_name(pe)] = {".": {}, **below} if below else {}
        return out

    def _items(self, atom: Atom, value: list[Any]) -> list[tuple[PathElement, list[Any]]]:
        """The items of an associative list by path element, in FieldsV1 order. Two or
        more items with one element (duplicates) are that element as one leaf."""
        items: dict[PathElement, list[Any]] = {}
        for pe, item in self.typed.elements(atom, value):
            items.setdefault(pe, []).append(item)
        return sorted(items.items(), key=lambda pair: element_order(pair[0]))

    def _below(
        self,
        zero: Any,
        value: Any,
        plan: _Plan,
        shape: str,
        ignored: FieldSet,
        stripped: FieldSet,
    ) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        if shape == LIST:  # ``zero`` is null or missing: every item is new
            elem = plan.elem()
            for pe, same in self._items(plan.atom, value):
                if pe in ignored.members:
                    continue
                if len(same) >= 2:
                    member, below = True, None
                else:
                    member, below = self._node(
                        MISSING,
                        same[0],
                        elem,
                        ignored.children.get(pe, EMPTY),
                        stripped.children.get(pe, EMPTY),
                    )
                self._emit(out, element_name(pe), member and pe not in stripped.members, below)
            return out
        zeros: Obj = zero if isinstance(zero, dict) else {}
        for name in sorted(value or ()):
            pe = (FIELD, name)
            if pe in ignored.members:
                continue
            member, below = self._node(
                zeros.get(name, MISSING),
                value[name],
                plan.field(name),
                ignored.children.get(pe, EMPTY),
                stripped.children.get(pe, EMPTY),
            )
            self._emit(out, "f:" + name, member and pe not in stripped.members, below)
        return out

    @staticmethod
    def _emit(out: dict[str, Any], name: str, member: bool, below: dict[str, Any] | None) -> None:
        if below:
            out[name] = {".": {}, **below} if member else below
        elif member:
            out[name] = {}
