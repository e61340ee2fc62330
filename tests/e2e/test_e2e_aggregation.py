"""API aggregation end to end: ``kapi up``, the real kubectl, and an extension API server
started by the test (tests/sample_apiserver.py, the shape of Kubernetes' sample-apiserver).

The server runs on this machine's loopback, reached through a Service and a hand-made
EndpointSlice naming 127.0.0.1 (which ``kapi up`` accepts and kube refuses), registered
by an APIService; kubectl lists, creates, watches, explains and deletes its flunders
through kapi; the server sees the caller in the front proxy's headers; stopping it makes
the APIService unavailable with kube's reason and messages, and starting it again brings
it back. ``kubectl get apiservices`` shows the local ones.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kapi import tokens
from tests.e2e.conftest import Cluster
from tests.sample_apiserver import GROUP, VERSION, SampleAPIServer

pytestmark = pytest.mark.e2e

NAME = f"{VERSION}.{GROUP}"
NAMESPACE = "wardle"


def registration(server: SampleAPIServer) -> str:
    """The Service, its EndpointSlice (127.0.0.1, as a local kapi up accepts) and the
    APIService, as an extension server's manifests register it."""
    documents = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": NAMESPACE},
            "spec": {"ports": [{"port": 443, "targetPort": server.port}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "api-local",
                "namespace": NAMESPACE,
                "labels": {"kubernetes.io/service-name": "api"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"]}],
            "ports": [{"port": server.port}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": NAME},
            "spec": {
                "group": GROUP,
                "version": VERSION,
                "service": {"namespace": NAMESPACE, "name": "api"},
                "caBundle": base64.b64encode(server.ca_bundle).decode(),
                "groupPriorityMinimum": 1000,
                "versionPriority": 15,
            },
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})


FLUNDER = """
apiVersion: wardle.example.com/v1alpha1
kind: Flunder
metadata:
  name: {name}
  namespace: wardle
spec:
  reference: {reference}
"""


@pytest.fixture(scope="module")
def sample(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleAPIServer]:
    """The extension server, trusting what kube-system/extension-apiserver-authentication
    says (as a real one reads it), registered."""
    found = cluster.kubectl(
        "-n", "kube-system", "get", "configmap", "extension-apiserver-authentication", "-o", "json"
    )
    data = json.loads(found.stdout)["data"]
    server = SampleAPIServer(
        tmp_path_factory.mktemp("wardle"),
        requestheader_ca=data["requestheader-client-ca-file"],
        allowed_names=json.loads(data["requestheader-allowed-names"]),
        namespace=NAMESPACE,
    )
    server.start()
    try:
        cluster.kubectl("apply", "-f", "-", input=registration(server))
        cluster.kubectl("wait", "--for=condition=Available", f"apiservice/{NAME}", "--timeout=60s")
        yield server
    finally:
        cluster.kubectl("delete", "apiservice", NAME, "--ignore-not-found", check=False)
        server.stop()


def fresh(cluster: Cluster, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl with an empty discovery cache (the cluster's own keeps discovery 6 h)."""
    return subprocess.run(
        [cluster.kubectl_path, f"--kubeconfig={cluster.kubeconfig}", f"--cache-dir={tmp}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def eventually(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_get_apiservices_shows_the_local_ones(cluster: Cluster) -> None:
    lines = cluster.kubectl("get", "apiservices").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    for name in ("v1.", "v1.apps", "v1.batch", "v2.autoscaling", "v1.apiextensions.k8s.io"):
        assert rows[name] == ["Local", "True"], name
    described = json.loads(cluster.kubectl("get", "apiservice", "v1.apps", "-o", "json").stdout)
    assert described["metadata"]["labels"] == {
        "kube-aggregator.kubernetes.io/automanaged": "onstart"
    }


def test_the_extension_api_is_served_through_kapi(
    cluster: Cluster, sample: SampleAPIServer, tmp_path: Path
) -> None:
    row = cluster.kubectl("get", "apiservice", NAME).stdout.splitlines()[1].split()
    assert row[:3] == [NAME, "wardle/api", "True"]
    resources = fresh(cluster, tmp_path / "c1", "api-resources", "--api-group", GROUP)
    assert resources.returncode == 0, resources.stderr
    (listed,) = [line.split() for line in resources.stdout.splitlines()[1:]]
    assert listed == ["flunders", f"{GROUP}/{VERSION}", "true", "Flunder"]

    made = cluster.kubectl("create", "-f", "-", input=FLUNDER.format(name="f1", reference="x"))
    assert made.stdout.strip() == "flunder.wardle.example.com/f1 created"
    # The caller as kapi authenticated it, in the front proxy's headers.
    (seen,) = [s for s in sample.seen if s.method == "POST"]
    assert seen.user == tokens.ADMIN_USER
    assert set(seen.groups) == {"system:masters", "system:authenticated"}
    got = cluster.kubectl("-n", NAMESPACE, "get", "flunders").stdout.splitlines()
    assert got[0].split() == ["NAME", "CREATED", "AT"]
    assert got[1].split()[0] == "f1"
    as_json = json.loads(
        cluster.kubectl("-n", NAMESPACE, "get", "flunder", "f1", "-o", "json").stdout
    )
    assert as_json["spec"] == {"reference": "x"}

    # kubectl validates on the server: the extension's OpenAPI v3 says it takes
    # fieldValidation, so an unknown field is the server's strict decoding error.
    strict = cluster.kubectl(
        "create",
        "-f",
        "-",
        input=FLUNDER.format(name="f2", reference="y") + "  bogus: 1\n",
        check=False,
    )
    assert strict.returncode == 1
    assert strict.stderr.strip().endswith(
        'Flunder in version "v1alpha1" cannot be handled as a Flunder: strict decoding error: '
        'unknown field "spec.bogus"'
    ), strict.stderr
    explained = cluster.kubectl("explain", "flunders.spec").stdout
    assert "KIND:       Flunder" in explained
    assert "reference\t<string>" in explained

    gets = len([s for s in sample.seen if s.method == "GET"])
    watch = cluster.popen("-n", NAMESPACE, "get", "flunders", "-w", "--output-watch-events")
    try:
        # The list, then the watch: two more GETs reached the server.
        eventually(lambda: len([s for s in sample.seen if s.method == "GET"]) >= gets + 2, "watch")
        cluster.kubectl("create", "-f", "-", input=FLUNDER.format(name="f3", reference="z"))
        cluster.kubectl("-n", NAMESPACE, "delete", "flunder", "f3")
        time.sleep(1)
    finally:
        watch.terminate()
        out, _ = watch.communicate(timeout=10)
    events = [line.split()[:2] for line in out.splitlines()[1:]]
    assert ["ADDED", "f3"] in events and ["DELETED", "f3"] in events, out

    deleted = cluster.kubectl("-n", NAMESPACE, "delete", "flunder", "f1")
    assert deleted.stdout.strip() in (  # kubectl 1.37 names the namespace, 1.32 does not
        'flunder.wardle.example.com "f1" deleted',
        f'flunder.wardle.example.com "f1" deleted from {NAMESPACE} namespace',
    )
    assert cluster.kubectl("-n", NAMESPACE, "get", "flunders").stderr.strip() == (
        "No resources found in wardle namespace."
    )


def test_a_stopped_extension_server_is_unavailable_until_it_is_back(
    cluster: Cluster, sample: SampleAPIServer, tmp_path: Path
) -> None:
    cluster.kubectl("create", "-f", "-", input=FLUNDER.format(name="kept", reference="k"))
    sample.stop()
    raw = cluster.kubectl_fails("get", "--raw", f"/apis/{GROUP}/{VERSION}")
    # The proxy's plain "service unavailable" (or the dial error), in client-go's words.
    assert raw == (
        "Error from server (ServiceUnavailable): "
        "the server is currently unable to handle the request"
    )

    def unavailable() -> bool:
        row = cluster.kubectl("get", "apiservice", NAME).stdout.splitlines()[1].split()
        return row[2:4] == ["False", "(FailedDiscoveryCheck)"]

    eventually(unavailable, "FailedDiscoveryCheck")
    status = json.loads(cluster.kubectl("get", "apiservice", NAME, "-o", "json").stdout)["status"]
    (condition,) = status["conditions"]
    url = f"https://127.0.0.1:{sample.port}/apis/{GROUP}/{VERSION}"
    assert condition["message"] == (
        f'failing or missing response from {url}: Get "{url}": '
        f"dial tcp 127.0.0.1:{sample.port}: connect: connection refused"
    )
    # Aggregated discovery keeps the group-version, Stale: kubectl leaves it out.
    missing = fresh(cluster, tmp_path / "c2", "-n", NAMESPACE, "get", "flunders")
    assert missing.stderr.strip() == 'error: the server doesn\'t have a resource type "flunders"'

    sample.start()
    cluster.kubectl("wait", "--for=condition=Available", f"apiservice/{NAME}", "--timeout=60s")
    back = fresh(cluster, tmp_path / "c3", "-n", NAMESPACE, "get", "flunders", "-o", "name")
    assert back.stdout.split() == ["flunder.wardle.example.com/kept"]


POD = """
apiVersion: v1
kind: Namespace
metadata:
  name: top
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: top
  annotations:
    metrics.kapi.dev/load: "0.8"
spec:
  containers:
  - name: web
    image: nginx
    resources:
      requests: {cpu: "1", memory: 1Gi}
"""


def test_kubectl_top_through_kapi_s_metrics_server(cluster: Cluster) -> None:
    """kubectl top reads metrics.k8s.io, which kapi's metrics server serves behind its
    APIService: the scheduler puts the pod on the simulated node, which runs it, and the
    running pod uses its requests times the load its annotation asks for."""
    cluster.kubectl("apply", "-f", "-", input=POD)
    cluster.kubectl("-n", "top", "wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
    node = cluster.kubectl(
        "-n", "top", "get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"
    ).stdout.strip()
    cluster.kubectl(
        "wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io", "--timeout=60s"
    )
    row = cluster.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io").stdout.splitlines()[1]
    assert row.split()[1:3] == ["kube-system/metrics-server", "True"]

    nodes = cluster.kubectl("top", "node", node).stdout.splitlines()
    assert nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    name, cpu, cpu_share, memory, _ = nodes[1].split()
    assert name == node
    # 100m of the system's and 0.8 of the pod's core, give or take 5% (other tests'
    # pods on the node add theirs).
    assert int(cpu.removesuffix("m")) >= 840, nodes[1]
    assert cpu_share.endswith("%") and memory.endswith("Mi")

    pods = cluster.kubectl("-n", "top", "top", "pods", "--containers").stdout.splitlines()
    assert pods[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    pod, container, pod_cpu, pod_memory = pods[1].split()
    assert (pod, container) == ("web", "web")
    assert 760 <= int(pod_cpu.removesuffix("m")) <= 840, pods[1]
    assert 778 <= int(pod_memory.removesuffix("Mi")) <= 861, pods[1]  # 0.8 Gi ± 5%

    # Under RBAC: a ServiceAccount without rights gets kube's Forbidden from the
    # aggregator, before anything reaches the metrics server.
    cluster.kubectl("-n", "top", "create", "serviceaccount", "nobody")
    nobody = "system:serviceaccount:top:nobody"
    assert cluster.kubectl_fails("-n", "top", "top", "pods", f"--as={nobody}") == (
        f'Error from server (Forbidden): pods.metrics.k8s.io is forbidden: User "{nobody}" '
        'cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "top"'
    )
    assert cluster.kubectl_fails("top", "node", node, f"--as={nobody}") == (
        f'Error from server (Forbidden): nodes.metrics.k8s.io "{node}" is forbidden: User '
        f'"{nobody}" cannot get resource "nodes" in API group "metrics.k8s.io" at the '
        "cluster scope"
    )


BUSY = """
apiVersion: v1
kind: Namespace
metadata:
  name: busy
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: busy
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        metrics.kapi.dev/load: "0.9"
    spec:
      containers:
      - name: web
        image: nginx
        resources:
          requests: {cpu: 100m}
"""


def test_a_horizontal_pod_autoscaler_scales_on_the_metrics_api(cluster: Cluster) -> None:
    """The controller manager's horizontal-pod-autoscaler reads the pods' CPU through
    metrics.k8s.io: at 90% of their request against a 50% target, one replica becomes
    two (ceil(1.8 x 1)), then four (ceil(1.8 x 2), the default limit max(2 x 2, 4) and
    the maximum), with kube's event, conditions and kubectl's TARGETS column."""
    cluster.kubectl("apply", "-f", "-", input=BUSY)
    cluster.kubectl(
        "-n", "busy", "autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=4"
    )
    cluster.kubectl(
        "-n", "busy", "wait", "--for=jsonpath={.spec.replicas}=4", "deployment/web",
        "--timeout=150s",
    )  # fmt: skip
    cluster.kubectl(
        "-n", "busy", "wait", "--for=jsonpath={.status.desiredReplicas}=4", "hpa/web",
        "--timeout=60s",
    )  # fmt: skip
    got = cluster.kubectl("-n", "busy", "get", "hpa.v2.autoscaling", "web", "-o", "json")
    hpa = json.loads(got.stdout)
    conditions = {c["type"]: (c["status"], c["reason"]) for c in hpa["status"]["conditions"]}
    assert conditions["ScalingActive"] == ("True", "ValidMetricFound")
    assert conditions["ScalingLimited"][0] in ("True", "False")
    [metric] = hpa["status"]["currentMetrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 80 <= metric["resource"]["current"]["averageUtilization"] <= 100
    row = cluster.kubectl("-n", "busy", "get", "hpa", "web").stdout.splitlines()[1].split()
    assert row[:2] == ["web", "Deployment/web"]
    assert row[2] == "cpu:" and row[3].endswith("%/50%"), row  # TARGETS: "cpu: 90%/50%"
    assert row[4:6] == ["1", "4"], row  # MINPODS, MAXPODS
    events = cluster.kubectl(
        "-n", "busy", "get", "events", "--field-selector=reason=SuccessfulRescale",
        "-o", "jsonpath={.items[*].message}",
    ).stdout  # fmt: skip
    reason = "cpu resource utilization (percentage of request) above target"
    assert f"New size: 2; reason: {reason}" in events
