"""PodSecurity through the whole control plane on real etcd, with an admission
configuration file as kube-apiserver's ``--admission-control-config-file`` (privileged
defaults, and exemptions for one namespace, one user and one runtime class).

kube: k8s.io/pod-security-admission admission/admission.go, response.go, api/helpers.go;
plugin/pkg/admission/security/podsecurity/admission.go.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kapi.user import UserInfo
from services.authz.client import AdmissionRequest, AuthzClient
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

DEADLINE = 15.0  # waiting for a label change to reach authz's informer, not a budget
P = "pod-security.kubernetes.io/"
EXEMPT_NS = f"psa-exempt-{uuid.uuid4().hex[:6]}"
EXEMPT_USER = "psa-exempt-user"
EXEMPT_CLASS = "psa-exempt-class"
MERGE = {"Content-Type": "application/merge-patch+json"}

CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  path: pod-security.yaml
"""
POD_SECURITY = f"""\
apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults:
  enforce: privileged
  enforce-version: latest
exemptions:
  usernames: [{EXEMPT_USER}]
  namespaces: [{EXEMPT_NS}]
  runtimeClasses: [{EXEMPT_CLASS}]
"""


@pytest.fixture
def authz_options(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where: Path = tmp_path_factory.mktemp("admission")
    (where / "pod-security.yaml").write_text(POD_SECURITY)
    (where / "admission.yaml").write_text(CONFIG)
    return {"admission_control_config_file": str(where / "admission.yaml")}


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not await check():
        assert loop.time() < end, "the namespace labels did not take effect"
        await asyncio.sleep(0.1)


def pod(name: str, *, privileged: bool = True, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


def warnings(reply: httpx.Response) -> list[str]:
    return reply.headers.get_list("warning")


async def label(api: httpx.AsyncClient, ns: str, labels: dict[str, Any], **params: str) -> Any:
    return await api.patch(
        f"/api/v1/namespaces/{ns}",
        json={"metadata": {"labels": labels}},
        headers=MERGE,
        params=params,
    )


async def refused_when_labelled(api: httpx.AsyncClient, ns: str, marker: str) -> httpx.Response:
    """Create privileged pods until the namespace's labels reach authz; the refusal."""
    n = 0
    found: list[httpx.Response] = []

    async def refused() -> bool:
        nonlocal n
        n += 1
        reply = await api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(f"probe-{n}"))
        found.append(reply)
        return reply.status_code == 403 and marker in reply.text

    await eventually(refused)
    return found[-1]


async def annotations(
    control_plane: ControlPlane, namespace: str, user: str, obj: dict[str, Any]
) -> dict[str, str]:
    """The audit annotations authz's validating phase gives a pod create."""
    authz = AuthzClient(control_plane.addresses["authz"], tls=control_plane.pki.service("gateway"))
    found: dict[str, str] = {}
    try:
        await authz.admit(
            "validating",
            AdmissionRequest("CREATE", UserInfo(user), "", "v1", "Pod", "pods", "", namespace, "x"),
            obj,
            audit_annotations=found,
        )
    finally:
        await authz.close()
    return found


async def test_invalid_labels_refused(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    name = f"psa-bad-{uuid.uuid4().hex[:6]}"
    reply = await api.post(
        "/api/v1/namespaces",
        json={"metadata": {"name": name, "labels": {P + "enforce": "strict"}}},
    )
    assert reply.status_code == 422, reply.text
    status = reply.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'Namespace "{name}" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    )
    assert status["details"] == {
        "name": name,
        "kind": "Namespace",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "strict": must be one of privileged, baseline, '
                "restricted",
                "field": "metadata.labels[pod-security.kubernetes.io/enforce]",
            }
        ],
    }
    # Updates too, dry-run or not.
    for params in ({}, {"dryRun": "All"}):
        reply = await label(api, ns, {P + "warn-version": "1.30"}, **params)
        assert reply.status_code == 422, reply.text
        assert reply.json()["message"] == (
            f'Namespace "{ns}" is invalid: metadata.labels[pod-security.kubernetes.io/'
            'warn-version]: Invalid value: "1.30": must be "latest" or "v1.x"'
        )
    stored = await api.get(f"/api/v1/namespaces/{ns}")
    assert P + "warn-version" not in (stored.json()["metadata"].get("labels") or {})


async def test_existing_pods_warned(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    for name in ("priv-b", "priv-a"):
        created = await api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name))
        assert created.status_code == 201, created.text
    reasons = (
        "privileged, allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, seccompProfile"
    )
    expected = [
        f'299 - "existing pods in namespace \\"{ns}\\" violate the new PodSecurity enforce '
        'level \\"restricted:latest\\""',
        f'299 - "priv-a (and 1 other pod): {reasons}"',
    ]
    # A server-side dry run shows what the change would say, and changes nothing.
    dry = await label(api, ns, {P + "enforce": "restricted"}, dryRun="All")
    assert dry.status_code == 200, dry.text
    assert warnings(dry) == expected
    stored = await api.get(f"/api/v1/namespaces/{ns}")
    assert P + "enforce" not in (stored.json()["metadata"].get("labels") or {})
    applied = await label(api, ns, {P + "enforce": "restricted"})
    assert applied.status_code == 200 and warnings(applied) == expected
    # Relaxing it checks nothing.
    relaxed = await label(api, ns, {P + "enforce": "baseline"})
    assert relaxed.status_code == 200 and warnings(relaxed) == []


async def test_enforce_version_pins_checks(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    root = pod("root", privileged=False)
    root["spec"]["containers"][0]["securityContext"] = {
        "runAsUser": 0,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    reply = await label(api, ns, {P + "enforce": "restricted", P + "enforce-version": "v1.22"})
    assert reply.status_code == 200, reply.text
    await refused_when_labelled(api, ns, 'violates PodSecurity \\"restricted:v1.22\\"')
    created = await api.post(f"/api/v1/namespaces/{ns}/pods", json=root)
    assert created.status_code == 201, created.text  # runAsUser=0 is checked from v1.23
    reply = await label(api, ns, {P + "enforce-version": "v1.23"})
    assert reply.status_code == 200
    # The existing root pod now violates: the warning says so.
    assert 'root: runAsUser=0"' in warnings(reply)[-1]
    root["metadata"]["name"] = "root-2"

    async def refused() -> bool:
        reply = await api.post(f"/api/v1/namespaces/{ns}/pods", json=root)
        return reply.status_code == 403

    await eventually(refused)
    reply = await api.post(f"/api/v1/namespaces/{ns}/pods", json=root)
    assert reply.json()["message"] == (
        'pods "root-2" is forbidden: violates PodSecurity "restricted:v1.23": runAsUser=0 '
        '(container "c" must not set runAsUser=0)'
    )


async def test_exemptions(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await label(api, ns, {P + "enforce": "baseline"})
    await refused_when_labelled(api, ns, 'violates PodSecurity \\"baseline:latest\\"')
    path = f"/api/v1/namespaces/{ns}/pods"
    by_class = await api.post(path, json=pod("by-class", runtimeClassName=EXEMPT_CLASS))
    assert by_class.status_code == 201, by_class.text
    by_user = await api.post(
        path,
        json=pod("by-user"),
        headers={"Impersonate-User": EXEMPT_USER, "Impersonate-Group": "system:masters"},
    )
    assert by_user.status_code == 201, by_user.text
    # The exempt namespace: its labels are accepted, warned as ignored, and not enforced.
    created = await api.post(
        "/api/v1/namespaces",
        json={"metadata": {"name": EXEMPT_NS, "labels": {P + "enforce": "restricted"}}},
    )
    assert created.status_code == 201, created.text
    try:
        assert warnings(created) == [
            f'299 - "namespace \\"{EXEMPT_NS}\\" is exempt from Pod Security, and the policy '
            '(enforce=restricted:latest) will be ignored"'
        ]
        reply = await api.post(f"/api/v1/namespaces/{EXEMPT_NS}/pods", json=pod("p"))
        assert reply.status_code == 201, reply.text
        # The audit annotations kube writes, as authz hands them to the gateway.
        for namespace, user, spec, reason in (
            (EXEMPT_NS, "alice", {}, "namespace"),
            (ns, EXEMPT_USER, {}, "user"),
            (ns, "alice", {"runtimeClassName": EXEMPT_CLASS}, "runtimeClass"),
        ):
            found = await annotations(control_plane, namespace, user, pod("x", **spec))
            assert found == {P + "exempt": reason}
        found = await annotations(control_plane, ns, "alice", pod("x", privileged=False))
        assert found == {P + "enforce-policy": "baseline:latest"}
        # audit: the violations of the audit level, the pod admitted.
        await label(api, ns, {P + "audit": "restricted"})

        async def audited() -> bool:
            found = await annotations(control_plane, ns, "alice", pod("x", privileged=False))
            return P + "audit-violations" in found

        await eventually(audited)
        found = await annotations(control_plane, ns, "alice", pod("x", privileged=False))
        assert found == {
            P + "enforce-policy": "baseline:latest",
            P + "audit-violations": 'would violate PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "c" must set '
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
            '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot '
            '!= true (pod or container "c" must set securityContext.runAsNonRoot=true), '
            'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type '
            'to "RuntimeDefault" or "Localhost")',
        }
    finally:
        await api.delete(f"/api/v1/namespaces/{EXEMPT_NS}")


async def test_pod_controllers_warned_never_refused(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await label(api, ns, {P + "enforce": "baseline"})
    await refused_when_labelled(api, ns, 'violates PodSecurity \\"baseline:latest\\"')
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "priv"},
        "spec": {
            "selector": {"matchLabels": {"app": "priv"}},
            "template": {
                "metadata": {"labels": {"app": "priv"}},
                "spec": pod("x")["spec"],
            },
        },
    }
    reply = await api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment)
    assert reply.status_code == 201, reply.text
    # warn follows the explicitly set, stricter enforce level.
    assert warnings(reply) == [
        '299 - "would violate PodSecurity \\"baseline:latest\\": privileged (container '
        '\\"c\\" must not set securityContext.privileged=true)"'
    ]
