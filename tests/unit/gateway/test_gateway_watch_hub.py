"""The gateway's watch fan-out: one upstream feed, exact per-watcher streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from services.gateway import watch_hub
from services.gateway.watch_hub import Hub, UpstreamEvent


def cm(name: str, rv: int, *, ns: str = "a", labels: dict[str, str] | None = None) -> bytes:
    meta = {"name": name, "namespace": ns, "resourceVersion": str(rv), "labels": labels or {}}
    return orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta})


class Upstream:
    """A scripted upstream: events pushed by the test, one feed per open."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.queue: asyncio.Queue[UpstreamEvent | None] = asyncio.Queue()

    async def open(self, resource_version: str) -> AsyncIterator[UpstreamEvent]:
        self.opened.append(resource_version)
        return self._events()

    async def _events(self) -> AsyncIterator[UpstreamEvent]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    def push(self, kind: str, obj: bytes, prev: bytes = b"") -> None:
        self.queue.put_nowait(UpstreamEvent(kind, obj, prev))


async def split(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The hub may send several queued lines in one write: one line at a time here."""
    async for chunk in chunks:
        for line in chunk.splitlines(keepends=True):
            yield line


async def read(lines: AsyncIterator[bytes], count: int) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(count):
        line = await asyncio.wait_for(anext(lines), 5)
        event = orjson.loads(line)
        meta = event["object"]["metadata"]
        out.append((event["type"], meta.get("name", ""), meta["resourceVersion"]))
    return out


async def subscribe(hub: Hub, upstream: Upstream, rv: str, **kw: str) -> AsyncIterator[bytes]:
    options = {"namespace": "", "label_selector": "", "field_selector": ""} | kw
    lines = await hub.subscribe(
        "configmaps", upstream.open, resource_version=rv, bookmarks=True, timeout=30,
        namespace=options["namespace"], label_selector=options["label_selector"],
        field_selector=options["field_selector"],
    )
    assert lines is not None
    return split(lines)


async def test_many_watchers_share_one_upstream_watch() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    first = await subscribe(hub, upstream, "10")
    second = await subscribe(hub, upstream, "10")
    upstream.push("ADDED", cm("x", 11))
    upstream.push("MODIFIED", cm("x", 12), cm("x", 11))
    assert await read(first, 2) == [("ADDED", "x", "11"), ("MODIFIED", "x", "12")]
    assert await read(second, 2) == [("ADDED", "x", "11"), ("MODIFIED", "x", "12")]
    assert upstream.opened == ["10"]
    await hub.close()


async def test_a_late_watcher_gets_what_it_missed_then_live_events() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    first = await subscribe(hub, upstream, "10")
    for rv in (11, 12, 13):
        upstream.push("ADDED", cm(f"o{rv}", rv))
    assert len(await read(first, 3)) == 3
    late = await subscribe(hub, upstream, "11")
    upstream.push("ADDED", cm("o14", 14))
    assert await read(late, 3) == [("ADDED", "o12", "12"), ("ADDED", "o13", "13"),
                                   ("ADDED", "o14", "14")]
    await hub.close()


async def test_a_watcher_ahead_of_the_feed_sees_nothing_twice() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    await subscribe(hub, upstream, "10")
    ahead = await subscribe(hub, upstream, "12")  # listed at 12; the feed is still at 10
    for rv in (11, 12, 13):
        upstream.push("ADDED", cm(f"o{rv}", rv))
    assert await read(ahead, 1) == [("ADDED", "o13", "13")]
    await hub.close()


async def test_selectors_turn_transitions_into_added_and_deleted() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    blue = await subscribe(hub, upstream, "10", label_selector="color=blue")
    upstream.push("ADDED", cm("x", 11, labels={"color": "red"}))
    upstream.push("MODIFIED", cm("x", 12, labels={"color": "blue"}),
                  cm("x", 11, labels={"color": "red"}))
    upstream.push("MODIFIED", cm("x", 13, labels={"color": "blue", "v": "2"}),
                  cm("x", 12, labels={"color": "blue"}))
    upstream.push("MODIFIED", cm("x", 14, labels={"color": "red"}),
                  cm("x", 13, labels={"color": "blue", "v": "2"}))
    upstream.push("DELETED", cm("x", 15, labels={"color": "red"}))
    upstream.push("ADDED", cm("y", 16, labels={"color": "blue"}))
    assert await read(blue, 4) == [
        ("ADDED", "x", "12"),
        ("MODIFIED", "x", "13"),
        ("DELETED", "x", "14"),  # stopped matching: its last matching state, at 14
        ("ADDED", "y", "16"),
    ]
    await hub.close()


async def test_namespace_and_field_selectors() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    only_b = await subscribe(hub, upstream, "10", namespace="b",
                             field_selector="metadata.name=keep")
    upstream.push("ADDED", cm("keep", 11, ns="a"))
    upstream.push("ADDED", cm("other", 12, ns="b"))
    upstream.push("ADDED", cm("keep", 13, ns="b"))
    assert await read(only_b, 1) == [("ADDED", "keep", "13")]
    await hub.close()


async def test_a_watcher_that_stops_reading_is_dropped_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch_hub, "WATCHER_BUFFER", 3)
    hub, upstream = Hub(prev_objects=True), Upstream()
    slow = await subscribe(hub, upstream, "10")
    fast = await subscribe(hub, upstream, "10")
    for rv in range(11, 21):
        upstream.push("ADDED", cm(f"o{rv}", rv))
        assert await read(fast, 1) == [("ADDED", f"o{rv}", str(rv))]  # never held back
    received = [line async for line in slow]
    assert 0 < len(received) < 10  # the slow one got what fit, then its stream ended
    await hub.close()


async def test_watches_the_hub_cannot_serve_exactly_are_declined() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    for rv in ("", "0"):
        declined = await hub.subscribe("configmaps", upstream.open, resource_version=rv,
                                       bookmarks=False, timeout=1, namespace="",
                                       label_selector="", field_selector="")
        assert declined is None
    await subscribe(hub, upstream, "10")
    older = await hub.subscribe("configmaps", upstream.open, resource_version="5",
                                bookmarks=False, timeout=1, namespace="", label_selector="",
                                field_selector="")
    assert older is None  # before the feed began: the upstream answers (maybe 410)
    await hub.close()


async def test_an_upstream_failure_ends_every_watch() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    watcher = await subscribe(hub, upstream, "10")
    upstream.push("ADDED", cm("x", 11))
    upstream.queue.put_nowait(None)
    assert [orjson.loads(line)["type"] async for line in watcher] == ["ADDED"]
    again = await subscribe(hub, upstream, "11")  # a new feed is opened
    assert upstream.opened == ["10", "11"]
    upstream.push("ADDED", cm("y", 12))
    assert await read(again, 1) == [("ADDED", "y", "12")]
    await hub.close()


async def test_bookmarks_only_for_watchers_that_asked() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    with_bookmarks = await subscribe(hub, upstream, "10")
    plain = await hub.subscribe("configmaps", upstream.open, resource_version="10",
                                bookmarks=False, timeout=30, namespace="", label_selector="",
                                field_selector="")
    assert plain is not None
    plain = split(plain)
    upstream.push("BOOKMARK", orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": "15"}}))
    upstream.push("ADDED", cm("x", 16))
    assert await read(with_bookmarks, 2) == [("BOOKMARK", "", "15"), ("ADDED", "x", "16")]
    assert await read(plain, 1) == [("ADDED", "x", "16")]
    await hub.close()


async def test_without_previous_objects_only_unfiltered_watches_are_taken() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    filtered = await hub.subscribe("configmaps", upstream.open, resource_version="10",
                                   bookmarks=False, timeout=1, namespace="",
                                   label_selector="a=b", field_selector="")
    assert filtered is None
    namespaced = await subscribe(hub, upstream, "10", namespace="a")
    upstream.push("ADDED", cm("x", 11, ns="b"))
    upstream.push("ADDED", cm("y", 12, ns="a"))
    upstream.push("MODIFIED", cm("y", 13, ns="a"))  # no previous object needed
    assert await read(namespaced, 2) == [("ADDED", "y", "12"), ("MODIFIED", "y", "13")]
    await hub.close()


async def test_a_watcher_behind_gets_its_backlog_in_one_write() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    chunks = await hub.subscribe("configmaps", upstream.open, resource_version="10",
                                 bookmarks=False, timeout=30, namespace="", label_selector="",
                                 field_selector="")
    assert chunks is not None
    for rv in range(11, 16):
        upstream.push("ADDED", cm(f"o{rv}", rv))
    while upstream.queue.qsize():
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    first = await asyncio.wait_for(anext(chunks), 5)
    assert [orjson.loads(line)["object"]["metadata"]["name"] for line in
            first.splitlines()] == [f"o{rv}" for rv in range(11, 16)]
    await hub.close()
