"""cel-go's sets extension as kube loads it (``sets.contains``, ``sets.equivalent``,
``sets.intersects``); cel-cpp ships no sets extension."""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

LIST = cel.Type.List(cel.Type.DYN)


def _key(value: Any) -> Any:
    # CEL keeps bool apart from numbers; Python's == does not.
    return (type(value) is bool, repr(value)) if not isinstance(value, list | dict) else repr(value)


def _has(items: list[Any], value: Any) -> bool:
    return any(
        _key(i) == _key(value)
        or (
            type(i) is not bool
            and type(value) is not bool
            and not isinstance(i, list | dict)
            and i == value
        )
        for i in items
    )


def contains(a: list[Any], b: list[Any]) -> bool:
    return all(_has(a, x) for x in b)


def equivalent(a: list[Any], b: list[Any]) -> bool:
    return contains(a, b) and contains(b, a)


def intersects(a: list[Any], b: list[Any]) -> bool:
    return any(_has(a, x) for x in b)


def _decl(name: str, impl: Any) -> Any:
    return cel.FunctionDecl(
        name,
        [cel.Overload(f"{name.replace('.', '_')}_list", cel.Type.BOOL, [LIST, LIST], impl=impl)],
    )


DECLS = [
    _decl("sets.contains", contains),
    _decl("sets.equivalent", equivalent),
    _decl("sets.intersects", intersects),
]
