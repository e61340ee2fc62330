"""Objects seen through their schema, as structured-merge-diff sees them for server-side apply.

Five operations over plain JSON values and a type (a schema node, ``None`` for "deduce
from the value", or an ``Atom``):

- ``validate``: what ``ObjectToTyped`` refuses in an applied configuration (fields the
  schema does not declare, values of the wrong type, duplicate or key-less items of an
  associative list), as messages with their field path;
- ``to_field_set``: the fields a value sets (leaves, list items, map entries);
- ``compare``: the fields added, modified and removed between two values;
- ``merge``: a configuration merged into a live value (the configuration wins on leaves;
  associative lists merge item by item; atomic lists and maps are replaced whole);
- ``remove_items``: a value without the fields of a set.

Live objects are read leniently (a value of an unexpected type is one leaf; items
without keys are addressed by index), as kube reads them with duplicates allowed: only
an applied configuration is held to the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from services.registry.patching import fieldpath
from services.registry.patching.fieldpath import FieldSet, Path, PathElement, SetBuilder
from services.registry.patching.schema import (
    ASSOCIATIVE,
    ATOMIC,
    DEDUCED,
    DEDUCED_ATOMIC,
    LIST,
    MAP,
    SCALAR,
    UNTYPED,
    Atom,
    Node,
    Types,
)

TypeRef = Node | Atom | None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def json_equal(left: Any, right: Any) -> bool:
    """Deep equality of JSON values: ``1 == 1.0``, but ``True != 1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(json_equal(v, right[k]) for k, v in left.items())
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and bool(left == right)


@dataclass
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def filtered(self, ignored: FieldSet | None) -> Comparison:
        if ignored is None or ignored.empty():
            return self
        return Comparison(
            self.added.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.removed.recursive_difference(ignored),
        )

    def is_same(self) -> bool:
        return self.added.empty() and self.modified.empty() and self.removed.empty()


class Typed:
    """The operations for one set of definitions (``Types``)."""

    def __init__(self, types: Types) -> None:
        self.types = types

    # --- types --------------------------------------------------------------------

    def atom(self, ref: TypeRef) -> Atom:
        if isinstance(ref, Atom):
            return ref
        return self.types.atom(ref)

    @staticmethod
    def shape(atom: Atom, value: Any) -> str:
        """How ``value`` is walked: ``scalar``, ``list``, ``map``, or ``leaf`` for a value
        the schema does not expect there (walked as one opaque leaf)."""
        if atom.kind == UNTYPED:
            if isinstance(value, dict):
                return MAP
            if isinstance(value, list):
                return LIST
            return SCALAR
        if atom.kind == SCALAR:
            return "leaf" if isinstance(value, dict | list) else SCALAR
        if atom.kind == LIST:
            return LIST if value is None or isinstance(value, list) else "leaf"
        return MAP if value is None or isinstance(value, dict) else "leaf"

    @staticmethod
    def atomic(atom: Atom, shape: str) -> bool:
        if atom.kind == UNTYPED:
            return shape == LIST or atom.relationship == ATOMIC
        return atom.relationship == ATOMIC

    @staticmethod
    def elem(atom: Atom) -> TypeRef:
        if atom.kind == UNTYPED:
            return DEDUCED_ATOMIC
        return atom.elem

    @staticmethod
    def field_type(atom: Atom, name: str) -> tuple[TypeRef, bool]:
        """The type of map key ``name`` and whether the schema declares it (a struct
        field, or any key of a map)."""
        if atom.kind == UNTYPED:
            return (DEDUCED_ATOMIC if atom.relationship == ATOMIC else DEDUCED), True
        if name in atom.fields:
            return atom.fields[name], True
        if atom.elem is not None:
            return atom.elem, True
        return DEDUCED, False

    @staticmethod
    def is_struct_field(atom: Atom, name: str) -> bool:
        return atom.kind == MAP and name in atom.fields

    @staticmethod
    def item_element(atom: Atom, position: int, item: Any) -> PathElement | str:
        """The path element naming a list item, or why it has none."""
        if atom.kind != LIST or atom.relationship != ASSOCIATIVE:
            return fieldpath.index(position)
        if atom.keys:
            if item is None:
                return "associative list with keys may not have a null element"
            if not isinstance(item, dict):
                return "associative list with keys may not have non-map elements"
            values: dict[str, Any] = {}
            for key_field in atom.keys:
                if key_field in item:
                    values[key_field] = item[key_field]
                elif key_field in atom.key_defaults:
                    values[key_field] = atom.key_defaults[key_field]
                else:
                    return (
                        "associative list with keys has an element that omits key field "
                        f'"{key_field}" (and doesn\'t have default value)'
                    )
            return fieldpath.key(values)
        if isinstance(item, dict):
            return "associative list without keys has an element that's a map type"
        if isinstance(item, list):
            return "not supported: associative list with lists as elements"
        if item is None:
            return "associative list without keys has an element that's an explicit null"
        return fieldpath.value(item)

    def elements(self, atom: Atom, items: list[Any]) -> Iterator[tuple[PathElement, Any]]:
        """(path element, item) for each item; items without a key get their index."""
        for position, item in enumerate(items):
            pe = self.item_element(atom, position, item)
            yield (fieldpath.index(position) if isinstance(pe, str) else pe), item

    # --- validation of an applied configuration -------------------------------------

    def validate(self, value: Any, ref: TypeRef) -> list[str]:
        errors: list[str] = []
        self._validate(value, ref, (), errors)
        return errors

    def _validate(self, value: Any, ref: TypeRef, path: Path, errors: list[str]) -> None:
        atom = self.atom(ref)
        prefix = fieldpath.path_string(path)
        where = f"{prefix}: " if prefix else ""
        if atom.kind == SCALAR:
            problem = _scalar_problem(atom.scalar, value)
            if problem:
                errors.append(where + problem)
            return
        if atom.kind == UNTYPED or value is None:
            return
        if atom.kind == LIST:
            if not isinstance(value, list):
                errors.append(f"{where}expected list, got {_describe(value)}")
                return
            if atom.relationship == ATOMIC:
                for position, item in enumerate(value):
                    self._validate(item, atom.elem, (*path, fieldpath.index(position)), errors)
                return
            seen: set[PathElement] = set()
            for position, item in enumerate(value):
                pe = self.item_element(atom, position, item)
                if isinstance(pe, str):
                    errors.append(f"{where}element {position}: {pe}")
                    continue
                if pe in seen:
                    errors.append(
                        f"{where}duplicate entries for key {fieldpath.element_string(pe)}"
                    )
                    continue
                seen.add(pe)
                self._validate(item, atom.elem, (*path, pe), errors)
            return
        if not isinstance(value, dict):
            errors.append(f"{where}expected map, got {_describe(value)}")
            return
        for name, sub in value.items():
            sub_ref, declared = self.field_type(atom, name)
            sub_path = (*path, fieldpath.field(name))
            if not declared:
                errors.append(f"{fieldpath.path_string(sub_path)}: field not declared in schema")
                continue
            self._validate(sub, sub_ref, sub_path, errors)

    # --- field sets -------------------------------------------------------------------

    def to_field_set(self, value: Any, ref: TypeRef) -> FieldSet:
        builder = SetBuilder()
        self._to_set(value, ref, (), builder)
        return builder.build()

    def _to_set(self, value: Any, ref: TypeRef, path: Path, out: SetBuilder) -> None:
        atom = self.atom(ref)
        shape = self.shape(atom, value)
        if shape in (SCALAR, "leaf") or self.atomic(atom, shape):
            out.insert(path)
            return
        if value is None:
            return
        if shape == LIST:
            elem = self.elem(atom)
            for pe, item in self.elements(atom, value):
                item_path = (*path, pe)
                self._to_set(item, elem, item_path, out)
                out.insert(item_path)
            return
        for name, sub in value.items():
            sub_ref, _ = self.field_type(atom, name)
            sub_path = (*path, fieldpath.field(name))
            self._to_set(sub, sub_ref, sub_path, out)
            if sub is None or sub == {} or not self.is_struct_field(atom, name):
                out.insert(sub_path)

    def ensure_named_fields_are_members(self, fields: FieldSet, ref: TypeRef) -> FieldSet:
        """``fields`` plus, as members, the struct fields it has children under."""
        atom = self.atom(ref)
        members = set(fields.members)
        children: dict[PathElement, FieldSet] = {}
        for pe, child in fields.children.items():
            child_ref: TypeRef = Atom(SCALAR)
            if pe[0] == fieldpath.FIELD and atom.kind in (MAP, UNTYPED):
                if self.is_struct_field(atom, pe[1]):
                    members.add(pe)
                child_ref, _ = self.field_type(atom, pe[1])
            elif pe[0] == fieldpath.KEY and atom.kind == LIST:
                child_ref = atom.elem
            children[pe] = self.ensure_named_fields_are_members(child, child_ref)
        return FieldSet(frozenset(members), children)

    # --- compare ------------------------------------------------------------------------

    def compare(self, lhs: Any, rhs: Any, ref: TypeRef) -> Comparison:
        added, modified, removed = SetBuilder(), SetBuilder(), SetBuilder()
        self._compare(lhs, rhs, ref, (), (added, modified, removed))
        return Comparison(added.build(), modified.build(), removed.build())

    def _compare(
        self,
        lhs: Any,
        rhs: Any,
        ref: TypeRef,
        path: Path,
        out: tuple[SetBuilder, SetBuilder, SetBuilder],
    ) -> None:
        added, modified, removed = out
        atom = self.atom(ref)
        left = None if lhs is MISSING else self.shape(atom, lhs)
        right = None if rhs is MISSING else self.shape(atom, rhs)
        shape = right or left
        leaf = (
            (left is not None and right is not None and left != right)
            or shape in (SCALAR, "leaf")
            or self.atomic(atom, shape or SCALAR)
        )
        if not leaf:
            lhs_v = lhs if lhs is not MISSING else None
            rhs_v = rhs if rhs is not MISSING else None
            leaf = not lhs_v and not rhs_v  # both empty or null: a leaf, keeps null != []
            if not leaf and shape == LIST:
                self._compare_items(atom, lhs_v or [], rhs_v or [], path, out)
            elif not leaf:
                lmap: dict[str, Any] = lhs_v or {}
                rmap: dict[str, Any] = rhs_v or {}
                for name in (*lmap, *(k for k in rmap if k not in lmap)):
                    sub_ref, _ = self.field_type(atom, name)
                    self._compare(
                        lmap.get(name, MISSING),
                        rmap.get(name, MISSING),
                        sub_ref,
                        (*path, fieldpath.field(name)),
                        out,
                    )
        if leaf:
            if lhs is MISSING:
                added.insert(path)
            elif rhs is MISSING:
                removed.insert(path)
            elif not json_equal(lhs, rhs):
                modified.insert(path)
            return
        if lhs is not MISSING and rhs is MISSING:
            removed.insert(path)
        elif lhs is MISSING and rhs is not MISSING:
            added.insert(path)

    def _compare_items(
        self,
        atom: Atom,
        lhs: list[Any],
        rhs: list[Any],
        path: Path,
        out: tuple[SetBuilder, SetBuilder, SetBuilder],
    ) -> None:
        added, modified, removed = out
        elem = self.elem(atom)
        order: list[PathElement] = []
        left: dict[PathElement, list[Any]] = {}
        right: dict[PathElement, list[Any]] = {}
        for side, items in ((left, lhs), (right, rhs)):
            for pe, item in self.elements(atom, items):
                if pe not in left and pe not in right:
                    order.append(pe)
                side.setdefault(pe, []).append(item)
        for pe in order:
            ls, rs = left.get(pe, []), right.get(pe, [])
            item_path = (*path, pe)
            if len(ls) >= 2 or len(rs) >= 2:
                if ls and rs:
                    if len(ls) != len(rs) or not all(
                        json_equal(a, b) for a, b in zip(ls, rs, strict=True)
                    ):
                        modified.insert(item_path)
                elif ls:
                    removed.insert(item_path)
                else:
                    added.insert(item_path)
                continue
            self._compare(ls[0] if ls else MISSING, rs[0] if rs else MISSING, elem, item_path, out)

    # --- merge ---------------------------------------------------------------------------

    def merge(self, lhs: Any, rhs: Any, ref: TypeRef) -> Any:
        """``rhs`` (an applied configuration) merged into ``lhs`` (the live value)."""
        merged = self._merge(lhs, rhs, ref)
        return None if merged is MISSING else merged

    def _merge(self, lhs: Any, rhs: Any, ref: TypeRef) -> Any:
        atom = self.atom(ref)
        left = None if lhs is MISSING else self.shape(atom, lhs)
        right = None if rhs is MISSING else self.shape(atom, rhs)
        shape = right or left
        winner = rhs if rhs is not MISSING else lhs
        if (
            (left is not None and right is not None and left != right)
            or shape in (SCALAR, "leaf")
            or self.atomic(atom, shape or SCALAR)
        ):
            return winner
        lhs_v = lhs if lhs is not MISSING else None
        rhs_v = rhs if rhs is not MISSING else None
        if not lhs_v and not rhs_v:
            return winner
        if shape == LIST:
            return self._merge_items(atom, lhs_v or [], rhs_v or [])
        lmap: dict[str, Any] = lhs_v or {}
        rmap: dict[str, Any] = rhs_v or {}
        out: dict[str, Any] = {}
        for name in (*lmap, *(k for k in rmap if k not in lmap)):
            sub_ref, _ = self.field_type(atom, name)
            merged = self._merge(lmap.get(name, MISSING), rmap.get(name, MISSING), sub_ref)
            if merged is not MISSING:
                out[name] = merged
        return out

    def _merge_items(self, atom: Atom, lhs: list[Any], rhs: list[Any]) -> list[Any]:
        """Items merged by key. Items only in ``lhs`` keep their place; shared items take
        ``rhs``'s order; items only in ``rhs`` come where ``rhs`` has them."""
        elem = self.elem(atom)
        lhs_pes = [pe for pe, _ in self.elements(atom, lhs)]
        rhs_pes = [pe for pe, _ in self.elements(atom, rhs)]
        observed_lhs: dict[PathElement, Any] = {}
        for pe, item in zip(lhs_pes, lhs, strict=True):
            observed_lhs[pe] = MISSING if pe in observed_lhs else item  # duplicated: none
        observed_rhs = dict(zip(rhs_pes, rhs, strict=True))
        shared = [pe for pe in rhs_pes if pe in observed_lhs]
        next_shared = shared.pop(0) if shared else None
        merged_rhs: set[PathElement] = set()
        out: list[Any] = []
        li = ri = 0
        while li < len(lhs_pes) or ri < len(rhs_pes):
            if li < len(lhs_pes) and ri < len(rhs_pes):
                pe = lhs_pes[li]
                if pe == rhs_pes[ri]:
                    merged_rhs.add(pe)
                    item = self._merge(observed_lhs[pe], observed_rhs[pe], elem)
                    if item is not MISSING:
                        out.append(item)
                    li += 1
                    ri += 1
                    next_shared = shared.pop(0) if shared else None
                    continue
                if pe in observed_rhs and next_shared is not None and next_shared != pe:
                    li += 1  # a shared item, but not the one due in this round
                    continue
            if li < len(lhs_pes):
                pe = lhs_pes[li]
                if pe not in observed_rhs:
                    item = self._merge(lhs[li], MISSING, elem)
                    if item is not MISSING:
                        out.append(item)
                    li += 1
                    continue
                if pe in merged_rhs:
                    li += 1
                    continue
            if ri < len(rhs_pes):
                pe = rhs_pes[ri]
                merged_rhs.add(pe)
                item = self._merge(observed_lhs.get(pe, MISSING), observed_rhs[pe], elem)
                if item is not MISSING:
                    out.append(item)
                ri += 1
                if next_shared is not None and next_shared == pe:
                    next_shared = shared.pop(0) if shared else None
        return out

    # --- removal ---------------------------------------------------------------------------

    def remove_items(self, value: Any, fields: FieldSet, ref: TypeRef) -> Any:
        """``value`` without the paths of ``fields`` (and what is below them). A map or
        list left empty becomes null, as structured-merge-diff leaves it."""
        return self._remove(value, fields, ref)

    def _remove(self, value: Any, fields: FieldSet, ref: TypeRef) -> Any:
        atom = self.atom(ref)
        shape = self.shape(atom, value)
        if shape in (SCALAR, "leaf"):
            return value
        if not value or self.atomic(atom, shape):
            return None
        if shape == LIST:
            elem = self.elem(atom)
            items = []
            for pe, item in self.elements(atom, value):
                if pe in fields.members:
                    continue
                below = fields.with_prefix(pe)
                items.append(item if below.empty() else self._remove(item, below, elem))
            return items or None
        out = {}
        for name, sub in value.items():
            pe = fieldpath.field(name)
            if pe in fields.members:
                continue
            below = fields.with_prefix(pe)
            if not below.empty():
                sub_ref, _ = self.field_type(atom, name)
                sub = self._remove(sub, below, sub_ref)
            out[name] = sub
        return out or None


def drop_nulls(value: Any) -> Any:
    """Map entries whose value is null removed, recursively (what decoding into kube's
    typed objects does to them). Without any, ``value`` itself is returned, not a copy:
    an applied object may be as large as storage holds, ~32 times that in Python."""
    return _without_nulls(value) if _holds_null_entry(value) else value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _holds_null_entry(value: Any) -> bool:
    """Whether a map at or below ``value`` has a null entry. Iterative, no copies."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for item in current.values():
                if item is None:
                    return True
                if isinstance(item, dict | list):
                    stack.append(item)
        elif isinstance(current, list):
            stack.extend(item for item in current if isinstance(item, dict | list))
    return False


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "map"


def _scalar_problem(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return f"expected {_SCALAR_NAMES.get(kind, 'scalar')}, got {_describe(value)}"
    if kind == "numeric" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"expected numeric (int or float), got {_describe(value)}"
    if kind == "string" and not isinstance(value, str):
        return f"expected string, got {_describe(value)}"
    if kind == "boolean" and not isinstance(value, bool):
        return f"expected boolean, got {_describe(value)}"
    return ""


_SCALAR_NAMES = {"numeric": "numeric (int or float)", "string": "string", "boolean": "boolean"}
