"""Admission webhooks through the whole control plane, on real etcd, with a webhook
server of the test's own (tests/admission_webhook.py): AdmissionReview v1 over HTTPS
with a caBundle, kube's refusal and failure texts, JSONPatch mutations, failurePolicy
when the webhook is down or slow, matchConditions, warnings and dry run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import admission_webhook
from tests.integration.conftest import ControlPlane, free_port

pytestmark = pytest.mark.integration

DEADLINE = 15.0  # waiting for a configuration to arrive at all, not a latency budget
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[admission_webhook.Webhook]:
    with admission_webhook.serve(tmp_path) as hook:
        yield hook


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not await check():
        assert loop.time() < end, "the configuration did not take effect"
        await asyncio.sleep(0.1)


def hook(name: str, url: str, ca: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca},
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


def configuration(kind: str, name: str, hooks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": hooks,
    }


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


class Configured:
    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api
        self.made: list[str] = []

    async def add(self, plural: str, body: dict[str, Any]) -> None:
        reply = await self.api.post(f"{ADMISSION}/{plural}", json=body)
        assert reply.status_code == 201, reply.text
        self.made.append(f"{ADMISSION}/{plural}/{body['metadata']['name']}")

    async def remove(self) -> None:
        for path in self.made:
            await self.api.delete(path)


@pytest.fixture
async def configured(control_plane: ControlPlane) -> Any:
    made = Configured(control_plane.api)
    yield made
    await made.remove()


async def test_validating_and_mutating_webhooks(
    control_plane: ControlPlane, webhook: admission_webhook.Webhook, configured: Configured
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    suffix = uuid.uuid4().hex[:6]
    ca = webhook.ca_bundle_b64
    await configured.add(
        "mutatingwebhookconfigurations",
        configuration(
            "MutatingWebhookConfiguration",
            f"mutate-{suffix}",
            [hook("mutate.kapi.test", f"{webhook.base_url}/mutate", ca)],
        ),
    )
    await configured.add(
        "validatingwebhookconfigurations",
        configuration(
            "ValidatingWebhookConfiguration",
            f"validate-{suffix}",
            [
                hook(
                    "deny.kapi.test",
                    f"{webhook.base_url}/validate",
                    ca,
                    matchConditions=[
                        {"name": "not-skipped", "expression": "!('skip' in object.metadata.labels)"}
                    ],
                )
            ],
        ),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps"

    async def mutated() -> bool:
        reply = await api.post(path, json=configmap(f"probe-{uuid.uuid4().hex[:6]}", a="b"))
        assert reply.status_code == 201, reply.text
        return reply.json()["metadata"]["labels"].get("mutated-by") == "webhook"

    await eventually(mutated)

    async def denying() -> bool:
        reply = await api.post(path, json=configmap(f"d-{uuid.uuid4().hex[:6]}", deny="1"))
        return reply.status_code == 403

    await eventually(denying)
    refused = await api.post(path, json=configmap("unwelcome", deny="yes"))
    assert refused.status_code == 403
    assert refused.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'admission webhook "deny.kapi.test" denied the request: unwelcome is not '
        "welcome here",
        "reason": "Forbidden",
        "code": 403,
    }
    created = await api.post(path, json=configmap("welcome"))
    assert created.status_code == 201
    assert created.json()["metadata"]["labels"] == {"mutated-by": "webhook"}
    assert created.headers.get_list("warning") == ['299 - "validated welcome"']
    # The validating webhook saw the mutated object, and kube's request fields.
    seen = [r for r in webhook.requests("/validate") if r.get("name") == "welcome"][-1]
    assert seen["object"]["metadata"]["labels"] == {"mutated-by": "webhook"}
    assert seen["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert seen["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert seen["requestKind"] == seen["kind"] and seen["requestResource"] == seen["resource"]
    assert seen["namespace"] == ns and seen["operation"] == "CREATE"
    assert seen["userInfo"]["username"] == "kapi-admin"
    assert seen["dryRun"] is False and seen["oldObject"] is None
    assert seen["options"]["kind"] == "CreateOptions"
    # matchConditions false: the webhook is not called at all.
    skipped = await api.post(path, json=configmap("skipped", deny="yes", skip="yes"))
    assert skipped.status_code == 201
    # An update carries the old object.
    updated = await api.put(f"{path}/welcome", json={**created.json(), "data": {"k": "v"}})
    assert updated.status_code == 200, updated.text
    seen = [r for r in webhook.requests("/validate") if r.get("name") == "welcome"][-1]
    assert seen["operation"] == "UPDATE" and seen["oldObject"]["metadata"]["name"] == "welcome"
    # Dry run: the webhook (sideEffects None) is called with dryRun true, nothing stored.
    dry = await api.post(f"{path}?dryRun=All", json=configmap("dry"))
    assert dry.status_code == 201
    assert [r["dryRun"] for r in webhook.requests("/validate") if r.get("name") == "dry"] == [True]
    assert (await api.get(f"{path}/dry")).status_code == 404


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
async def test_failure_policy_when_the_webhook_is_down_or_slow(
    control_plane: ControlPlane,
    webhook: admission_webhook.Webhook,
    configured: Configured,
    policy: str,
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    suffix = uuid.uuid4().hex[:6]
    down = f"https://127.0.0.1:{free_port()}/validate"
    webhook.slow_seconds = 3
    await configured.add(
        "validatingwebhookconfigurations",
        configuration(
            "ValidatingWebhookConfiguration",
            f"down-{suffix}",
            [
                hook(
                    "down.kapi.test",
                    down,
                    webhook.ca_bundle_b64,
                    failurePolicy=policy,
                    objectSelector={"matchLabels": {"hook": "down"}},
                ),
                hook(
                    "slow.kapi.test",
                    f"{webhook.base_url}/slow",
                    webhook.ca_bundle_b64,
                    failurePolicy=policy,
                    timeoutSeconds=1,
                    objectSelector={"matchLabels": {"hook": "slow"}},
                ),
                hook(
                    "probe.kapi.test",
                    f"{webhook.base_url}/validate",
                    webhook.ca_bundle_b64,
                    objectSelector={"matchLabels": {"hook": "probe"}},
                ),
            ],
        ),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps"

    async def settled() -> bool:
        # The configuration's third webhook warns: once it does, all three are in effect.
        reply = await api.post(path, json=configmap(f"p-{uuid.uuid4().hex[:6]}", hook="probe"))
        assert reply.status_code == 201, reply.text
        return "warning" in reply.headers

    await eventually(settled)
    reply = await api.post(path, json=configmap("down", hook="down"))
    slow = await api.post(path, json=configmap("slow", hook="slow"))
    if policy == "Ignore":
        assert reply.status_code == 201 and slow.status_code == 201
        return
    assert reply.status_code == 500
    body = reply.json()
    assert body["reason"] == "InternalError"
    assert body["message"].startswith(
        f'Internal error occurred: failed calling webhook "down.kapi.test": failed to call '
        f'webhook: Post "{down}?timeout=10s": '
    )
    assert slow.status_code == 500
    assert slow.json()["message"] == (
        'Internal error occurred: failed calling webhook "slow.kapi.test": failed to call '
        f'webhook: Post "{webhook.base_url}/slow?timeout=1s": context deadline exceeded'
    )
