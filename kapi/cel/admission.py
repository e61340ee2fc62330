"""CEL for admission: the expressions of ValidatingAdmissionPolicies and of webhooks'
``matchConditions``, as k8s.io/apiserver/pkg/admission/plugin/cel compiles and runs them.

Expressions see ``object``, ``oldObject``, ``request`` (the AdmissionRequest),
``params``, ``namespaceObject``, ``variables`` (a policy's named expressions) and
``authorizer`` / ``authorizer.requestResource`` (``kapi.cel.library.authz``); the
same libraries and cost model as CRD validation rules (``kapi.cel.environment``,
``kapi.cel.cost``). Each expression is charged its cost (computed with the sizes of the
values it reads, see ``kapi.cel.runtime``) against ``PER_CALL_LIMIT`` and the budget of
its evaluation (``RUNTIME_CEL_COST_BUDGET`` per policy, binding and param, as kube).

Texts are kube's: ``compilation error: ...``, ``expression 'X' resulted in error: ...``,
``validation failed due to running out of cost budget, no further validation rules
will be run``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from cel_expr_python import cel

from kapi.cel import checked as checked_ast
from kapi.cel import cost, opaque, runtime
from kapi.cel.environment import CompileError, Environment

# k8s.io/apiserver/pkg/apis/cel/config.go
PER_CALL_LIMIT = 1_000_000
RUNTIME_CEL_COST_BUDGET = 10_000_000
MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES = 5 * 1024
CHEAP = 1_000  # charged its static estimate at most this (kapi.cel.runtime.charge)

OUT_OF_BUDGET = (
    "validation failed due to running out of cost budget, no further validation rules will be run"
)

_DYN = cel.Type.DYN
VARIABLE_TYPES: dict[str, cel.Type] = {
    "object": _DYN,
    "oldObject": _DYN,
    "request": _DYN,
    "params": _DYN,
    "namespaceObject": _DYN,
    "variables": cel.Type.Map(cel.Type.STRING, _DYN),
    "authorizer": opaque.cel_type(opaque.AUTHORIZER),
    "authorizer.requestResource": opaque.cel_type(opaque.RESOURCE_CHECK),
}


@functools.cache
def environment(params: bool = True) -> Environment:
    """One environment for every admission expression (built once: a few ms);
    ``params=False``: without ``params``, to check a policy that has no paramKind as
    kube's validation does (its expressions run in the full one)."""
    if params:
        return Environment(VARIABLE_TYPES)
    return Environment({k: v for k, v in VARIABLE_TYPES.items() if k != "params"})


class OutOfBudget(Exception):
    """The evaluation's budget is spent: no further expression runs."""


@dataclass(frozen=True)
class Expression:
    """One compiled expression, or why it did not compile (``error``, kube's words)."""

    source: str
    program: cel.Expression | None = None
    checked: Any = None
    static_max: int = 0
    error: str = ""
    uses_variables: frozenset[str] = frozenset()
    uses_authorizer: bool = False
    # Charges by size bound (see ``charge``), computed once per bound.
    charges: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    def charge(self, bound: int) -> int:
        """What an evaluation is charged when no value it reads is larger than
        ``bound`` (elements, characters): the static estimate when that is cheap, else
        the estimate with every size at most ``bound`` (a power of two, so one
        estimate serves many objects). An upper bound of cel-go's actual cost."""
        if self.static_max <= CHEAP:
            return self.static_max
        found = self.charges.get(bound)
        if found is None:
            sized = cost.Estimate(0, bound)
            found = cost.estimate(self.checked, lambda _path: sized).max
            if len(self.charges) < 64:
                self.charges[bound] = found
        return found

    @property
    def return_type(self) -> cel.Type | None:
        return self.program.return_type() if self.program is not None else None


_TYPES = {"bool": cel.Type.BOOL, "string": cel.Type.STRING, "null_type": cel.Type.NULL}


@functools.lru_cache(maxsize=4096)
def compile_expression(
    source: str, returns: tuple[str, ...] = (), *, params: bool = True
) -> Expression:
    """Compile ``source``; with ``returns`` (``bool``, ``string``, ``null_type``), its
    type must be one of them (or dyn). Cached by source and types: policies re-read on
    every change compile only what is new. ``params``: see ``environment``."""
    try:
        program = environment(params).compile(source)
    except CompileError as exc:
        return Expression(source, error=f"compilation failed: {exc.detail}")
    declared = program.return_type()
    if returns and declared != _DYN and not any(declared == _TYPES[t] for t in returns):
        wanted = " or ".join(returns)
        return Expression(source, error=f"must evaluate to {wanted}")
    parsed = checked_ast.parse(program.serialize())
    used = frozenset(
        e.select_expr.field
        for e in checked_ast.walk(parsed.expr)
        if e.WhichOneof("expr_kind") == "select_expr"
        and e.select_expr.operand.WhichOneof("expr_kind") == "ident_expr"
        and e.select_expr.operand.ident_expr.name == "variables"
    )
    static = cost.estimate(parsed, lambda _path: None).max
    authorizer = checked_ast.uses_ident(parsed, "authorizer") or checked_ast.uses_ident(
        parsed, "authorizer.requestResource"
    )
    return Expression(
        source, program, parsed, static, uses_variables=used, uses_authorizer=authorizer
    )


@dataclass
class Budget:
    """What is left of an evaluation's cost budget, and the size bound of the values it
    reads (``size_bound``: a power of two, see ``Expression.charge``)."""

    remaining: int = RUNTIME_CEL_COST_BUDGET
    size_bound: int = 1 << 20


def size_bound(*values: Any) -> int:
    """A power of two at least the JSON length of every value (a bound on any string's
    length and any list's or map's element count inside them)."""
    longest = max((len(orjson.dumps(v)) for v in values if v is not None), default=1)
    return 1 << max(longest - 1, 1).bit_length()


class Activation:
    """The variables of one evaluation (``object``, ``request``, ...), converted for
    cel-cpp once, on first use, and shared by every expression evaluated with them: a
    request's ten policies convert its object once, not thirty times."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        self._native: cel.Activation | None = None

    def native(self) -> cel.Activation:
        if self._native is None:
            self._native = environment().activation(self.data)
        return self._native


@dataclass(frozen=True)
class Failure:
    """An expression that ended in an error (kube's message in ``message``)."""

    message: str


_ERROR = cel.Type.ERROR


def evaluate(
    expression: Expression, activation: Activation | Mapping[str, Any], budget: Budget
) -> Any:
    """The expression's value, or ``Failure``; raises ``OutOfBudget`` when the budget
    (or the per-call limit) is spent, after which nothing else is evaluated. (On every
    write a policy matches, for each of its expressions: kept lean.)"""
    program = expression.program
    if program is None:
        return Failure(f"compilation error: {expression.error}")
    charge = expression.static_max
    if charge > CHEAP:
        charge = expression.charge(budget.size_bound)
    if charge > PER_CALL_LIMIT or charge > budget.remaining:
        budget.remaining = -1
        raise OutOfBudget(OUT_OF_BUDGET)
    budget.remaining -= charge
    if not isinstance(activation, Activation):
        value = runtime.evaluate(program, activation)
        if isinstance(value, runtime.EvalError):
            return _failure(expression, value.message)
        return value
    try:
        result = program.eval(activation=activation.native())
    except RuntimeError as exc:
        return _failure(expression, runtime.error_text(str(exc)))
    if result.type() == _ERROR:
        return _failure(expression, runtime.error_text(str(result.value())))
    return result.value()


def _failure(expression: Expression, message: str) -> Failure:
    return Failure(f"expression '{expression.source}' resulted in error: {message}")


def request_object(
    *,
    uid: str,
    kind: tuple[str, str, str],
    resource: tuple[str, str, str],
    subresource: str,
    name: str,
    namespace: str,
    operation: str,
    user: Mapping[str, Any],
    dry_run: bool,
    options: Mapping[str, Any] | None,
    request_kind: tuple[str, str, str] | None = None,
    request_resource: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    """An AdmissionRequest (admission/v1) as JSON, without object and oldObject (CEL
    reads those as variables of their own): ``kind`` and ``resource`` are (group,
    version, kind|resource) as the webhook or policy sees the request (an equivalent
    version under matchPolicy Equivalent); ``request_kind`` and ``request_resource``
    the request's own (the same when not given)."""
    group, version, kind_name = kind
    rgroup, rversion, rname = resource
    qgroup, qversion, qkind = request_kind or kind
    qrgroup, qrversion, qrname = request_resource or resource
    out: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind_name},
        "resource": {"group": rgroup, "version": rversion, "resource": rname},
        "requestKind": {"group": qgroup, "version": qversion, "kind": qkind},
        "requestResource": {"group": qrgroup, "version": qrversion, "resource": qrname},
        "operation": operation,
        "userInfo": dict(user),
        "dryRun": dry_run,
    }
    if subresource:
        out["subResource"] = subresource
        out["requestSubResource"] = subresource
    if name:
        out["name"] = name
    if namespace:
        out["namespace"] = namespace
    if options is not None:
        out["options"] = dict(options)
    return out


_NAMESPACE_META = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "finalizers",
)


def namespace_object(namespace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``namespaceObject``: the namespace's spec, status and metadata without managed
    fields and owner references (kube's CreateNamespaceObject)."""
    if namespace is None:
        return None
    meta = namespace.get("metadata") or {}
    out: dict[str, Any] = {
        "metadata": {k: meta[k] for k in _NAMESPACE_META if k in meta},
    }
    for key in ("spec", "status"):
        if key in namespace:
            out[key] = namespace[key]
    return out
