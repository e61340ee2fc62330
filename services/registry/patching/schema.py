"""What the Kubernetes schemas say about merging: patch strategies, list and map types.

The built-in types' OpenAPI definitions (``services.registry.openapi_schemas``, the 1.32
definitions kubernetes-validate ships) carry the facts both patch engines need:

- strategic merge patch reads ``x-kubernetes-patch-strategy`` (``merge``, ``replace``,
  ``retainKeys``, ``merge,retainKeys``) and ``x-kubernetes-patch-merge-key`` on a field;
- server-side apply reads ``x-kubernetes-list-type`` (``atomic``, ``set``, ``map`` with
  ``x-kubernetes-list-map-keys``) and ``x-kubernetes-map-type`` (``atomic``,
  ``granular``), falling back to the patch strategy for lists without a list type, as
  kube's schema conversion (kube-openapi ``schemaconv``) does.

A ``Node`` is one schema node with its ``$ref`` followed and the referring node's own
keys (a description, a patch strategy, a map type) laid over the target's. A type with
no schema (a custom resource without one) is ``None`` everywhere: strategic merge then
behaves as a JSON merge patch with lists replaced, and apply "deduces" the type from
the value (maps granular, lists atomic), as structured-merge-diff does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.registry import openapi_schemas

Node = dict[str, Any]
_REF_PREFIXES = (openapi_schemas.REF_PREFIX, openapi_schemas.SOURCE_REF_PREFIX)

# Key fields of associative lists that kube defaults (``+default="TCP"``) and that the
# shipped definitions lost with their ``default``s: apply accepts items without them.
KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.EndpointPort", "protocol"): "TCP",
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol"): "TCP",
}


class Resolver:
    """Follows ``$ref``s through a set of definitions; results are cached and shared."""

    def __init__(self, lookup: Callable[[str], Node | None]) -> None:
        self._lookup = lookup
        self._cache: dict[int, tuple[Node, Node]] = {}

    def definition(self, name: str) -> Node | None:
        found = self._lookup(name)
        return None if found is None else self.resolve(found, name=name)

    def resolve(self, node: Node, *, name: str = "") -> Node:
        """``node`` with its reference followed; ``"$name"`` records the definition."""
        cached = self._cache.get(id(node))
        if cached is not None and cached[0] is node:
            return cached[1]
        resolved = self._resolve(node, name)
        self._cache[id(node)] = (node, resolved)
        return resolved

    def _resolve(self, node: Node, name: str) -> Node:
        ref = node.get("$ref")
        all_of = node.get("allOf")
        if ref is None and isinstance(all_of, list) and len(all_of) == 1:
            ref = all_of[0].get("$ref") if isinstance(all_of[0], dict) else None
        if not isinstance(ref, str):
            return {**node, "$name": name} if name else node
        target_name = _ref_name(ref)
        target = self._lookup(target_name)
        base = {} if target is None else self.resolve(target, name=target_name)
        siblings = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
        return {**base, **siblings}


def _ref_name(ref: str) -> str:
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


@functools.cache
def builtin_resolver() -> Resolver:
    definitions = openapi_schemas.builtin()

    def lookup(name: str) -> Node | None:
        return definitions.schema(name) if name in definitions else None

    return Resolver(lookup)


def root(definition: str, resolver: Resolver | None = None) -> Node | None:
    """The resolved schema of a kind's definition, ``None`` if there is none."""
    if not definition:
        return None
    return (resolver or builtin_resolver()).definition(definition)


# --- strategic merge patch: patch metadata -------------------------------------------


@dataclass(frozen=True)
class PatchMeta:
    """A field's patch strategies and merge key, and the schema of its value (of one
    item, for a list)."""

    schema: Node | None = None
    strategies: tuple[str, ...] = ()
    merge_key: str = ""


NO_META = PatchMeta()


def _patch_meta(prop: Node, schema: Node | None) -> PatchMeta:
    strategy = prop.get("x-kubernetes-patch-strategy")
    strategies = tuple(strategy.split(",")) if isinstance(strategy, str) and strategy else ()
    merge_key = prop.get("x-kubernetes-patch-merge-key")
    return PatchMeta(schema, strategies, merge_key if isinstance(merge_key, str) else "")


def _field_node(node: Node | None, key: str) -> Node | None:
    """The (unresolved) schema of ``key`` in an object schema: a property or the map's
    value type; ``None`` when the schema says nothing of it."""
    if node is None:
        return None
    properties = node.get("properties")
    if isinstance(properties, dict) and key in properties:
        prop = properties[key]
        return prop if isinstance(prop, dict) else None
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        return additional
    return None


def lookup_map(node: Node | None, key: str, resolver: Resolver | None = None) -> PatchMeta:
    """Patch metadata for ``key`` whose value is an object."""
    prop = _field_node(node, key)
    if prop is None:
        return NO_META
    resolved = (resolver or builtin_resolver()).resolve(prop)
    return _patch_meta(prop, resolved)


def lookup_list(node: Node | None, key: str, resolver: Resolver | None = None) -> PatchMeta:
    """Patch metadata for ``key`` whose value is a list; ``schema`` is the item's."""
    prop = _field_node(node, key)
    if prop is None:
        return NO_META
    r = resolver or builtin_resolver()
    resolved = r.resolve(prop)
    items = resolved.get("items")
    item_schema = r.resolve(items) if isinstance(items, dict) else None
    return _patch_meta(resolved, item_schema)


# --- server-side apply: types ------------------------------------------------------------

SCALAR, LIST, MAP, UNTYPED = "scalar", "list", "map", "untyped"
ATOMIC, SEPARABLE, ASSOCIATIVE = "atomic", "separable", "associative"


@dataclass(eq=False)
class Atom:
    """structured-merge-diff's view of one type.

    ``kind``: ``scalar`` (``scalar`` holds ``string``/``numeric``/``boolean``/``untyped``),
    ``list`` (``relationship`` atomic or associative; ``keys`` for a map-list, none for a
    set), ``map`` (struct ``fields`` and/or ``elem`` for map values; ``relationship``
    separable or atomic), or ``untyped`` (deduced from the value; ``relationship`` atomic
    for content below an atomic list).
    """

    kind: str
    scalar: str = "untyped"
    relationship: str = SEPARABLE
    fields: dict[str, Node] = field(default_factory=dict)
    elem: Node | None = None
    keys: tuple[str, ...] = ()
    key_defaults: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    required: tuple[str, ...] = ()


DEDUCED = Atom(UNTYPED)
DEDUCED_ATOMIC = Atom(UNTYPED, relationship=ATOMIC)

_SCALAR_TYPES = {
    "string": "string",
    "integer": "numeric",
    "number": "numeric",
    "boolean": "boolean",
}


class Types:
    """Atoms for the schema nodes of one set of definitions, memoised."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        self.resolver = resolver or builtin_resolver()
        self._atoms: dict[int, tuple[Node, Atom]] = {}

    def atom(self, node: Node | None) -> Atom:
        if node is None:
            return DEDUCED
        cached = self._atoms.get(id(node))
        if cached is not None and cached[0] is node:
            return cached[1]
        built = self._build(self.resolver.resolve(node))
        self._atoms[id(node)] = (node, built)
        return built

    def _build(self, s: Node) -> Atom:
        name = str(s.get("$name", ""))
        kind = s.get("type")
        properties = s.get("properties")
        additional = s.get("additionalProperties")
        if kind == "array" or "items" in s:
            return self._list(s, name)
        if kind == "object" or isinstance(properties, dict) or isinstance(additional, dict):
            fields = properties if isinstance(properties, dict) else {}
            if not fields and not isinstance(additional, dict):
                return DEDUCED  # a free-form object (RawExtension, preserve-unknown-fields)
            relationship = ATOMIC if s.get("x-kubernetes-map-type") == "atomic" else SEPARABLE
            elem = additional if isinstance(additional, dict) else None
            required = s.get("required")
            return Atom(
                MAP,
                relationship=relationship,
                fields=fields,
                elem=elem,
                name=name,
                required=tuple(required) if isinstance(required, list) else (),
            )
        if isinstance(kind, str) and kind in _SCALAR_TYPES:
            return Atom(SCALAR, scalar=_SCALAR_TYPES[kind], name=name)
        if "oneOf" in s or "anyOf" in s or s.get("format") == "int-or-string":
            return Atom(SCALAR, scalar="untyped", name=name)
        return DEDUCED

    def _list(self, s: Node, name: str) -> Atom:
        items = s.get("items")
        elem = items if isinstance(items, dict) else None
        list_type = s.get("x-kubernetes-list-type")
        keys: tuple[str, ...] = ()
        relationship = ATOMIC
        if list_type == "set":
            relationship = ASSOCIATIVE
        elif list_type == "map":
            relationship = ASSOCIATIVE
            map_keys = s.get("x-kubernetes-list-map-keys")
            keys = tuple(map_keys) if isinstance(map_keys, list) else ()
        elif list_type is None:
            strategy = s.get("x-kubernetes-patch-strategy")
            if strategy in ("merge", "merge,retainKeys"):
                relationship = ASSOCIATIVE
                merge_key = s.get("x-kubernetes-patch-merge-key")
                keys = (merge_key,) if isinstance(merge_key, str) and merge_key else ()
        defaults: dict[str, Any] = {}
        if keys and elem is not None:
            item = self.resolver.resolve(elem)
            item_name = str(item.get("$name", ""))
            props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
            for key_field in keys:
                sub = props.get(key_field) if isinstance(props, dict) else None
                if isinstance(sub, dict) and "default" in sub:
                    defaults[key_field] = sub["default"]
                elif (item_name, key_field) in KEY_DEFAULTS:
                    defaults[key_field] = KEY_DEFAULTS[(item_name, key_field)]
        return Atom(
            LIST, relationship=relationship, elem=elem, keys=keys, key_defaults=defaults, name=name
        )


@functools.cache
def builtin_types() -> Types:
    return Types()
