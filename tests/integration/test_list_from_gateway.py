"""resourceVersion=0 lists answered from the objects the gateway's watch hub holds,
through all four services on a real etcd: the same bytes storage would give."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

HUB_KEY = "/v1/configmaps"


def configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": {"k": name},
    }


async def held_list(cp: ControlPlane, path: str, **params: str) -> dict[str, Any]:
    """An rv=0 list once the hub holds configmaps (the first one starts it holding)."""
    hub = cp.app.state.hub
    for _ in range(200):
        feed = hub.feeds.get(HUB_KEY)
        held = feed is not None and feed.state is not None
        reply = await cp.api.get(path, params={"resourceVersion": "0", **params})
        assert reply.status_code == 200, reply.text
        if held:
            return dict(reply.json())
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway never held the configmaps")


def names(listed: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in listed["items"]]


async def test_a_held_list_is_what_storage_gives_at_that_revision(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    for name, labels in (("b", {"app": "web"}), ("a", {}), ("c", {"app": "db"})):
        created = await cp.api.post(path, json=configmap(name, labels))
        assert created.status_code == 201, created.text

    held = await held_list(cp, path)
    revision = held["metadata"]["resourceVersion"]
    exact = await cp.api.get(
        path, params={"resourceVersion": revision, "resourceVersionMatch": "Exact"}
    )
    assert exact.status_code == 200
    # The very list storage reads from etcd at that revision.
    assert held == exact.json()
    assert names(held) == ["a", "b", "c"]
    # As kube-apiserver writes typed lists: items without kind/apiVersion (#3030).
    assert all("kind" not in i and "apiVersion" not in i for i in held["items"])

    labelled = await held_list(cp, path, labelSelector="app in (web,db)")
    assert names(labelled) == ["b", "c"]
    everywhere = await held_list(cp, "/api/v1/configmaps")
    exact = await cp.api.get(
        "/api/v1/configmaps",
        params={
            "resourceVersion": everywhere["metadata"]["resourceVersion"],
            "resourceVersionMatch": "Exact",
        },
    )
    assert everywhere == exact.json()
    assert set(names(held)) <= set(names(everywhere))


async def test_writes_reach_the_held_list(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    await held_list(cp, path)
    created = await cp.api.post(path, json=configmap("new"))
    assert created.status_code == 201
    written = created.json()["metadata"]["resourceVersion"]
    # Not older than the write: the hub answers once its feed has the write, or the
    # request goes upstream; either way the write is in the list.
    after = (await cp.api.get(path, params={"resourceVersion": written})).json()
    assert "new" in names(after)
    for _ in range(100):
        listed = await held_list(cp, path)
        if "new" in names(listed):
            break
        await asyncio.sleep(0.05)
    assert "new" in names(listed)
    assert int(listed["metadata"]["resourceVersion"]) >= int(written)
    deleted = await cp.api.delete(f"{path}/new")
    assert deleted.status_code == 200
    for _ in range(100):
        listed = await held_list(cp, path)
        if "new" not in names(listed):
            break
        await asyncio.sleep(0.05)
    assert "new" not in names(listed)


async def test_lists_the_hub_cannot_answer_go_upstream(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    for name in ("a", "b"):
        assert (await cp.api.post(path, json=configmap(name))).status_code == 201
    await held_list(cp, path)
    # At "0" a limit is ignored (kube 1.32's cacher does so; client-go's reflectors
    # list with limit=500 there): the whole list, no continue, from the held objects.
    whole = (await cp.api.get(path, params={"resourceVersion": "0", "limit": "1"})).json()
    assert names(whole) == ["a", "b"] and "continue" not in whole["metadata"]
    # Pages at a quorum read, field selectors and tables are storage's.
    page = (await cp.api.get(path, params={"limit": "1"})).json()
    assert len(page["items"]) == 1 and page["metadata"].get("continue")
    by_name = await cp.api.get(
        path, params={"resourceVersion": "0", "fieldSelector": "metadata.name=b"}
    )
    assert names(by_name.json()) == ["b"]
    bad = await cp.api.get(path, params={"resourceVersion": "0", "labelSelector": "a in (b"})
    assert bad.status_code == 400
    assert orjson.loads(bad.content)["reason"] == "BadRequest"


async def test_a_seeding_at_a_revision_is_read_page_by_page(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed that a watcher started is seeded not older than its start, in pages: the
    pages make the very list storage reads at that revision."""
    from services.gateway import feeds

    monkeypatch.setattr(feeds, "SEED_PAGE", 2)
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    for i in range(5):
        created = await cp.api.post(path, json=configmap(f"p{i}"))
        assert created.status_code == 201
    written = created.json()["metadata"]["resourceVersion"]
    table = await cp.app.state.types.get()
    lister = feeds.lister(cp.app.state.peers.registry, table.lookup("", "v1", "configmaps"))
    items, revision = await lister(written)
    assert revision >= int(written)
    exact = await cp.api.get(
        "/api/v1/configmaps",
        params={"resourceVersion": str(revision), "resourceVersionMatch": "Exact"},
    )
    # The hub holds objects typed, as gets and watch events carry them; list items
    # go without kind and apiVersion.
    typed = {"kind": "ConfigMap", "apiVersion": "v1"}
    assert [orjson.loads(i) for i in items] == [typed | i for i in exact.json()["items"]]
    assert {f"p{i}" for i in range(5)} <= {orjson.loads(i)["metadata"]["name"] for i in items}


async def test_a_get_at_zero_comes_from_the_held_objects(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    assert (await cp.api.post(path, json=configmap("g", {"app": "web"}))).status_code == 201
    await held_list(cp, path)
    quorum = await cp.api.get(f"{path}/g")
    at_zero = await cp.api.get(f"{path}/g", params={"resourceVersion": "0"})
    assert at_zero.status_code == 200
    assert at_zero.json() == quorum.json()
    missing = await cp.api.get(f"{path}/nope", params={"resourceVersion": "0"})
    assert missing.status_code == 404
    status = missing.json()
    assert (status["reason"], status["message"]) == ("NotFound", 'configmaps "nope" not found')
    assert status["details"] == {"name": "nope", "kind": "configmaps"}


async def test_what_the_hub_does_not_parse_storage_refuses(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    await held_list(cp, path)
    for value in ("-1", "abc", "+5"):
        for url in (path, f"{path}/x"):
            reply = await cp.api.get(url, params={"resourceVersion": value})
            assert reply.status_code == 400, (value, url, reply.text)
            assert reply.json()["reason"] == "BadRequest"


async def test_head_is_a_get_and_other_methods_are_a_405_status(
    control_plane: ControlPlane,
) -> None:
    # HEAD is a GET without a body, as kube's request info reads it.
    reply = await control_plane.api.head(f"/api/v1/namespaces/{control_plane.namespace}/pods")
    assert (reply.status_code, reply.content) == (200, b"")
    options = await control_plane.api.options("/api/v1/namespaces")
    assert options.status_code == 405
    assert options.json()["reason"] == "MethodNotAllowed"
