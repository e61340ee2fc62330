"""kube's lists library (k8s.io/apiserver/pkg/cel/library/lists.go): ``isSorted``, ``sum``,
``min``, ``max``, ``indexOf``, ``lastIndexOf`` on lists.

cel-cpp registers a Python function by the kinds of its parameters, so one overload per
element type would collide; each function is declared once over ``list(dyn)`` and returns
``dyn`` where kube returns the element type. A list that mixes types fails as kube's does
at run time (``no such overload``).
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from cel_expr_python import cel

from kapi.cel.library.errors import EvalError

LIST = cel.Type.List(cel.Type.DYN)


def _same_kind(items: list[Any]) -> None:
    kinds = {_kind(i) for i in items}
    if len(kinds) > 1:
        raise EvalError("no such overload")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def is_sorted(items: list[Any]) -> bool:
    _same_kind(items)
    return all(not (b < a) for a, b in itertools.pairwise(items))


def total(items: list[Any]) -> Any:
    _same_kind(items)
    if not items:
        return 0
    if isinstance(items[0], datetime.timedelta):
        return sum(items, datetime.timedelta())
    if isinstance(items[0], bool) or not isinstance(items[0], int | float):
        raise EvalError("no such overload")
    return sum(items)


def minimum(items: list[Any]) -> Any:
    if not items:
        raise EvalError("min called on empty list")
    _same_kind(items)
    return min(items)


def maximum(items: list[Any]) -> Any:
    if not items:
        raise EvalError("max called on empty list")
    _same_kind(items)
    return max(items)


def _equal(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and a == b


def index_of(items: list[Any], value: Any) -> int:
    for i, item in enumerate(items):
        if _equal(item, value):
            return i
    return -1


def last_index_of(items: list[Any], value: Any) -> int:
    for i in range(len(items) - 1, -1, -1):
        if _equal(items[i], value):
            return i
    return -1


def _member(name: str, overload: str, result: cel.Type, params: list[cel.Type], impl: Any) -> Any:
    return cel.FunctionDecl(
        name, [cel.Overload(overload, result, params, is_member=True, impl=impl)]
    )


DECLS = [
    _member("isSorted", "list_is_sorted", cel.Type.BOOL, [LIST], is_sorted),
    _member("sum", "list_sum", cel.Type.DYN, [LIST], total),
    _member("min", "list_min", cel.Type.DYN, [LIST], minimum),
    _member("max", "list_max", cel.Type.DYN, [LIST], maximum),
    _member("indexOf", "list_index_of", cel.Type.INT, [LIST, cel.Type.DYN], index_of),
    _member("lastIndexOf", "list_last_index_of", cel.Type.INT, [LIST, cel.Type.DYN], last_index_of),
]
