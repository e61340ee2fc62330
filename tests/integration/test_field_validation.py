"""fieldValidation, schema validation and version conversion through all four services.

Bodies as kubectl and curl send them; answers as kube-apiserver 1.32 gives them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

AGGREGATED_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"a": "b"},
        **extra,
    }


def warnings_of(headers: Any) -> list[str]:
    return list(headers.get_list("warning"))


@pytest.mark.parametrize(
    ("params", "code", "warnings"),
    [
        ({"fieldValidation": "Strict"}, 400, []),
        ({"fieldValidation": "Warn"}, 201, ['299 - "unknown field \\"bogus\\""']),
        ({}, 201, ['299 - "unknown field \\"bogus\\""']),
        ({"fieldValidation": "Ignore"}, 201, []),
    ],
)
async def test_unknown_field_per_directive(
    control_plane: ControlPlane, params: dict[str, str], code: int, warnings: list[str]
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    name = f"cm-{params.get('fieldValidation', 'default').lower()}"
    reply = await api.post(
        f"/api/v1/namespaces/{ns}/configmaps", params=params, json=configmap(name, bogus=1)
    )
    assert reply.status_code == code, reply.text
    assert warnings_of(reply.headers) == warnings
    if code == 400:
        assert reply.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
            'strict decoding error: unknown field "bogus"',
            "reason": "BadRequest",
            "details": {},
            "code": 400,
        }
        missing = await api.get(f"/api/v1/namespaces/{ns}/configmaps/{name}")
        assert missing.status_code == 404
    else:
        stored = (await api.get(f"/api/v1/namespaces/{ns}/configmaps/{name}")).json()
        assert "bogus" not in stored
        assert stored["data"] == {"a": "b"}


async def test_warnings_are_utf8_unsendable_ones_dropped_and_bounded(
    control_plane: ControlPlane,
) -> None:
    """An unknown field named outside Latin-1 was a 500 (and one with a control character
    a dropped connection); 20,000 unknown fields were 20,000 headers. kube writes UTF-8,
    drops a text with a control character and keeps the rest within its budget."""
    api, ns = control_plane.api, control_plane.namespace
    odd = {"\u0100": [], "\u001f": [], "bogus": 1}
    reply = await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("odd", **odd))
    assert reply.status_code == 201, reply.text
    raw = [value for key, value in reply.headers.raw if key.lower() == b"warning"]
    assert raw == ['299 - "unknown field \\"Ā\\""'.encode(), b'299 - "unknown field \\"bogus\\""']
    many = {f"f{i}": i for i in range(20_000)}
    reply = await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("many", **many))
    assert reply.status_code == 201
    warned = warnings_of(reply.headers)
    assert 0 < len(warned) < 300
    assert sum(map(len, warned)) < 8 * 1024


async def test_duplicate_fields_from_the_raw_body(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    body = (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"},'
        b'"data":{"a":"1","a":"2"},"bogus":true}'
    )
    headers = {"Content-Type": "application/json"}
    strict = await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldValidation": "Strict"},
        content=body,
        headers=headers,
    )
    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name", duplicate field "data.a", unknown field "bogus"'
    )
    warned = await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldValidation": "Warn"},
        content=body,
        headers=headers,
    )
    assert warned.status_code == 201, warned.text
    assert warnings_of(warned.headers) == [
        '299 - "duplicate field \\"metadata.name\\""',
        '299 - "duplicate field \\"data.a\\""',
        '299 - "unknown field \\"bogus\\""',
    ]
    assert warned.json()["data"] == {"a": "2"}  # the last value wins, as in Go


async def test_wrong_json_type_is_a_decode_error(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "typed"},
        "spec": {
            "replicas": "two",
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    for directive in ("Strict", "Ignore"):
        reply = await api.post(
            f"/apis/apps/v1/namespaces/{ns}/deployments",
            params={"fieldValidation": directive},
            json=deployment,
        )
        assert reply.status_code == 400
        assert reply.json()["message"] == (
            'Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
            "unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        )


async def test_schema_rules_are_422_with_one_cause_per_field(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "bad-type"},
        "spec": {"type": "Foo", "ports": [{"port": 80, "protocol": "TCP"}]},
    }
    reply = await api.post(f"/api/v1/namespaces/{ns}/services", json=service)
    assert reply.status_code == 422, reply.text
    status = reply.json()
    assert status["reason"] == "Invalid"
    causes = status["details"]["causes"]
    assert {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"',
        "field": "spec.type",
    } in causes
    assert 'spec.type: Unsupported value: "Foo"' in status["message"]


async def test_put_and_patch_drop_or_refuse_unknown_fields(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    path = f"/api/v1/namespaces/{ns}/configmaps/edited"
    created = await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("edited"))
    assert created.status_code == 201
    current = created.json()
    strict = await api.put(
        path, params={"fieldValidation": "Strict"}, json={**current, "extra": {"x": 1}}
    )
    assert strict.status_code == 400
    assert strict.json()["message"].endswith('strict decoding error: unknown field "extra"')
    patched = await api.patch(
        path,
        content=orjson.dumps({"data": {"c": "d"}, "spec": {"x": 1}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert warnings_of(patched.headers) == ['299 - "unknown field \\"spec\\""']
    assert "spec" not in patched.json()
    assert patched.json()["data"] == {"a": "b", "c": "d"}


# --- versions ------------------------------------------------------------------------

HPA_V1 = {
    "apiVersion": "autoscaling/v1",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 5,
        "targetCPUUtilizationPercentage": 60,
    },
}


async def test_hpa_written_as_v1_is_read_as_v2_and_back(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    v1_path = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"
    v2_path = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    created = await api.post(v1_path, json=HPA_V1, params={"fieldValidation": "Strict"})
    assert created.status_code == 201, created.text
    assert created.json()["apiVersion"] == "autoscaling/v1"
    assert created.json()["spec"]["targetCPUUtilizationPercentage"] == 60

    as_v2 = (await api.get(f"{v2_path}/web")).json()
    assert as_v2["apiVersion"] == "autoscaling/v2"
    assert as_v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]
    listed = (await api.get(v2_path)).json()
    assert (listed["kind"], listed["apiVersion"]) == (
        "HorizontalPodAutoscalerList",
        "autoscaling/v2",
    )
    # Items go without their type, as kube-apiserver writes them; their form is v2's.
    assert [("apiVersion" in i, "metrics" in i["spec"]) for i in listed["items"]] == [(False, True)]

    # a v2-only metric written through v2 survives a v1 read-modify-write
    as_v2["spec"]["metrics"].append(
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "AverageValue", "averageValue": "100Mi"},
            },
        }
    )
    updated = await api.put(f"{v2_path}/web", json=as_v2)
    assert updated.status_code == 200, updated.text
    as_v1 = (await api.get(f"{v1_path}/web")).json()
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert "autoscaling.alpha.kubernetes.io/metrics" in as_v1["metadata"]["annotations"]
    as_v1["spec"]["maxReplicas"] = 7
    rewritten = await api.put(f"{v1_path}/web", json=as_v1)
    assert rewritten.status_code == 200, rewritten.text
    final = (await api.get(f"{v2_path}/web")).json()
    assert final["spec"]["maxReplicas"] == 7
    assert {m["resource"]["name"] for m in final["spec"]["metrics"]} == {"cpu", "memory"}
    assert "annotations" not in final["metadata"]


async def test_hpa_watch_in_v1(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    v1_path = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"
    v2_path = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    rv = (await api.get(v1_path)).json()["metadata"]["resourceVersion"]

    async def first_event() -> dict[str, Any]:
        async with api.stream(
            "GET", v1_path, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "5"}
        ) as stream:
            async for line in stream.aiter_lines():
                if line:
                    event: dict[str, Any] = orjson.loads(line)
                    return event
        raise AssertionError("no event")

    watching = asyncio.create_task(first_event())
    await asyncio.sleep(0.3)
    body = {**HPA_V1, "apiVersion": "autoscaling/v2", "metadata": {"name": "watched"}}
    body["spec"] = {
        "scaleTargetRef": HPA_V1["spec"]["scaleTargetRef"],
        "maxReplicas": 3,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 75},
                },
            }
        ],
    }
    created = await api.post(v2_path, json=body)
    assert created.status_code == 201, created.text
    event = await asyncio.wait_for(watching, 10)
    assert event["type"] == "ADDED"
    assert event["object"]["apiVersion"] == "autoscaling/v1"
    assert event["object"]["spec"]["targetCPUUtilizationPercentage"] == 75


async def test_discovery_prefers_v2_and_hashes_the_storage_version(
    control_plane: ControlPlane,
) -> None:
    api = control_plane.api
    groups = (await api.get("/apis", headers={"Accept": AGGREGATED_ACCEPT})).json()
    (autoscaling,) = [g for g in groups["items"] if g["metadata"]["name"] == "autoscaling"]
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]
    legacy = (await api.get("/apis/autoscaling")).json()
    assert legacy["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    hashes = set()
    for version in ("v1", "v2"):
        listed = (await api.get(f"/apis/autoscaling/{version}")).json()
        (hpa,) = [r for r in listed["resources"] if r["name"] == "horizontalpodautoscalers"]
        hashes.add(hpa["storageVersionHash"])
    assert len(hashes) == 1


async def test_patch_errors_are_the_patchers(control_plane: ControlPlane) -> None:
    """kube's jsonPatcher: Strict is a bare "strict decoding error", a value Go cannot decode
    is a 422 on the field "patch"."""
    api, ns = control_plane.api, control_plane.namespace
    created = await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("patched"))
    assert created.status_code == 201
    path = f"/api/v1/namespaces/{ns}/configmaps/patched"
    merge = {"Content-Type": "application/merge-patch+json"}
    strict = await api.patch(
        path, params={"fieldValidation": "Strict"}, content=b'{"bogus":1}', headers=merge
    )
    assert strict.status_code == 400
    assert strict.json()["message"] == 'strict decoding error: unknown field "bogus"'
    typed = await api.patch(path, content=b'{"data":{"a":5}}', headers=merge)
    assert typed.status_code == 422, typed.text
    status = typed.json()
    assert status["reason"] == "Invalid"
    (cause,) = status["details"]["causes"]
    assert cause["field"] == "patch"
    assert cause["message"].endswith(
        ": json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
    )
