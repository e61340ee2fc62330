"""The connect subresources through HTTP: pods/log, exec, attach, portforward and the
proxies answer what kube-apiserver answers for a pod no kubelet serves (its own checks
from pkg/registry/core/pod/strategy.go, then a kubelet's words for a container that has
not started) instead of "the server could not find the requested resource"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration


async def make_pod(cp: ControlPlane, name: str, *containers: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": c, "image": "nginx:1.27"} for c in containers]},
    }
    reply = await cp.api.post(f"/api/v1/namespaces/{cp.namespace}/pods", json=body)
    assert reply.status_code == 201, reply.text


async def bind(cp: ControlPlane, name: str) -> None:
    reply = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/pods/{name}/binding",
        json={"metadata": {"name": name}, "target": {"kind": "Node", "name": "node-1"}},
    )
    assert reply.status_code == 201, reply.text


def status_of(reply: Any) -> tuple[int, str, str]:
    status = reply.json()
    assert status["kind"] == "Status"
    return reply.status_code, status.get("reason", ""), status["message"]


async def test_logs_of_an_unscheduled_pod_are_no_content(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "idle", "web")
    reply = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/pods/idle/log")
    assert (reply.status_code, reply.content) == (204, b"")


async def test_logs_of_a_scheduled_pod_say_it_is_waiting(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "starting", "web")
    await bind(cp, "starting")
    reply = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/pods/starting/log")
    assert status_of(reply) == (
        400,
        "BadRequest",
        'container "web" in pod "starting" is waiting to start: ContainerCreating',
    )
    previous = await cp.api.get(
        f"/api/v1/namespaces/{cp.namespace}/pods/starting/log", params={"previous": "true"}
    )
    assert status_of(previous)[2] == (
        'previous terminated container "web" in pod "starting" not found'
    )


@pytest.mark.parametrize("subresource", ["log", "exec", "attach"])
async def test_container_must_be_the_pod_s(control_plane: ControlPlane, subresource: str) -> None:
    cp = control_plane
    await make_pod(cp, "two", "a", "b")
    base = f"/api/v1/namespaces/{cp.namespace}/pods/two/{subresource}"
    method = cp.api.get if subresource == "log" else cp.api.post
    unnamed = await method(base)
    assert status_of(unnamed) == (
        400,
        "BadRequest",
        "a container name must be specified for pod two, choose one of: [a b]",
    )
    wrong = await method(base, params={"container": "c"})
    assert status_of(wrong) == (400, "BadRequest", "container c is not valid for pod two")


@pytest.mark.parametrize("subresource", ["exec", "attach", "portforward"])
async def test_streams_need_a_host(control_plane: ControlPlane, subresource: str) -> None:
    cp = control_plane
    await make_pod(cp, "nowhere", "web")
    path = f"/api/v1/namespaces/{cp.namespace}/pods/nowhere/{subresource}"
    for method in ("GET", "POST"):  # websocket clients GET, SPDY ones POST
        reply = await cp.api.request(method, path, params={"command": "ls", "stdout": "true"})
        assert status_of(reply) == (400, "BadRequest", "pod nowhere does not have a host assigned")


async def test_exec_into_a_scheduled_pod_says_it_is_waiting(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "booting", "web")
    await bind(cp, "booting")
    reply = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/pods/booting/exec", params={"command": "ls"}
    )
    assert status_of(reply)[2] == (
        'container "web" in pod "booting" is waiting to start: ContainerCreating'
    )


@pytest.mark.parametrize("subresource", ["log", "exec", "portforward", "proxy"])
async def test_missing_pod_is_404(control_plane: ControlPlane, subresource: str) -> None:
    reply = await control_plane.api.get(
        f"/api/v1/namespaces/{control_plane.namespace}/pods/ghost/{subresource}"
    )
    assert status_of(reply) == (404, "NotFound", 'pods "ghost" not found')


async def test_log_options_are_validated(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "tailed", "web")
    reply = await cp.api.get(
        f"/api/v1/namespaces/{cp.namespace}/pods/tailed/log", params={"tailLines": "-1"}
    )
    assert status_of(reply) == (
        422,
        "Invalid",
        'PodLogOptions "tailed" is invalid: tailLines: Invalid value: -1: '
        "must be greater than or equal to 0",
    )


async def test_proxies(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "web", "web")
    pod = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/pods/web:8080/proxy/metrics")
    assert status_of(pod) == (400, "BadRequest", "address not allowed")
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "front"},
        "spec": {"ports": [{"port": 80}]},
    }
    created = await cp.api.post(f"/api/v1/namespaces/{cp.namespace}/services", json=service)
    assert created.status_code == 201
    proxied = await cp.api.delete(f"/api/v1/namespaces/{cp.namespace}/services/front:80/proxy/x")
    assert status_of(proxied) == (
        503,
        "ServiceUnavailable",
        'no endpoints available for service "front:80"',
    )
    node = await cp.api.get("/api/v1/nodes/absent/proxy/stats")
    assert status_of(node) == (404, "NotFound", 'nodes "absent" not found')
    wrong = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/pods/a:b:c:d/proxy")
    assert status_of(wrong) == (400, "BadRequest", 'invalid pod request "a:b:c:d"')
