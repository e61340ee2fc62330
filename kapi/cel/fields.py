"""kube's field checks on a compiled rule: ``undefined field 'x'``.

kube declares each schema object to CEL as a type with its properties as fields, so
selecting a property the schema does not declare fails to compile. kapi declares
objects as ``map(string, dyn)`` (cel-cpp types fields by protobuf messages, whose
missing-field semantics differ from kube's ``no such key``), and runs this check on the
checked AST instead: it follows ``self``/``oldSelf``, field selections, indexes and
comprehension variables through the schema and reports, in cel's issue format, each
selection of an undeclared property.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kapi.cel.schema import DeclType


def _position(checked: Any, source: str, expr_id: int) -> tuple[int, int, str]:
    offset = checked.source_info.positions.get(expr_id, 0)
    line_starts = [0, *[i + 1 for i, ch in enumerate(source) if ch == "\n"]]
    line = max(i for i, start in enumerate(line_starts) if start <= offset)
    column = offset - line_starts[line]
    return line + 1, column + 1, source.split("\n")[line]


def issue(checked: Any, source: str, expr_id: int, message: str) -> str:
    """One issue in cel's format: ``ERROR: <input>:L:C: message`` and a caret under C."""
    line, column, text = _position(checked, source, expr_id)
    return f"ERROR: <input>:{line}:{column}: {message}\n | {text}\n | {'.' * (column - 1)}^"


def undefined_fields(checked: Any, source: str, roots: Mapping[str, DeclType | None]) -> list[str]:
    """Issues for selections of properties the schema does not declare."""
    return check(checked, source, roots)[0]


def check(
    checked: Any, source: str, roots: Mapping[str, DeclType | None]
) -> tuple[list[str], DeclType | None]:
    """Issues for selections of undeclared properties, and the schema type of the
    expression's result where it is a schema value (``self.spec.replicas``)."""
    issues: list[str] = []
    scopes: dict[str, list[DeclType | None]] = {k: [v] for k, v in roots.items()}

    def select(t: DeclType | None, field: str, expr_id: int) -> DeclType | None:
        if t is None or t.kind != "object":
            return None
        if field not in t.fields:
            issues.append(issue(checked, source, expr_id, f"undefined field '{field}'"))
            return None
        return t.fields[field]

    def visit(e: Any) -> DeclType | None:
        kind = e.WhichOneof("expr_kind")
        if kind == "ident_expr":
            stack = scopes.get(e.ident_expr.name)
            return stack[-1] if stack else None
        if kind == "select_expr":
            return select(visit(e.select_expr.operand), e.select_expr.field, e.id)
        if kind == "call_expr":
            call = e.call_expr
            target = visit(call.target) if call.HasField("target") else None
            args = [visit(a) for a in call.args]
            if call.function == "_?._" and len(call.args) == 2:
                select(args[0], call.args[1].const_expr.string_value, e.id)
                return None
            if call.function in ("_[_]", "_[?_]") and args and args[0] is not None:
                return args[0].elem if args[0].kind in ("list", "map") else None
            if call.function == "dyn":
                return args[0] if args else None
            del target
            return None
        if kind == "list_expr":
            for item in e.list_expr.elements:
                visit(item)
            return None
        if kind == "struct_expr":
            for entry in e.struct_expr.entries:
                if entry.WhichOneof("key_kind") == "map_key":
                    visit(entry.map_key)
                visit(entry.value)
            return None
        if kind == "comprehension_expr":
            c = e.comprehension_expr
            range_t = visit(c.iter_range)
            visit(c.accu_init)
            if range_t is not None and range_t.kind == "list":
                first: DeclType | None = None if c.iter_var2 else range_t.elem
                second = range_t.elem
            elif range_t is not None and range_t.kind == "map":
                first, second = None, range_t.elem
            else:
                first = second = None
            bound = [(c.iter_var, first)] + ([(c.iter_var2, second)] if c.iter_var2 else [])
            bound.append((c.accu_var, None))
            for name, t in bound:
                scopes.setdefault(name, []).append(t)
            visit(c.loop_condition)
            visit(c.loop_step)
            for name, _ in bound[:-1]:
                scopes[name].pop()
            result = visit(c.result)
            scopes[c.accu_var].pop()
            return result
        return None

    result = visit(checked.expr)
    return issues, result
