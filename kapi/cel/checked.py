"""The type-checked AST of a compiled expression, readable from Python.

cel-expr-python compiles to cel-cpp's ``CheckedExpr`` and hands it out only as bytes
(``Expression.serialize()``: a ``google.protobuf.Any`` holding ``cel.expr.CheckedExpr``).
The cost estimator and kapi's own checks need the tree, its reference map (which overload
each call resolved to, which identifier is a variable) and its type map, so this module
declares the part of ``cel.expr`` (cel-spec ``syntax.proto`` / ``checked.proto``) they read
as a descriptor built at import and parses the bytes with protobuf. Fields not declared
here are skipped by the parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto

# (name, number, type, label, type_name, oneof index)
_Field = tuple[str, int, int, int, str, int | None]

_OPT, _REP = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_MSG, _STR, _I64, _U64, _BOOL, _DBL, _BYTES, _I32, _ENUM = (
    _F.TYPE_MESSAGE,
    _F.TYPE_STRING,
    _F.TYPE_INT64,
    _F.TYPE_UINT64,
    _F.TYPE_BOOL,
    _F.TYPE_DOUBLE,
    _F.TYPE_BYTES,
    _F.TYPE_INT32,
    _F.TYPE_ENUM,
)

_MESSAGES: dict[str, tuple[list[_Field], list[str]]] = {
    "Expr": (
        [
            ("id", 2, _I64, _OPT, "", None),
            ("const_expr", 3, _MSG, _OPT, ".kapi.celexpr.Constant", 0),
            ("ident_expr", 4, _MSG, _OPT, ".kapi.celexpr.Ident", 0),
            ("select_expr", 5, _MSG, _OPT, ".kapi.celexpr.Select", 0),
            ("call_expr", 6, _MSG, _OPT, ".kapi.celexpr.Call", 0),
            ("list_expr", 7, _MSG, _OPT, ".kapi.celexpr.CreateList", 0),
            ("struct_expr", 8, _MSG, _OPT, ".kapi.celexpr.CreateStruct", 0),
            ("comprehension_expr", 9, _MSG, _OPT, ".kapi.celexpr.Comprehension", 0),
        ],
        ["expr_kind"],
    ),
    "Ident": ([("name", 1, _STR, _OPT, "", None)], []),
    "Select": (
        [
            ("operand", 1, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("field", 2, _STR, _OPT, "", None),
            ("test_only", 3, _BOOL, _OPT, "", None),
        ],
        [],
    ),
    "Call": (
        [
            ("target", 1, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("function", 2, _STR, _OPT, "", None),
            ("args", 3, _MSG, _REP, ".kapi.celexpr.Expr", None),
        ],
        [],
    ),
    "CreateList": (
        [
            ("elements", 1, _MSG, _REP, ".kapi.celexpr.Expr", None),
            ("optional_indices", 2, _I32, _REP, "", None),
        ],
        [],
    ),
    "Entry": (
        [
            ("id", 1, _I64, _OPT, "", None),
            ("field_key", 2, _STR, _OPT, "", 0),
            ("map_key", 3, _MSG, _OPT, ".kapi.celexpr.Expr", 0),
            ("value", 4, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("optional_entry", 5, _BOOL, _OPT, "", None),
        ],
        ["key_kind"],
    ),
    "CreateStruct": (
        [
            ("message_name", 1, _STR, _OPT, "", None),
            ("entries", 2, _MSG, _REP, ".kapi.celexpr.Entry", None),
        ],
        [],
    ),
    "Comprehension": (
        [
            ("iter_var", 1, _STR, _OPT, "", None),
            ("iter_range", 2, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("accu_var", 3, _STR, _OPT, "", None),
            ("accu_init", 4, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("loop_condition", 5, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("loop_step", 6, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("result", 7, _MSG, _OPT, ".kapi.celexpr.Expr", None),
            ("iter_var2", 8, _STR, _OPT, "", None),
        ],
        [],
    ),
    "Constant": (
        [
            ("null_value", 1, _I32, _OPT, "", 0),
            ("bool_value", 2, _BOOL, _OPT, "", 0),
            ("int64_value", 3, _I64, _OPT, "", 0),
            ("uint64_value", 4, _U64, _OPT, "", 0),
            ("double_value", 5, _DBL, _OPT, "", 0),
            ("string_value", 6, _STR, _OPT, "", 0),
            ("bytes_value", 7, _BYTES, _OPT, "", 0),
        ],
        ["constant_kind"],
    ),
    "Empty": ([], []),
    "ListType": ([("elem_type", 1, _MSG, _OPT, ".kapi.celexpr.Type", None)], []),
    "MapType": (
        [
            ("key_type", 1, _MSG, _OPT, ".kapi.celexpr.Type", None),
            ("value_type", 2, _MSG, _OPT, ".kapi.celexpr.Type", None),
        ],
        [],
    ),
    "AbstractType": (
        [
            ("name", 1, _STR, _OPT, "", None),
            ("parameter_types", 2, _MSG, _REP, ".kapi.celexpr.Type", None),
        ],
        [],
    ),
    "Type": (
        [
            ("dyn", 1, _MSG, _OPT, ".kapi.celexpr.Empty", 0),
            ("null", 2, _I32, _OPT, "", 0),
            ("primitive", 3, _I32, _OPT, "", 0),
            ("wrapper", 4, _I32, _OPT, "", 0),
            ("well_known", 5, _I32, _OPT, "", 0),
            ("list_type", 6, _MSG, _OPT, ".kapi.celexpr.ListType", 0),
            ("map_type", 7, _MSG, _OPT, ".kapi.celexpr.MapType", 0),
            ("message_type", 9, _STR, _OPT, "", 0),
            ("type_param", 10, _STR, _OPT, "", 0),
            ("type", 11, _MSG, _OPT, ".kapi.celexpr.Type", 0),
            ("error", 12, _MSG, _OPT, ".kapi.celexpr.Empty", 0),
            ("abstract_type", 14, _MSG, _OPT, ".kapi.celexpr.AbstractType", 0),
        ],
        ["type_kind"],
    ),
    "Reference": (
        [
            ("name", 1, _STR, _OPT, "", None),
            ("overload_id", 3, _STR, _REP, "", None),
        ],
        [],
    ),
    "SourceInfo": (
        [
            ("line_offsets", 3, _I32, _REP, "", None),
            ("positions", 4, _MSG, _REP, ".kapi.celexpr.SourceInfo.PositionsEntry", None),
        ],
        [],
    ),
    "CheckedExpr": (
        [
            ("source_info", 5, _MSG, _OPT, ".kapi.celexpr.SourceInfo", None),
            ("reference_map", 2, _MSG, _REP, ".kapi.celexpr.CheckedExpr.ReferenceMapEntry", None),
            ("type_map", 3, _MSG, _REP, ".kapi.celexpr.CheckedExpr.TypeMapEntry", None),
            ("expr", 4, _MSG, _OPT, ".kapi.celexpr.Expr", None),
        ],
        [],
    ),
}

# cel.expr.Type.PrimitiveType and WellKnownType numbers.
PRIMITIVES = {1: "bool", 2: "int", 3: "uint", 4: "double", 5: "string", 6: "bytes"}
WELL_KNOWN = {1: "any", 2: "timestamp", 3: "duration"}


def _build() -> dict[str, Any]:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="kapi/cel/checked_subset.proto", package="kapi.celexpr", syntax="proto3"
    )
    for name, (fields, oneofs) in _MESSAGES.items():
        msg = fdp.message_type.add(name=name)
        for oneof in oneofs:
            msg.oneof_decl.add(name=oneof)
        for fname, number, ftype, label, type_name, oneof_index in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name
            if oneof_index is not None:
                field.oneof_index = oneof_index
        if name == "SourceInfo":
            nested = msg.nested_type.add(name="PositionsEntry")
            nested.options.map_entry = True
            nested.field.add(name="key", number=1, type=_I64, label=_OPT)
            nested.field.add(name="value", number=2, type=_I32, label=_OPT)
        if name == "CheckedExpr":
            for entry, value_type in (
                ("ReferenceMapEntry", ".kapi.celexpr.Reference"),
                ("TypeMapEntry", ".kapi.celexpr.Type"),
            ):
                nested = msg.nested_type.add(name=entry)
                nested.options.map_entry = True
                nested.field.add(name="key", number=1, type=_I64, label=_OPT)
                nested.field.add(
                    name="value", number=2, type=_MSG, label=_OPT, type_name=value_type
                )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"kapi.celexpr.{name}"))
        for name in ("CheckedExpr",)
    }


_CLASSES = _build()


def parse(serialized: bytes) -> Any:
    """The ``CheckedExpr`` message of ``Expression.serialize()``'s bytes."""
    wrapper = any_pb2.Any()
    wrapper.ParseFromString(serialized)
    checked = _CLASSES["CheckedExpr"]()
    checked.ParseFromString(wrapper.value)
    return checked


def type_name(t: Any) -> str:
    """A checked type in CEL's notation (``list(string)``, ``map(string, dyn)``, ...)."""
    kind = t.WhichOneof("type_kind")
    if kind == "primitive":
        return PRIMITIVES.get(t.primitive, "dyn")
    if kind == "wrapper":
        return f"wrapper({PRIMITIVES.get(t.wrapper, 'dyn')})"
    if kind == "well_known":
        return WELL_KNOWN.get(t.well_known, "dyn")
    if kind == "list_type":
        return f"list({type_name(t.list_type.elem_type)})"
    if kind == "map_type":
        return f"map({type_name(t.map_type.key_type)}, {type_name(t.map_type.value_type)})"
    if kind == "message_type":
        return str(t.message_type)
    if kind == "abstract_type":
        params = ", ".join(type_name(p) for p in t.abstract_type.parameter_types)
        return f"{t.abstract_type.name}({params})" if params else str(t.abstract_type.name)
    if kind == "null":
        return "null_type"
    if kind == "type":
        return "type"
    if kind == "type_param":
        return str(t.type_param)
    if kind == "error":
        return "*error*"
    return "dyn"


def walk(e: Any) -> Iterator[Any]:
    """Every expression of a tree, parents first."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        kind = node.WhichOneof("expr_kind")
        if kind == "select_expr":
            stack.append(node.select_expr.operand)
        elif kind == "call_expr":
            if node.call_expr.HasField("target"):
                stack.append(node.call_expr.target)
            stack.extend(node.call_expr.args)
        elif kind == "list_expr":
            stack.extend(node.list_expr.elements)
        elif kind == "struct_expr":
            for entry in node.struct_expr.entries:
                if entry.WhichOneof("key_kind") == "map_key":
                    stack.append(entry.map_key)
                stack.append(entry.value)
        elif kind == "comprehension_expr":
            c = node.comprehension_expr
            stack.extend([c.iter_range, c.accu_init, c.loop_condition, c.loop_step, c.result])


def uses_ident(checked: Any, name: str) -> bool:
    """Whether an expression refers to the variable ``name``."""
    return any(
        e.WhichOneof("expr_kind") == "ident_expr" and e.ident_expr.name == name
        for e in walk(checked.expr)
    )
