"""Evaluating a compiled expression: results, errors in cel-go's words, and the cost
charged to the budget.

Errors: cel-cpp reports ``Key not found in map : "x"`` where cel-go (and so kube's
messages) say ``no such key: x``; ``error_text`` rewrites the ones a rule meets.

Cost: cel-cpp does not count evaluation steps as cel-go's ``ActualCost`` does. kapi
charges a rule its static estimate (``kapi.cel.cost``) when that is small, and otherwise
the same estimate computed with the sizes of the object being validated in place of the
schema's bounds: an upper bound of what cel-go would count (a comprehension is charged
for every element even where ``exists`` stops early), exact in its sizes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from kapi.cel import cost
from kapi.cel.schema import DeclType


@dataclass(frozen=True)
class EvalError:
    """An evaluation that ended in a CEL error."""

    message: str

    @property
    def no_such_overload(self) -> bool:
        return self.message.startswith("no such overload")


_STATUS = re.compile(r"^[A-Z_]+: ")
_NO_KEY = re.compile(r'^Key not found in map ?: ?"?(.*?)"?$')


def error_text(raw: str) -> str:
    """A cel-cpp error value's text as cel-go words it."""
    text = _STATUS.sub("", raw, count=1)
    m = _NO_KEY.match(text)
    if m:
        return f"no such key: {m.group(1)}"
    if text.startswith("No matching overloads") or text.startswith("No overload"):
        return "no such overload"
    if text == "divide by zero":
        return "division by zero"
    if text == "modulus by zero":
        return "modulus by zero"
    return text


def evaluate(program: cel.Expression, data: Mapping[str, Any] | cel.Activation) -> Any:
    """The expression's value (Python), or ``EvalError``. ``data``: the variables, or an
    activation made of them once (``Environment.activation``) for many expressions."""
    try:
        if isinstance(data, cel.Activation):
            result = program.eval(activation=data)
        else:
            result = program.eval(data=dict(data))
    except RuntimeError as exc:
        return EvalError(error_text(str(exc)))
    if result.type() == cel.Type.ERROR:
        return EvalError(error_text(str(result.value())))
    return result.value()


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | dict):
        return len(value)
    return 1


def data_sizer(data: Mapping[str, Any]) -> cost.Sizer:
    """Sizes read from the values themselves: the largest value a path names."""

    def sizer(path: Sequence[str]) -> cost.Estimate | None:
        if not path or path[0] not in data:
            return None
        values = [data[path[0]]]
        for name in path[1:]:
            nxt: list[Any] = []
            for v in values:
                if name in ("@items", "@values"):
                    if isinstance(v, list):
                        nxt.extend(v)
                    elif isinstance(v, dict):
                        nxt.extend(v.values())
                elif name == "@keys":
                    if isinstance(v, dict):
                        nxt.extend(v.keys())
                elif isinstance(v, dict) and name in v:
                    nxt.append(v[name])
            values = nxt
        if not values:
            return cost.ZERO
        largest = max(_size(v) for v in values)
        return cost.Estimate(0, largest)

    return sizer


def charge(
    checked: Any, static_max: int, data: Mapping[str, Any], decl: DeclType | None, cheap: int
) -> int:
    """The cost charged for one evaluation (see the module docstring)."""
    del decl
    if static_max <= cheap:
        return static_max
    return cost.estimate(checked, data_sizer(data)).max
