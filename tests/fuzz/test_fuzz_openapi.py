"""Requests generated from the OpenAPI v3 kapi serves (schemathesis), positive and
negative, on a bounded set of operations: the core collections most clients touch
(namespaces, configmaps, secrets, pods), apps deployments, their subresources, every
patch content type the documents declare and every query parameter they list.

A path's namespace and name are either generated or those of an object that exists
(``seeded``), so requests reach decoding, admission, patching and storage, not only the
404 of an unknown name. Deletes only ever name generated objects: the seeded ones stay.

Every reply must be a success or a kube Status, never a 5xx (``wire.check``); kapi must
be ready afterwards (``conftest.kapi_survives``).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tests.fuzz.conftest import Seeded, fuzzed
from tests.fuzz.wire import Target, check

pytestmark = pytest.mark.e2e

CORE, APPS = "api/v1", "apis/apps/v1"
NS = "/api/v1/namespaces/{namespace}"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{namespace}/deployments"
OPERATIONS = [
    (CORE, "GET", "/api/v1/namespaces"),
    (CORE, "POST", "/api/v1/namespaces"),
    (CORE, "GET", "/api/v1/namespaces/{name}"),
    (CORE, "PUT", "/api/v1/namespaces/{name}"),
    (CORE, "PATCH", "/api/v1/namespaces/{name}"),
    (CORE, "GET", "/api/v1/configmaps"),
    (CORE, "GET", f"{NS}/configmaps"),
    (CORE, "POST", f"{NS}/configmaps"),
    (CORE, "DELETE", f"{NS}/configmaps"),
    (CORE, "GET", f"{NS}/configmaps/{{name}}"),
    (CORE, "PUT", f"{NS}/configmaps/{{name}}"),
    (CORE, "PATCH", f"{NS}/configmaps/{{name}}"),
    (CORE, "DELETE", f"{NS}/configmaps/{{name}}"),
    (CORE, "POST", f"{NS}/secrets"),
    (CORE, "PUT", f"{NS}/secrets/{{name}}"),
    (CORE, "PATCH", f"{NS}/secrets/{{name}}"),
    (CORE, "POST", f"{NS}/pods"),
    (CORE, "PATCH", f"{NS}/pods/{{name}}"),
    (CORE, "PATCH", f"{NS}/pods/{{name}}/status"),
    (APPS, "POST", DEPLOYMENTS),
    (APPS, "PUT", f"{DEPLOYMENTS}/{{name}}"),
    (APPS, "PATCH", f"{DEPLOYMENTS}/{{name}}"),
    (APPS, "PUT", f"{DEPLOYMENTS}/{{name}}/scale"),
    (APPS, "PATCH", f"{DEPLOYMENTS}/{{name}}/scale"),
]
EXAMPLES = 25  # per operation, positive and negative together
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def existing(path: str, method: str, seeded: Seeded) -> dict[str, str] | None:
    """Path parameters naming a seeded object (or namespace) for ``path``; None when there
    is none, or when the request would delete it."""
    if method == "DELETE":
        return None
    fixed = {}
    if "{namespace}" in path:
        fixed["namespace"] = seeded.namespace
    if "{name}" in path:
        collection = path.split("/{name}")[0].replace("{namespace}", seeded.namespace)
        if collection not in seeded.names:
            return None
        fixed["name"] = seeded.names[collection]
    return fixed


_strategies: dict[tuple[object, ...], SearchStrategy[schemathesis.Case]] = {}


def cases(
    schema: schemathesis.BaseSchema,
    path: str,
    method: str,
    mode: schemathesis.GenerationMode,
    fixed: dict[str, str] | None,
) -> SearchStrategy[schemathesis.Case]:
    """Generated requests for one operation (built once: building one takes a while)."""
    key = (id(schema), path, method, mode, tuple((fixed or {}).items()))
    if key not in _strategies:
        operation = schema[path][method]
        _strategies[key] = operation.as_strategy(mode, path_parameters=fixed)
    return _strategies[key]


@pytest.mark.parametrize(
    ("document", "method", "path"), OPERATIONS, ids=[f"{m} {p}" for _, m, p in OPERATIONS]
)
@fuzzed(EXAMPLES)
@given(data=st.data())
def test_generated_requests_get_a_status(
    target: Target,
    openapi: dict[str, schemathesis.BaseSchema],
    seeded: Seeded,
    document: str,
    method: str,
    path: str,
    data: st.DataObject,
) -> None:
    mode = data.draw(st.sampled_from(MODES), label="mode")
    fixed = existing(path, method, seeded)
    if fixed is not None and not data.draw(st.booleans(), label="an existing object"):
        fixed = None
    case = data.draw(cases(openapi[document], path, method, mode, fixed))
    transport = case.as_transport_kwargs(base_url=target.server)
    transport.pop("cookies", None)
    body = transport.pop("json", None)
    reply = target.send(json_body=body, **transport)
    check(reply)
