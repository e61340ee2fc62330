"""The gateway's watch fan-out: one upstream feed, exact per-watcher streams; and the
objects a feed holds, which answer resourceVersion=0 lists."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from kapi import errors, selectors
from services.gateway import watch_hub
from services.gateway.object_state import ObjectState
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
        "configmaps",
        upstream.open,
        resource_version=rv,
        bookmarks=True,
        timeout=30,
        namespace=options["namespace"],
        label_selector=options["label_selector"],
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
    assert await read(late, 3) == [
        ("ADDED", "o12", "12"),
        ("ADDED", "o13", "13"),
        ("ADDED", "o14", "14"),
    ]
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
    upstream.push(
        "MODIFIED", cm("x", 12, labels={"color": "blue"}), cm("x", 11, labels={"color": "red"})
    )
    upstream.push(
        "MODIFIED",
        cm("x", 13, labels={"color": "blue", "v": "2"}),
        cm("x", 12, labels={"color": "blue"}),
    )
    upstream.push(
        "MODIFIED",
        cm("x", 14, labels={"color": "red"}),
        cm("x", 13, labels={"color": "blue", "v": "2"}),
    )
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
    only_b = await subscribe(
        hub, upstream, "10", namespace="b", field_selector="metadata.name=keep"
    )
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
        declined = await hub.subscribe(
            "configmaps",
            upstream.open,
            resource_version=rv,
            bookmarks=False,
            timeout=1,
            namespace="",
            label_selector="",
            field_selector="",
        )
        assert declined is None
    await subscribe(hub, upstream, "10")
    older = await hub.subscribe(
        "configmaps",
        upstream.open,
        resource_version="5",
        bookmarks=False,
        timeout=1,
        namespace="",
        label_selector="",
        field_selector="",
    )
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
    plain = await hub.subscribe(
        "configmaps",
        upstream.open,
        resource_version="10",
        bookmarks=False,
        timeout=30,
        namespace="",
        label_selector="",
        field_selector="",
    )
    assert plain is not None
    plain = split(plain)
    upstream.push(
        "BOOKMARK",
        orjson.dumps(
            {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "15"}}
        ),
    )
    upstream.push("ADDED", cm("x", 16))
    assert await read(with_bookmarks, 2) == [("BOOKMARK", "", "15"), ("ADDED", "x", "16")]
    assert await read(plain, 1) == [("ADDED", "x", "16")]
    await hub.close()


async def test_without_previous_objects_only_unfiltered_watches_are_taken() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    filtered = await hub.subscribe(
        "configmaps",
        upstream.open,
        resource_version="10",
        bookmarks=False,
        timeout=1,
        namespace="",
        label_selector="a=b",
        field_selector="",
    )
    assert filtered is None
    namespaced = await subscribe(hub, upstream, "10", namespace="a")
    upstream.push("ADDED", cm("x", 11, ns="b"))
    upstream.push("ADDED", cm("y", 12, ns="a"))
    upstream.push("MODIFIED", cm("y", 13, ns="a"))  # no previous object needed
    assert await read(namespaced, 2) == [("ADDED", "y", "12"), ("MODIFIED", "y", "13")]
    await hub.close()


async def test_a_watcher_behind_gets_its_backlog_in_one_write() -> None:
    hub, upstream = Hub(prev_objects=True), Upstream()
    chunks = await hub.subscribe(
        "configmaps",
        upstream.open,
        resource_version="10",
        bookmarks=False,
        timeout=30,
        namespace="",
        label_selector="",
        field_selector="",
    )
    assert chunks is not None
    for rv in range(11, 16):
        upstream.push("ADDED", cm(f"o{rv}", rv))
    while upstream.queue.qsize():
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    first = await asyncio.wait_for(anext(chunks), 5)
    assert [orjson.loads(line)["object"]["metadata"]["name"] for line in first.splitlines()] == [
        f"o{rv}" for rv in range(11, 16)
    ]
    await hub.close()


# --- held objects -------------------------------------------------------------

ALL = selectors.parse_label_selector("")


def parsed(data: bytes) -> tuple[dict[str, Any], bytes]:
    return orjson.loads(data), data


def names(items: list[bytes]) -> list[str]:
    return [orjson.loads(i)["metadata"]["name"] for i in items]


def test_objects_list_in_etcd_key_order_by_namespace_and_labels() -> None:
    state = ObjectState.seeded(
        [
            cm("z", 3, ns="a"),
            cm("x", 4, ns="a-b"),
            cm("y", 5, ns="a", labels={"app": "web"}),
            cm("w", 6, ns="b"),
        ],
        10,
    )
    # etcd orders keys as bytes: "a-b/x" < "a/y" because "-" < "/".
    assert names(state.select("", ALL)) == ["x", "y", "z", "w"]
    assert names(state.select("a", ALL)) == ["y", "z"]
    assert names(state.select("a-b", ALL)) == ["x"]
    assert names(state.select("c", ALL)) == []
    assert names(state.select("", selectors.parse_label_selector("app=web"))) == ["y"]
    assert names(state.select("", selectors.parse_label_selector("app!=web"))) == ["x", "z", "w"]


def test_events_keep_the_objects_current_and_old_ones_change_nothing() -> None:
    state = ObjectState.seeded([cm("x", 3)], 10)
    assert state.apply("ADDED", *parsed(cm("y", 11)), 11) is None
    previous = state.apply("MODIFIED", *parsed(cm("x", 12, labels={"k": "v"})), 12)
    assert previous == cm("x", 3)
    assert state.apply("MODIFIED", *parsed(cm("x", 9)), 9) == cm("x", 12, labels={"k": "v"})
    assert state.select("", ALL) == [cm("x", 12, labels={"k": "v"}), cm("y", 11)]
    assert state.apply("DELETED", *parsed(cm("y", 13)), 13) == cm("y", 11)
    assert names(state.select("", ALL)) == ["x"]
    assert state.revision == 13
    state.advance(20)
    assert state.revision == 20


class Lister:
    """A scripted upstream list: returns what the test set, records the revisions asked."""

    def __init__(self, items: list[bytes], revision: int) -> None:
        self.items, self.revision = items, revision
        self.asked: list[str] = []

    async def __call__(self, resource_version: str) -> tuple[list[bytes], int]:
        self.asked.append(resource_version)
        return list(self.items), self.revision


async def held(hub: Hub, upstream: Upstream, lister: Lister, rv: str = "0", **kw: str) -> Any:
    """The hub's answer once it holds the objects (polls while it syncs)."""
    for _ in range(200):
        answer = hub.list(
            "configmaps",
            upstream.open,
            lister,
            namespace=kw.get("namespace", ""),
            label_selector=kw.get("labels", ""),
            resource_version=rv,
        )
        if answer is not None:
            return answer
        await asyncio.sleep(0.01)
    raise AssertionError("the hub never held the objects")


async def test_the_first_list_starts_holding_the_next_is_answered_then_kept_current() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    lister = Lister([cm("x", 5), cm("y", 6)], 10)
    assert (
        hub.list(
            "configmaps",
            upstream.open,
            lister,
            namespace="",
            label_selector="",
            resource_version="0",
        )
        is None
    )
    items, revision = await held(hub, upstream, lister)
    assert (names(items), revision) == (["x", "y"], 10)
    assert lister.asked == ["0"] and upstream.opened == ["10"]  # the feed follows the list

    upstream.push("ADDED", cm("z", 11))
    upstream.push("DELETED", cm("x", 12))
    await asyncio.sleep(0.05)
    items, revision = await held(hub, upstream, lister)
    assert (names(items), revision) == (["y", "z"], 12)
    # A revision the hub has not reached yet is left to the upstream, which waits for it.
    assert (
        hub.list(
            "configmaps",
            upstream.open,
            lister,
            namespace="",
            label_selector="",
            resource_version="13",
        )
        is None
    )
    assert (await held(hub, upstream, lister, rv="12"))[1] == 12
    await hub.close()


async def test_a_feed_started_by_a_watcher_is_seeded_from_its_own_start() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    watch = await subscribe(hub, upstream, "10")
    upstream.push("ADDED", cm("late", 11))
    assert await read(watch, 1) == [("ADDED", "late", "11")]
    # The list answers at revision 10, older than the feed: the window brings it up to date.
    lister = Lister([cm("x", 5)], 10)
    items, revision = await held(hub, upstream, lister)
    assert lister.asked == ["10"]  # not older than where the feed started
    assert (names(items), revision) == (["late", "x"], 11)
    assert upstream.opened == ["10"]
    await hub.close()


async def test_held_objects_give_selector_watches_their_transitions() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    lister = Lister([cm("x", 5, labels={"app": "web"})], 10)
    await held(hub, upstream, lister)
    lines = await subscribe(hub, upstream, "10", label_selector="app=web")
    # Upstream events carry no previous object; the held objects supply it.
    upstream.push("MODIFIED", cm("x", 11, labels={"app": "db"}))
    upstream.push("MODIFIED", cm("x", 12, labels={"app": "web"}))
    assert await read(lines, 2) == [("DELETED", "x", "11"), ("ADDED", "x", "12")]
    await hub.close()


async def test_a_failed_feed_drops_its_objects() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    lister = Lister([cm("x", 5)], 10)
    await held(hub, upstream, lister)
    upstream.queue.put_nowait(None)  # the upstream watch ends
    await asyncio.sleep(0.05)
    assert (
        hub.list(
            "configmaps",
            upstream.open,
            lister,
            namespace="",
            label_selector="",
            resource_version="0",
        )
        is None
    )
    await hub.close()


async def test_a_crowd_of_selector_watchers_is_left_to_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch_hub, "FILTERED_PER_FEED", 2)
    hub, upstream = Hub(prev_objects=False), Upstream()
    await held(hub, upstream, Lister([cm("x", 5)], 10))
    for _ in range(2):
        await subscribe(hub, upstream, "10", label_selector="app=web")
    declined = await hub.subscribe(
        "configmaps",
        upstream.open,
        namespace="",
        label_selector="app=web",
        field_selector="",
        resource_version="10",
        bookmarks=False,
        timeout=30,
    )
    assert declined is None
    assert await subscribe(hub, upstream, "10") is not None  # unfiltered ones still join
    await hub.close()


async def test_a_failed_seeding_is_not_retried_on_every_list() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()
    calls: list[str] = []

    async def failing(resource_version: str) -> tuple[list[bytes], int]:
        calls.append(resource_version)
        raise errors.service_unavailable("the registry service is unavailable")

    for _ in range(5):
        answer = hub.list(
            "configmaps",
            upstream.open,
            failing,
            namespace="",
            label_selector="",
            resource_version="0",
        )
        assert answer is None
        await asyncio.sleep(0.01)
    assert calls == ["0"]  # one attempt; the next lists go upstream for a while
    await hub.close()


async def test_gets_come_from_held_objects_only_once_held_and_fresh_enough() -> None:
    hub, upstream = Hub(prev_objects=False), Upstream()

    def get(name: str, rv: str = "0") -> tuple[bytes | None] | None:
        return hub.get("configmaps", namespace="a", name=name, resource_version=rv)

    assert get("x") is None  # not held: the caller asks storage (and nothing starts)
    assert upstream.opened == []
    await held(hub, upstream, Lister([cm("x", 5)], 10))
    assert get("x") == (cm("x", 5),)
    assert get("missing") == (None,)
    assert get("x", "11") is None  # newer than what the hub holds: storage waits for it
    await hub.close()


class Clock:
    """The feed's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def large(name: str, rv: int, size: int) -> bytes:
    meta = {"name": name, "namespace": "a", "resourceVersion": str(rv)}
    return orjson.dumps(
        {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta, "data": {"d": "x" * size}}
    )


def bookmark(rv: int) -> bytes:
    return orjson.dumps(
        {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}}
    )


async def test_the_window_is_bounded_by_bytes() -> None:
    """200 updates of a 0.9 MiB object kept 314 MiB in the gateway: the window keeps at
    most its byte budget (here 20 KB, of 2 KB events), every live watcher still gets
    every event, and one from before what is kept is left to a dedicated watch."""
    limits = watch_hub.WindowLimits(events=1000, bytes=20_000, seconds=75)
    hub, upstream = Hub(prev_objects=True, window=limits), Upstream()
    live = await subscribe(hub, upstream, "10")
    for rv in range(11, 61):
        upstream.push("MODIFIED", large("big", rv, 2000), large("big", rv - 1, 2000))
    assert [rv for _, _, rv in await read(live, 50)] == [str(rv) for rv in range(11, 61)]
    feed = hub.feeds["configmaps"]
    assert 0 < len(feed.window) < 50
    assert feed.window_bytes == sum(event.size for event in feed.window) <= 20_000
    oldest = feed.window[0].revision
    declined = await hub.subscribe(
        "configmaps",
        upstream.open,
        resource_version="11",
        bookmarks=False,
        timeout=1,
        namespace="",
        label_selector="",
        field_selector="",
    )
    assert declined is None  # its events are gone: the caller watches upstream
    behind = await subscribe(hub, upstream, str(oldest - 1))
    assert (await read(behind, 1))[0][2] == str(oldest)
    await hub.close()


async def test_the_window_lets_go_of_events_older_than_75_seconds() -> None:
    clock = Clock()
    hub, upstream = Hub(prev_objects=True, clock=clock), Upstream()
    live = await subscribe(hub, upstream, "10")
    for rv in range(11, 21):
        upstream.push("MODIFIED", large("big", rv, 100))
    await read(live, 10)
    feed = hub.feeds["configmaps"]
    assert len(feed.window) == 10
    clock.now += 60
    upstream.push("MODIFIED", large("big", 21, 100))
    await read(live, 1)
    assert len(feed.window) == 11  # none is old enough yet
    clock.now += 16  # the first ten are 76 s old now; the feed is quiet but for bookmarks
    upstream.push("BOOKMARK", bookmark(21))
    await read(live, 1)
    assert [event.revision for event in feed.window] == [21]
    assert feed.window_bytes == feed.window[0].size
    clock.now += 76
    upstream.push("BOOKMARK", bookmark(21))
    await read(live, 1)
    assert not feed.window and feed.window_bytes == 0
    assert feed.covers(21) and not feed.covers(20)
    await hub.close()
