"""One client watch served by the watch cache (kube-apiserver's ``cacheWatcher``).

The cache offers the watcher each event that may concern it; the watcher decides what
the event is to it (ADDED / MODIFIED / DELETED, or nothing) and buffers it. Its
``events()`` generator — the one sender of the stream — first sends the initial state
or the window's backlog, then the buffer, and bookmarks when idle.

A watcher whose buffer is full is closed at once (its client stopped reading): the
stream ends and the client resumes from its last resourceVersion, as client-go does, so
neither the cache nor the other watchers ever wait for it. Memory per watcher is bounded
by its buffer, which holds references to events the cache already has.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from services.storage import objects
from services.storage.cached import (
    ADDED,
    DELETED,
    CachedObject,
    CacheEvent,
    Decoded,
    event_type_for,
)
from services.storage.model import WatchEvent
from services.storage.predicate import Predicate

log = logging.getLogger(__name__)

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
BOOKMARK = "BOOKMARK"

# kube-apiserver sends a bookmark this long before a watch's timeout, so a client that
# reconnects then resumes from as recent a resourceVersion as possible.
PRE_TIMEOUT_BOOKMARK = 2.0


@dataclass(frozen=True, slots=True)
class WatcherOptions:
    allow_bookmarks: bool = False
    bookmark_interval: float = 60.0
    timeout: float = 0.0  # seconds; 0: until the client goes away
    buffer: int = 1024
    # After the initial events, a BOOKMARK at this revision annotated initial-events-end
    # (watch-list, sendInitialEvents=true); 0: none.
    end_bookmark: int = 0


class Owner(Protocol):
    """What a watcher needs of its cache."""

    @property
    def revision(self) -> int: ...

    def forget(self, watcher: CacheWatcher) -> None: ...

    def request_progress(self) -> None: ...


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class CacheWatcher:
    """A watcher registered with a cache; see the module docstring."""

    def __init__(
        self,
        owner: Owner,
        predicate: Predicate,
        options: WatcherOptions,
        *,
        after: int,
        backlog: list[CacheEvent],
        initial: list[CachedObject],
    ) -> None:
        self.predicate = predicate
        self._owner = owner
        self._options = options
        self._after = after  # live events at or before this revision are not for us
        self._backlog = backlog
        self._initial = initial
        self._queue: deque[tuple[str, CacheEvent]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._last = after  # the revision of the last event handed to the client
        self._closed = False
        self.overflowed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def set_initial(self, initial: list[CachedObject], *, end_bookmark: int = 0) -> None:
        """Objects to send as ADDED before anything else (read after registering)."""
        self._initial = initial
        if end_bookmark:
            self._options = dataclasses.replace(self._options, end_bookmark=end_bookmark)

    def offer(self, event: CacheEvent, decoded: Decoded) -> None:
        """Called by the cache for each event this watcher may care about."""
        if self._closed or event.revision <= self._after:
            return
        kind = event_type_for(self.predicate, event, decoded)
        if kind is None:
            return
        if len(self._queue) >= self._options.buffer:
            log.info("closing a watcher that fell %d events behind (%s)", len(self._queue), kind)
            self.overflowed = True
            self.close()
            return
        self._queue.append((kind, event))
        if self._waiter is not None:
            _wake(self._waiter)

    def close(self) -> None:
        """End the stream (it drops what it buffered: the client resumes from its last rv)."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._backlog, self._initial = [], []
        if self._waiter is not None:
            _wake(self._waiter)
        self._owner.forget(self)

    def _event(self, kind: str, event: CacheEvent) -> WatchEvent:
        self._last = event.revision
        data = event.deleted_data() if kind == DELETED else event.obj.data
        return WatchEvent(kind, data, event.revision)

    def _bookmark(self) -> WatchEvent:
        revision = max(self._owner.revision, self._last)
        self._last = revision
        return WatchEvent(BOOKMARK, objects.bookmark(revision), revision)

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        """The stream: initial state or backlog, then live events; ends on timeout/close."""
        loop = asyncio.get_running_loop()
        options = self._options
        deadline = loop.time() + options.timeout if options.timeout > 0 else None
        try:
            for obj in self._initial:
                if self._closed:
                    return
                if self.predicate.matches(obj, obj.decode):
                    yield WatchEvent(ADDED, obj.data, obj.revision)
            self._initial = []
            if self._options.end_bookmark:
                revision = self._options.end_bookmark
                self._last = max(self._last, revision)
                annotations = {INITIAL_EVENTS_END: "true"}
                yield WatchEvent(BOOKMARK, objects.bookmark(revision, annotations), revision)
            for event in self._backlog:
                if self._closed:
                    return
                kind = event_type_for(self.predicate, event, Decoded(event))
                if kind is not None:
                    yield self._event(kind, event)
            self._backlog = []

            next_bookmark = self._next_bookmark(loop.time(), deadline)
            queue = self._queue
            while True:
                now = loop.time()
                if deadline is not None and now >= deadline:
                    return  # even while events keep coming
                if queue:
                    kind, event = queue.popleft()
                    yield self._event(kind, event)
                    continue
                if self._closed:
                    return
                if next_bookmark is not None and now >= next_bookmark:
                    self._owner.request_progress()
                    yield self._bookmark()
                    next_bookmark = self._next_bookmark(loop.time(), deadline)
                    continue
                wake_at = deadline
                if next_bookmark is not None:
                    wake_at = next_bookmark if wake_at is None else min(wake_at, next_bookmark)
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiter = waiter
                timer = loop.call_at(wake_at, _wake, waiter) if wake_at is not None else None
                try:
                    await waiter
                finally:
                    self._waiter = None
                    if timer is not None:
                        timer.cancel()
        finally:
            self._closed = True
            self._owner.forget(self)

    def _next_bookmark(self, now: float, deadline: float | None) -> float | None:
        """Every ``bookmark_interval``, and once just before the timeout (kube's rule)."""
        if not self._options.allow_bookmarks:
            return None
        at = now + self._options.bookmark_interval
        if deadline is not None:
            at = min(at, deadline - PRE_TIMEOUT_BOOKMARK)
        return at if at > now else None
