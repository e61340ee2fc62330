"""What the real kubectl does with the subresources and documents kube serves and kapi
used to lack: re-applying a ``kind: List`` dump with client-side validation (which reads
/openapi/v2 as Protobuf), api-resources, componentstatuses, logs/exec/attach/port-forward
of a pod no kubelet runs, certificate approve, debug (ephemeral containers) and drain
(evictions)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = f"sub-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "ns", name)
    return name


def make_pod(cluster: Cluster, ns: str, name: str, **spec: object) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], **spec},
    }
    cluster.kubectl("-n", ns, "create", "-f", "-", input=yaml.safe_dump(pod))


def test_a_list_dump_applies_back_with_validation(cluster: Cluster, ns: str) -> None:
    for name in ("one", "two"):
        cluster.kubectl("-n", ns, "create", "configmap", name, "--from-literal=k=v")
    dump = cluster.kubectl("-n", ns, "get", "cm", "one", "two", "-o", "yaml").stdout
    assert yaml.safe_load(dump)["kind"] == "List"
    applied = cluster.kubectl("-n", ns, "apply", "--validate=strict", "-f", "-", input=dump)
    assert applied.stdout.splitlines() == ["configmap/one configured", "configmap/two configured"]
    # and client-side validation really reads the schemas: an unknown field is caught
    broken = yaml.safe_load(dump)
    broken["items"][0]["data2"] = {"x": "y"}
    refused = cluster.kubectl(
        "-n", ns, "apply", "--validate=strict", "-f", "-", input=yaml.safe_dump(broken), check=False
    )
    assert refused.returncode != 0
    assert 'unknown field "data2"' in refused.stderr


def test_api_resources_lists_bindings_and_componentstatuses(cluster: Cluster) -> None:
    rows = [line.split() for line in cluster.kubectl("api-resources").stdout.splitlines()]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["bindings"][1:] == ["v1", "true", "Binding"]
    assert by_name["componentstatuses"][1:] == ["cs", "v1", "false", "ComponentStatus"]


def _component_rows(cluster: Cluster) -> list[list[str]]:
    got = cluster.kubectl("get", "cs")
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in got.stderr
    return [line.split() for line in got.stdout.splitlines()]


def test_get_componentstatuses(cluster: Cluster) -> None:
    healthy = [["scheduler", "Healthy", "ok"], ["controller-manager", "Healthy", "ok"]]
    # Healthy while their leaders renew their Leases. On a machine loaded enough that a
    # leader missed its renew deadline, it exits and its restarted successor takes the
    # Lease again once the old one expires (15 s): wait for that rather than fail.
    deadline = time.monotonic() + 60
    rows = _component_rows(cluster)
    while not all(row in rows for row in healthy) and time.monotonic() < deadline:
        time.sleep(1)
        rows = _component_rows(cluster)
    assert rows[0] == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    assert ["etcd-0", "Healthy", "ok"] in rows
    for row in healthy:
        assert row in rows


def test_logs_exec_attach_port_forward_say_why(cluster: Cluster, ns: str) -> None:
    # A node selector no node matches keeps it unscheduled.
    make_pod(cluster, ns, "idle", nodeSelector={"kapi.dev/none": "x"})
    assert cluster.kubectl("-n", ns, "logs", "idle").stdout == ""  # unscheduled: no log yet
    # kube's 400 to the upgrade, as kubectl 1.32 (SPDY) and 1.37 (WebSocket first) print it.
    no_host = {
        "Error from server (BadRequest): pod idle does not have a host assigned",
        "error: unable to upgrade connection: pod idle does not have a host assigned",
    }
    assert cluster.kubectl_fails("-n", ns, "exec", "idle", "--", "ls") in no_host
    assert cluster.kubectl_fails("-n", ns, "attach", "idle").splitlines()[-1] in no_host
    forwarded = cluster.kubectl_fails("-n", ns, "port-forward", "pod/idle", "18080:80")
    assert forwarded == (
        "error: unable to forward port because pod is not running. Current status=Pending"
    )
    make_pod(cluster, ns, "placed", nodeName="node-1")
    assert cluster.kubectl_fails("-n", ns, "logs", "placed") == (
        'Error from server (BadRequest): container "web" in pod "placed" is waiting to '
        "start: ContainerCreating"
    )
    assert cluster.kubectl_fails("-n", ns, "logs", "ghost") == (
        f'error: error from server (NotFound): pods "ghost" not found in namespace "{ns}"'
    )


def test_certificate_approve(cluster: Cluster) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .sign(key, hashes.SHA256())
    )
    name = f"alice-{uuid.uuid4().hex[:6]}"
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(csr))
    approved = cluster.kubectl("certificate", "approve", name)
    assert approved.stdout.strip() == (
        f"certificatesigningrequest.certificates.k8s.io/{name} approved"
    )
    shown = json.loads(cluster.kubectl("get", "csr", name, "-o", "json").stdout)
    (condition,) = shown["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Approved",
        "True",
        "KubectlApprove",
    )
    again = cluster.kubectl("certificate", "approve", name)  # already approved: no change
    assert again.stdout.strip().endswith("approved")


def test_debug_adds_an_ephemeral_container(cluster: Cluster, ns: str) -> None:
    make_pod(cluster, ns, "debugged")
    out = cluster.kubectl("-n", ns, "debug", "debugged", "--image=busybox", "--target=web")
    assert "Defaulting debug container name to debugger-" in out.stderr + out.stdout
    pod = json.loads(cluster.kubectl("-n", ns, "get", "pod", "debugged", "-o", "json").stdout)
    (container,) = pod["spec"]["ephemeralContainers"]
    assert (container["image"], container["targetContainerName"]) == ("busybox", "web")


def test_drain_evicts_the_node_s_pods(cluster: Cluster, ns: str) -> None:
    node = f"node-{uuid.uuid4().hex[:6]}"
    cluster.kubectl(
        "create",
        "-f",
        "-",
        input=yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}),
    )
    make_pod(cluster, ns, "evicted", nodeName=node)
    # No kubelet runs this node, so a graceful deletion would wait for one: grace 0.
    drained = cluster.kubectl(
        "drain", node, "--force", "--grace-period=0", "--timeout=60s", timeout=90
    )
    assert f"node/{node} cordoned" in drained.stdout
    assert "pod/evicted evicted" in drained.stdout
    assert drained.stdout.strip().endswith(f"node/{node} drained")
    gone = cluster.kubectl("-n", ns, "get", "pod", "evicted", check=False)
    assert 'pods "evicted" not found' in gone.stderr
