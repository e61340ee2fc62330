"""Field paths and field sets: what a field manager owns, as structured-merge-diff models it.

A path is a tuple of path elements, each one of four kinds:

- a field of a struct or a key of a map (``.spec``),
- an item of an associative list, named by its key fields (``[name="nginx"]``),
- an item of a set, named by its value (``[="finalizer.example.com"]``),
- an item of an atomic list, named by its index (``[0]``; never owned on its own).

A ``FieldSet`` is a trie of such paths: ``members`` are paths owned in their own right,
``children`` the sets below an element. Its wire form is FieldsV1, the JSON of
``metadata.managedFields[].fieldsV1``: ``{"f:spec":{"f:replicas":{}}}``, with ``".":{}``
where an element is both owned itself and has owned children, and ``k:`` / ``v:`` / ``i:``
prefixes for the other kinds (``k:{"name":"nginx"}``, ``v:"a"``, ``i:0``).

Sets are immutable values: every operation returns a new set.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3
_PREFIXES = ("f:", "k:", "v:", "i:")

# (kind, text): text is the field name, the canonical JSON of the key object or of the
# value, or the decimal index. Hashable and cheap to compare for equality.
PathElement = tuple[int, str]
Path = tuple[PathElement, ...]


class FieldsError(ValueError):
    """FieldsV1 that cannot be decoded."""


def canonical(value: Any) -> Any:
    """A JSON value with integral floats as ints, so ``80`` and ``80.0`` name one item."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _json(value: Any) -> str:
    return orjson.dumps(canonical(value), option=orjson.OPT_SORT_KEYS).decode()


def field(name: str) -> PathElement:
    return (FIELD, name)


def key(fields: Mapping[str, Any]) -> PathElement:
    return (KEY, _json(dict(sorted(fields.items()))))


def value(item: Any) -> PathElement:
    return (VALUE, _json(item))


def index(position: int) -> PathElement:
    return (INDEX, str(position))


def element_name(pe: PathElement) -> str:
    """The FieldsV1 key of ``pe`` (``f:spec``, ``k:{"name":"a"}``, ``v:"x"``, ``i:3``)."""
    return _PREFIXES[pe[0]] + pe[1]


def make_path(*parts: str | PathElement) -> Path:
    """A path from field names and path elements: ``make_path("spec", key({...}), "image")``."""
    return tuple(field(p) if isinstance(p, str) else p for p in parts)


# --- rendering, as fieldpath.Path.String() prints paths in conflict messages ----------


def _go_value(item: Any) -> str:
    """structured-merge-diff's value.ToString: strings quoted, numbers and bools bare."""
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str):
        return orjson.dumps(item).decode()
    if isinstance(item, int | float):
        return repr(canonical(item))
    if isinstance(item, list):
        return "[" + ", ".join(_go_value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{" + ", ".join(f"{k}={_go_value(v)}" for k, v in sorted(item.items())) + "}"
    return str(item)


def element_string(pe: PathElement) -> str:
    kind, text = pe
    if kind == FIELD:
        return "." + text
    if kind == KEY:
        fields = orjson.loads(text)
        return "[" + ",".join(f"{k}={_go_value(v)}" for k, v in fields.items()) + "]"
    if kind == VALUE:
        return "[=" + _go_value(orjson.loads(text)) + "]"
    return "[" + text + "]"


def path_string(path: Path) -> str:
    return "".join(element_string(pe) for pe in path)


# --- ordering, as structured-merge-diff sorts path elements --------------------------


def _value_rank(item: Any) -> tuple[Any, ...]:
    """value.Compare's total order: numbers < strings < bools < lists < maps < null."""
    if isinstance(item, bool):
        return (2, item)
    if isinstance(item, int | float):
        return (0, item)
    if isinstance(item, str):
        return (1, item)
    if isinstance(item, list):
        return (3, tuple(_value_rank(v) for v in item), len(item))
    if isinstance(item, dict):
        return (4, tuple((k, _value_rank(v)) for k, v in sorted(item.items())))
    return (5,)


@functools.lru_cache(maxsize=4096)
def element_order(pe: PathElement) -> tuple[Any, ...]:
    kind, text = pe
    if kind == FIELD:
        return (kind, text)
    if kind == KEY:
        fields = orjson.loads(text)
        return (kind, tuple((k, _value_rank(v)) for k, v in fields.items()))
    if kind == VALUE:
        return (kind, _value_rank(orjson.loads(text)))
    return (kind, int(text))


def path_order(path: Path) -> tuple[Any, ...]:
    return tuple(element_order(pe) for pe in path)


# --- sets ------------------------------------------------------------------------------


class FieldSet:
    """An immutable set of paths, stored as a trie."""

    __slots__ = ("children", "members")

    def __init__(
        self,
        members: frozenset[PathElement] = frozenset(),
        children: Mapping[PathElement, FieldSet] | None = None,
    ) -> None:
        self.members = members
        self.children: dict[PathElement, FieldSet] = dict(children or {})

    @classmethod
    def of(cls, *paths: Path) -> FieldSet:
        builder = SetBuilder()
        for path in paths:
            builder.insert(path)
        return builder.build()

    def empty(self) -> bool:
        return not self.members and not self.children

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.members == other.members and self.children == other.children

    def __hash__(self) -> int:  # pragma: no cover - sets are not used as keys
        raise TypeError("FieldSet is not hashable")

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self.paths()]})"

    def has(self, path: Path) -> bool:
        node: FieldSet | None = self
        for pe in path[:-1]:
            assert node is not None
            node = node.children.get(pe)
            if node is None:
                return False
        return bool(path) and node is not None and path[-1] in node.members

    def with_prefix(self, pe: PathElement) -> FieldSet:
        return self.children.get(pe, EMPTY)

    def paths(self) -> list[Path]:
        """Every member path, in structured-merge-diff's iteration order (members of a
        level first, then the children, each group sorted)."""
        out: list[Path] = []
        self._collect((), out)
        return out

    def _collect(self, prefix: Path, out: list[Path]) -> None:
        for pe in sorted(self.members, key=element_order):
            out.append((*prefix, pe))
        for pe in sorted(self.children, key=element_order):
            self.children[pe]._collect((*prefix, pe), out)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths())

    def __len__(self) -> int:
        return len(self.members) + sum(len(c) for c in self.children.values())

    def union(self, other: FieldSet) -> FieldSet:
        if other.empty():
            return self
        if self.empty():
            return other
        children = dict(self.children)
        for pe, child in other.children.items():
            mine = children.get(pe)
            children[pe] = child if mine is None else mine.union(child)
        return FieldSet(self.members | other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {}
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            if theirs is not None:
                both = child.intersection(theirs)
                if not both.empty():
                    children[pe] = both
        return FieldSet(self.members & other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Paths of ``self`` not in ``other``; a parent minus its child stays the parent."""
        if other.empty():
            return self
        children = {}
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            rest = child if theirs is None else child.difference(theirs)
            if not rest.empty():
                children[pe] = rest
        return FieldSet(self.members - other.members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like ``difference``, but a path of ``other`` also takes everything below it."""
        if other.empty():
            return self
        children = {}
        for pe, child in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            rest = child if theirs is None else child.recursive_difference(theirs)
            if not rest.empty():
                children[pe] = rest
        return FieldSet(self.members - other.members, children)

    def prefixed(self, pe: PathElement) -> FieldSet:
        """This set moved below ``pe``."""
        return EMPTY if self.empty() else FieldSet(frozenset(), {pe: self})

    # --- FieldsV1 -----------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 JSON object, keys in structured-merge-diff's order."""
        out: dict[str, Any] = {}
        self._emit(out)
        return out

    def _emit(self, out: dict[str, Any]) -> None:
        elements = set(self.members) | set(self.children)
        for pe in sorted(elements, key=element_order):
            name = element_name(pe)
            child = self.children.get(pe)
            if child is None:
                out[name] = {}
                continue
            node: dict[str, Any] = {}
            if pe in self.members:
                node["."] = {}
            child._emit(node)
            out[name] = node

    @classmethod
    def from_fields_v1(cls, fields: Any) -> FieldSet:
        if not isinstance(fields, dict):
            raise FieldsError("FieldsV1 must be a JSON object")
        members: set[PathElement] = set()
        children: dict[PathElement, FieldSet] = {}
        for name, sub in fields.items():
            if name == ".":
                continue
            pe = parse_element(name)
            if not isinstance(sub, dict):
                raise FieldsError(f"FieldsV1 entry {name!r} must be a JSON object")
            if not sub or "." in sub:
                members.add(pe)
            child = cls.from_fields_v1(sub)
            if not child.empty():
                children[pe] = child
        return cls(frozenset(members), children)


EMPTY = FieldSet()


def parse_element(name: str) -> PathElement:
    """One FieldsV1 key (``f:spec``, ``k:{"name":"a"}``, ``v:"x"``, ``i:3``)."""
    prefix, text = name[:2], name[2:]
    if prefix == "f:":
        return (FIELD, text)
    if prefix == "i:":
        if not text.isdigit():
            raise FieldsError(f"invalid index in {name!r}")
        return (INDEX, str(int(text)))
    if prefix in ("k:", "v:"):
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise FieldsError(f"invalid JSON in {name!r}: {exc}") from None
        if prefix == "k:":
            if not isinstance(decoded, dict) or not decoded:
                raise FieldsError(f"a key must be a non-empty JSON object: {name!r}")
            return key(decoded)
        return value(decoded)
    raise FieldsError(f"unknown path element {name!r}")


class SetBuilder:
    """A mutable trie for building a set path by path."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, SetBuilder] = {}

    def insert(self, path: Path) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = SetBuilder()
            node = child
        node.members.add(path[-1])

    def build(self) -> FieldSet:
        children = {}
        for pe, child in self.children.items():
            built = child.build()
            if not built.empty():
                children[pe] = built
        return FieldSet(frozenset(self.members), children)
