"""A Service's backends as kube's endpoints and endpointslice controllers compute them
(``endpoints_controller_test.go``, ``reconciler_test.go``, ``utils_test.go``): which pods
count, ready and not-ready addresses, publishNotReadyAddresses, terminating pods, named
target ports, hostnames, one slice per port set."""

from __future__ import annotations

from typing import Any

from services.controllers import endpoints

Obj = dict[str, Any]


def service(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            **spec,
        },
    }


def pod(
    name: str,
    ip: str,
    *,
    ready: bool = True,
    phase: str = "Running",
    port: int = 8080,
    deleting: bool = False,
    **spec: Any,
) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": "default",
        "uid": f"{name}-uid",
        "labels": {"app": "web"},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": port}]}],
            **spec,
        },
        "status": {
            "phase": phase,
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_only_selected_pods_with_an_ip_that_have_not_terminated() -> None:
    pods = [
        pod("a", "10.0.0.1"),
        pod("no-ip", ""),
        pod("done", "10.0.0.2", phase="Succeeded"),
        pod("failed", "10.0.0.3", phase="Failed"),
        {**pod("other", "10.0.0.4"), "metadata": {"name": "other", "labels": {"app": "db"}}},
    ]
    assert [p["metadata"]["name"] for p in endpoints.backends(service(), pods)] == ["a"]


def test_ready_and_not_ready_addresses_with_the_named_port_resolved() -> None:
    pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)]
    [subset] = endpoints.endpoints_subsets(service(), pods)
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]
    assert subset["addresses"][0]["targetRef"] == {
        "kind": "Pod",
        "namespace": "default",
        "name": "a",
        "uid": "a-uid",
    }
    assert subset["addresses"][0]["nodeName"] == "n1"


def test_terminating_pods_are_left_out_unless_not_ready_ones_are_published() -> None:
    pods = [pod("a", "10.0.0.1"), pod("gone", "10.0.0.2", deleting=True)]
    [subset] = endpoints.endpoints_subsets(service(), pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    [published] = endpoints.endpoints_subsets(service(publishNotReadyAddresses=True), pods)
    assert [a["ip"] for a in published["addresses"]] == ["10.0.0.1", "10.0.0.2"]


def test_pods_whose_ports_differ_are_in_different_subsets_and_slices() -> None:
    pods = [pod("a", "10.0.0.1", port=8080), pod("b", "10.0.0.2", port=9090)]
    subsets = endpoints.endpoints_subsets(service(), pods)
    assert sorted(s["ports"][0]["port"] for s in subsets) == [8080, 9090]
    groups = endpoints.slice_groups(service(), pods)
    assert [(ports[0]["port"], [e["addresses"] for e in eps]) for ports, eps in groups] == [
        (8080, [["10.0.0.1"]]),
        (9090, [["10.0.0.2"]]),
    ]


def test_slice_conditions() -> None:
    pods = [
        pod("ready", "10.0.0.1"),
        pod("unready", "10.0.0.2", ready=False),
        pod("terminating", "10.0.0.3", deleting=True),
    ]
    [(ports, eps)] = endpoints.slice_groups(service(), pods)
    assert ports == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert [e["conditions"] for e in eps] == [
        {"ready": True, "serving": True, "terminating": False},
        {"ready": False, "serving": False, "terminating": False},
        {"ready": False, "serving": True, "terminating": True},
    ]
    [(_, published)] = endpoints.slice_groups(service(publishNotReadyAddresses=True), pods)
    assert [e["conditions"]["ready"] for e in published] == [True, True, False]


def test_hostname_when_the_pod_s_subdomain_is_the_service() -> None:
    pods = [
        pod("db-0", "10.0.0.1", hostname="db-0", subdomain="web"),
        pod("x", "10.0.0.2", hostname="x", subdomain="elsewhere"),
    ]
    [subset] = endpoints.endpoints_subsets(service(), pods)
    assert [a.get("hostname") for a in subset["addresses"]] == ["db-0", None]
    [(_, eps)] = endpoints.slice_groups(service(), pods)
    assert [e.get("hostname") for e in eps] == ["db-0", None]
