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
    assert conditions["scheduler"] == {
        "type": "Healthy",
        "status": "False",
        "error": "kapi runs no kube-scheduler",
    }


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
