"""The audit log on a real control plane: a gateway with a policy file writes, per
request, the lines kube-apiserver would, and each field has kube's shape.

kube: k8s.io/apiserver/pkg/endpoints/filters/audit.go (stages), authn_audit.go (a 401 is
one ResponseStarted event without a user), authorization.go (the decision annotations),
impersonation.go (impersonatedUser), pkg/audit/request.go (the fields), the audit.k8s.io/v1
Event type. The authorizer is authz's (AlwaysAllow) but for one user and resource a test
refuses, with a reason, at the gateway's authz client.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kapi_proto import authz_pb2
from services.authz.client import AuthzClient, Verdict
from services.authz.server import AuthzConfig
from services.authz.server import create_server as create_authz
from services.gateway import health
from services.gateway.app import create_app
from services.gateway.auditing import options
from services.gateway.server import GatewayConfig, build_peers, build_server
from tests.integration.conftest import ADMIN_TOKEN, ControlPlane

pytestmark = pytest.mark.integration

BOB_TOKEN = "audit-bob-token"
DENIED_REASON = "no rule allows bob to read secrets"

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/readyz*", "/healthz*", "/livez*"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["configmaps"]
    omitManagedFields: true
  - level: Request
    resources:
      - group: ""
        resources: ["serviceaccounts"]
    omitStages: ["RequestReceived"]
  - level: Metadata
"""

ADMIN = {
    "username": "kapi-admin",
    "uid": "kapi-admin",
    "groups": ["system:masters", "system:authenticated"],
}
BOB = {"username": "bob", "uid": "u-bob", "groups": ["devs", "system:authenticated"]}


class RefusingAuthz(AuthzClient):
    """authz's client, but bob may not read secrets (the gateway's one authz hop)."""

    async def authorize(self, request: authz_pb2.AuthorizeRequest) -> Verdict:
        if request.user.username == "bob" and request.resource == "secrets":
            return Verdict("NO_OPINION", DENIED_REASON)
        return await super().authorize(request)


@dataclass
class Audited:
    base_url: str
    namespace: str
    log: Path

    def client(self, token: str = ADMIN_TOKEN) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "audit-test/1.0"},
            timeout=20,
        )

    async def events(self, audit_id: str, stages: int) -> list[dict[str, Any]]:
        """The lines of one request (by its audit ID), once ``stages`` of them are there
        (the last may be written a moment after the reply)."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.log.read_text().splitlines() if self.log.exists() else []
            found = [json.loads(line) for line in lines if f'"auditID":"{audit_id}"' in line]
            if len(found) >= stages or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.02)


@pytest.fixture
async def audited(control_plane: ControlPlane, tmp_path: Path) -> AsyncIterator[Audited]:
    """A second gateway on the control plane's registry and storage, with its own authz
    (admin's and bob's tokens), auditing with POLICY into ``audit.log``."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        f'{ADMIN_TOKEN},kapi-admin,kapi-admin,"system:masters"\n{BOB_TOKEN},bob,u-bob,"devs"\n'
    )
    authz = await create_authz(
        AuthzConfig(
            listen="127.0.0.1:0",
            storage=control_plane.addresses["storage"],
            token_file=str(tokens),
            tls=control_plane.pki.service("authz"),
            authorization_mode="AlwaysAllow",
        )
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "audit.log"
    auditor = options.build(options.AuditOptions(policy_file=str(policy), log_path=str(log)))
    assert auditor is not None
    config = GatewayConfig(
        listen="127.0.0.1:0",
        registry=control_plane.addresses["registry"],
        authz=f"127.0.0.1:{authz.port}",
        storage=control_plane.addresses["storage"],
        tls_cert_file="",
        tls_private_key_file="",
        peer_tls=control_plane.pki.service("gateway"),
    )
    peers = build_peers(config)
    await peers.authz.close()
    peers.authz = RefusingAuthz(config.authz, tls=config.peer_tls)
    peers.checks = [
        health.Check("authz", peers.authz.ready) if check.name == "authz" else check
        for check in peers.checks
    ]
    app = create_app(peers, audit=auditor)
    server = build_server(app, config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield Audited(f"http://127.0.0.1:{server.port}", control_plane.namespace, log)
    finally:
        server.should_exit = True
        await serving
        await app.state.hub.close()
        await auditor.close()
        await asyncio.gather(peers.registry.close(), peers.authz.close(), peers.storage.close())
        await authz.server.stop(None)
        await authz.close()


def new_id() -> str:
    return f"audit-{uuid.uuid4().hex[:12]}"


def without_times(event: dict[str, Any]) -> dict[str, Any]:
    """The event without its timestamps, which are checked for their shape."""
    out = dict(event)
    for key in ("requestReceivedTimestamp", "stageTimestamp"):
        stamp = out.pop(key)
        assert len(stamp) == len("2024-01-02T03:04:05.123456Z") and stamp.endswith("Z"), stamp
    return out


async def test_a_create_writes_received_and_complete_with_the_object(audited: Audited) -> None:
    ns, audit_id = audited.namespace, new_id()
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c1"},
        "data": {"k": "a&b"},
    }
    async with audited.client() as api:
        reply = await api.post(
            f"/api/v1/namespaces/{ns}/configmaps",
            json=body,
            headers={"Audit-ID": audit_id, "X-Forwarded-For": "10.1.2.3"},
        )
    assert reply.status_code == 201, reply.text
    assert reply.headers["audit-id"] == audit_id
    created = reply.json()
    received, complete = await audited.events(audit_id, 2)
    common = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": audit_id,
        "requestURI": f"/api/v1/namespaces/{ns}/configmaps",
        "verb": "create",
        "user": ADMIN,
        "sourceIPs": ["10.1.2.3", "127.0.0.1"],
        "userAgent": "audit-test/1.0",
    }
    assert without_times(received) == {
        **common,
        "stage": "RequestReceived",
        "objectRef": {"resource": "configmaps", "namespace": ns, "apiVersion": "v1"},
    }
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    stripped = {
        **created,
        "metadata": {k: v for k, v in created["metadata"].items() if k != "managedFields"},
    }
    assert without_times(complete) == {
        **common,
        "stage": "ResponseComplete",
        "objectRef": {"resource": "configmaps", "namespace": ns, "name": "c1", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 201},
        "requestObject": body,
        "responseObject": stripped,
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": "",
        },
    }
    assert complete["stageTimestamp"] >= complete["requestReceivedTimestamp"]
    line = next(
        raw
        for raw in audited.log.read_text().splitlines()
        if audit_id in raw and "ResponseComplete" in raw
    )
    assert '"k":"a\\u0026b"' in line  # Go's encoder escapes &, < and >


async def test_a_get_records_the_object_returned(audited: Audited) -> None:
    ns, audit_id = audited.namespace, new_id()
    async with audited.client() as api:
        await api.post(
            f"/api/v1/namespaces/{ns}/configmaps",
            json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "g"}},
        )
        reply = await api.get(
            f"/api/v1/namespaces/{ns}/configmaps/g", headers={"Audit-ID": audit_id}
        )
    assert reply.status_code == 200
    received, complete = await audited.events(audit_id, 2)
    assert (received["verb"], received["objectRef"]) == (
        "get",
        {"resource": "configmaps", "namespace": ns, "name": "g", "apiVersion": "v1"},
    )
    assert complete["responseStatus"] == {"metadata": {}, "code": 200}
    returned = reply.json()
    returned["metadata"].pop("managedFields", None)
    assert complete["responseObject"] == returned
    assert "requestObject" not in complete


async def test_a_watch_writes_response_started_too(audited: Audited) -> None:
    ns, audit_id = audited.namespace, new_id()
    async with audited.client() as api:
        reply = await api.get(
            f"/api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=1",
            headers={"Audit-ID": audit_id},
        )
    assert reply.status_code == 200
    events = await audited.events(audit_id, 3)
    assert [(e["stage"], e["verb"], e.get("responseStatus")) for e in events] == [
        ("RequestReceived", "watch", None),
        ("ResponseStarted", "watch", {"metadata": {}, "code": 200}),
        ("ResponseComplete", "watch", {"metadata": {}, "code": 200}),
    ]
    assert events[0]["requestURI"] == (
        f"/api/v1/namespaces/{ns}/configmaps?watch=1\u0026timeoutSeconds=1"
    )
    assert events[0]["objectRef"] == {"resource": "configmaps", "namespace": ns, "apiVersion": "v1"}


async def test_a_bad_token_is_one_response_started_event_without_a_user(
    audited: Audited,
) -> None:
    audit_id = new_id()
    async with audited.client("not-a-token") as api:
        reply = await api.get("/api/v1/namespaces", headers={"Audit-ID": audit_id})
    assert reply.status_code == 401
    await asyncio.sleep(0.2)  # nothing more comes
    [event] = await audited.events(audit_id, 1)
    assert without_times(event) == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": "ResponseStarted",
        "requestURI": "/api/v1/namespaces",
        "verb": "list",
        "user": {},
        "sourceIPs": ["127.0.0.1"],
        "userAgent": "audit-test/1.0",
        "objectRef": {"resource": "namespaces", "apiVersion": "v1"},
        "responseStatus": {
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        },
    }


async def test_a_refused_request_records_the_decision_and_its_reason(audited: Audited) -> None:
    ns, audit_id = audited.namespace, new_id()
    async with audited.client(BOB_TOKEN) as api:
        reply = await api.get(f"/api/v1/namespaces/{ns}/secrets/s", headers={"Audit-ID": audit_id})
    assert reply.status_code == 403
    received, complete = await audited.events(audit_id, 2)
    assert received["user"] == complete["user"] == BOB
    assert "annotations" not in received
    assert complete["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": reply.json()["message"],
        "reason": "Forbidden",
        "details": {"name": "s", "kind": "secrets"},
        "code": 403,
    }
    assert DENIED_REASON in reply.json()["message"]
    assert complete["annotations"] == {
        "authorization.k8s.io/decision": "forbid",
        "authorization.k8s.io/reason": DENIED_REASON,
    }
    assert "responseObject" not in complete  # Metadata level


async def test_an_impersonated_request_records_who_asked_and_as_whom(audited: Audited) -> None:
    ns, audit_id = audited.namespace, new_id()
    async with audited.client() as api:
        reply = await api.get(
            f"/api/v1/namespaces/{ns}/pods",
            headers={"Audit-ID": audit_id, "Impersonate-User": "jane", "Impersonate-Group": "qa"},
        )
    assert reply.status_code == 200, reply.text
    received, complete = await audited.events(audit_id, 2)
    assert received["user"] == complete["user"] == ADMIN
    assert "impersonatedUser" not in received  # RequestReceived precedes impersonation
    assert complete["impersonatedUser"] == {
        "username": "jane",
        "groups": ["qa", "system:authenticated"],
    }
    assert complete["level"] == "Metadata"
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"


async def test_omitted_stages_and_level_none_write_nothing(audited: Audited) -> None:
    ns, ready_id, sa_id = audited.namespace, new_id(), new_id()
    async with audited.client() as api:
        assert (await api.get("/readyz", headers={"Audit-ID": ready_id})).status_code == 200
        reply = await api.post(
            f"/api/v1/namespaces/{ns}/serviceaccounts",
            json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
            headers={"Audit-ID": sa_id},
        )
    assert reply.status_code == 201
    [complete] = await audited.events(sa_id, 1)
    assert (complete["stage"], complete["level"]) == ("ResponseComplete", "Request")
    assert complete["requestObject"]["metadata"] == {"name": "sa"}
    assert "responseObject" not in complete
    await asyncio.sleep(0.2)
    assert await audited.events(ready_id, 1) == []


async def test_a_patch_records_the_patch_as_sent(audited: Audited) -> None:
    ns, audit_id = audited.namespace, new_id()
    async with audited.client() as api:
        await api.post(
            f"/api/v1/namespaces/{ns}/configmaps",
            json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}},
        )
        reply = await api.patch(
            f"/api/v1/namespaces/{ns}/configmaps/p",
            content=b'{"data": {"x": "1"}}',
            headers={"Audit-ID": audit_id, "Content-Type": "application/merge-patch+json"},
        )
    assert reply.status_code == 200, reply.text
    _, complete = await audited.events(audit_id, 2)
    assert complete["verb"] == "patch"
    assert complete["requestObject"] == {"data": {"x": "1"}}
    assert complete["responseObject"]["data"] == {"x": "1"}
    assert "managedFields" not in complete["responseObject"]["metadata"]


@pytest.mark.parametrize(
    ("actions", "code"), [(["Audit"], 201), (["Deny", "Audit"], 422)], ids=["admitted", "refused"]
)
async def test_admission_audit_annotations_reach_the_event(
    audited: Audited, control_plane: ControlPlane, actions: list[str], code: int
) -> None:
    """A ValidatingAdmissionPolicy's auditAnnotations and its Audit action's
    ``validation.policy.admission.k8s.io/validation_failure`` are the event's
    annotations (kube: policy/validating/dispatcher.go) — of a refused request too, as
    kube's audit event keeps what admission annotated before it refused."""
    suffix = uuid.uuid4().hex[:6]
    policy, binding = f"audited-{suffix}", f"audited-binding-{suffix}"
    admission = "/apis/admissionregistration.k8s.io/v1"
    api = control_plane.api
    created = await api.post(
        f"{admission}/validatingadmissionpolicies",
        json={
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy},
            "spec": {
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ]
                },
                "validations": [{"expression": "!has(object.data)", "message": "has data"}],
                "auditAnnotations": [
                    {"key": "name", "valueExpression": "'named ' + object.metadata.name"}
                ],
            },
        },
    )
    assert created.status_code == 201, created.text
    created = await api.post(
        f"{admission}/validatingadmissionpolicybindings",
        json={
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": binding},
            "spec": {"policyName": policy, "validationActions": actions},
        },
    )
    assert created.status_code == 201, created.text
    ns = audited.namespace
    try:
        async with audited.client() as client:
            deadline = time.monotonic() + 15
            while True:
                audit_id = new_id()
                reply = await client.post(
                    f"/api/v1/namespaces/{ns}/configmaps",
                    json={
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"a-{audit_id}"},
                        "data": {"k": "v"},
                    },
                    headers={"Audit-ID": audit_id},
                )
                assert reply.status_code in (201, code), reply.text
                _, complete = await audited.events(audit_id, 2)
                annotations = complete.get("annotations", {})
                if f"{policy}/name" in annotations or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        assert reply.status_code == code, reply.text
        assert complete["responseStatus"]["code"] == code
        assert annotations[f"{policy}/name"] == f"named a-{audit_id}"
        assert json.loads(annotations["validation.policy.admission.k8s.io/validation_failure"]) == [
            {
                "message": "has data",
                "policy": policy,
                "binding": binding,
                "expressionIndex": 0,
                "validationActions": actions,
            }
        ]
    finally:
        await api.delete(f"{admission}/validatingadmissionpolicybindings/{binding}")
        await api.delete(f"{admission}/validatingadmissionpolicies/{policy}")


async def test_mutating_webhooks_reinvoked_and_annotated(
    audited: Audited, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """Two mutating webhooks, the first ``reinvocationPolicy: IfNeeded``, the second
    changing the object: the first is called again, seeing the change, and the event
    carries kube's ``mutation.webhook.admission.k8s.io/round_R_index_I`` annotations and,
    at level Request and above only, ``patch.webhook.admission.k8s.io/...`` with the
    patch (mutating/dispatcher.go, reinvocationcontext.go)."""
    from tests import admission_webhook

    suffix = uuid.uuid4().hex[:6]
    configuration_name = f"reinvoke-{suffix}"
    api, ns = control_plane.api, audited.namespace
    selector = {"matchLabels": {"reinvoke": suffix}}

    def hook(name: str, url: str, ca: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "clientConfig": {"url": url, "caBundle": ca},
            "rules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["configmaps", "secrets"],
                }
            ],
            "objectSelector": selector,
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            **extra,
        }

    ADMISSION = "/apis/admissionregistration.k8s.io/v1"
    path = f"{ADMISSION}/mutatingwebhookconfigurations"
    with admission_webhook.serve(tmp_path) as webhook:
        ca = webhook.ca_bundle_b64
        created = await api.post(
            path,
            json={
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": configuration_name},
                "webhooks": [
                    hook(
                        "observe.kapi.test",
                        f"{webhook.base_url}/allow",
                        ca,
                        reinvocationPolicy="IfNeeded",
                    ),
                    hook("mutate.kapi.test", f"{webhook.base_url}/mutate", ca),
                ],
            },
        )
        assert created.status_code == 201, created.text
        try:
            async with audited.client() as client:

                async def create(plural: str, kind: str) -> dict[str, str]:
                    """Create until the configuration has arrived: the event's
                    annotations."""
                    deadline = time.monotonic() + 15
                    while True:
                        audit_id = new_id()
                        reply = await client.post(
                            f"/api/v1/namespaces/{ns}/{plural}",
                            json={
                                "apiVersion": "v1",
                                "kind": kind,
                                "metadata": {
                                    "name": f"r-{audit_id}",
                                    "labels": {"reinvoke": suffix},
                                },
                            },
                            headers={"Audit-ID": audit_id},
                        )
                        assert reply.status_code == 201, reply.text
                        labels = reply.json()["metadata"]["labels"]
                        if labels.get("mutated-by") == "webhook":
                            events = await audited.events(audit_id, 2)
                            annotations: dict[str, str] = events[-1].get("annotations", {})
                            return annotations
                        assert time.monotonic() < deadline, "the configuration did not arrive"
                        await asyncio.sleep(0.1)

                annotations = await create("configmaps", "ConfigMap")  # RequestResponse
                observed = [
                    r for r in webhook.requests("/allow") if r["name"].startswith("r-audit-")
                ]
                name = observed[-1]["name"]
                first, again = [r for r in observed if r["name"] == name]
                assert "mutated-by" not in first["object"]["metadata"]["labels"]
                assert again["object"]["metadata"]["labels"]["mutated-by"] == "webhook"
                assert len([r for r in webhook.requests("/mutate") if r["name"] == name]) == 1

                def mutation(webhook_name: str, mutated: bool) -> str:
                    flag = "true" if mutated else "false"
                    return (
                        f'{{"configuration":"{configuration_name}","webhook":"{webhook_name}",'
                        f'"mutated":{flag}}}'
                    )

                prefix = "mutation.webhook.admission.k8s.io/"
                assert {k: v for k, v in annotations.items() if k.startswith(prefix)} == {
                    f"{prefix}round_0_index_0": mutation("observe.kapi.test", False),
                    f"{prefix}round_0_index_1": mutation("mutate.kapi.test", True),
                    f"{prefix}round_1_index_0": mutation("observe.kapi.test", False),
                }
                assert annotations["patch.webhook.admission.k8s.io/round_0_index_1"] == (
                    f'{{"configuration":"{configuration_name}","webhook":"mutate.kapi.test",'
                    '"patch":[{"op":"add","path":"/metadata/labels/mutated-by",'
                    '"value":"webhook"}],"patchType":"JSONPatch"}'
                )

                annotations = await create("secrets", "Secret")  # level Metadata
                assert annotations[f"{prefix}round_0_index_1"] == mutation("mutate.kapi.test", True)
                assert not [k for k in annotations if k.startswith("patch.webhook.")]

                # Refused by a validating webhook: the event still carries the mutating
                # webhooks' annotations (kube's admission audit handler records them
                # whether the plugin allowed or refused).
                validating = f"{ADMISSION}/validatingwebhookconfigurations"
                created = await api.post(
                    validating,
                    json={
                        "apiVersion": "admissionregistration.k8s.io/v1",
                        "kind": "ValidatingWebhookConfiguration",
                        "metadata": {"name": configuration_name},
                        "webhooks": [hook("deny.kapi.test", f"{webhook.base_url}/validate", ca)],
                    },
                )
                assert created.status_code == 201, created.text
                try:
                    deadline = time.monotonic() + 15
                    while True:
                        audit_id = new_id()
                        reply = await client.post(
                            f"/api/v1/namespaces/{ns}/configmaps",
                            json={
                                "apiVersion": "v1",
                                "kind": "ConfigMap",
                                "metadata": {
                                    "name": f"r-{audit_id}",
                                    "labels": {"reinvoke": suffix, "deny": "1"},
                                },
                            },
                            headers={"Audit-ID": audit_id},
                        )
                        if reply.status_code == 403:
                            break
                        assert time.monotonic() < deadline, "the refusal did not arrive"
                        await asyncio.sleep(0.1)
                    events = await audited.events(audit_id, 2)
                    refused = events[-1]
                    assert refused["responseStatus"]["code"] == 403
                    assert refused["annotations"][f"{prefix}round_0_index_1"] == mutation(
                        "mutate.kapi.test", True
                    )
                    assert refused["annotations"][
                        "patch.webhook.admission.k8s.io/round_0_index_1"
                    ].startswith(f'{{"configuration":"{configuration_name}"')
                finally:
                    await api.delete(f"{validating}/{configuration_name}")
        finally:
            await api.delete(f"{path}/{configuration_name}")


async def test_a_pod_refused_by_pod_security_records_the_policy_it_broke(
    audited: Audited, control_plane: ControlPlane
) -> None:
    """PodSecurity's ``enforce-policy`` annotation is on the audit event of the pod it
    refused (kube: pod-security-admission's response annotations reach the event of a
    denied request too)."""
    ns = f"restricted-{uuid.uuid4().hex[:6]}"
    label = {"pod-security.kubernetes.io/enforce": "restricted"}
    made = await control_plane.api.post(
        "/api/v1/namespaces",
        json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": label}},
    )
    assert made.status_code == 201, made.text
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [
                {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}
            ]
        },
    }
    try:
        async with audited.client() as client:
            deadline = time.monotonic() + 15
            while True:  # until authz's namespace informer has the labels
                audit_id = new_id()
                reply = await client.post(
                    f"/api/v1/namespaces/{ns}/pods", json=pod, headers={"Audit-ID": audit_id}
                )
                if reply.status_code != 201 or time.monotonic() > deadline:
                    break
                await control_plane.api.delete(f"/api/v1/namespaces/{ns}/pods/privileged")
                await asyncio.sleep(0.1)
        assert reply.status_code == 403, reply.text
        assert 'violates PodSecurity "restricted:latest"' in reply.json()["message"]
        _, complete = await audited.events(audit_id, 2)
        annotations = complete.get("annotations", {})
        assert annotations["pod-security.kubernetes.io/enforce-policy"] == "restricted:latest"
        assert complete["responseStatus"]["code"] == 403
    finally:
        await control_plane.api.delete(f"/api/v1/namespaces/{ns}")
