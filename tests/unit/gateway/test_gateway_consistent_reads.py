"""Consistent reads from the objects the gateway's watch hub holds: ``Freshness.holds``
(whether held objects are those current at storage's revision) and ``Hub.current``
(the held objects once they are, waiting for the feed's events to get there), driven
by a scripted upstream as in test_gateway_watch_hub.py."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kapi import selectors
from services.gateway.object_state import ObjectState
from services.gateway.watch_hub import Freshness, Hub
from tests.unit.gateway import test_gateway_watch_hub as watch_hub_tests

KEY = "/v1/configmaps"
ALL = selectors.parse_label_selector("")
HANG = 5.0  # waiting for something to happen at all, not a latency budget


def cm(name: str, rv: int, *, ns: str = "a") -> bytes:
    meta = {"name": name, "namespace": ns, "resourceVersion": str(rv)}
    return orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta})


class Upstream(watch_hub_tests.Upstream):
    """The watch-hub tests' scripted upstream, with a list that seeds the held objects."""

    def __init__(self, items: list[bytes], revision: int) -> None:
        super().__init__()
        self.items, self.revision = items, revision

    async def list(self, resource_version: str) -> tuple[list[bytes], int]:
        return list(self.items), self.revision


async def holding(items: list[bytes], revision: int) -> tuple[Hub, Upstream, ObjectState]:
    """A hub that holds ``items`` listed at ``revision``."""
    hub, upstream = Hub(prev_objects=False), Upstream(items, revision)
    hub.hold(KEY, upstream.open, upstream.list)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG
    while (state := hub.held(KEY)) is None:
        assert loop.time() < deadline, "the hub never held the objects"
        await asyncio.sleep(0.005)
    return hub, upstream, state


def names(state: ObjectState) -> list[str]:
    return [orjson.loads(data)["metadata"]["name"] for data in state.select("", ALL)]


# --- Freshness.holds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "revision", "count", "holds"),
    [
        ("revision reached exactly", 20, 5, True),
        ("revision passed", 25, 5, True),
        ("revision reached, another count (a later delete or create)", 20, 4, True),
        ("same count, last write seen", 15, 3, True),
        ("same count, past the last write", 19, 3, True),
        ("same count, last write not seen", 14, 3, False),
        ("count differs, last write seen", 15, 2, False),
        ("count differs, one more held", 17, 4, False),
        ("count differs, last write not seen", 10, 2, False),
    ],
)
def test_freshness_holds(case: str, revision: int, count: int, holds: bool) -> None:
    # Storage: etcd was at 20; its cache held 3 objects, none modified after 15.
    freshness = Freshness(revision=20, count=3, max_modified=15)
    assert freshness.holds(revision, count) is holds, case


def test_freshness_of_an_empty_resource() -> None:
    # Nothing held anywhere, the last object deleted after its last write at 7.
    freshness = Freshness(revision=30, count=0, max_modified=7)
    assert freshness.holds(7, 0)
    assert not freshness.holds(8, 1)  # still holds one that was deleted
    assert not freshness.holds(6, 0)


# --- Hub.current ----------------------------------------------------------------------


async def test_current_returns_the_objects_at_once_when_they_are_current() -> None:
    hub, _, state = await holding([cm("x", 5), cm("y", 6)], 10)
    try:
        assert await hub.current(KEY, Freshness(10, 2, 6), timeout=0) is state
        assert await hub.current(KEY, Freshness(8, 7, 8), timeout=0) is state
        # etcd moved on by writes to other resources; the resource is as storage holds it.
        got = await hub.current(KEY, Freshness(500, 2, 6), timeout=0)
        assert got is state
        assert names(got) == ["x", "y"]
    finally:
        await hub.close()


async def test_current_waits_for_the_write_it_must_see() -> None:
    hub, upstream, _ = await holding([cm("x", 5), cm("y", 6)], 10)
    try:
        # Storage has a third object written at 12 (and etcd is at 40).
        waiting = asyncio.ensure_future(hub.current(KEY, Freshness(40, 3, 12), timeout=HANG))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        upstream.push("ADDED", cm("z", 11))  # not yet: z was written again at 12
        await asyncio.sleep(0.02)
        assert not waiting.done()
        upstream.push("MODIFIED", cm("z", 12))
        state = await asyncio.wait_for(waiting, HANG)
        assert state is not None
        assert names(state) == ["x", "y", "z"]
        assert state.revision == 12
        assert orjson.loads(state.get("a", "z") or b"{}")["metadata"]["resourceVersion"] == "12"
    finally:
        await hub.close()


async def test_current_waits_for_a_delete_it_must_see() -> None:
    hub, upstream, _ = await holding([cm("x", 5), cm("y", 6)], 10)
    try:
        # Storage: y deleted at 13; x, the one left, last written at 5.
        waiting = asyncio.ensure_future(hub.current(KEY, Freshness(13, 1, 6), timeout=HANG))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        upstream.push("DELETED", cm("y", 13))
        state = await asyncio.wait_for(waiting, HANG)
        assert state is not None
        assert names(state) == ["x"]
        assert state.get("a", "y") is None
    finally:
        await hub.close()


async def test_current_sees_an_event_that_lands_as_it_starts_waiting() -> None:
    """The feed's event is already on its way (its task is ready to run) when the read
    finds the objects behind and starts waiting: the read must still be woken by it,
    not left to wait out its timeout (3 s in the gateway) before it answers."""
    hub, upstream, _ = await holding([cm("x", 5)], 10)
    try:
        # As in the gateway when storage's answer and the feed's event arrive on the
        # same loop turn: the read looks first (behind), then the feed publishes, then
        # the read waits.
        loop = asyncio.get_running_loop()
        loop.call_soon(upstream.push, "ADDED", cm("y", 11))
        reading = asyncio.ensure_future(hub.current(KEY, Freshness(11, 2, 11), timeout=30))
        try:
            state = await asyncio.wait_for(reading, HANG)
        except TimeoutError:
            pytest.fail("the read missed the event that made it current and waits on")
        assert state is not None
        assert names(state) == ["x", "y"]
    finally:
        await hub.close()


async def test_current_gives_none_when_the_feed_never_catches_up() -> None:
    hub, upstream, _ = await holding([cm("x", 5)], 10)
    try:
        assert await hub.current(KEY, Freshness(12, 2, 12), timeout=0) is None
        # Events come, but never the one storage said it has.
        upstream.push("ADDED", cm("y", 11))
        got = await asyncio.wait_for(hub.current(KEY, Freshness(12, 2, 12), timeout=0.2), HANG)
        assert got is None
    finally:
        await hub.close()


async def test_current_gives_none_when_nothing_is_held() -> None:
    hub = Hub(prev_objects=False)
    try:
        got = await asyncio.wait_for(hub.current(KEY, Freshness(1, 0, 0), timeout=HANG), 1.0)
        assert got is None
    finally:
        await hub.close()


async def test_current_gives_none_when_the_feed_fails_while_waiting() -> None:
    hub, upstream, _ = await holding([cm("x", 5)], 10)
    try:
        waiting = asyncio.ensure_future(hub.current(KEY, Freshness(12, 2, 12), timeout=30))
        await asyncio.sleep(0.02)
        upstream.queue.put_nowait(None)  # the upstream watch ends
        assert await asyncio.wait_for(waiting, HANG) is None
        assert hub.held(KEY) is None
    finally:
        await hub.close()
