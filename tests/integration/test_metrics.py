"""``GET /metrics``: kube-apiserver's metrics from every service, merged by the gateway,
read with prometheus-client's own parser after a known sequence of requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kapi import errors
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(cp: ControlPlane) -> tuple[str, Samples]:
    reply = await cp.api.get("/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return reply.text, samples


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """The one series of ``metric`` whose labels include ``labels`` (0 if there is none)."""
    found = [v for (n, ls), v in samples.items() if n == metric and set(labels.items()) <= ls]
    assert len(found) <= 1, f"{metric} {labels}: {len(found)} series"
    return found[0] if found else 0.0


def series(samples: Samples, metric: str, /, **labels: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == metric and set(labels.items()) <= ls]


CONFIGMAPS = {"group": "", "version": "v1", "resource": "configmaps", "subresource": ""}
REQUEST = {**CONFIGMAPS, "component": "apiserver", "dry_run": ""}


async def test_requests_are_counted_with_kube_labels(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "1"}}
    _, before = await scrape(cp)

    assert (await cp.api.post(path, json=body)).status_code == 201
    assert (await cp.api.post(path, json=body)).status_code == 409
    dry = await cp.api.post(
        path, params={"dryRun": "All"}, json={**body, "metadata": {"name": "d"}}
    )
    assert dry.status_code == 201
    assert (await cp.api.get(path)).status_code == 200
    assert (await cp.api.get(f"{path}/m")).status_code == 200
    assert (await cp.api.get(f"{path}/missing")).status_code == 404
    apply = await cp.api.patch(
        f"{path}/m?fieldManager=t",
        content=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"},"data":{"b":"2"}}',
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert apply.status_code == 200, apply.text
    watch = await cp.api.get(path, params={"watch": "1", "timeoutSeconds": "1"})
    assert watch.status_code == 200 and b'"ADDED"' in watch.content
    assert (await cp.api.get("/api/v1/nonexistents")).status_code == 404
    assert (await cp.api.get("/readyz")).status_code == 200
    text, after = await scrape(cp)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "apiserver_request_total"
    # A create: POST, scope resource, its code; a second one's 409 is counted alike.
    assert delta(total, **REQUEST, verb="POST", scope="resource", code="201") >= 1
    assert delta(total, **REQUEST, verb="POST", scope="resource", code="409") == 1
    assert delta(total, **{**REQUEST, "dry_run": "All"}, verb="POST", code="201") == 1
    # A list of a namespace, a get of one object (found and not), a server-side apply.
    assert delta(total, **REQUEST, verb="LIST", scope="namespace", code="200") == 1
    assert delta(total, **REQUEST, verb="GET", scope="resource", code="200") == 1
    assert delta(total, **REQUEST, verb="GET", scope="resource", code="404") == 1
    assert delta(total, **REQUEST, verb="APPLY", scope="resource", code="200") == 1
    # A watch is counted when it ends, by its verb.
    assert delta(total, **REQUEST, verb="WATCH", scope="namespace", code="200") == 1
    # What no route serves is not counted: no series for a resource that does not exist.
    assert series(after, total, resource="nonexistents") == []
    # Health endpoints are counted by path, without a component, as kube's healthz.go.
    readyz = {"verb": "GET", "subresource": "/readyz", "component": "", "code": "200"}
    assert delta(total, **readyz) == 1

    duration = "apiserver_request_duration_seconds"
    labels = {**REQUEST, "verb": "POST", "scope": "resource"}
    assert delta(f"{duration}_count", **labels) >= 2
    assert value(after, f"{duration}_bucket", **labels, le="+Inf") == value(
        after, f"{duration}_count", **labels
    )
    # kube's buckets, written as Go writes them.
    bounds = {s["le"] for s in series(after, f"{duration}_bucket", **labels)}
    assert {"0.005", "0.025", "1", "60", "+Inf"} <= bounds and len(bounds) == 24
    sizes = "apiserver_response_sizes"
    listed = {**CONFIGMAPS, "component": "apiserver", "verb": "LIST", "scope": "namespace"}
    assert delta(f"{sizes}_count", **listed) == 1
    assert "dry_run" not in series(after, f"{sizes}_count", **listed)[0]
    assert delta(f"{sizes}_count", **{**listed, "verb": "POST"}) == 0  # reads only

    # Authentication and authorization, once per request; kube's counter names as kube
    # writes them (the parser adds ``_total`` to a counter's samples when reading).
    assert "# TYPE authentication_attempts counter\n" in text
    assert "# TYPE authenticated_user_requests counter\n" in text
    assert delta("authentication_attempts_total", result="success") >= 10
    assert delta("authenticated_user_requests_total", username="other") >= 10
    assert delta("authorization_attempts_total", result="allowed") >= 10
    assert value(after, "authentication_duration_seconds_count", result="success") > 0
    assert {s["request_kind"] for s in series(after, "apiserver_current_inflight_requests")} == {
        "readOnly",
        "mutating",
    }


async def test_a_running_watch_is_a_long_running_request(control_plane: ControlPlane) -> None:
    cp = control_plane
    gauge = "apiserver_longrunning_requests"
    labels = {**CONFIGMAPS, "component": "apiserver", "verb": "WATCH", "scope": "namespace"}
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    client = httpx.AsyncClient(base_url=cp.base_url, headers=cp.api.headers)
    async with client, client.stream("GET", path, params={"watch": "1"}) as watching:
        assert watching.status_code == 200
        _, during = await scrape(cp)
        assert value(during, gauge, **labels) == 1
    for _ in range(50):  # the server notices the client is gone
        _, after = await scrape(cp)
        if value(after, gauge, **labels) == 0:
            break
        await asyncio.sleep(0.1)
    assert value(after, gauge, **labels) == 0


async def eventually(cp: ControlPlane, metric: str, least: float, **labels: str) -> Samples:
    """A scrape once ``metric{labels}`` has reached ``least`` (what the caches learn from
    etcd's watch arrives a moment after the write)."""
    for _ in range(100):
        _, samples = await scrape(cp)
        if value(samples, metric, **labels) >= least:
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"{metric} {labels} stayed below {least}")


async def test_storage_objects_and_etcd_requests(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    # A list at resourceVersion=0 has storage keep a watch cache of configmaps.
    assert (await cp.api.get(path, params={"resourceVersion": "0"})).status_code == 200
    cached = {"resource": "configmaps"}
    before = await eventually(cp, "apiserver_watch_cache_initializations_total", 1, **cached)
    for i in range(3):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}}
        assert (await cp.api.post(path, json=body)).status_code == 201
    assert (await cp.api.get(f"{path}/c0")).status_code == 200
    received = "apiserver_watch_cache_events_received_total"
    least = value(before, received, **cached) + 3
    after = await eventually(cp, received, least, **cached)
    everywhere = (await cp.api.get("/api/v1/configmaps")).json()["items"]

    # As many as etcd holds (this session's other tests' too), from the watch cache.
    assert value(after, "apiserver_storage_objects", resource="configmaps") == len(everywhere)
    newest = max(int(o["metadata"]["resourceVersion"]) for o in everywhere)
    assert value(after, "apiserver_watch_cache_resource_version", **cached) >= newest
    etcd = {"operation": "create", "type": "configmaps"}
    total, count = "etcd_requests_total", "etcd_request_duration_seconds_count"
    created = value(after, total, **etcd) - value(before, total, **etcd)
    assert created >= 3
    assert value(after, count, **etcd) - value(before, count, **etcd) == created
    bucket = "etcd_request_duration_seconds_bucket"
    assert value(after, bucket, **etcd, le="60") == value(after, count, **etcd)
    assert value(after, "etcd_request_errors_total", **etcd) == 0

    # A group's resource is labelled as kube's GroupResource.String(); a resource no
    # watch cache holds is counted in etcd (listWithCount).
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}}
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{cp.namespace}/leases"
    assert (await cp.api.post(leases, json=lease)).status_code == 201
    _, later = await scrape(cp)
    kind = "leases.coordination.k8s.io"
    assert value(later, total, operation="create", type=kind) >= 1
    assert value(later, total, operation="listWithCount", type=kind) >= 1
    all_leases = (await cp.api.get("/apis/coordination.k8s.io/v1/leases")).json()["items"]
    assert value(later, "apiserver_storage_objects", resource=kind) == len(all_leases)


async def test_access_control_and_runtime_metrics(control_plane: ControlPlane) -> None:
    cp = control_plane
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    assert (await cp.api.post(path, json=body)).status_code == 201
    # system:masters are allowed before RBAC is asked (kube's privileged-group
    # authorizer, not counted); an anonymous /healthz is RBAC's to allow.
    async with httpx.AsyncClient(base_url=cp.base_url) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200
    _, samples = await scrape(cp)
    allowed = {"type": "RBAC", "name": "rbac", "decision": "allowed"}
    assert value(samples, "apiserver_authorization_decisions_total", **allowed) >= 1
    plugin = {"name": "NamespaceLifecycle", "type": "admit", "operation": "CREATE"}
    name = "apiserver_admission_controller_admission_duration_seconds_count"
    assert value(samples, name, **plugin, rejected="false") >= 1
    step = "apiserver_admission_step_admission_duration_seconds_count"
    assert value(samples, step, type="admit", operation="CREATE", rejected="false") >= 1
    assert value(samples, step, type="validate", operation="CREATE", rejected="false") >= 1
    # A create in a namespace that does not exist is rejected by NamespaceLifecycle.
    gone = "/api/v1/namespaces/no-such-namespace/configmaps"
    assert (await cp.api.post(gone, json=body)).status_code == 404
    _, rejected = await scrape(cp)
    assert value(rejected, name, **plugin, rejected="true") >= 1
    assert value(rejected, step, type="admit", operation="CREATE", rejected="true") >= 1
    # Each process's runtime metrics, told apart by service.
    services = {s["service"] for s in series(samples, "process_cpu_seconds_total")}
    assert services == {"gateway", "storage", "authz", "registry"}


async def test_metrics_need_authorization(control_plane: ControlPlane) -> None:
    """RBAC lets system:monitoring (and the admin) read /metrics, not the anonymous user."""
    async with httpx.AsyncClient(base_url=control_plane.base_url) as anonymous:
        reply = await anonymous.get("/metrics")
    assert reply.status_code == 403
    assert (
        reply.json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/metrics"'
    )


async def test_a_service_that_is_down_leaves_the_others(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway serves what it can read: its own and the reachable services'."""

    async def unreachable() -> bytes:
        raise errors.service_unavailable("the authz service is not reachable")

    monkeypatch.setattr(control_plane.app.state.peers.authz, "metrics", unreachable)
    _, samples = await scrape(control_plane)
    services = {s["service"] for s in series(samples, "process_cpu_seconds_total")}
    assert services == {"gateway", "storage", "registry"}
    assert series(samples, "apiserver_authorization_decisions_total") == []
