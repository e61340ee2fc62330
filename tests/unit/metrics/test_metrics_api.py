"""kapi's metrics server without a network: simulated usage from pods' requests, and the
metrics.k8s.io API as metrics-server answers it (kubectl top's reads), only to the front
proxy."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import httpx
import pytest

from services.metrics import registration, usage
from services.metrics.api import MetricsAPI

Obj = dict[str, Any]
FRONT_PROXY = {"subject": ((("commonName", "front-proxy-client"),),)}
NOW = 1_800_000_000.0  # a window boundary: 1800000000 / 15 = 120000000


def pod(name: str, *, node: str = "n1", phase: str = "Running", load: str | None = None,
        requests: Obj | None = None, namespace: str = "default") -> Obj:  # fmt: skip
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                 "labels": {"app": name}}  # fmt: skip
    if load is not None:
        meta["annotations"] = {usage.LOAD_ANNOTATION: load}
    resources = {"requests": requests} if requests is not None else {}
    return {
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": resources}]},
        "status": {"phase": phase},
    }


NODE = {"metadata": {"name": "n1", "labels": {"zone": "a"}}, "status": {}}


def test_quantities_as_apimachinery_reads_them() -> None:
    assert usage.quantity("500m") == Fraction(1, 2)
    assert usage.quantity("2") == 2
    assert usage.quantity("128Mi") == 128 * 2**20
    assert usage.quantity("1G") == 10**9
    assert usage.quantity("1e3") == 1000
    assert usage.quantity("lots") is None
    assert usage.cpu_text(Fraction(1, 4)) == "250000000n"
    assert usage.memory_text(Fraction(2**20)) == "1024Ki"


def test_a_container_uses_its_requests_times_the_load_within_five_percent() -> None:
    busy = pod("a", requests={"cpu": "1", "memory": "1Gi"})
    ((name, used),) = usage.containers(busy, load=0.5, window=7)
    assert name == "c"
    assert Fraction(475, 1000) <= used.cpu <= Fraction(525, 1000)
    assert 0.475 * 2**30 <= used.memory <= 0.525 * 2**30
    assert usage.containers(busy, load=0.5, window=7) == [(name, used)]  # one window, one value
    hot = pod("a", requests={"cpu": "1"}, load="0.9")
    ((_, hotter),) = usage.containers(hot, load=0.5, window=7)
    assert hotter.cpu > Fraction(85, 100)
    ((_, idle),) = usage.containers(pod("b"), load=0.5, window=7)
    assert (idle.cpu, idle.memory) == (usage.IDLE_CPU, usage.IDLE_MEMORY)


def test_only_running_pods_on_a_node_count() -> None:
    assert usage.running(pod("a"))
    assert not usage.running(pod("a", phase="Pending"))
    assert not usage.running(pod("a", node=""))
    node = usage.node_usage([pod("a", requests={"cpu": "1"})], load=0.5, window=1)
    assert node.cpu > usage.NODE_CPU_OVERHEAD + Fraction(47, 100)


def api(pods: list[Obj]) -> MetricsAPI:
    return MetricsAPI(
        lambda: [NODE], lambda: pods, allowed_names=("front-proxy-client",), clock=lambda: NOW
    )


def client(metrics: MetricsAPI, cert: Obj | None = FRONT_PROXY) -> httpx.AsyncClient:
    app = metrics.app()

    async def with_cert(scope: Any, receive: Any, send: Any) -> None:
        scope["state"] = {"peercert": cert}
        await app(scope, receive, send)

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=with_cert),
        base_url="https://metrics",
        headers={"X-Remote-User": "kubectl-user"},
    )


async def test_node_metrics_as_kubectl_top_reads_them() -> None:
    pods = [pod("a", requests={"cpu": "1", "memory": "1Gi"}), pod("b", phase="Succeeded")]
    async with client(api(pods)) as c:
        listed = (await c.get("/apis/metrics.k8s.io/v1beta1/nodes")).json()
        one = (await c.get("/apis/metrics.k8s.io/v1beta1/nodes/n1")).json()
        selected = await c.get("/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Db")
        missing = await c.get("/apis/metrics.k8s.io/v1beta1/nodes/n2")
    assert (listed["kind"], listed["apiVersion"]) == ("NodeMetricsList", "metrics.k8s.io/v1beta1")
    (item,) = listed["items"]
    assert item == one
    assert item["metadata"] == {
        "name": "n1",
        "creationTimestamp": "2027-01-15T08:00:00Z",
        "labels": {"zone": "a"},
    }
    assert (item["timestamp"], item["window"]) == ("2027-01-15T08:00:00Z", "15s")
    cpu = int(item["usage"]["cpu"].removesuffix("n"))
    assert 575_000_000 <= cpu <= 625_000_000  # 100m of the system's, ~500m of the pod's
    assert item["usage"]["memory"].endswith("Ki")
    assert selected.json()["items"] == []
    assert missing.status_code == 404
    assert missing.json()["message"] == 'nodes.metrics.k8s.io "n2" not found'


async def test_pod_metrics_per_namespace_and_container() -> None:
    pods = [
        pod("a", requests={"cpu": "200m"}),
        pod("b", namespace="other"),
        pod("c", phase="Pending"),
    ]
    async with client(api(pods)) as c:
        here = (await c.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")).json()
        everywhere = (await c.get("/apis/metrics.k8s.io/v1beta1/pods")).json()
        one = await c.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/a")
        pending = await c.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/c")
        table = await c.get(
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        )
    assert [i["metadata"]["name"] for i in here["items"]] == ["a"]
    assert sorted(i["metadata"]["name"] for i in everywhere["items"]) == ["a", "b"]
    assert one.json()["kind"] == "PodMetrics"
    ((container),) = one.json()["containers"]
    assert container["name"] == "c" and container["usage"]["cpu"].endswith("n")
    assert pending.status_code == 404  # no metrics for a pod that does not run
    assert [c["name"] for c in table.json()["columnDefinitions"]] == [
        "Name",
        "CPU",
        "Memory",
        "Window",
    ]


async def test_discovery_and_openapi_of_the_metrics_group() -> None:
    async with client(api([])) as c:
        aggregated = await c.get(
            "/apis",
            headers={
                "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            },
        )
        legacy = (await c.get("/apis/metrics.k8s.io/v1beta1")).json()
        openapi = (await c.get("/openapi/v3/apis/metrics.k8s.io/v1beta1")).json()
    assert "as=APIGroupDiscoveryList" in aggregated.headers["content-type"]
    (group,) = aggregated.json()["items"]
    resources = {r["resource"]: r["scope"] for r in group["versions"][0]["resources"]}
    assert resources == {"nodes": "Cluster", "pods": "Namespaced"}
    assert [(r["name"], r["kind"]) for r in legacy["resources"]] == [
        ("nodes", "NodeMetrics"),
        ("pods", "PodMetrics"),
    ]
    kinds = {
        s["x-kubernetes-group-version-kind"][0]["kind"]
        for s in openapi["components"]["schemas"].values()
        if "x-kubernetes-group-version-kind" in s
    }
    assert kinds == {"NodeMetrics", "PodMetrics"}


@pytest.mark.parametrize(
    "cert",
    [None, {}, {"subject": ((("commonName", "someone-else"),),)}],
)
async def test_only_the_front_proxy_is_believed(cert: Obj | None) -> None:
    async with client(api([]), cert) as c:
        refused = await c.get("/apis/metrics.k8s.io/v1beta1/nodes")
    assert refused.status_code == 401
    assert refused.json()["reason"] == "Unauthorized"


def test_what_it_registers_is_metrics_server_s() -> None:
    apiservice = registration.apiservice(b"CA")
    assert apiservice["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert apiservice["spec"]["service"] == {
        "namespace": "kube-system",
        "name": "metrics-server",
        "port": 443,
    }
    assert (apiservice["spec"]["groupPriorityMinimum"], apiservice["spec"]["versionPriority"]) == (
        100,
        100,
    )
    slice_ = registration.endpoint_slice("10.0.0.9", 4443)
    assert slice_["metadata"]["name"] == "metrics-server-10-0-0-9"
    assert slice_["ports"] == [{"name": "https", "port": 4443, "protocol": "TCP"}]
    assert registration.endpoint_slice("::1", 4443)["addressType"] == "IPv6"


def test_its_rbac_is_metrics_server_s_manifest() -> None:
    """kubernetes-sigs/metrics-server manifests/base/rbac.yaml: names, roles, subjects."""
    objects = {(o["kind"], o["metadata"]["name"]): o for _, _, o in registration.rbac_objects()}
    assert set(objects) == {
        ("ServiceAccount", "metrics-server"),
        ("ClusterRole", "system:aggregated-metrics-reader"),
        ("ClusterRole", "system:metrics-server"),
        ("ClusterRoleBinding", "system:metrics-server"),
        ("ClusterRoleBinding", "metrics-server:system:auth-delegator"),
        ("RoleBinding", "metrics-server-auth-reader"),
    }
    reader = objects["ClusterRole", "system:aggregated-metrics-reader"]
    for role in ("view", "edit", "admin"):
        assert (
            reader["metadata"]["labels"][f"rbac.authorization.k8s.io/aggregate-to-{role}"] == "true"
        )
    assert reader["rules"] == [
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"],
         "verbs": ["get", "list", "watch"]}
    ]  # fmt: skip
    auth_reader = objects["RoleBinding", "metrics-server-auth-reader"]
    assert auth_reader["metadata"]["namespace"] == "kube-system"
    assert auth_reader["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "extension-apiserver-authentication-reader",
    }
    subject = {"kind": "ServiceAccount", "name": "metrics-server", "namespace": "kube-system"}
    for (kind, _), o in objects.items():
        if kind.endswith("Binding"):
            assert o["subjects"] == [subject]
    assert registration.USER.username == "system:serviceaccount:kube-system:metrics-server"
    assert "system:masters" not in registration.USER.groups
