"""``componentstatuses`` through HTTP: kube's three components, read when asked, with
etcd's health real (from the storage service) and kube's deprecation warning."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
DEPRECATED = '299 - "v1 ComponentStatus is deprecated in v1.19+"'


async def test_list_names_kube_s_components(control_plane: ControlPlane) -> None:
    reply = await control_plane.api.get("/api/v1/componentstatuses")
    assert reply.status_code == 200
    assert reply.headers["warning"] == DEPRECATED
    listed = reply.json()
    assert listed["kind"] == "ComponentStatusList"
    conditions = {i["metadata"]["name"]: i["conditions"][0] for i in listed["items"]}
    assert list(conditions) == ["scheduler", "controller-manager", "etcd-0"]
    assert conditions["etcd-0"] == {"type": "Healthy", "status": "True", "message": "ok"}
    # No scheduler runs here (the in-process control plane has none): no leader.
    assert conditions["scheduler"] == {
        "type": "Healthy",
        "status": "False",
        "error": "no kube-scheduler holds its lease kube-system/kube-scheduler",
    }


async def test_a_component_is_healthy_while_its_leader_renews_its_lease(
    control_plane: ControlPlane,
) -> None:
    from kapi.kube.leaderelection import micro_time

    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kube-controller-manager"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": micro_time()},
    }
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    for name in ("kube-controller-manager", "kube-scheduler"):  # other tests' (shared etcd)
        await control_plane.api.delete(f"{path}/{name}")
    assert (await control_plane.api.post(path, json=lease)).status_code == 201
    got = (await control_plane.api.get("/api/v1/componentstatuses/controller-manager")).json()
    assert got["conditions"][0] == {"type": "Healthy", "status": "True", "message": "ok"}
    lease["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"
    lease["metadata"]["name"] = "kube-scheduler"
    assert (await control_plane.api.post(path, json=lease)).status_code == 201
    stale = (await control_plane.api.get("/api/v1/componentstatuses/scheduler")).json()
    assert stale["conditions"][0] == {
        "type": "Healthy",
        "status": "False",
        "error": "kube-scheduler leader a last renewed its lease at 2020-01-01T00:00:00.000000Z",
    }
    for name in ("kube-controller-manager", "kube-scheduler"):
        await control_plane.api.delete(f"{path}/{name}")


async def test_get_and_table(control_plane: ControlPlane) -> None:
    api = control_plane.api
    etcd = (await api.get("/api/v1/componentstatuses/etcd-0")).json()
    assert (etcd["kind"], etcd["metadata"]["name"]) == ("ComponentStatus", "etcd-0")
    table = (await api.get("/api/v1/componentstatuses", headers={"Accept": TABLE})).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Message", "Error"]
    assert table["rows"][2]["cells"] == ["etcd-0", "Healthy", "ok", ""]
    missing = await api.get("/api/v1/componentstatuses/kubelet")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'componentstatuses "kubelet" not found'


async def test_component_statuses_are_read_only(control_plane: ControlPlane) -> None:
    reply = await control_plane.api.post(
        "/api/v1/componentstatuses",
        json={"apiVersion": "v1", "kind": "ComponentStatus", "metadata": {"name": "x"}},
    )
    assert reply.status_code == 405
