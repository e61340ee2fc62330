"""Consistent reads (no resourceVersion) through the real gateway on a real etcd, once
the gateway's watch hub holds configmaps: a get or a list must see every write made
before it, even one made behind the gateway's back (straight into etcd, with
kube-apiserver's key layout), whether the hub answers it or etcd does.

Storage as configured (this etcd, 3.5.1, gives no trusted progress notifications, so
storage confirms a revision from its own events only), and with progress notifications
trusted (forced on, as kapi does for etcd >= 3.5.13), so that writes to other resources
are confirmed by a progress request and the hub answers across them. And a gateway
whose feed lags (its events arrive late): the hub must wait for them, or leave the read
to etcd, never answer with what it has.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from services.gateway import resources
from services.storage import etcd_backend, storage_errors
from services.storage.etcd_backend import EtcdBackend
from tests.conftest import EtcdProcess
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

HUB_KEY = "/v1/configmaps"
ROUNDS = 30


@dataclass
class Reads:
    """How the gateway answered reads: from the hub, or through the registry (etcd)."""

    upstream: int = 0
    calls: list[str] = field(default_factory=list)


@dataclass
class Plane:
    cp: ControlPlane
    etcd: EtcdBackend  # writes behind the gateway's back
    reads: Reads
    trusted: bool

    @property
    def ns(self) -> str:
        return self.cp.namespace

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.ns}/configmaps"


MODES = ["as-configured", "progress-trusted", "progress-trusted-lagging"]
LAG = 0.02  # seconds each feed event is held back in the lagging modes


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The mode; storage's trust in progress notifications is set before it starts."""
    mode = str(request.param)
    if mode.startswith("progress-trusted"):
        monkeypatch.setattr(etcd_backend, "progress_supported", lambda version: True)
    return mode


async def lagging(events: AsyncIterator[Any], lag: float) -> AsyncIterator[Any]:
    """``events``, each given ``lag`` seconds after it arrived (order kept)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, Any] | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in events:
                queue.put_nowait((loop.time() + lag, event))
        except Exception as exc:
            queue.put_nowait(exc)
        else:
            queue.put_nowait(None)

    task = asyncio.create_task(pump())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            due, event = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            yield event
    finally:
        task.cancel()


@pytest.fixture
async def plane(
    mode: str, control_plane: ControlPlane, etcd: EtcdProcess, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Plane]:
    cp = control_plane
    registry = cp.app.state.peers.registry
    reads = Reads()
    if mode.endswith("-lagging"):
        open_watch = registry.open_watch

        async def late_watch(request: Any) -> AsyncIterator[Any]:
            return lagging(await open_watch(request), LAG)

        monkeypatch.setattr(registry, "open_watch", late_watch)

    def counted(name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            reads.upstream += 1
            reads.calls.append(name)
            return await call(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(registry, "get", counted("get", registry.get))
    monkeypatch.setattr(registry, "list", counted("list", registry.list))
    behind = etcd.backend()
    try:
        yield Plane(cp, behind, reads, mode.startswith("progress-trusted"))
    finally:
        await behind.close()


def stored_value(kind: str, ns: str, name: str, **fields: Any) -> bytes:
    """An object as kapi stores it (no resourceVersion: etcd's mod revision is it)."""
    return orjson.dumps(
        {
            "kind": kind,
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            **fields,
        }
    )


def configmap_value(ns: str, name: str, **data: str) -> bytes:
    return stored_value("ConfigMap", ns, name, data=data)


def secret_value(ns: str, name: str) -> bytes:
    return stored_value("Secret", ns, name, type="Opaque", data={"k": "dg=="})


class Behind:
    """Configmaps and secrets written straight into etcd, remembered as expected."""

    def __init__(self, plane: Plane) -> None:
        self.etcd, self.ns = plane.etcd, plane.ns
        self.expected: dict[str, str] = {}  # name -> data["v"]
        self.last = 0  # revision of the last write, of any resource

    def key(self, name: str) -> str:
        return f"/registry/configmaps/{self.ns}/{name}"

    async def create(self, name: str, v: str) -> int:
        self.last = await self.etcd.create(self.key(name), configmap_value(self.ns, name, v=v))
        self.expected[name] = v
        return self.last

    async def update(self, name: str, v: str) -> int:
        kv = await self.etcd.get(self.key(name))
        obj = orjson.loads(kv.value)
        obj["data"] = {"v": v}
        self.last = await self.etcd.update(self.key(name), orjson.dumps(obj), kv.mod_revision)
        self.expected[name] = v
        return self.last

    async def delete(self, name: str) -> int:
        _, self.last = await self.etcd.delete(self.key(name))
        del self.expected[name]
        return self.last

    async def other(self, name: str) -> int:
        """A write to another resource: etcd's revision moves, configmaps do not."""
        key = f"/registry/secrets/{self.ns}/{name}"
        try:
            kv = await self.etcd.get(key)
        except storage_errors.KeyNotFound:
            self.last = await self.etcd.create(key, secret_value(self.ns, name))
        else:
            self.last = await self.etcd.update(key, secret_value(self.ns, name), kv.mod_revision)
        return self.last


async def held(plane: Plane) -> None:
    """Make the gateway hold configmaps: a consistent list starts it; wait until it does."""
    hub = plane.cp.app.state.hub
    for _ in range(200):
        reply = await plane.cp.api.get(plane.path)
        assert reply.status_code == 200, reply.text
        if hub.held(HUB_KEY) is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway never held the configmaps")


async def get_cm(plane: Plane, name: str) -> tuple[int, dict[str, Any]]:
    reply = await plane.cp.api.get(f"{plane.path}/{name}")
    return reply.status_code, reply.json()


async def list_cms(plane: Plane, **params: str) -> dict[str, Any]:
    reply = await plane.cp.api.get(plane.path, params=params)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def listed(body: dict[str, Any]) -> dict[str, str]:
    return {i["metadata"]["name"]: i["data"]["v"] for i in body["items"]}


def assert_not_found(status: int, body: dict[str, Any], name: str) -> None:
    assert status == 404, body
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'configmaps "{name}" not found',
        "reason": "NotFound",
        "details": {"name": name, "kind": "configmaps"},
        "code": 404,
    }


def assert_some_from_the_hub(plane: Plane, reads: int) -> None:
    """Where storage can confirm etcd's revision (progress requests), the hub answered
    reads: not every one went to etcd. (Without them, whether storage's cache has a
    write's event when asked is a race, and a read it cannot confirm goes to etcd.)"""
    if plane.trusted:
        assert plane.reads.upstream < reads, plane.reads.calls


async def test_a_get_sees_each_write_made_behind_the_gateway(plane: Plane) -> None:
    writes = Behind(plane)
    await writes.create("x", "0")
    await held(plane)
    plane.reads.upstream = 0
    reads = 0
    for i in range(1, ROUNDS + 1):
        rev = await writes.update("x", str(i))
        status, body = await get_cm(plane, "x")
        reads += 1
        assert status == 200, body
        assert (body["data"], body["metadata"]["resourceVersion"]) == ({"v": str(i)}, str(rev))

        rev = await writes.create(f"n{i}", str(i))
        status, body = await get_cm(plane, f"n{i}")
        reads += 1
        assert status == 200, body
        assert (body["data"], body["metadata"]["resourceVersion"]) == ({"v": str(i)}, str(rev))

        await writes.delete(f"n{i}")
        status, body = await get_cm(plane, f"n{i}")
        reads += 1
        assert_not_found(status, body, f"n{i}")
    assert_some_from_the_hub(plane, reads)


async def test_a_list_sees_each_write_made_behind_the_gateway(plane: Plane) -> None:
    writes = Behind(plane)
    for name in ("a", "b", "c"):
        await writes.create(name, "0")
    await held(plane)
    plane.reads.upstream = 0
    reads = 0
    for i in range(1, ROUNDS + 1):
        name = "abcde"[i % 5]
        if name not in writes.expected:
            rev = await writes.create(name, str(i))
        elif i % 3 == 0:
            rev = await writes.delete(name)
        else:
            rev = await writes.update(name, str(i))
        body = await list_cms(plane)
        reads += 1
        assert listed(body) == writes.expected, (i, name)
        assert int(body["metadata"]["resourceVersion"]) >= rev
        everywhere = await plane.cp.api.get("/api/v1/configmaps")
        reads += 1
        mine = {
            item["metadata"]["name"]: item["data"]["v"]
            for item in everywhere.json()["items"]
            if item["metadata"]["namespace"] == plane.ns
        }
        assert mine == writes.expected, (i, name)
        assert int(everywhere.json()["metadata"]["resourceVersion"]) >= rev
    assert_some_from_the_hub(plane, reads)


async def test_writes_to_other_resources_do_not_make_configmap_reads_wrong(
    plane: Plane,
) -> None:
    writes = Behind(plane)
    await writes.create("keep", "0")
    await writes.create("a", "0")
    await held(plane)
    plane.reads.upstream = 0
    reads = 0
    for i in range(1, ROUNDS + 1):
        # The same count before and after: a replaced by b (or back), then other writes.
        old, new = ("a", "b") if "a" in writes.expected else ("b", "a")
        await writes.delete(old)
        await writes.other(f"s{i % 3}")
        written = await writes.create(new, str(i))
        await writes.other(f"s{(i + 1) % 3}")
        last = await writes.other(f"s{(i + 2) % 3}")

        status, body = await get_cm(plane, new)
        assert status == 200, body
        assert (body["data"], body["metadata"]["resourceVersion"]) == ({"v": str(i)}, str(written))
        status, body = await get_cm(plane, old)
        assert_not_found(status, body, old)
        listing = await list_cms(plane)
        reads += 3
        assert listed(listing) == writes.expected == {"keep": "0", new: str(i)}
        # A consistent list is at etcd's revision, not older than any write before it.
        assert int(listing["metadata"]["resourceVersion"]) >= last

        # And with nothing written to configmaps since, reads after other writes.
        last = await writes.other(f"s{i % 3}")
        listing = await list_cms(plane)
        status, body = await get_cm(plane, new)
        reads += 2
        assert listed(listing) == writes.expected
        assert int(listing["metadata"]["resourceVersion"]) >= last
        assert status == 200 and body["data"] == {"v": str(i)}

        # A delete is the last configmap write: one object fewer, nothing modified since.
        await writes.create("t", str(i))
        await writes.other(f"s{i % 3}")
        await writes.delete("t")
        last = await writes.other(f"s{(i + 1) % 3}")
        status, body = await get_cm(plane, "t")
        assert_not_found(status, body, "t")
        listing = await list_cms(plane)
        reads += 2
        assert listed(listing) == writes.expected
        assert int(listing["metadata"]["resourceVersion"]) >= last
    assert_some_from_the_hub(plane, reads)


async def test_a_deleted_object_is_a_not_found_status(plane: Plane) -> None:
    path = plane.path
    made = await plane.cp.api.post(
        path,
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}},
    )
    assert made.status_code == 201, made.text
    await held(plane)
    status, body = await get_cm(plane, "gone")
    assert status == 200 and body["metadata"]["name"] == "gone"
    _, revision = await plane.etcd.delete(f"/registry/configmaps/{plane.ns}/gone")
    status, body = await get_cm(plane, "gone")
    assert_not_found(status, body, "gone")
    listing = await list_cms(plane)
    assert int(listing["metadata"]["resourceVersion"]) >= revision
    assert all(i["metadata"]["name"] != "gone" for i in listing["items"])
    # The same Status when the hub answers a get of an object it never held.
    status, body = await get_cm(plane, "never")
    assert_not_found(status, body, "never")


@pytest.mark.parametrize("mode", ["progress-trusted-lagging"], indirect=True)
async def test_held_objects_that_do_not_catch_up_leave_reads_to_etcd_for_a_while(
    plane: Plane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed further behind than a consistent read may wait: the read goes to etcd (and
    sees the write), and the resource's next reads go there too for a while without
    asking storage each time (a feed that stays behind must not cost every read a
    wait)."""
    # The feed opens in ``held``: lag it far more than a loaded machine takes between a
    # write and the read after it (at 20 ms, a slow round let the feed catch up first),
    # and let "a while" outlast the five rounds however slow they are.
    monkeypatch.setitem(globals(), "LAG", 2.0)
    writes = Behind(plane)
    await writes.create("x", "0")
    await held(plane)
    monkeypatch.setattr(resources, "FRESH_WAIT", LAG / 20)  # far less than the lag
    monkeypatch.setattr(resources, "UNCONFIRMED_SECONDS", 600.0)
    storage = plane.cp.app.state.peers.storage
    asked = 0
    freshness = storage.freshness

    async def counted(ref: Any) -> Any:
        nonlocal asked
        asked += 1
        return await freshness(ref)

    monkeypatch.setattr(storage, "freshness", counted)
    for round_ in range(5):
        await writes.update("x", str(round_ + 1))
        status, body = await get_cm(plane, "x")
        assert status == 200, body
        assert body["data"] == {"v": str(round_ + 1)}
    assert asked == 1
    assert plane.reads.calls.count("get") >= 5


@pytest.mark.parametrize("mode", ["as-configured"], indirect=True)
async def test_writes_through_kapi_elsewhere_leave_reads_with_the_hub(plane: Plane) -> None:
    """On this etcd (3.5.1: no trusted progress notifications) storage still confirms
    a revision when every write since the resource's last change is one it made itself
    to other resources: secrets written through the gateway between reads do not send
    configmap reads to etcd, and the reads see every configmap write before them."""
    writes = Behind(plane)
    await writes.create("x", "0")
    await held(plane)
    secrets = f"/api/v1/namespaces/{plane.ns}/secrets"
    made = await plane.cp.api.post(
        plane.path,
        json={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "y"},
            "data": {"v": "0"},
        },
    )
    assert made.status_code == 201, made.text
    plane.reads.upstream = 0
    for round_ in range(ROUNDS):
        reply = await plane.cp.api.post(
            secrets,
            json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{round_}"}},
        )
        assert reply.status_code == 201, reply.text
        status, body = await get_cm(plane, "y")
        assert status == 200, body
        assert body["data"] == {"v": "0"}
        assert listed(await list_cms(plane)) == {"x": "0", "y": "0"}
    # Most reads came from the hub (one may race a secret's event or write answer).
    assert plane.reads.upstream <= 2, plane.reads.calls
