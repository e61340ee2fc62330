"""Bad input never reaches a traceback or a half-written object.

Each case gets a Kubernetes Status with kube-apiserver's code, reason and message, and
afterwards nothing was stored.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration


def cm(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"a": "1"},
        **extra,
    }


def assert_status(
    response: httpx.Response, code: int, reason: str, message: str = ""
) -> dict[str, Any]:
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body["reason"] == reason
    if message:
        assert body["message"] == message
    return body


async def assert_absent(cp: ControlPlane, name: str) -> None:
    got = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps/{name}")
    assert got.status_code == 404, f"{name} was stored: {got.text}"


def collection(cp: ControlPlane) -> str:
    return f"/api/v1/namespaces/{cp.namespace}/configmaps"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {'),
        ("application/json", b"\xff\xfe not json"),
        ("application/yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n"),
        ("application/yaml", b"a: b\n---\nc: d\n"),
        ("application/vnd.kubernetes.protobuf", b"k8s\x00\x0a\xff\xff"),
        ("application/vnd.kubernetes.protobuf", b"not protobuf at all"),
    ],
)
async def test_malformed_body_is_400(
    control_plane: ControlPlane, content_type: str, body: bytes
) -> None:
    response = await control_plane.api.post(
        collection(control_plane), content=body, headers={"Content-Type": content_type}
    )
    assert_status(response, 400, "BadRequest")
    listed = await control_plane.api.get(collection(control_plane))
    assert listed.json()["items"] == []


async def test_body_over_3_mib_is_413(control_plane: ControlPlane) -> None:
    big = cm("big", data={"a": "x" * (3 * 1024 * 1024 + 1)})
    response = await control_plane.api.post(
        collection(control_plane),
        content=orjson.dumps(big),
        headers={"Content-Type": "application/json"},
    )
    assert_status(response, 413, "RequestEntityTooLarge")
    await assert_absent(control_plane, "big")


async def test_body_just_under_the_limit_is_accepted(control_plane: ControlPlane) -> None:
    fits = cm("fits", data={"a": "x" * (1024 * 1024)})
    response = await control_plane.api.post(collection(control_plane), json=fits)
    assert response.status_code == 201, response.text


async def test_api_version_not_matching_the_url_is_400(control_plane: ControlPlane) -> None:
    body = cm("wrong-version")
    body["apiVersion"] = "apps/v1"
    response = await control_plane.api.post(collection(control_plane), json=body)
    assert_status(
        response,
        400,
        "BadRequest",
        "the API version in the data (apps/v1) does not match the expected API version (v1)",
    )
    await assert_absent(control_plane, "wrong-version")


async def test_kind_not_matching_the_url_is_400(control_plane: ControlPlane) -> None:
    body = cm("wrong-kind")
    body["kind"] = "Secret"
    response = await control_plane.api.post(collection(control_plane), json=body)
    assert_status(response, 400, "BadRequest")
    await assert_absent(control_plane, "wrong-kind")


async def test_namespace_not_matching_the_url_is_400(control_plane: ControlPlane) -> None:
    body = cm("other-ns")
    body["metadata"]["namespace"] = "somewhere-else"
    response = await control_plane.api.post(collection(control_plane), json=body)
    assert_status(
        response,
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/widgets",
        "/api/v2/configmaps",
        "/apis/nope.example.com/v1/things",
        "/api/v1/namespaces/default/configmaps/c/notasubresource",
        "/not/an/api/path",
        "/a%0Ab",  # a newline no route's path pattern matches
    ],
)
async def test_unknown_resource_is_404_worded_as_kube(
    control_plane: ControlPlane, path: str
) -> None:
    response = await control_plane.api.get(path)
    assert_status(response, 404, "NotFound", "the server could not find the requested resource")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("POST", "/configmaps/c"),  # create on an item
        ("PUT", "/configmaps"),  # update on a collection
    ],
)
async def test_unsupported_verb_is_405(
    control_plane: ControlPlane, method: str, suffix: str
) -> None:
    path = f"/api/v1/namespaces/{control_plane.namespace}{suffix}"
    response = await control_plane.api.request(method, path, json=cm("c"))
    assert_status(response, 405, "MethodNotAllowed")
    await assert_absent(control_plane, "c")


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE"])
@pytest.mark.parametrize("path", ["/", "/version", "/openapi/v2"])
async def test_a_method_no_route_serves_is_a_405_status(
    control_plane: ControlPlane, method: str, path: str
) -> None:
    response = await control_plane.api.request(method, path)
    assert_status(response, 405, "MethodNotAllowed")


async def test_unrouted_requests_are_authenticated_first(control_plane: ControlPlane) -> None:
    response = await control_plane.api.request(
        "OPTIONS", "/version", headers={"Authorization": "Bearer wrong"}
    )
    assert_status(response, 401, "Unauthorized")


async def test_duplicate_is_409_already_exists(control_plane: ControlPlane) -> None:
    first = await control_plane.api.post(collection(control_plane), json=cm("dup"))
    assert first.status_code == 201
    second = await control_plane.api.post(collection(control_plane), json=cm("dup"))
    body = assert_status(second, 409, "AlreadyExists", 'configmaps "dup" already exists')
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


async def test_missing_is_404_with_details(control_plane: ControlPlane) -> None:
    response = await control_plane.api.get(f"{collection(control_plane)}/nope")
    body = assert_status(response, 404, "NotFound", 'configmaps "nope" not found')
    assert body["details"] == {"name": "nope", "kind": "configmaps"}
    deployments = await control_plane.api.get(
        f"/apis/apps/v1/namespaces/{control_plane.namespace}/deployments/nope"
    )
    body = assert_status(deployments, 404, "NotFound", 'deployments.apps "nope" not found')
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_bad_name_is_422_with_field_causes(control_plane: ControlPlane) -> None:
    response = await control_plane.api.post(collection(control_plane), json=cm("Bad_Name"))
    body = assert_status(response, 422, "Invalid")
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase '
        "RFC 1123 subdomain must consist of"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": body["message"].split("metadata.name: ", 1)[1],
            "field": "metadata.name",
        }
    ]
    await assert_absent(control_plane, "Bad_Name")


async def test_create_in_missing_namespace_is_404(control_plane: ControlPlane) -> None:
    response = await control_plane.api.post(
        "/api/v1/namespaces/no-such-ns/configmaps", json=cm("c")
    )
    body = assert_status(response, 404, "NotFound", 'namespaces "no-such-ns" not found')
    assert body["details"] == {"name": "no-such-ns", "kind": "namespaces"}


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
async def test_system_namespaces_cannot_be_deleted(control_plane: ControlPlane, name: str) -> None:
    response = await control_plane.api.delete(f"/api/v1/namespaces/{name}")
    assert_status(
        response,
        403,
        "Forbidden",
        f'namespaces "{name}" is forbidden: this namespace may not be deleted',
    )
    still = await control_plane.api.get(f"/api/v1/namespaces/{name}")
    assert still.status_code == 200


async def test_bad_credentials_are_401(control_plane: ControlPlane) -> None:
    async with httpx.AsyncClient(
        base_url=control_plane.base_url, headers={"Authorization": "Bearer wrong"}
    ) as client:
        response = await client.get("/api/v1/namespaces")
    assert_status(response, 401, "Unauthorized", "Unauthorized")


async def test_no_credentials_are_the_anonymous_users_403(control_plane: ControlPlane) -> None:
    """kube's anonymous authenticator: no credential (nor another scheme than Bearer) is
    the anonymous user, whom RBAC refuses all but public information."""
    for headers in ({"Authorization": "Basic eDp5"}, {}):
        async with httpx.AsyncClient(base_url=control_plane.base_url, headers=headers) as anon:
            response = await anon.get("/api/v1/namespaces")
        assert_status(
            response,
            403,
            "Forbidden",
            'namespaces is forbidden: User "system:anonymous" cannot list resource '
            '"namespaces" in API group "" at the cluster scope',
        )


async def test_stale_resource_version_is_409_conflict(control_plane: ControlPlane) -> None:
    created = (await control_plane.api.post(collection(control_plane), json=cm("cas"))).json()
    first = {**created, "data": {"a": "2"}}
    assert (
        await control_plane.api.put(f"{collection(control_plane)}/cas", json=first)
    ).status_code == 200
    stale = {**created, "data": {"a": "3"}}
    response = await control_plane.api.put(f"{collection(control_plane)}/cas", json=stale)
    assert_status(
        response,
        409,
        "Conflict",
        'Operation cannot be fulfilled on configmaps "cas": the object has been '
        "modified; please apply your changes to the latest version and try again",
    )
    now = (await control_plane.api.get(f"{collection(control_plane)}/cas")).json()
    assert now["data"] == {"a": "2"}


async def test_unsupported_field_selector_is_400(control_plane: ControlPlane) -> None:
    response = await control_plane.api.get(
        collection(control_plane), params={"fieldSelector": "spec.foo=bar"}
    )
    body = assert_status(response, 400, "BadRequest")
    # configmaps have no field label conversion of their own: apimachinery's default words
    assert body["message"].endswith(
        '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


async def test_bad_label_selector_is_400(control_plane: ControlPlane) -> None:
    response = await control_plane.api.get(
        collection(control_plane), params={"labelSelector": "a in (b"}
    )
    assert_status(response, 400, "BadRequest")


async def test_bad_query_values_are_400(control_plane: ControlPlane) -> None:
    for params in ({"limit": "ten"}, {"dryRun": "Some"}, {"fieldValidation": "Loose"}):
        response = (
            await control_plane.api.get(collection(control_plane), params=params)
            if ("limit" in params)
            else await control_plane.api.post(
                collection(control_plane), params=params, json=cm("q")
            )
        )
        assert_status(response, 400, "BadRequest")
    await assert_absent(control_plane, "q")


async def test_unsupported_media_type_is_415(control_plane: ControlPlane) -> None:
    response = await control_plane.api.post(
        collection(control_plane), content=b"<xml/>", headers={"Content-Type": "application/xml"}
    )
    assert_status(response, 415, "UnsupportedMediaType")
