"""kube's authorizer library (k8s.io/apiserver/pkg/cel/library/authz.go): admission
expressions asking whether the request's user may do something else::

    authorizer.group('apps').resource('deployments').namespace('ns').check('delete').allowed()
    authorizer.path('/healthz').check('get').reason()
    authorizer.serviceAccount('ns', 'sa').group('').resource('pods').check('list').allowed()
    authorizer.requestResource.check('escalate').allowed()

The values are opaque messages holding their state as JSON; a check calls the
``Check`` function the evaluation installed (``checking``): the authz service's own
authorizer, asked as the request's user (or a ServiceAccount's).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from cel_expr_python import cel

from kapi.cel import opaque
from kapi.cel.library.errors import EvalError

# (user JSON, attributes JSON) -> (decision "allow"|"deny"|"noOpinion", reason, error)
Check = Callable[[dict[str, Any], dict[str, Any]], tuple[str, str, str]]
_CHECK: contextvars.ContextVar[Check | None] = contextvars.ContextVar("cel_authz", default=None)

A = opaque.cel_type(opaque.AUTHORIZER)
G = opaque.cel_type(opaque.GROUP_CHECK)
R = opaque.cel_type(opaque.RESOURCE_CHECK)
D = opaque.cel_type(opaque.DECISION)
S, B = cel.Type.STRING, cel.Type.BOOL


@contextlib.contextmanager
def checking(check: Check) -> Iterator[None]:
    """Evaluations inside the block ask ``check``."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def _new(type_name: str, state: dict[str, Any]) -> Any:
    return opaque.new(type_name, orjson.dumps(state).decode())


def _state(message: Any) -> dict[str, Any]:
    value = orjson.loads(opaque.text(message))
    return value if isinstance(value, dict) else {}


def authorizer(user: dict[str, Any]) -> Any:
    """The ``authorizer`` variable for ``user`` (authentication/v1 UserInfo JSON)."""
    return _new(opaque.AUTHORIZER, {"user": user})


def request_resource(user: dict[str, Any], resource: dict[str, str]) -> Any:
    """``authorizer.requestResource``: a ResourceCheck of the request's own resource."""
    return _new(opaque.RESOURCE_CHECK, {"user": user, **resource})


def _path(a: Any, path: str) -> Any:
    # A PathCheck travels as a ResourceCheck holding a path: cel-cpp's runtime cannot
    # tell two opaque message types apart in one function's overloads (``check``).
    return _new(opaque.RESOURCE_CHECK, {**_state(a), "path": path})


def _group(a: Any, group: str) -> Any:
    return _new(opaque.GROUP_CHECK, {**_state(a), "group": group})


def _service_account(a: Any, namespace: str, name: str) -> Any:
    user = {
        "username": f"system:serviceaccount:{namespace}:{name}",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
    }
    return _new(opaque.AUTHORIZER, {"user": user})


def _resource(g: Any, resource: str) -> Any:
    return _new(opaque.RESOURCE_CHECK, {**_state(g), "resource": resource})


def _setter(key: str) -> Callable[[Any, str], Any]:
    def set_(r: Any, value: str) -> Any:
        return _new(opaque.RESOURCE_CHECK, {**_state(r), key: value})

    return set_


def _check(target: Any, verb: str) -> Any:
    ask = _CHECK.get()
    if ask is None:
        raise EvalError("authorizer is not available")
    state = _state(target)
    user = state.pop("user", {})
    decision, reason, error = ask(user, {**state, "verb": verb})
    return _new(opaque.DECISION, {"decision": decision, "reason": reason, "error": error})


def _allowed(d: Any) -> bool:
    return _state(d).get("decision") == "allow"


def _reason(d: Any) -> str:
    return str(_state(d).get("reason") or "")


def _errored(d: Any) -> bool:
    return bool(_state(d).get("error"))


def _error(d: Any) -> str:
    return str(_state(d).get("error") or "")


def _member(name: str, *overloads: tuple[str, cel.Type, list[cel.Type], Any]) -> Any:
    return cel.FunctionDecl(
        name, [cel.Overload(o, r, p, is_member=True, impl=i) for o, r, p, i in overloads]
    )


DECLS = [
    _member("path", ("authorizer_path", R, [A, S], _path)),
    _member("group", ("authorizer_group", G, [A, S], _group)),
    _member("serviceAccount", ("authorizer_serviceaccount", A, [A, S, S], _service_account)),
    _member("resource", ("groupcheck_resource", R, [G, S], _resource)),
    _member("subresource", ("resourcecheck_subresource", R, [R, S], _setter("subresource"))),
    _member("namespace", ("resourcecheck_namespace", R, [R, S], _setter("namespace"))),
    _member("name", ("resourcecheck_name", R, [R, S], _setter("name"))),
    _member("check", ("resourcecheck_check", D, [R, S], _check)),
    _member("allowed", ("decision_allowed", B, [D], _allowed)),
    _member("reason", ("decision_reason", S, [D], _reason)),
    _member("errored", ("decision_errored", B, [D], _errored)),
    _member("error", ("decision_error", S, [D], _error)),
]
