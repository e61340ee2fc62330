"""A CRD served in several versions: one stored, others converted (None, or a webhook over
HTTPS), deprecated ones warning as kube warns."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import conversion_webhook
from tests.conversion_webhook import widget_crd
from tests.integration.conftest import ControlPlane
from tests.integration.test_custom_resources import CRDS, install

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


@pytest.fixture
def group() -> str:
    return f"v{uuid.uuid4().hex[:8]}.example.com"


async def test_none_conversion_and_deprecation(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    crd = await install(api, widget_crd(group))
    assert crd["status"]["storedVersions"] == ["v1"]
    beta = f"/apis/{group}/v1beta1/namespaces/{ns}/widgets"
    ga = f"/apis/{group}/v1/namespaces/{ns}/widgets"
    body = {"apiVersion": f"{group}/v1beta1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"replicas": 2, "color": "red"}}  # fmt: skip
    created = await api.post(beta, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["apiVersion"] == f"{group}/v1beta1"
    assert created.headers["warning"] == (
        f'299 - "{group}/v1beta1 Widget is deprecated; use {group}/v1 Widget"'
    )
    got = (await api.get(f"{ga}/w")).json()
    assert (got["apiVersion"], got["spec"]) == (f"{group}/v1", {"replicas": 2, "color": "red"})
    assert "warning" not in (await api.get(f"{ga}/w")).headers
    listed = (await api.get(beta)).json()
    assert [i["apiVersion"] for i in listed["items"]] == [f"{group}/v1beta1"]
    discovery = (await api.get(f"/apis/{group}")).json()
    assert discovery["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in discovery["versions"]] == ["v1", "v1beta1"]


async def test_webhook_conversion(control_plane: ControlPlane, group: str, tmp_path: Path) -> None:
    api, ns = control_plane.api, control_plane.namespace
    async with conversion_webhook.serve(tmp_path) as hook:
        webhook = {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "url": hook.url,
                "caBundle": base64.b64encode(hook.ca_bundle).decode(),
            },
        }
        await install(api, widget_crd(group, webhook=webhook))
        beta = f"/apis/{group}/v1beta1/namespaces/{ns}/widgets"
        ga = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        body = {"apiVersion": f"{group}/v1beta1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": "3"}}  # fmt: skip
        created = await api.post(beta, json=body)
        assert created.status_code == 201, created.text
        assert created.json()["spec"] == {"size": "3"}
        stored = (await api.get(f"{ga}/w")).json()
        assert stored["spec"] == {"replicas": 3}
        review = hook.reviews[0]
        assert (review["apiVersion"], review["kind"]) == (
            "apiextensions.k8s.io/v1",
            "ConversionReview",
        )
        assert review["request"]["desiredAPIVersion"] == f"{group}/v1"
        listed = (await api.get(beta)).json()
        assert [i["spec"] for i in listed["items"]] == [{"size": "3"}]


async def test_a_failing_webhook_is_kube_s_500(
    control_plane: ControlPlane, group: str, tmp_path: Path
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    async with conversion_webhook.serve(tmp_path) as hook:
        webhook = {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "url": hook.url,
                "caBundle": base64.b64encode(hook.ca_bundle).decode(),
            },
        }
        await install(api, widget_crd(group, webhook=webhook))
        ga = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"replicas": 1}}  # fmt: skip
        assert (await api.post(ga, json=body)).status_code == 201  # stored: no conversion
        hook.fail = True
        failed = await api.get(f"/apis/{group}/v1beta1/namespaces/{ns}/widgets/w")
        assert failed.status_code == 500
        assert failed.json()["message"] == (
            f"conversion webhook for {group}/v1, Kind=Widget failed: the webhook says no"
        )
        assert (await api.get(f"{ga}/w")).status_code == 200  # the stored version needs none


REVIEW = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview"}


def succeeded(converted: list[Obj]) -> Obj:
    """A successful review answer converting to ``converted``."""
    response = {"uid": "{uid}", "result": {"status": "Success"}, "convertedObjects": converted}
    return {**REVIEW, "response": response}


def converter_service(namespace: str, port: int) -> tuple[Obj, Obj]:
    """A Service ``converter`` (port 443, named https) and its EndpointSlice: the test
    webhook at 127.0.0.1:``port``, as the endpointslice controller would write it."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "converter"},
               "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}}  # fmt: skip
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "converter-abc",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": "converter"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }
    return service, slice_


async def test_webhook_by_service(control_plane: ControlPlane, group: str, tmp_path: Path) -> None:
    """A webhook named by ``service`` is called at an endpoint of the Service, its
    certificate checked for ``converter.<namespace>.svc``; without endpoints, kube's 500."""
    api, ns = control_plane.api, control_plane.namespace
    host = f"converter.{ns}.svc"
    async with conversion_webhook.serve(tmp_path, hosts=(host,)) as hook:
        webhook = {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {"namespace": ns, "name": "converter", "path": "/convert"},
                "caBundle": base64.b64encode(hook.ca_bundle).decode(),
            },
        }
        await install(api, widget_crd(group, webhook=webhook))
        beta = f"/apis/{group}/v1beta1/namespaces/{ns}/widgets"
        body = {"apiVersion": f"{group}/v1beta1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": "3"}}  # fmt: skip
        missing = await api.post(beta, json=body)
        assert (missing.status_code, missing.json()["message"]) == (
            500,
            f"conversion webhook for {group}/v1beta1, Kind=Widget failed: "
            f'Post "https://{host}:443/convert?timeout=30s": service "converter" not found',
        )
        service, slice_ = converter_service(ns, hook.port)
        assert (await api.post(f"/api/v1/namespaces/{ns}/services", json=service)).is_success
        no_endpoints = await api.post(beta, json=body)
        assert no_endpoints.json()["message"] == (
            f"conversion webhook for {group}/v1beta1, Kind=Widget failed: "
            f'Post "https://{host}:443/convert?timeout=30s": '
            'no endpoints available for service "converter"'
        )
        slices = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
        made = await api.post(slices, json=slice_)
        assert made.status_code == 201, made.text
        created = await api.post(beta, json=body)
        assert created.status_code == 201, created.text
        stored = (await api.get(f"/apis/{group}/v1/namespaces/{ns}/widgets/w")).json()
        assert stored["spec"] == {"replicas": 3}
        assert hook.calls[-1] == f"{host}:443/convert?timeout=30s"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"apiVersion": "v1", "kind": "Status"},
         "failed: expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, "
         "got v1, Kind=Status"),
        ({**REVIEW, "response": {"uid": "other", "result": {"status": "Success"}}},
         'failed: expected response.uid="{uid}", got "other"'),
        ({**REVIEW, "response": {"uid": "{uid}", "result": {"status": "Failure"}}},
         "failed: response.result.status was 'Failure', not 'Success'"),
        (succeeded([]),
         "failed, no objects returned"),
        (succeeded([{"apiVersion": "{group}/v1beta1", "kind": "Widget",
                     "metadata": {"name": "x"}}]),
         "returned invalid object: must have the same name: w != x"),
        (succeeded([{"apiVersion": "{group}/v1", "kind": "Widget", "metadata": {"name": "w"}}]),
         "returned invalid object at index 0: invalid groupVersion (expected {group}/v1beta1, "
         "received {group}/v1)"),
    ],
)  # fmt: skip
async def test_a_wrong_answer_is_kube_s_500(
    control_plane: ControlPlane, group: str, tmp_path: Path, answer: Obj, message: str
) -> None:
    """What kube's webhook converter says of each wrong answer (webhook_converter.go)."""
    api, ns = control_plane.api, control_plane.namespace
    async with conversion_webhook.serve(tmp_path) as hook:
        webhook = {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "url": hook.url,
                "caBundle": base64.b64encode(hook.ca_bundle).decode(),
            },
        }
        await install(api, widget_crd(group, webhook=webhook))
        ga = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"replicas": 1}}  # fmt: skip
        assert (await api.post(ga, json=body)).status_code == 201
        hook.answer = answer
        failed = await api.get(f"/apis/{group}/v1beta1/namespaces/{ns}/widgets/w")
        uid = hook.reviews[-1]["request"]["uid"]
        assert (failed.status_code, failed.json()["message"]) == (
            500,
            f"conversion webhook for {group}/v1, Kind=Widget "
            + message.replace("{uid}", uid).replace("{group}", group),
        )


async def test_labels_and_annotations_alone_change(
    control_plane: ControlPlane, group: str, tmp_path: Path
) -> None:
    """The converted object keeps its own metadata but the labels and annotations the
    webhook set (kube's restoreObjectMeta)."""
    api, ns = control_plane.api, control_plane.namespace
    async with conversion_webhook.serve(tmp_path) as hook:
        webhook = {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "url": hook.url,
                "caBundle": base64.b64encode(hook.ca_bundle).decode(),
            },
        }
        await install(api, widget_crd(group, webhook=webhook))
        ga = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        meta = {"name": "w", "labels": {"a": "1"}}
        body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": meta,
                "spec": {"replicas": 1}}  # fmt: skip
        assert (await api.post(ga, json=body)).status_code == 201
        hook.metadata = {"labels": {"b": "2"}, "generation": 7, "annotations": {"c": "3"}}
        got = (await api.get(f"/apis/{group}/v1beta1/namespaces/{ns}/widgets/w")).json()
        assert got["metadata"]["labels"] == {"b": "2"}
        assert got["metadata"]["annotations"] == {"c": "3"}
        assert got["metadata"]["generation"] == 1
        assert got["spec"] == {"size": "1"}


async def test_a_webhook_needs_a_client_config(control_plane: ControlPlane, group: str) -> None:
    crd = widget_crd(group, webhook={"conversionReviewVersions": ["v1"]})
    answer = await control_plane.api.post(CRDS, json=crd)
    assert answer.status_code == 422
    assert answer.json()["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: exactly one of url or service is required",
            "field": "spec.conversion.webhook.clientConfig",
        }
    ]
