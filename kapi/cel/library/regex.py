"""kube's regex library (k8s.io/apiserver/pkg/cel/library/regex.go): ``find`` and
``findAll`` on strings. Patterns are RE2 in kube; Python's ``re`` reads the same syntax
for the patterns CRDs use (no backreferences are accepted by RE2 in the first place)."""

from __future__ import annotations

import functools
import re

from cel_expr_python import cel

from kapi.cel.library.errors import EvalError

S = cel.Type.STRING


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise EvalError(f"error parsing regexp: {exc}") from None


def find(text: str, pattern: str) -> str:
    match = _compile(pattern).search(text)
    return match.group(0) if match else ""


def find_all(text: str, pattern: str) -> list[str]:
    return [m.group(0) for m in _compile(pattern).finditer(text)]


def find_all_n(text: str, pattern: str, limit: int) -> list[str]:
    if limit < 0:
        return find_all(text, pattern)
    out: list[str] = []
    for m in _compile(pattern).finditer(text):
        if len(out) >= limit:
            break
        out.append(m.group(0))
    return out


DECLS = [
    cel.FunctionDecl(
        "find", [cel.Overload("string_find_string", S, [S, S], is_member=True, impl=find)]
    ),
    cel.FunctionDecl(
        "findAll",
        [
            cel.Overload(
                "string_find_all_string", cel.Type.List(S), [S, S], is_member=True, impl=find_all
            ),
            cel.Overload(
                "string_find_all_string_int",
                cel.Type.List(S),
                [S, S, cel.Type.INT],
                is_member=True,
                impl=find_all_n,
            ),
        ],
    ),
]
