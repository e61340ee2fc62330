"""Gaps of the built-in API surface, as a user of `kapi up` sees them with the real kubectl:
canonical quantities, events.k8s.io validation, HPA behavior defaults, the node field
selector `spec.unschedulable=false`, and a CSR naming its requester.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    name = f"gap-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "ns", name)
    yield name
    cluster.kubectl("delete", "ns", name, "--wait=false", check=False)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def get_json(cluster: Cluster, *args: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return out


def test_quantities_read_back_in_canonical_form(cluster: Cluster, ns: str) -> None:
    manifest = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: sized, namespace: {ns}}}
spec:
  containers:
  - name: app
    image: nginx:1.27
    resources:
      requests: {{cpu: 1.5, memory: 0.5Gi}}
      limits: {{cpu: 2000m, memory: 1024Mi, ephemeral-storage: 100M}}
"""
    cluster.kubectl("create", "-f", "-", input=manifest)
    pod = yaml.safe_load(cluster.kubectl("get", "pod", "sized", "-n", ns, "-o", "yaml").stdout)
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources == {  # a limit without a request is also the request (kube's default)
        "requests": {"cpu": "1500m", "memory": "512Mi", "ephemeral-storage": "100M"},
        "limits": {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "100M"},
    }
    # A generator's Protobuf body goes through the same decoding.
    cluster.kubectl("create", "quota", "q", "-n", ns, "--hard=cpu=1.5,memory=1024Mi,pods=10")
    quota = get_json(cluster, "resourcequota", "q", "-n", ns)
    assert quota["spec"] == {"hard": {"cpu": "1500m", "memory": "1Gi", "pods": "10"}}


def test_events_k8s_io_writes_get_its_rules(cluster: Cluster, ns: str) -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "started", "namespace": ns},
        "eventTime": "2025-01-10T11:00:00.000000Z",
        "type": "Normal",
        "reason": "Started",
        "action": "Start",
        "reportingController": "example.com/controller",
        "reportingInstance": "controller-1",
        "regarding": {"kind": "Pod", "name": "p", "namespace": ns},
        "note": "started",
    }
    missing = {**event, "metadata": {"name": "untimed", "namespace": ns}}
    del missing["eventTime"]
    error = cluster.kubectl("create", "-f", "-", input=json.dumps(missing), check=False)
    assert error.returncode != 0
    assert 'The Event "untimed" is invalid: eventTime: Required value' in error.stderr
    cluster.kubectl("create", "-f", "-", input=json.dumps(event))
    shown = cluster.kubectl(
        "get", "events.v1.events.k8s.io", "started", "-n", ns, "-o",
        "jsonpath={.reportingController}/{.note}",
    ).stdout  # fmt: skip
    assert shown == "example.com/controller/started"
    # The classic core v1 form of the same untimed event is fine through core v1.
    classic = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "classic", "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "reason": "Started",
        "message": "started",
        "type": "Normal",
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(classic))


def test_hpa_behavior_defaults(cluster: Cluster, ns: str) -> None:
    manifest = f"""\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  maxReplicas: 10
  behavior:
    scaleDown:
      policies:
      - {{type: Pods, value: 1, periodSeconds: 60}}
"""
    cluster.kubectl("create", "-f", "-", input=manifest)
    spec = get_json(cluster, "horizontalpodautoscalers.v2.autoscaling", "web", "-n", ns)["spec"]
    assert isinstance(spec, dict)
    assert spec["minReplicas"] == 1
    assert spec["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    }
    v1 = cluster.kubectl(
        "get", "horizontalpodautoscalers.v1.autoscaling", "web", "-n", ns, "-o",
        "jsonpath={.spec.targetCPUUtilizationPercentage}",
    ).stdout  # fmt: skip
    assert v1 == "80"


def test_nodes_without_unschedulable_are_schedulable(cluster: Cluster) -> None:
    plain, cordoned = unique("plain"), unique("cordoned")
    for name in (plain, cordoned):
        cluster.kubectl("create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        ))  # fmt: skip
    try:
        cluster.kubectl("cordon", cordoned)
        schedulable = cluster.kubectl(
            "get", "nodes", "--field-selector", "spec.unschedulable=false", "-o", "name"
        ).stdout.split()
        assert f"node/{plain}" in schedulable
        assert f"node/{cordoned}" not in schedulable
        unschedulable = cluster.kubectl(
            "get", "nodes", "--field-selector", "spec.unschedulable=true", "-o", "name"
        ).stdout.split()
        assert f"node/{cordoned}" in unschedulable
        assert f"node/{plain}" not in unschedulable
    finally:
        cluster.kubectl("delete", "node", plain, cordoned, check=False)


def _csr_request() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def test_csr_names_the_requesting_user(cluster: Cluster) -> None:
    name = unique("alice")
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": _csr_request(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
            "username": "mallory",
            "groups": ["system:masters"],
        },
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(csr))
    try:
        stored = get_json(cluster, "csr", name)
        spec = stored["spec"]
        assert isinstance(spec, dict)
        assert spec["username"] == "kapi-admin"
        assert "system:masters" in spec["groups"]
        assert stored.get("status", {}) == {}
    finally:
        cluster.kubectl("delete", "csr", name, check=False)
