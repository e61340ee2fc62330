"""``/openapi/v2`` through the gateway: JSON for those who take it, gnostic's Protobuf
message for a client that asks only for that (kubectl 1.32 does, to validate a List),
406 for anything else."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from kapi_proto import openapi_v2_pb2
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


async def test_protobuf_is_gnostic_s_document(control_plane: ControlPlane) -> None:
    """What kubectl asks for to validate a ``kind: List``: the document as gnostic's
    openapi_v2.Document, the same as the JSON one."""
    api = control_plane.api
    as_json = (await api.get("/openapi/v2", headers={"Accept": "application/json"})).json()
    reply = await api.get("/openapi/v2", headers={"Accept": PROTOBUF_ONLY})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == (
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    )
    document = openapi_v2_pb2.Document.FromString(reply.content)
    assert document.swagger == "2.0"
    definitions = {d.name: d.value for d in document.definitions.additional_properties}
    assert list(definitions) == list(as_json["definitions"])
    pod = definitions["io.k8s.api.core.v1.Pod"]
    assert list(pod.type.value) == ["object"]
    assert [p.name for p in pod.properties.additional_properties] == list(
        as_json["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]
    )
    extensions = {e.name: yaml.safe_load(e.value.yaml) for e in pod.vendor_extension}
    assert extensions["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}
    ]
    assert [p.name for p in document.paths.path] == list(as_json["paths"])
    again = await api.get(
        "/openapi/v2", headers={"Accept": PROTOBUF_ONLY, "If-None-Match": reply.headers["etag"]}
    )
    assert again.status_code == 304


async def test_nothing_served_is_asked_for(control_plane: ControlPlane) -> None:
    reply = await control_plane.api.get("/openapi/v2", headers={"Accept": "application/yaml"})
    assert reply.status_code == 406
    status = reply.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "NotAcceptable"
