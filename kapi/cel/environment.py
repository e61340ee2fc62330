"""The CEL environment kube-apiserver gives its expressions, on cel-cpp.

kube's base environment (k8s.io/apiserver/pkg/cel/environment/base.go) is cel's standard
library with cross-type numeric comparisons, optional types, the strings extension
(version 2), ``cel.bind``, the sets extension and kube's own libraries: lists, regex, URLs,
quantity, IP and CIDR. cel-cpp provides the standard library, optionals, strings and
bindings; ``kapi.cel.library`` provides the rest.

An ``Environment`` is one set of declared variables; compiling in it type-checks
against those declarations. Building one costs a few milliseconds, so callers build
one per variable set (per schema node for CRD rules) and compile every expression of
that set in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

from kapi.cel import library, opaque


@dataclass(frozen=True)
class CompileError(Exception):
    """An expression that does not compile: ``detail`` is cel's issue text
    (``ERROR: <input>:1:6: undeclared reference to 'x' ...``)."""

    detail: str

    def __str__(self) -> str:
        return self.detail


class Environment:
    """Declared variables (name → ``cel.Type``) and every library."""

    def __init__(self, variables: Mapping[str, cel.Type]) -> None:
        self.variables = dict(variables)
        self._env = cel.NewEnv(
            opaque.POOL,
            variables=dict(variables),
            extensions=[
                ext_strings.ExtStrings(),
                ext_optional.ExtOptional(),
                ext_bindings.ExtBindings(),
                cel.CelExtension("kubernetes", library.DECLS),
            ],
        )

    def activation(self, data: Mapping[str, Any]) -> cel.Activation:
        """Values for evaluations, converted for cel-cpp once: evaluating many
        expressions with one activation skips converting the values for each."""
        return self._env.Activation(data=dict(data))

    def compile(self, source: str) -> cel.Expression:
        """The type-checked expression, or ``CompileError`` with cel's issue text."""
        try:
            return self._env.compile(source)
        except RuntimeError as exc:
            raise CompileError(issue_text(str(exc))) from None


def issue_text(message: str) -> str:
    """cel-cpp's status text without its status code prefix and suffix
    (``INVALID_ARGUMENT: ERROR: ... [INVALID_ARGUMENT]`` → ``ERROR: ...``), its
    undeclared qualified names worded as cel-go words them."""
    for code in ("INVALID_ARGUMENT", "UNKNOWN", "INTERNAL"):
        prefix, suffix = f"{code}: ", f" [{code}]"
        if message.startswith(prefix):
            message = message[len(prefix) :]
        if message.endswith(suffix):
            message = message[: -len(suffix)]
    return _UNDECLARED_SELECT.sub(_undeclared_root, message)


# cel-cpp reports ``params.x`` with ``params`` undeclared as the qualified name, at its
# last dot; cel-go (so kube) reports the root identifier, where it starts.
_UNDECLARED_SELECT = re.compile(
    r"<input>:(?P<line>\d+):(?P<col>\d+): undeclared reference to "
    r"'(?P<name>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)'(?P<rest>[^\n]*\n \| [^\n]*\n \| )"
    r"(?P<dots>\.*)\^"
)


def _undeclared_root(m: re.Match[str]) -> str:
    qualified = m.group("name")
    column = int(m.group("col")) - len(qualified.rsplit(".", 1)[0])
    if column < 1 or len(m.group("dots")) != int(m.group("col")) - 1:
        return m.group(0)  # not the shape expected: left as cel-cpp wrote it
    root = qualified.split(".", 1)[0]
    return (
        f"<input>:{m.group('line')}:{column}: undeclared reference to '{root}'"
        f"{m.group('rest')}{'.' * (column - 1)}^"
    )
