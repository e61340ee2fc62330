"""``/openapi/v2`` through the gateway: JSON for those who take it, 406 (never JSON) for a
client that asks only for the Protobuf document, as kubectl 1.32 does."""

from __future__ import annotations

import hashlib

import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

PROTOBUF_ONLY = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, "
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
)


async def test_json_document_with_etag(control_plane: ControlPlane) -> None:
    api = control_plane.api
    reply = await api.get("/openapi/v2", headers={"Accept": "application/json"})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert "Accept" in reply.headers["vary"].split(", ")
    document = reply.json()
    assert document["swagger"] == "2.0"
    assert "io.k8s.api.apps.v1.Deployment" in document["definitions"]
    assert "/api/v1/namespaces/{namespace}/configmaps" in document["paths"]
    etag = reply.headers["etag"]
    assert etag == '"' + hashlib.sha512(reply.content).hexdigest().upper() + '"'
    again = await api.get("/openapi/v2", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("accept", [None, "*/*", "application/json, */*"])
async def test_json_is_the_default(control_plane: ControlPlane, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    reply = await control_plane.api.get("/openapi/v2", headers=headers)
    assert reply.status_code == 200
    assert reply.json()["swagger"] == "2.0"


async def test_protobuf_only_is_refused_not_answered_in_json(control_plane: ControlPlane) -> None:
    reply = await control_plane.api.get("/openapi/v2", headers={"Accept": PROTOBUF_ONLY})
    assert reply.status_code == 406
    status = reply.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "NotAcceptable"
