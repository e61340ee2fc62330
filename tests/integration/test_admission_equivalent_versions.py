"""matchPolicy Equivalent on a custom resource served in two versions, through the whole
control plane on real etcd: a request at v1beta1 reaches webhooks and a
ValidatingAdmissionPolicy registered for v1 with the objects converted to v1 by the
CRD's conversion webhook (tests/conversion_webhook.py: v1beta1 ``spec.size`` "3" is v1
``spec.replicas`` 3); a mutating webhook's patch, applied to the v1 object, comes back
in v1beta1; ``kind``/``resource`` are v1's, ``requestKind``/``requestResource`` the
request's (kube: generic/webhook.go ShouldCallHook, request/admissionreview.go,
mutating/dispatcher.go, policy/matching/matching.go). ``Exact`` is not called."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import admission_webhook, conversion_webhook
from tests.conversion_webhook import widget_crd
from tests.integration.conftest import ControlPlane
from tests.integration.test_admission_webhooks import (
    Configured,
    configuration,
    configured,  # noqa: F401 (a fixture)
    eventually,
)
from tests.integration.test_custom_resources import install

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[admission_webhook.Webhook]:
    with admission_webhook.serve(tmp_path / "admission") as hook:
        yield hook


def widget_hook(name: str, url: str, ca: str, group: str, policy: str) -> Obj:
    return {
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca},
        "rules": [
            {
                "apiGroups": [group],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["widgets"],
            }
        ],
        "matchPolicy": policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }


async def test_equivalent_versions_are_converted(
    control_plane: ControlPlane,
    webhook: admission_webhook.Webhook,
    configured: Configured,  # noqa: F811
    tmp_path: Path,
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    group = f"q{uuid.uuid4().hex[:8]}.example.com"
    suffix = uuid.uuid4().hex[:6]
    ca = webhook.ca_bundle_b64
    async with conversion_webhook.serve(tmp_path / "conversion") as converter:
        await install(
            api,
            widget_crd(
                group,
                webhook={
                    "conversionReviewVersions": ["v1"],
                    "clientConfig": {
                        "url": converter.url,
                        "caBundle": base64.b64encode(converter.ca_bundle).decode(),
                    },
                },
            ),
        )
        await configured.add(
            "mutatingwebhookconfigurations",
            configuration(
                "MutatingWebhookConfiguration",
                f"eq-{suffix}",
                [
                    widget_hook(
                        "mutate.kapi.test", f"{webhook.base_url}/mutate", ca, group, "Equivalent"
                    )
                ],
            ),
        )
        await configured.add(
            "validatingwebhookconfigurations",
            configuration(
                "ValidatingWebhookConfiguration",
                f"eq-{suffix}",
                [
                    widget_hook(
                        "validate.kapi.test",
                        f"{webhook.base_url}/validate",
                        ca,
                        group,
                        "Equivalent",
                    ),
                    widget_hook("exact.kapi.test", f"{webhook.base_url}/slow", ca, group, "Exact"),
                ],
            ),
        )
        beta = f"/apis/{group}/v1beta1/namespaces/{ns}/widgets"

        def widget(name: str, size: str, **labels: str) -> Obj:
            return {
                "apiVersion": f"{group}/v1beta1",
                "kind": "Widget",
                "metadata": {"name": name, "labels": labels},
                "spec": {"size": size},
            }

        async def mutated() -> bool:
            reply = await api.post(beta, json=widget(f"p-{uuid.uuid4().hex[:6]}", "1", a="b"))
            assert reply.status_code == 201, reply.text
            return reply.json()["metadata"]["labels"].get("mutated-by") == "webhook"

        await eventually(mutated)
        created = await api.post(beta, json=widget("seen", "3", a="b"))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["apiVersion"] == f"{group}/v1beta1"
        assert body["spec"] == {"size": "3"}
        assert body["metadata"]["labels"] == {"a": "b", "mutated-by": "webhook"}
        for path in ("/mutate", "/validate"):
            (seen,) = [r for r in webhook.requests(path) if r.get("name") == "seen"]
            assert seen["kind"] == {"group": group, "version": "v1", "kind": "Widget"}
            assert seen["resource"] == {"group": group, "version": "v1", "resource": "widgets"}
            assert seen["requestKind"] == {"group": group, "version": "v1beta1", "kind": "Widget"}
            assert seen["requestResource"] == {
                "group": group,
                "version": "v1beta1",
                "resource": "widgets",
            }
            assert seen["object"]["apiVersion"] == f"{group}/v1"
            assert seen["object"]["spec"] == {"replicas": 3}
        (validated,) = [r for r in webhook.requests("/validate") if r.get("name") == "seen"]
        assert validated["object"]["metadata"]["labels"]["mutated-by"] == "webhook"
        # Exact: a rule for v1 does not select a v1beta1 request.
        assert webhook.requests("/slow") == []
        # The validating webhook refuses the converted object too.
        refused = await api.post(beta, json=widget("unwelcome", "2", deny="1"))
        assert refused.status_code == 403
        assert refused.json()["message"] == (
            'admission webhook "validate.kapi.test" denied the request: unwelcome is not '
            "welcome here"
        )


async def test_a_policy_for_v1_sees_a_v1beta1_request_as_v1(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    group = f"p{uuid.uuid4().hex[:8]}.example.com"
    suffix = uuid.uuid4().hex[:6]
    policy, binding = f"small-{suffix}", f"small-binding-{suffix}"
    async with conversion_webhook.serve(tmp_path) as converter:
        await install(
            api,
            widget_crd(
                group,
                webhook={
                    "conversionReviewVersions": ["v1"],
                    "clientConfig": {
                        "url": converter.url,
                        "caBundle": base64.b64encode(converter.ca_bundle).decode(),
                    },
                },
            ),
        )
        made = await api.post(
            f"{ADMISSION}/validatingadmissionpolicies",
            json={
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": policy},
                "spec": {
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": [group],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["widgets"],
                            }
                        ]
                    },
                    "validations": [
                        {
                            "expression": "object.spec.replicas < 5",
                            "messageExpression": "'too many: ' + string(object.spec.replicas)"
                            " + ' as ' + request.kind.version + ', asked as '"
                            " + request.requestKind.version",
                        }
                    ],
                },
            },
        )
        assert made.status_code == 201, made.text
        made = await api.post(
            f"{ADMISSION}/validatingadmissionpolicybindings",
            json={
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": binding},
                "spec": {"policyName": policy, "validationActions": ["Deny"]},
            },
        )
        assert made.status_code == 201, made.text
        beta = f"/apis/{group}/v1beta1/namespaces/{ns}/widgets"
        try:
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                name = f"w-{uuid.uuid4().hex[:6]}"
                reply = await api.post(
                    beta,
                    json={
                        "apiVersion": f"{group}/v1beta1",
                        "kind": "Widget",
                        "metadata": {"name": name},
                        "spec": {"size": "7"},
                    },
                )
                if reply.status_code != 201:
                    break
                assert asyncio.get_running_loop().time() < deadline, "the policy never applied"
                await asyncio.sleep(0.1)
            assert reply.status_code == 422, reply.text
            assert reply.json()["message"] == (
                f'widgets.{group} "{name}" is forbidden: ValidatingAdmissionPolicy '
                f"'{policy}' with binding '{binding}' denied request: too many: 7 as v1, "
                "asked as v1beta1"
            )
            small = await api.post(
                beta,
                json={
                    "apiVersion": f"{group}/v1beta1",
                    "kind": "Widget",
                    "metadata": {"name": f"s-{suffix}"},
                    "spec": {"size": "2"},
                },
            )
            assert small.status_code == 201, small.text
        finally:
            await api.delete(f"{ADMISSION}/validatingadmissionpolicybindings/{binding}")
            await api.delete(f"{ADMISSION}/validatingadmissionpolicies/{policy}")


async def test_a_built_in_type_served_converted(
    control_plane: ControlPlane,
    webhook: admission_webhook.Webhook,
    configured: Configured,  # noqa: F811
) -> None:
    """autoscaling/v1 and v2 HorizontalPodAutoscalers are one stored resource: a
    webhook registered for v1 with Exact sees v1 requests only, in v1 (``spec.
    targetCPUUtilizationPercentage``), one for v2 sees v2 requests only, one for v2
    with Equivalent sees both, in v2 — as kube, where the request's kind is the one it
    was made to whatever form kapi admits it in."""
    api, ns = control_plane.api, control_plane.namespace
    suffix = uuid.uuid4().hex[:6]
    ca = webhook.ca_bundle_b64

    def hpa_hook(name: str, path: str, version: str, policy: str) -> Obj:
        hook = widget_hook(name, f"{webhook.base_url}{path}", ca, "autoscaling", policy)
        hook["rules"][0]["apiVersions"] = [version]
        hook["rules"][0]["resources"] = ["horizontalpodautoscalers"]
        hook["objectSelector"] = {"matchLabels": {"hpa-test": suffix}}
        return hook

    await configured.add(
        "validatingwebhookconfigurations",
        configuration(
            "ValidatingWebhookConfiguration",
            f"hpa-{suffix}",
            [
                hpa_hook("v1-exact.kapi.test", "/validate", "v1", "Exact"),
                hpa_hook("v2-exact.kapi.test", "/allow", "v2", "Exact"),
                hpa_hook("v2-equivalent.kapi.test", "/slow", "v2", "Equivalent"),
            ],
        ),
    )
    webhook.slow_seconds = 0

    def hpa(version: str, name: str) -> Obj:
        spec: Obj = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
        }
        if version == "v1":
            spec["targetCPUUtilizationPercentage"] = 50
        return {
            "apiVersion": f"autoscaling/{version}",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": {"hpa-test": suffix}},
            "spec": spec,
        }

    async def arrived() -> bool:
        name = f"probe-{uuid.uuid4().hex[:6]}"
        reply = await api.post(
            f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers",
            json=hpa("v1", name),
        )
        assert reply.status_code == 201, reply.text
        return any(r.get("name") == name for r in webhook.requests("/validate"))

    await eventually(arrived)
    for version in ("v1", "v2"):
        name = f"asked-{version}"
        reply = await api.post(
            f"/apis/autoscaling/{version}/namespaces/{ns}/horizontalpodautoscalers",
            json=hpa(version, name),
        )
        assert reply.status_code == 201, reply.text
    (v1_seen,) = [r for r in webhook.requests("/validate") if r.get("name") == "asked-v1"]
    assert (
        v1_seen["kind"]
        == v1_seen["requestKind"]
        == {
            "group": "autoscaling",
            "version": "v1",
            "kind": "HorizontalPodAutoscaler",
        }
    )
    assert v1_seen["object"]["apiVersion"] == "autoscaling/v1"
    assert v1_seen["object"]["spec"]["targetCPUUtilizationPercentage"] == 50
    assert [r.get("name") for r in webhook.requests("/validate")].count("asked-v2") == 0
    (v2_seen,) = [r for r in webhook.requests("/allow") if r.get("name") == "asked-v2"]
    assert v2_seen["requestKind"]["version"] == "v2"
    assert [r.get("name") for r in webhook.requests("/allow")].count("asked-v1") == 0
    # Equivalent: both requests, each as v2; the v1 one says it was asked as v1.
    for name, asked in (("asked-v1", "v1"), ("asked-v2", "v2")):
        (seen,) = [r for r in webhook.requests("/slow") if r.get("name") == name]
        assert seen["kind"]["version"] == "v2" and seen["object"]["apiVersion"] == "autoscaling/v2"
        assert seen["requestKind"]["version"] == asked
        assert seen["requestResource"] == {
            "group": "autoscaling",
            "version": asked,
            "resource": "horizontalpodautoscalers",
        }
    v1_metrics = next(r for r in webhook.requests("/slow") if r.get("name") == "asked-v1")
    assert v1_metrics["object"]["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 50,
    }
