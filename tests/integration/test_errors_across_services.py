"""Errors across the gateway, registry, authz and storage, as a client sees them.

Every reply carries an audit ID; a bug in any service is a 500 InternalError that names
only that ID, logged once by the service that met it; an error Status of any size
arrives intact. (A reply lost to a dying service: test_lost_replies.py.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from kapi import errors
from services.registry.service import Registry
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SECRET = "boom at 10.9.8.7:2379"


def configmaps(cp: ControlPlane) -> str:
    return f"/api/v1/namespaces/{cp.namespace}/configmaps"


def cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


async def test_every_reply_carries_an_audit_id(control_plane: ControlPlane) -> None:
    api = control_plane.api
    for path in ("/version", "/api/v1/namespaces", configmaps(control_plane), "/no/such/path"):
        assert UUID.fullmatch((await api.get(path)).headers["audit-id"]), path
    given = await api.get("/version", headers={"Audit-ID": "my-request-7"})
    assert given.headers["audit-id"] == "my-request-7"  # the client's own, as kube echoes it
    for bogus in ("x" * 200, "a b", "a,b"):  # only a short plain token is taken
        replaced = await api.get("/version", headers={"Audit-ID": bogus})
        assert UUID.fullmatch(replaced.headers["audit-id"])


@pytest.fixture
def bug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record, uvicorn's too (it logs what an app lets escape)."""
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        server_log.removeHandler(caplog.handler)


def assert_generic_500(response: Any, log: pytest.LogCaptureFixture) -> None:
    """A 500 naming only the audit ID; the failure logged once, under that ID."""
    assert response.status_code == 500, response.text
    request_id = response.headers["audit-id"]
    assert response.json() == errors.unexpected(request_id).status()
    assert "boom" not in response.text and "10.9.8.7" not in response.text
    logged = [r for r in log.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert request_id in logged[0].getMessage() and SECRET in str(logged[0].exc_info)


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


@pytest.mark.parametrize("route", ["resource", "other"])
async def test_a_bug_in_the_gateway_is_a_500_logged_once(
    control_plane: ControlPlane,
    bug_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    route: str,
) -> None:
    """Resource requests have their own handler; the rest go through FastAPI, whose
    outermost error handler re-raises what it answered for the server to log again."""
    registry = control_plane.app.state.peers.registry
    api = control_plane.api
    if route == "resource":
        monkeypatch.setattr(registry, "create", boom)
        response = await api.post(configmaps(control_plane), json=cm("c"))
    else:
        monkeypatch.setattr(registry, "openapi_v2", boom)
        response = await api.get("/openapi/v2", headers={"Accept": "application/json"})
    assert_generic_500(response, bug_log)
    monkeypatch.undo()
    assert (await api.get("/readyz")).status_code == 200


async def test_a_bug_behind_the_gateway_is_a_500_logged_once_by_its_service(
    control_plane: ControlPlane, bug_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await control_plane.api.post(configmaps(control_plane), json=cm("c"))
    assert created.status_code == 201, created.text
    monkeypatch.setattr(Registry, "patch", boom)
    response = await control_plane.api.patch(
        f"{configmaps(control_plane)}/c",
        content=b'{"data": {"a": "1"}}',
        headers={"Content-Type": "application/merge-patch+json", "Audit-ID": "patch-1"},
    )
    assert response.headers["audit-id"] == "patch-1"  # what the registry logged it under
    assert_generic_500(response, bug_log)
    assert bug_log.records[0].name == "kapi.rpc"  # in the registry's servicer
    monkeypatch.undo()
    assert (await control_plane.api.get("/readyz")).status_code == 200


async def test_errors_longer_than_grpc_metadata_arrive_intact(control_plane: ControlPlane) -> None:
    """The issue's three: a 20,000-character label by PATCH (by PUT it was a 422 all
    along), a long uid precondition, an 8 KB invalid selector. Each was a 500."""
    api, path = control_plane.api, configmaps(control_plane)
    created = await api.post(path, json=cm("c"))
    assert created.status_code == 201, created.text
    label = "x" * 20_000
    patched = await api.patch(
        f"{path}/c",
        content=orjson.dumps({"metadata": {"labels": {"a": label}}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 422, patched.text[:300]
    assert patched.json()["reason"] == "Invalid" and label in patched.json()["message"]
    replaced = created.json()
    replaced["metadata"]["labels"] = {"a": label}
    put = await api.put(f"{path}/c", json=replaced)
    assert (put.status_code, put.json()["message"]) == (422, patched.json()["message"])

    uid = "u" * 20_000
    deleted = await api.request(
        "DELETE", f"{path}/c", json={"kind": "DeleteOptions", "preconditions": {"uid": uid}}
    )
    assert deleted.status_code == 409, deleted.text[:300]
    assert deleted.json()["reason"] == "Conflict" and uid in deleted.json()["message"]

    selector = "k" * 8_000 + "=v"  # a key too long, quoted in the message
    listed = await api.get(path, params={"labelSelector": selector})
    assert listed.status_code == 400, listed.text[:300]
    assert listed.json()["reason"] == "BadRequest" and len(listed.content) > 8_000
    assert (await api.get(f"{path}/c")).status_code == 200  # nothing was half-done
