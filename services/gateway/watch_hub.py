"""Watch fan-out in the gateway: one upstream watch per resource, many HTTP watchers.

kube-apiserver's cacher serves every watch of a resource from one etcd watch and
dispatches each event through its watchers' filters. Here the same happens one layer
up: the gateway holds one registry watch per (group, version, resource) across all
namespaces, encodes each event's JSON line once, and hands it to the watchers whose
namespace and selectors match. A watcher that stops reading is dropped once its buffer
is full (it re-watches from its last resourceVersion, as client-go does), so it never
slows the feed or the other watchers.

Selector transitions follow the cacher: an object that starts matching arrives as
ADDED, one that stops matching as DELETED (with its previous state). That needs each
event's previous object, which the upstream sends with ``prev_object``; without it the
hub serves only watchers without selectors.

Only watches the hub can serve exactly are taken (object rendering, a start revision
inside the feed's window); the caller opens a dedicated upstream watch for the rest.
The window keeps recent events for watchers that start a little behind the feed,
bounded as storage's own window is (services/storage/cache.py) by count and by age,
and by bytes too: a few hundred updates of a 1 MiB object must not stay in the gateway.

A feed can also hold its resource's current objects (services/gateway/object_state.py):
seeded in the background from one list the first time a list or a consistent get of
the resource arrives, then kept by the feed's events. From then on lists and gets at
``resourceVersion=0`` or a revision the feed has reached are answered here, and every
event's previous object is known, so watchers with selectors are served too.

Consistent reads (no resourceVersion) are answered here too, as kube-apiserver 1.31+
answers consistent lists from its watch cache: storage reads etcd's current revision
after the request arrived and waits until its own cache has every change up to it
(``Storage.CurrentRevisions``, asked on one open stream); the held objects serve the
read once they are known to be as current (``Freshness`` in common.proto), which for a
resource written a while ago is at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson

from kapi import errors, gc_policy, selectors
from services.gateway.object_state import ObjectState

log = logging.getLogger(__name__)

WATCHER_BUFFER = 1_000  # lines a watcher may lag before it is dropped
IDLE_SECONDS = 60.0  # a feed with no watchers and no reads for this long is closed
SYNC_RETRY_SECONDS = 5.0  # after a failed seeding, lists go upstream this long
BATCH_LINES = 256  # queued lines sent to a watcher in one write
# Watchers with selectors a feed serves at most. The hub tests every such watcher
# against every event; storage's watch cache indexes them (by name, namespace and
# indexed fields such as spec.nodeName), so a crowd of them (kubelets) is better
# served there.
FILTERED_PER_FEED = 100

Obj = dict[str, Any]


@dataclass(frozen=True)
class WindowLimits:
    """What a feed's window of recent events keeps: at most ``events`` of them, at most
    ``bytes`` of their JSON (what each holds: its line, object and previous object), none
    older than ``seconds`` (storage's window: 75 s). An event past a limit goes; a
    watcher from before the oldest one left gets a dedicated upstream watch instead."""

    events: int = 10_000
    bytes: int = 32 * 1024 * 1024
    seconds: float = 75.0


Clock = Callable[[], float]


@dataclass(frozen=True)
class Freshness:
    """What storage says of a resource for a consistent read (common.proto Freshness):
    etcd's revision after the request arrived, and its watch cache's object count
    and a revision no object it holds was modified after, once it had every change
    up to that revision."""

    revision: int
    count: int
    max_modified: int

    def holds(self, revision: int, count: int) -> bool:
        """Whether objects kept from the same events, at ``revision`` and ``count`` of
        them, are those current at ``self.revision``: they have seen every change up to
        it; or, as many, every change up to the last write of any object etcd has (so
        they have each as it is, and no other)."""
        return revision >= self.revision or (count == self.count and revision >= self.max_modified)


@dataclass(frozen=True)
class UpstreamEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: bytes
    prev_object: bytes = b""


# Opens the upstream watch of a resource across all namespaces from a revision.
Opener = Callable[[str], Awaitable[AsyncIterator[UpstreamEvent]]]
# Lists a resource across all namespaces at a resourceVersion (NotOlderThan): each
# object's JSON bytes, and the list's revision.
Lister = Callable[[str], Awaitable[tuple[list[bytes], int]]]


@dataclass
class _Event:
    """One event as the feed publishes it. Its decoded objects serve the watchers of the
    moment and are then let go (``settle``): the window keeps only bytes and the
    namespace, and a watcher replaying it later decodes what its selectors need."""

    revision: int
    type: str
    line: bytes  # the encoded JSON line for watchers that see the event as is
    namespace: str
    raw: bytes
    raw_prev: bytes
    _obj: Obj | None = None
    _prev: Obj | None = None
    time: float = 0.0  # when the feed published it (its clock)

    @property
    def size(self) -> int:
        """The bytes it holds (shared ones counted too: a bound, not a measure)."""
        return len(self.line) + len(self.raw) + len(self.raw_prev)

    @property
    def obj(self) -> Obj:
        return self._obj if self._obj is not None else orjson.loads(self.raw)

    @property
    def prev(self) -> Obj | None:
        """The previous object, decoded the first time a selector needs it."""
        if self._prev is None and self.raw_prev:
            self._prev = orjson.loads(self.raw_prev)
        return self._prev

    def settle(self) -> None:
        self._obj = self._prev = None


def _line(kind: str, obj: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + obj + b"}\n"


def _revision(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _asked_revision(resource_version: str) -> int | None:
    """A request's resourceVersion as a revision ("0": any), or None for anything else
    (empty, negative, not a number): storage answers those, with its own errors."""
    return (
        int(resource_version) if resource_version.isascii() and resource_version.isdigit() else None
    )


def _with_revision(raw: bytes, revision: int) -> bytes:
    obj = orjson.loads(raw)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return orjson.dumps(obj)


@dataclass(eq=False)  # identity: watchers live in sets
class Watcher:
    namespace: str
    labels: selectors.LabelSelector
    fields: selectors.FieldSelector
    bookmarks: bool
    after: int  # the revision the client has seen: only later events are sent
    queue: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(WATCHER_BUFFER)
    )
    closed: bool = False

    @property
    def filtered(self) -> bool:
        return not (self.labels.empty and self.fields.empty)

    def matches(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.namespace and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)

    def offer(self, line: bytes) -> None:
        """Queue a line, or drop a watcher that fell too far behind."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if self.queue.full():
            # Make room for the end marker: the consumer must learn it was dropped.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    def deliver(self, event: _Event) -> None:
        if event.revision <= self.after:
            return
        if event.type == "BOOKMARK":
            if self.bookmarks:
                self.offer(event.line)
            return
        if not self.filtered:
            # No selectors: an object never changes namespace, so the event is as is.
            if not self.namespace or event.namespace == self.namespace:
                self.offer(event.line)
            return
        obj = event.obj
        now = self.matches(obj) if event.type != "DELETED" else False
        before = self.matches(event.prev) if event.type != "ADDED" else False
        if event.type == "DELETED":
            before = self.matches(obj)
        if event.type == "ADDED":
            if now:
                self.offer(event.line)
        elif event.type == "MODIFIED":
            if now and before:
                self.offer(event.line)
            elif now:
                self.offer(_line("ADDED", event.raw))
            elif before:
                self.offer(_line("DELETED", _with_revision(event.raw_prev, event.revision)))
        elif event.type == "DELETED" and before:
            self.offer(event.line)


class Feed:
    """One upstream watch of one resource and the watchers it serves."""

    def __init__(
        self,
        name: str,
        opener: Opener,
        *,
        limits: WindowLimits | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.opener = opener
        self.limits = limits or WindowLimits()
        self.clock = clock
        self.window: collections.deque[_Event] = collections.deque()
        self.window_bytes = 0
        self.published = False  # any event but a bookmark yet
        self.watchers: set[Watcher] = set()
        self.start_revision = 0
        self.revision = 0
        self.task: asyncio.Task[None] | None = None
        self.failed = False
        self.idle_since = time.monotonic()
        self.listed_at = 0.0
        self.state: ObjectState | None = None
        # Events after this revision carry their previous object (selectors need it).
        self.prev_known_after: int | None = None
        self._advanced: asyncio.Event | None = None  # set when the revision moves

    def advanced(self) -> Coroutine[Any, Any, bool]:
        """What to await until the feed's revision moves on, or it fails. The event is
        made now, not when the wait starts: a move in between must not be missed."""
        if self._advanced is None:
            self._advanced = asyncio.Event()
        return self._advanced.wait()

    def _wake(self) -> None:
        if self._advanced is not None:
            self._advanced.set()
            self._advanced = None

    async def start(self, revision: int) -> None:
        self.start_revision = self.revision = revision
        upstream = await self.opener(str(revision))
        self.task = asyncio.create_task(self._run(upstream), name=f"watch-feed {self.name}")

    def covers(self, revision: int) -> bool:
        """Whether a watch from ``revision`` can be served exactly from here."""
        if self.failed or revision < self.start_revision:
            return False
        oldest = self.window[0].revision if self.window else self.revision + 1
        return revision >= oldest - 1 or revision >= self.revision

    async def _run(self, upstream: AsyncIterator[UpstreamEvent]) -> None:
        try:
            async for item in upstream:
                if item.type == "ERROR":
                    log.info("feed %s ended upstream: %s", self.name, item.object[:200])
                    break
                self._publish(item)
        except errors.StatusError as err:
            log.info("feed %s failed: %s", self.name, err.message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed %s crashed", self.name)
        finally:
            self.failed = True
            self._wake()
            for watcher in list(self.watchers):
                watcher.close()

    def _publish(self, item: UpstreamEvent) -> None:
        obj = orjson.loads(item.object)
        revision = _revision(obj)
        now = self.clock()
        self._trim(now)  # bookmarks come on a quiet feed too: its old events go
        if item.type == "BOOKMARK":
            self.revision = max(self.revision, revision)
            if self.state is not None:
                self.state.advance(revision)
            event = _Event(
                revision, "BOOKMARK", _line("BOOKMARK", item.object), "", item.object, b""
            )
            for watcher in list(self.watchers):
                watcher.deliver(event)
            self._wake()
            return
        if revision <= self.revision and self.published:
            return  # never go backwards, never repeat
        raw_prev = item.prev_object
        if self.state is not None:
            held = self.state.apply(item.type, obj, item.object, revision)
            raw_prev = raw_prev or held or b""
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        event = _Event(
            revision, item.type, _line(item.type, item.object), namespace, item.object, raw_prev
        )
        event._obj = obj
        event.time = now
        self.revision = revision
        self.published = True
        self.window.append(event)
        self.window_bytes += event.size
        self._trim(now)
        for watcher in list(self.watchers):
            watcher.deliver(event)
        event.settle()
        self._wake()

    def _trim(self, now: float) -> None:
        """Let go of the oldest events past any of the window's limits."""
        window, limits = self.window, self.limits
        horizon = now - limits.seconds
        while window and (
            len(window) > limits.events
            or self.window_bytes > limits.bytes
            or window[0].time < horizon
        ):
            self.window_bytes -= window.popleft().size

    def seed(self, items: list[bytes], revision: int) -> bool:
        """Hold the resource's objects from a list at ``revision``, brought up to date
        with the window's later events; False if the window no longer reaches back."""
        if self.failed or not self.covers(revision):
            return False
        with gc_policy.bulk_load():
            state = ObjectState.seeded(items, revision)
        for event in self.window:
            if event.revision > revision:
                state.apply(event.type, event.obj, event.raw, event.revision)
        state.advance(self.revision)
        self.state = state
        self.prev_known_after = self.revision
        return True

    def serves_selectors_from(self, revision: int) -> bool:
        return self.prev_known_after is not None and revision >= self.prev_known_after

    def attach(self, watcher: Watcher, revision: int) -> None:
        """Replay what the watcher missed since ``revision``, then follow live."""
        for event in self.window:
            watcher.deliver(event)
        self.watchers.add(watcher)

    def detach(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        if not self.watchers:
            self.idle_since = time.monotonic()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


class Hub:
    """The gateway's feeds, keyed by resource."""

    def __init__(
        self,
        *,
        prev_objects: bool,
        window: WindowLimits | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        # Whether upstream events carry the previous object (needed for selectors).
        self.prev_objects = prev_objects
        self.window = window or WindowLimits()
        self.clock = clock
        self.feeds: dict[str, Feed] = {}
        self._lock = asyncio.Lock()
        self._syncs: dict[str, asyncio.Task[None]] = {}
        self._failed_syncs: dict[str, float] = {}  # key -> when its last seeding failed

    def _feed(self, key: str, opener: Opener) -> Feed:
        return Feed(key, opener, limits=self.window, clock=self.clock)

    async def subscribe(
        self,
        key: str,
        opener: Opener,
        *,
        namespace: str,
        label_selector: str,
        field_selector: str,
        resource_version: str,
        bookmarks: bool,
        timeout: float,
    ) -> AsyncIterator[bytes] | None:
        """Lines for one watch, or None when the hub cannot serve it exactly."""
        if not resource_version or resource_version == "0":
            return None  # needs the current state first: the upstream does that
        revision = _asked_revision(resource_version)
        if revision is None:
            return None
        watcher = Watcher(
            namespace=namespace,
            labels=selectors.parse_label_selector(label_selector),
            fields=selectors.parse_field_selector(field_selector),
            bookmarks=bookmarks,
            after=revision,
        )
        async with self._lock:
            await self._reap()
            feed = self.feeds.get(key)
            if feed is None or feed.failed:
                feed = self._feed(key, opener)
                try:
                    await feed.start(revision)
                except errors.StatusError:
                    return None
                self.feeds[key] = feed
            if not feed.covers(revision):
                return None
            if watcher.filtered and (
                not (self.prev_objects or feed.serves_selectors_from(revision))
                or sum(w.filtered for w in feed.watchers) >= FILTERED_PER_FEED
            ):
                return None
            feed.attach(watcher, revision)
        return self._stream(feed, watcher, timeout)

    async def _stream(self, feed: Feed, watcher: Watcher, timeout: float) -> AsyncIterator[bytes]:
        # The stream ends at its deadline as when it is dropped: a timer closes the
        # watcher (one timer per watch, not a wait_for and its task per line).
        timer = asyncio.get_running_loop().call_later(timeout, watcher.close) if timeout else None
        try:
            while True:
                line = await watcher.queue.get()
                if line is None:
                    return
                # Whatever else is already queued goes out in the same write: a watcher
                # that fell behind catches up in a few large writes, not many small ones.
                lines = [line]
                while len(lines) < BATCH_LINES and not watcher.queue.empty():
                    more = watcher.queue.get_nowait()
                    if more is None:
                        yield b"".join(lines)
                        return
                    lines.append(more)
                yield b"".join(lines) if len(lines) > 1 else line
        finally:
            if timer is not None:
                timer.cancel()
            feed.detach(watcher)

    def get(
        self, key: str, *, namespace: str, name: str, resource_version: str
    ) -> tuple[bytes | None] | None:
        """``(object bytes, or None if there is no such object)`` when this hub holds the
        resource at ``resource_version`` or later; else None. A get at a revision never
        starts the hub holding a resource: lists and consistent reads do."""
        requested = _asked_revision(resource_version)
        if requested is None:
            return None
        state = self.held(key)
        if state is None or state.revision < requested:
            return None
        return (state.get(namespace, name),)

    def held(self, key: str) -> ObjectState | None:
        """The objects of ``key`` this hub holds (None if it does not); a read of them."""
        feed = self.feeds.get(key)
        if feed is None or feed.failed or feed.state is None:
            return None
        feed.listed_at = time.monotonic()
        return feed.state

    async def current(self, key: str, freshness: Freshness, timeout: float) -> ObjectState | None:
        """The objects of ``key`` once they are known to be current at
        ``freshness.revision`` (see ``Freshness``), waiting up to ``timeout`` for the
        feed's events to get there; None if the hub does not hold them, or they do not
        get there in time (the caller reads storage instead)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            feed = self.feeds.get(key)
            if feed is None or feed.failed or feed.state is None:
                return None
            state = feed.state
            if freshness.holds(state.revision, len(state)):
                feed.listed_at = time.monotonic()
                return state
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.advanced(), remaining)

    def list(
        self,
        key: str,
        opener: Opener,
        lister: Lister,
        *,
        namespace: str,
        label_selector: str,
        resource_version: str,
    ) -> tuple[list[bytes], int] | None:
        """The matching objects' bytes and the revision they are at, when this hub holds
        the resource's objects at ``resource_version`` or later ("0": any); else None,
        and the hub starts holding them for the next list."""
        requested = _asked_revision(resource_version)
        if requested is None:
            return None
        state = self.held(key)
        if state is not None:
            if state.revision >= requested:
                labels = selectors.parse_label_selector(label_selector)
                return state.select(namespace, labels), state.revision
            return None
        self.hold(key, opener, lister)
        return None

    def hold(self, key: str, opener: Opener, lister: Lister) -> None:
        """Start holding the objects of ``key`` in the background, unless it is held,
        being seeded, or its seeding failed a moment ago."""
        if self.held(key) is not None:
            return
        failed = self._failed_syncs.get(key)
        if failed is not None and time.monotonic() - failed < SYNC_RETRY_SECONDS:
            return  # a list that seeds failed a moment ago: not one more each request
        if key not in self._syncs:
            task = asyncio.create_task(self._sync(key, opener, lister), name=f"sync {key}")
            self._syncs[key] = task
            task.add_done_callback(lambda _: self._syncs.pop(key, None))

    async def _sync(self, key: str, opener: Opener, lister: Lister) -> None:
        """Seed the feed of ``key`` (started if need be) with the resource's objects."""
        try:
            for _ in range(3):
                feed = self.feeds.get(key)
                at = "0" if feed is None or feed.failed else str(feed.start_revision)
                items, revision = await lister(at)
                async with self._lock:
                    await self._reap()
                    feed = self.feeds.get(key)
                    if feed is None or feed.failed:
                        feed = self._feed(key, opener)
                        await feed.start(revision)
                        self.feeds[key] = feed
                    if feed.seed(items, revision):
                        feed.listed_at = time.monotonic()
                        self._failed_syncs.pop(key, None)
                        return
            log.info("could not hold the objects of %s: the feed kept moving on", key)
        except errors.StatusError as err:
            log.info("could not hold the objects of %s: %s", key, err.message)
        except Exception:
            log.exception("holding the objects of %s failed", key)
        self._failed_syncs[key] = time.monotonic()

    async def _reap(self) -> None:
        now = time.monotonic()
        for key, feed in list(self.feeds.items()):
            idle = now - max(feed.idle_since, feed.listed_at) > IDLE_SECONDS
            if feed.failed or (not feed.watchers and idle):
                del self.feeds[key]
                await feed.close()

    async def close(self) -> None:
        for task in list(self._syncs.values()):
            task.cancel()
        for feed in self.feeds.values():
            await feed.close()
        self.feeds.clear()
