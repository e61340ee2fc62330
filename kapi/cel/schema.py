"""CEL types from a structural schema, and schema-typed values, as kube builds them
(k8s.io/apiserver/pkg/cel/common/schemas.go ``SchemaDeclType``, ``values.go``).

A ``DeclType`` is the CEL view of one schema node: its kind, its fields (objects), its
element type (lists, maps), the most elements it can hold (``maxItems`` /
``maxProperties`` / ``maxLength``, else what fits in a 3 MiB request) and its smallest
JSON form: the estimator's sizes. Objects are declared to cel-cpp as
``map(string, dyn)``; their fields are checked by ``kapi.cel.fields`` against the
``DeclType``. ``to_cel`` turns a JSON value into what the declared type expects
(``number`` → double, ``format: byte`` → bytes, ``date``/``date-time`` → timestamp,
``duration`` → duration, as protobuf well-known messages, which cel-cpp reads inside
maps; property names escaped).
"""

from __future__ import annotations

import base64
import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel
from google.protobuf import duration_pb2, timestamp_pb2

# k8s.io/apiserver/pkg/cel/limits.go
MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024
MAX_DURATION_SIZE_JSON = 32
MAX_DATETIME_SIZE_JSON = 32
MIN_DURATION_SIZE_JSON = 3
JSON_DATE_SIZE = 12
MIN_DATETIME_SIZE_JSON = 21
MIN_STRING_SIZE = 2
MIN_BOOL_SIZE = 4
MIN_NUMBER_SIZE = 1

Schema = dict[str, Any]

# CEL's reserved words (k8s.io/apiserver/pkg/cel/escaping.go).
_RESERVED = {
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
    "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
    "void", "while",
}  # fmt: skip
_IDENT = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")
_ESCAPES = (("__", "__underscores__"), (".", "__dot__"), ("-", "__dash__"), ("/", "__slash__"))


def escape(name: str) -> str | None:
    """A property name as CEL sees it, or None when CEL cannot name it."""
    if name in _RESERVED:
        return f"__{name}__"
    if not _IDENT.match(name):
        return None
    out, i = [], 0
    while i < len(name):
        for raw, escaped in _ESCAPES:
            if name.startswith(raw, i):
                out.append(escaped)
                i += len(raw)
                break
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


@dataclass
class DeclType:
    """The CEL view of one schema node."""

    kind: str  # object map list string int double bool bytes duration timestamp dyn
    max_elements: int = 0
    min_size: int = 1
    fields: dict[str, DeclType] = field(default_factory=dict)  # escaped name → type
    names: dict[str, str] = field(default_factory=dict)  # raw property name → escaped
    elem: DeclType | None = None
    convert: bool = False  # values need ``to_cel`` below this node

    def cel_type(self) -> cel.Type:
        """The CEL type cel-cpp declares for this node (objects: ``map(string, dyn)``)."""
        if self.kind == "object":
            return cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
        if self.kind == "list" and self.elem is not None:
            return cel.Type.List(self.elem.cel_type())
        if self.kind == "map" and self.elem is not None:
            return cel.Type.Map(cel.Type.STRING, self.elem.cel_type())
        return _SCALARS.get(self.kind, cel.Type.DYN)


_SCALARS = {
    "string": cel.Type.STRING,
    "int": cel.Type.INT,
    "double": cel.Type.DOUBLE,
    "bool": cel.Type.BOOL,
    "bytes": cel.Type.BYTES,
    "duration": cel.Type.DURATION,
    "timestamp": cel.Type.TIMESTAMP,
}


def _types(s: Schema) -> str:
    t = s.get("type", "")
    return t if isinstance(t, str) else ""


def _nonneg(v: Any) -> int:
    return max(int(v), 0)


def decl_type(s: Schema | None, resource_root: bool = False) -> DeclType | None:
    """``SchemaDeclType``: None where the schema is not visible to CEL."""
    if s is None:
        return None
    if s.get("x-kubernetes-int-or-string"):
        if s.get("maxLength") is not None:
            max_elements = _nonneg(s["maxLength"]) * 4
        else:
            max_elements = MAX_REQUEST_SIZE_BYTES - 2
        return DeclType("dyn", max_elements=max_elements, min_size=1)
    if resource_root:
        s = with_type_and_object_meta(s)
    kind = _types(s)
    if kind == "array":
        items = s.get("items")
        item_type = decl_type(items, bool(items and items.get("x-kubernetes-embedded-resource")))
        if item_type is None:
            return None
        if s.get("maxItems") is not None:
            max_items = _nonneg(s["maxItems"])
        else:
            max_items = (MAX_REQUEST_SIZE_BYTES - 2) // (item_type.min_size + 1)
        return DeclType(
            "list", max_elements=max_items, min_size=2, elem=item_type, convert=item_type.convert
        )
    if kind == "object":
        extra = s.get("additionalProperties")
        if isinstance(extra, dict):
            value_type = decl_type(extra, bool(extra.get("x-kubernetes-embedded-resource")))
            if value_type is None:
                return None
            if s.get("maxProperties") is not None:
                max_props = _nonneg(s["maxProperties"])
            else:
                max_props = (MAX_REQUEST_SIZE_BYTES - 2) // (value_type.min_size + 6)
            return DeclType(
                "map",
                max_elements=max_props,
                min_size=2,
                elem=value_type,
                convert=value_type.convert,
            )
        obj = DeclType("object", min_size=2)
        required = set(s.get("required") or [])
        for name, prop in (s.get("properties") or {}).items():
            prop_type = decl_type(prop, bool(prop.get("x-kubernetes-embedded-resource")))
            if prop_type is None:
                continue
            escaped = escape(name)
            if escaped is not None:
                obj.fields[escaped] = prop_type
                obj.names[name] = escaped
                obj.convert = obj.convert or prop_type.convert or escaped != name
            if name in required and prop.get("default") is None:
                obj.min_size += len(name) + prop_type.min_size + 4
        return obj
    if kind == "string":
        fmt = s.get("format")
        if fmt == "byte":
            n = (
                _nonneg(s["maxLength"])
                if s.get("maxLength") is not None
                else MAX_REQUEST_SIZE_BYTES - 2
            )
            return DeclType("bytes", max_elements=n, min_size=MIN_STRING_SIZE, convert=True)
        if fmt == "duration":
            return DeclType(
                "duration",
                max_elements=MAX_DURATION_SIZE_JSON,
                min_size=MIN_DURATION_SIZE_JSON,
                convert=True,
            )
        if fmt == "date":
            return DeclType(
                "timestamp", max_elements=JSON_DATE_SIZE, min_size=JSON_DATE_SIZE, convert=True
            )
        if fmt == "date-time":
            return DeclType(
                "timestamp",
                max_elements=MAX_DATETIME_SIZE_JSON,
                min_size=MIN_DATETIME_SIZE_JSON,
                convert=True,
            )
        if s.get("maxLength") is not None:
            n = _nonneg(s["maxLength"]) * 4
        elif s.get("enum"):
            n = max((len(v) for v in s["enum"] if isinstance(v, str)), default=0)
        else:
            n = MAX_REQUEST_SIZE_BYTES - 2
        return DeclType("string", max_elements=n, min_size=MIN_STRING_SIZE)
    if kind == "boolean":
        return DeclType("bool", min_size=MIN_BOOL_SIZE)
    if kind == "number":
        return DeclType("double", min_size=MIN_NUMBER_SIZE, convert=True)
    if kind == "integer":
        return DeclType("int", min_size=MIN_NUMBER_SIZE)
    return None


def with_type_and_object_meta(s: Schema) -> Schema:
    """``WithTypeAndObjectMeta``: apiVersion, kind, metadata.name and metadata.generateName
    are visible at a resource's root whatever the schema says."""
    props = s.get("properties") or {}
    meta = props.get("metadata") or {}
    meta_props = meta.get("properties") or {}
    if (
        _types(props.get("kind", {})) == "string"
        and _types(props.get("apiVersion", {})) == "string"
        and _types(meta) == "object"
        and _types(meta_props.get("name", {})) == "string"
        and _types(meta_props.get("generateName", {})) == "string"
    ):
        return s
    out = dict(s)
    out["properties"] = {
        **props,
        "kind": {"type": "string"},
        "apiVersion": {"type": "string"},
        "metadata": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
        },
    }
    return out


_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip


def parse_duration(text: str) -> datetime.timedelta:
    """Go ``time.ParseDuration``."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if body == "0":
        return datetime.timedelta()
    pos, seconds = 0, 0.0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            raise ValueError(f"time: invalid duration {text!r}")
        seconds += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(f"time: invalid duration {text!r}")
    return datetime.timedelta(seconds=sign * seconds)


def parse_timestamp(text: str) -> datetime.datetime:
    """RFC 3339 (``date-time``) or a full date (``date``), in UTC."""
    if len(text) == 10:
        return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


def to_cel(value: Any, t: DeclType | None) -> Any:
    """A JSON value as the declared CEL type expects it (unchanged where nothing differs)."""
    if t is None or not t.convert or value is None:
        return value
    kind = t.kind
    try:
        if kind == "double":
            return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if kind == "bytes" and isinstance(value, str):
            return base64.b64decode(value)
        if kind == "timestamp" and isinstance(value, str):
            ts = timestamp_pb2.Timestamp()
            ts.FromDatetime(parse_timestamp(value))
            return ts
        if kind == "duration" and isinstance(value, str):
            d = duration_pb2.Duration()
            d.FromTimedelta(parse_duration(value))
            return d
    except ValueError:
        return value
    if kind == "list" and isinstance(value, list):
        return [to_cel(v, t.elem) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_cel(v, t.elem) for k, v in value.items()}
    if kind == "object" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            escaped = t.names.get(k)
            if escaped is None:
                out[k] = v
            else:
                out[escaped] = to_cel(v, t.fields[escaped])
        return out
    return value
