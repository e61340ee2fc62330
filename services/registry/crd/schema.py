"""Structural schemas: a CRD version's ``openAPIV3Schema``, compiled once, and what kube
does with a custom resource through it.

- ``prune``: fields the schema does not declare are dropped (kube's structural pruning),
  their paths returned for ``fieldValidation`` (``unknown field "spec.unknownField"``);
  ``x-kubernetes-preserve-unknown-fields`` keeps them below a node; the root and every
  ``x-kubernetes-embedded-resource`` keep ``apiVersion``, ``kind`` and ``metadata``
  (which is ObjectMeta's business: ``model``);
- ``drop_nulls``: a null the schema does not allow (not nullable, no default) goes, as
  kube's ``PruneNonNullableNullsWithoutDefaults``;
- ``default``: ``default`` values set where a field is missing (or a non-nullable null),
  recursively, on writes and on reads from storage (kube's structural defaulting);
- ``validate``: the value validations, worded as kube-openapi's validator words them and
  turned into field errors as apiextensions-apiserver does
  (``kubeOpenAPIResultToFieldErrors``): ``spec.replicas: Invalid value: "string":
  spec.replicas in body must be of type integer: "string"``; then the list types (sets
  and map lists hold no duplicates, ``listtype.ValidateListSetsAndMaps``) and embedded
  resources' TypeMeta and ObjectMeta (``objectmeta.Validate``).

``x-kubernetes-validations`` (CEL) rules are ``rules``' business (``kapi.cel``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import math
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import orjson

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.crd import regex
from services.registry.patching.goformat import go_float

Obj = dict[str, Any]

META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


class Node:
    """One schema node, compiled: what pruning, defaulting and validation read."""

    __slots__ = (
        "additional",
        "all_of",
        "any_of",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "has_default",
        "int_or_string",
        "items",
        "list_type",
        "map_keys",
        "map_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "pattern_text",
        "preserve",
        "properties",
        "raw",
        "required",
        "rules",
        "type",
        "unique_items",
    )

    def __init__(self, raw: Obj) -> None:
        self.raw = raw
        self.type: str = str(raw.get("type") or "")
        self.format: str = str(raw.get("format") or "")
        self.nullable = raw.get("nullable") is True
        self.preserve = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True
        self.int_or_string = raw.get("x-kubernetes-int-or-string") is True
        props = raw.get("properties")
        self.properties: dict[str, Node] = (
            {k: Node(v) for k, v in props.items() if isinstance(v, dict)}
            if isinstance(props, dict)
            else {}
        )
        additional = raw.get("additionalProperties")
        self.additional: Node | None = None
        if isinstance(additional, dict):
            self.additional = Node(additional)
        elif additional is True:
            # additionalProperties: true — any value, kept as it is
            self.additional = Node({"x-kubernetes-preserve-unknown-fields": True})
        items = raw.get("items")
        self.items: Node | None = Node(items) if isinstance(items, dict) else None
        self.has_default = "default" in raw
        self.default = raw.get("default")
        required = raw.get("required")
        self.required: tuple[str, ...] = tuple(required) if isinstance(required, list) else ()
        enum = raw.get("enum")
        self.enum: list[Any] | None = enum if isinstance(enum, list) else None
        pattern = raw.get("pattern")
        self.pattern_text: str = pattern if isinstance(pattern, str) else ""
        self.pattern: re.Pattern[str] | None = _compile_pattern(self.pattern_text)
        self.maximum = _number(raw.get("maximum"))
        self.minimum = _number(raw.get("minimum"))
        self.exclusive_maximum = raw.get("exclusiveMaximum") is True
        self.exclusive_minimum = raw.get("exclusiveMinimum") is True
        self.multiple_of = _number(raw.get("multipleOf"))
        self.max_length = _count(raw.get("maxLength"))
        self.min_length = _count(raw.get("minLength"))
        self.max_items = _count(raw.get("maxItems"))
        self.min_items = _count(raw.get("minItems"))
        self.unique_items = raw.get("uniqueItems") is True
        self.max_properties = _count(raw.get("maxProperties"))
        self.min_properties = _count(raw.get("minProperties"))
        self.all_of = [Node(s) for s in raw.get("allOf") or () if isinstance(s, dict)]
        self.any_of = [Node(s) for s in raw.get("anyOf") or () if isinstance(s, dict)]
        self.one_of = [Node(s) for s in raw.get("oneOf") or () if isinstance(s, dict)]
        not_ = raw.get("not")
        self.not_: Node | None = Node(not_) if isinstance(not_, dict) else None
        self.list_type: str = str(raw.get("x-kubernetes-list-type") or "")
        keys = raw.get("x-kubernetes-list-map-keys")
        self.map_keys: tuple[str, ...] = tuple(keys) if isinstance(keys, list) else ()
        self.map_type: str = str(raw.get("x-kubernetes-map-type") or "")
        rules = raw.get("x-kubernetes-validations")
        self.rules: list[Obj] = (
            [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
        )

    def child(self, key: str) -> Node | None:
        """The schema of ``key`` in an object: a declared property or the map's values."""
        found = self.properties.get(key)
        return found if found is not None else self.additional

    def walk(self) -> Iterator[Node]:
        """This node and every node below it."""
        yield self
        for sub in (*self.properties.values(), self.additional, self.items):
            if sub is not None:
                yield from sub.walk()

    @property
    def has_defaults(self) -> bool:
        return any(node.has_default for node in self.walk())


def compile_schema(raw: Obj | None) -> Node:
    """A version's ``openAPIV3Schema`` compiled (an empty schema when it has none), its
    defaults pruned as kube prunes them when it serves the CRD."""
    root = Node(raw if isinstance(raw, dict) else {})
    for node in root.walk():
        if node.has_default and isinstance(node.default, dict | list):
            node.default = copy.deepcopy(node.default)
            prune(node.default, node, root=False)
    return root


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """An ECMA/RE2 pattern as Python reads it (the common subset); None if it is not
    one Python can compile (the CRD's validation would have refused it in kube)."""
    if not pattern:
        return None
    try:
        return regex.compile_go(pattern)
    except re.error:
        return None


# --- pruning ---------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def prune(obj: Any, node: Node | None, *, root: bool = True, path: str = "") -> list[str]:
    """Drop what ``node`` does not declare from ``obj`` (in place); the dropped fields'
    paths in document order. ``root``: the object is a resource, whose ``apiVersion``,
    ``kind`` and ``metadata`` are kept (as an embedded resource's are)."""
    pruned: list[str] = []
    _prune(obj, node, pruned, path, embedded=root)
    return pruned


def _prune(x: Any, s: Node | None, out: list[str], path: str, *, embedded: bool = False) -> None:
    if s is not None and s.preserve:
        _skip_prune(x, s, out, path, embedded=embedded)
        return
    if isinstance(x, dict):
        if s is None:
            out.extend(_join(path, k) for k in x)
            x.clear()
            return
        keep_meta = embedded or s.embedded
        for k in list(x):
            if keep_meta and k in META_FIELDS:
                continue
            prop = s.properties.get(k)
            if prop is not None:
                _prune(x[k], prop, out, _join(path, k))
            elif s.additional is not None:
                _prune(x[k], s.additional, out, _join(path, k))
            else:
                del x[k]
                out.append(_join(path, k))
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, out, f"{path}[{i}]")


def _skip_prune(x: Any, s: Node, out: list[str], path: str, *, embedded: bool) -> None:
    if isinstance(x, dict):
        keep_meta = embedded or s.embedded
        for k, v in x.items():
            if keep_meta and k in META_FIELDS:
                continue
            prop = s.properties.get(k)
            if prop is not None:
                _prune(v, prop, out, _join(path, k))
            elif s.additional is not None:
                _prune(v, s.additional, out, _join(path, k))
    elif isinstance(x, list) and s.items is not None:
        for i, v in enumerate(x):
            _skip_prune(v, s.items, out, f"{path}[{i}]", embedded=False)


def embedded_objects(x: Any, s: Node | None, path: str = "") -> Iterator[tuple[str, Obj]]:
    """Every embedded resource in ``x`` (not the root), with its path."""
    if s is None:
        return
    if isinstance(x, dict):
        for k, v in x.items():
            sub = s.child(k)
            if sub is None:
                continue
            child_path = _join(path, k)
            if sub.embedded and isinstance(v, dict):
                yield child_path, v
            yield from embedded_objects(v, sub, child_path)
    elif isinstance(x, list) and s.items is not None:
        for i, v in enumerate(x):
            child_path = f"{path}[{i}]"
            if s.items.embedded and isinstance(v, dict):
                yield child_path, v
            yield from embedded_objects(v, s.items, child_path)


# --- nulls and defaults ------------------------------------------------------------------


def drop_nulls(x: Any, s: Node | None) -> None:
    """Remove null values the schema neither allows (nullable) nor defaults."""
    if s is None:
        return
    if isinstance(x, dict):
        for k in list(x):
            sub = s.child(k)
            if sub is None:
                continue
            if x[k] is None:
                if not sub.nullable and not sub.has_default:
                    del x[k]
            else:
                drop_nulls(x[k], sub)
    elif isinstance(x, list) and s.items is not None:
        for v in x:
            if v is not None:
                drop_nulls(v, s.items)


def _non_nullable_null(value: Any, s: Node | None) -> bool:
    return value is None and s is not None and not s.nullable


def default(x: Any, s: Node | None) -> None:
    """Set the schema's defaults where values are missing (in place), recursively."""
    if s is None:
        return
    if isinstance(x, dict):
        for k, prop in s.properties.items():
            if not prop.has_default:
                continue
            if k not in x or _non_nullable_null(x[k], prop):
                x[k] = copy.deepcopy(prop.default)
        for k in list(x):
            prop_or_none = s.properties.get(k)
            if prop_or_none is not None:
                default(x[k], prop_or_none)
            elif s.additional is not None:
                if _non_nullable_null(x[k], s.additional) and s.additional.has_default:
                    x[k] = copy.deepcopy(s.additional.default)
                default(x[k], s.additional)
    elif isinstance(x, list) and s.items is not None:
        for i, v in enumerate(x):
            if _non_nullable_null(v, s.items) and s.items.has_default:
                x[i] = copy.deepcopy(s.items.default)
            default(x[i], s.items)


# --- validation --------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_matches(actual: str, value: Any, wanted: list[str]) -> bool:
    if actual in wanted:
        return True
    if actual == "integer" and "number" in wanted:
        return True
    return actual == "number" and "integer" in wanted and float(value).is_integer()


def _num(value: float | int) -> str:
    """Go's ``%v`` of a bound: integers plainly, floats in Go's shortest form."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return go_float(value)


def _in_body(name: str) -> str:
    return f"{name} in body" if name else "body"


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    return errors.invalid_value(path, value, detail)


def validate(obj: Any, node: Node) -> list[FieldError]:
    """Every problem the schema finds in ``obj`` (a whole custom resource): the value
    validations, list types, embedded resources (its ``x-kubernetes-validations`` rules
    are ``rules``' business)."""
    out: list[FieldError] = []
    _validate(obj, node, "", out)
    out += _lists(obj, node, "")
    for path, embedded in embedded_objects(obj, node):
        out += _embedded(path, embedded)
    return out


def validate_value(x: Any, node: Node, path: str) -> list[FieldError]:
    """The value validations of ``node`` on a value found at ``path`` (a default)."""
    out: list[FieldError] = []
    _validate(x, node, path, out)
    return out


def _validate(x: Any, s: Node, path: str, out: list[FieldError]) -> None:
    types = ["integer", "string"] if s.int_or_string else ([s.type] if s.type else [])
    if x is None:
        if types and not s.nullable:
            detail = f'{_in_body(path)} must be of type {",".join(types)}: "null"'
            out.append(FieldError("FieldValueTypeInvalid", path, "null", detail))
        return
    actual = _json_type(x)
    if types and not _type_matches(actual, x, types):
        detail = f'{_in_body(path)} must be of type {",".join(types)}: "{actual}"'
        out.append(FieldError("FieldValueTypeInvalid", path, actual, detail))
        return
    for sub in s.all_of:
        _validate(x, sub, path, out)
    if s.any_of and not any(not _problems(x, sub, path) for sub in s.any_of):
        out.append(_invalid(path, x, f"{_in_body(path)} must validate at least one schema (anyOf)"))
    if s.one_of:
        passing = sum(1 for sub in s.one_of if not _problems(x, sub, path))
        if passing != 1:
            detail = f"{_in_body(path)} must validate one and only one schema (oneOf)"
            out.append(_invalid(path, x, detail))
    if s.not_ is not None and not _problems(x, s.not_, path):
        out.append(_invalid(path, x, f"{_in_body(path)} must not validate the schema (not)"))
    if isinstance(x, str):
        _validate_string(x, s, path, out)
    elif isinstance(x, int | float) and not isinstance(x, bool):
        _validate_number(x, s, path, out)
    elif isinstance(x, list):
        _validate_array(x, s, path, out)
    if s.enum is not None and not any(_json_equal(x, e) for e in s.enum):
        values = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in s.enum]
        out.append(errors.not_supported(path, x, values))
    if isinstance(x, dict):
        _validate_object(x, s, path, out)


def _problems(x: Any, s: Node, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    _validate(x, s, path, found)
    return found


def _validate_string(x: str, s: Node, path: str, out: list[FieldError]) -> None:
    if s.max_length is not None and len(x) > s.max_length:
        out.append(
            FieldError("FieldValueTooLong", path, x, f"may not be more than {s.max_length} bytes")
        )
    if s.min_length is not None and len(x) < s.min_length:
        detail = f"{_in_body(path)} should be at least {s.min_length} chars long"
        out.append(_invalid(path, x, detail))
    if s.pattern is not None and s.pattern.search(x) is None:
        out.append(_invalid(path, x, f"{_in_body(path)} should match '{s.pattern_text}'"))
    check = FORMATS.get(s.format)
    if check is not None and not check(x):
        detail = f"{_in_body(path)} must be of type {s.format}: {errors.quote(x)}"
        out.append(FieldError("FieldValueTypeInvalid", path, x, detail))


def _validate_number(x: float | int, s: Node, path: str, out: list[FieldError]) -> None:
    name = _in_body(path)
    if s.multiple_of is not None and s.multiple_of > 0:
        ratio = x / s.multiple_of
        if not math.isclose(ratio, round(ratio), rel_tol=0, abs_tol=1e-9):
            out.append(_invalid(path, x, f"{name} should be a multiple of {_num(s.multiple_of)}"))
    if s.maximum is not None and (x >= s.maximum if s.exclusive_maximum else x > s.maximum):
        relation = "less than" if s.exclusive_maximum else "less than or equal to"
        out.append(_invalid(path, x, f"{name} should be {relation} {_num(s.maximum)}"))
    if s.minimum is not None and (x <= s.minimum if s.exclusive_minimum else x < s.minimum):
        relation = "greater than" if s.exclusive_minimum else "greater than or equal to"
        out.append(_invalid(path, x, f"{name} should be {relation} {_num(s.minimum)}"))


def _validate_array(x: list[Any], s: Node, path: str, out: list[FieldError]) -> None:
    if s.max_items is not None and len(x) > s.max_items:
        unit = "item" if s.max_items == 1 else "items"
        out.append(
            FieldError("FieldValueTooMany", path, len(x), f"must have at most {s.max_items} {unit}")
        )
    if s.min_items is not None and len(x) < s.min_items:
        detail = f"{_in_body(path)} should have at least {s.min_items} items"
        out.append(_invalid(path, len(x), detail))  # kube-openapi's value: the size
    if s.unique_items:
        seen = [orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in x]
        if len(set(seen)) != len(seen):
            # kube-openapi's DuplicateItems has no value: kube shows ""
            out.append(_invalid(path, "", f"{_in_body(path)} shouldn't contain duplicates"))
    if s.items is not None:
        for i, v in enumerate(x):
            _validate(v, s.items, f"{path}[{i}]", out)


def _validate_object(x: Obj, s: Node, path: str, out: list[FieldError]) -> None:
    """As kube-openapi's object validator: the size bounds, each property's value, then
    the required properties that are missing."""
    if s.max_properties is not None and len(x) > s.max_properties:
        # kube-openapi's TooManyProperties carries the maximum as its value and no
        # maximum, so kube says "Too many: <max>: has too many items".
        out.append(FieldError("FieldValueTooMany", path, s.max_properties, "has too many items"))
    if s.min_properties is not None and len(x) < s.min_properties:
        detail = f"{_in_body(path)} should have at least {s.min_properties} properties"
        out.append(_invalid(path, s.min_properties, detail))  # the minimum, as kube-openapi
    for k, v in x.items():
        if not path and k in META_FIELDS:
            continue  # the root's TypeMeta and ObjectMeta are validated apart
        sub = s.child(k)
        if sub is not None:
            _validate(v, sub, _join(path, k), out)
    for name in s.required:
        if name not in x:
            out.append(errors.required(_join(path, name)))


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


# --- list types (kube's listtype.ValidateListSetsAndMaps) ---------------------------------


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _lists(x: Any, s: Node | None, path: str) -> list[FieldError]:
    if s is None:
        return []
    out: list[FieldError] = []
    if isinstance(x, dict):
        for k, v in x.items():
            prop = s.properties.get(k)
            if prop is not None:
                out += _lists(v, prop, _join(path, k))
            elif s.additional is not None:
                out += _lists(v, s.additional, _key(path, k))
    elif isinstance(x, list):
        if s.list_type == "set":
            out += [errors.duplicate(f"{path}[{i}]", x[i]) for i in _non_unique(x)]
        elif s.list_type == "map":
            out += _list_map(x, s, path)
        if s.items is not None:
            for i, v in enumerate(x):
                out += _lists(v, s.items, f"{path}[{i}]")
    return out


def _non_unique(items: list[Any]) -> list[int]:
    """The index of the second appearance of each value that appears more than once."""
    seen: dict[bytes, int] = {}
    out = []
    for i, v in enumerate(items):
        key = orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            out.append(i)
    return out


def _list_map(x: list[Any], s: Node, path: str) -> list[FieldError]:
    for i, item in enumerate(x):
        if item is not None and not isinstance(item, dict):
            detail = "must be an object for an array of list-type map"
            return [_invalid(f"{path}[{i}]", item, detail)]
    keys: list[Obj] = []
    for item in x:
        key: Obj = {}
        if isinstance(item, dict):
            for name in s.map_keys:
                if name in item:
                    key[name] = item[name]
        keys.append(key)
    return [errors.duplicate(f"{path}[{i}]", keys[i]) for i in _non_unique(keys)]


# --- embedded resources (kube's objectmeta.Validate) -------------------------------------


def _embedded(path: str, x: Obj) -> list[FieldError]:
    out: list[FieldError] = []
    if "apiVersion" not in x:
        out.append(errors.required(_join(path, "apiVersion")))
    if "kind" not in x:
        out.append(errors.required(_join(path, "kind")))
    for k, v in x.items():
        if k == "apiVersion":
            if not isinstance(v, str):
                out.append(_invalid(_join(path, k), v, "must be a string"))
            elif not v:
                out.append(errors.required(_join(path, k)))
            elif v.count("/") > 1:
                out.append(_invalid(_join(path, k), v, f"unexpected GroupVersion string: {v}"))
        elif k == "kind":
            if not isinstance(v, str):
                out.append(_invalid(_join(path, k), v, "must be a string"))
            elif not v:
                out.append(errors.required(_join(path, k)))
            else:
                problems = validation.dns1035_label(v.lower())
                if problems:
                    detail = "may have mixed case, but should otherwise match: " + ",".join(
                        problems
                    )
                    out.append(_invalid(_join(path, k), v, detail))
        elif k == "metadata":
            if not isinstance(v, dict):
                out.append(_invalid(_join(path, k), v, "must be an object"))
                continue
            meta = dict(v)
            meta.setdefault("name", "fakename")  # kube sets one to avoid an error
            if not meta["name"]:
                meta["name"] = "fakename"
            out += [
                _prefixed(e, _join(path, ""))
                for e in validation.validate_object_meta(
                    meta,
                    namespaced=bool(meta.get("namespace")),
                    name_validator=_path_segment_name,
                    kube_finalizer_names=False,
                )
            ]
    return out


def _path_segment_name(name: str) -> list[str]:
    """``path.ValidatePathSegmentName``."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _prefixed(err: FieldError, prefix: str) -> FieldError:
    return FieldError(err.type, prefix + err.field, err.value, err.detail, err.omit_value)


# --- formats (kube-openapi's strfmt registry, the ones kube keeps) -----------------------

_HOSTNAME = re.compile(
    r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGBCOLOR = re.compile(
    r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])"
    r"\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION = re.compile(
    r"^(\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?"
    r"|seconds?|minutes?|hours?|days?|weeks?)\s*)+$"
)
_BSON = re.compile(r"^[0-9a-fA-F]{24}$")
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")


def _ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _uuid_version(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if not _UUID.match(value):
            return False
        try:
            return uuid.UUID(value).version == version
        except ValueError:
            return False

    return check


def _datetime(value: str) -> bool:
    text = value.replace("z", "Z")
    if "T" not in text and "t" not in text and " " not in text:
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        return False
    return True


def _date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _uri(value: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value))


FORMATS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": lambda v: bool(_BSON.match(v)),
    "uri": _uri,
    "email": lambda v: bool(_EMAIL.match(v)),
    "hostname": lambda v: bool(_HOSTNAME.match(v)) and len(v) <= 255,
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "cidr": _cidr,
    "mac": lambda v: bool(_MAC.match(v)),
    "uuid": lambda v: bool(_UUID.match(v)),
    "uuid3": _uuid_version(3),
    "uuid4": _uuid_version(4),
    "uuid5": _uuid_version(5),
    "hexcolor": lambda v: bool(_HEXCOLOR.match(v)),
    "rgbcolor": lambda v: bool(_RGBCOLOR.match(v)),
    "byte": _byte,
    "date": _date,
    "duration": lambda v: bool(_DURATION.match(v)),
    "datetime": _datetime,
    "date-time": _datetime,
    "ssn": lambda v: bool(_SSN.match(v)),
}
