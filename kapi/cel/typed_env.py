"""Schema types as cel-cpp can check against them: each object ``DeclType`` becomes a
protobuf message, for type checking only (kube's ``DeclType.CelType()`` object types).

Evaluation declares objects as ``map(string, dyn)`` (``kapi.cel.schema``): protobuf
messages' missing-field semantics differ from kube's. A type check never evaluates, and
there a message type is what lets cel-cpp's checker see ``object.spec.replicas`` as an
``int`` and refuse ``object.spec.replicas > '1'`` (``found no matching overload for
'_>_' applied to '(int, string)'``), as cel-go does with kube's object types.

The mapping: ``string``/``int``/``double``/``bool``/``bytes`` fields are scalars,
``duration``/``timestamp`` the well-known messages, ``dyn`` (int-or-string, and what
CEL cannot see further) ``google.protobuf.Value``, lists repeated fields, maps map
fields (a list or map inside a list or map is ``ListValue``/``Struct``, i.e. dyn
elements). Messages are proto2, so that property names CEL escapes to distinct
identifiers may share a JSON name. A schema's messages are one file in
``kapi.cel.opaque.POOL`` (the pool every environment is built on), named by the hash of
the schema's shape, so the same schema is added once however often it is checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, duration_pb2, struct_pb2, timestamp_pb2

from kapi.cel import opaque
from kapi.cel.admission import VARIABLE_TYPES
from kapi.cel.environment import Environment
from kapi.cel.schema import DeclType

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _F.TYPE_STRING,
    "int": _F.TYPE_INT64,
    "double": _F.TYPE_DOUBLE,
    "bool": _F.TYPE_BOOL,
    "bytes": _F.TYPE_BYTES,
}
_WELL_KNOWN = {
    "duration": ".google.protobuf.Duration",
    "timestamp": ".google.protobuf.Timestamp",
    "dyn": ".google.protobuf.Value",
    "list": ".google.protobuf.ListValue",
    "map": ".google.protobuf.Struct",
}
_DEPENDENCIES = (struct_pb2, duration_pb2, timestamp_pb2)
MAX_ENVIRONMENTS = 32
PACKAGE = "kapi.typecheck"


def shape(t: DeclType | None) -> str:
    """A canonical text of what CEL sees of a type (its identity for caching)."""
    if t is None:
        return "?"
    if t.kind == "object":
        inner = ",".join(f"{name}:{shape(t.fields[name])}" for name in sorted(t.fields))
        return f"{{{inner}}}"
    if t.kind in ("list", "map"):
        return f"{t.kind}({shape(t.elem)})"
    return t.kind


def _ensure_dependencies() -> None:
    for module in _DEPENDENCIES:
        try:
            opaque.POOL.FindFileByName(module.DESCRIPTOR.name)
        except KeyError:
            opaque.POOL.AddSerializedFile(module.DESCRIPTOR.serialized_pb)


def _map_entry_name(field: str) -> str:
    """protobuf's name for a map field's entry message (``labels`` -> ``LabelsEntry``)."""
    out, upper = [], True
    for ch in field:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out) + "Entry"


class _FileBuilder:
    """One schema's messages, M0 the root, in package ``kapi.typecheck.h<hash>``."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.file = descriptor_pb2.FileDescriptorProto(
            name=f"{package.replace('.', '/')}.proto",
            package=package,
            syntax="proto2",
            dependency=[m.DESCRIPTOR.name for m in _DEPENDENCIES],
        )
        self.count = 0

    def message(self, t: DeclType) -> str:
        """The full name (with a leading dot) of a new message for object type ``t``."""
        name = f"M{self.count}"
        self.count += 1
        msg = self.file.message_type.add(name=name)
        for number, field_name in enumerate(sorted(t.fields), start=1):
            self._field(msg, field_name, number, t.fields[field_name])
        return f".{self.package}.{name}"

    def _field(self, msg: Any, name: str, number: int, t: DeclType) -> None:
        field = msg.field.add(name=name, number=number, json_name=f"f{number}")
        if t.kind == "list" and t.elem is not None:
            field.label = _F.LABEL_REPEATED
            self._element(field, t.elem)
            return
        if t.kind == "map" and t.elem is not None:
            entry_name = _map_entry_name(name)
            entry = msg.nested_type.add(name=entry_name)
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
            value = entry.field.add(name="value", number=2, label=_F.LABEL_OPTIONAL)
            self._element(value, t.elem)
            field.label = _F.LABEL_REPEATED
            field.type = _F.TYPE_MESSAGE
            field.type_name = f".{self.package}.{msg.name}.{entry_name}"
            return
        field.label = _F.LABEL_OPTIONAL
        self._element(field, t)

    def _element(self, field: Any, t: DeclType) -> None:
        """A field's type for one value of ``t`` (a list's or map's element, or a
        singular field)."""
        if t.kind in _SCALARS:
            field.type = _SCALARS[t.kind]
            return
        field.type = _F.TYPE_MESSAGE
        if t.kind == "object":
            field.type_name = self.message(t)
        else:
            field.type_name = _WELL_KNOWN.get(t.kind, _WELL_KNOWN["dyn"])


def cel_type(t: DeclType | None) -> cel.Type:
    """The CEL type cel-cpp checks ``t`` as: a message for an object, else the
    evaluation's type (``map(string, dyn)`` for what is not an object)."""
    if t is None:
        return cel.Type.DYN
    if t.kind != "object":
        return t.cel_type()
    digest = hashlib.sha256(shape(t).encode()).hexdigest()[:24]
    package = f"{PACKAGE}.h{digest}"
    root = f"{package}.M0"
    try:
        opaque.POOL.FindMessageTypeByName(root)
    except KeyError:
        _ensure_dependencies()
        builder = _FileBuilder(package)
        builder.message(t)
        try:
            opaque.POOL.Add(builder.file)
        except (TypeError, ValueError):
            return cel.Type.DYN  # a shape protobuf cannot declare: checked as dyn
    return cel.Type(root)


_ENVIRONMENTS: dict[tuple[str, ...], Environment] = {}


def environment(roots: Mapping[str, DeclType | None]) -> Environment:
    """An admission environment with ``roots`` (``object``, ``params``, ...) typed by
    their schemas; kept for the next check of the same types."""
    key = tuple(f"{name}={shape(t)}" for name, t in sorted(roots.items()))
    found = _ENVIRONMENTS.get(key)
    if found is None:
        variables = dict(VARIABLE_TYPES)
        for name, t in roots.items():
            variables[name] = cel_type(t)
        found = Environment(variables)
        if len(_ENVIRONMENTS) >= MAX_ENVIRONMENTS:
            _ENVIRONMENTS.clear()
        _ENVIRONMENTS[key] = found
    return found
