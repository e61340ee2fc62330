"""Watch streams: backend change events → Kubernetes watch events for one watcher.

As kube-apiserver's etcd3 watcher: an optional initial state (ADDED per object), then
the changes after the start revision, filtered by label and field selectors so that an
object that stops matching arrives as DELETED and one that starts matching as ADDED.
A DELETED event carries the object as it was, with the delete's revision as its
resourceVersion. Bookmarks report the last revision seen (every event up to it has
been delivered); compaction arrives in-band as an ERROR event with a 410 Expired
Status, after which the stream ends.

One task reads the backend into a bounded queue; the generator is the single sender,
so revisions on a stream only increase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import orjson

from kapi import errors, selectors
from services.storage import objects, storage_errors
from services.storage.backend import Backend, Event, EventType
from services.storage.model import WatchEvent

log = logging.getLogger(__name__)

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_QUEUE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Options:
    labels: selectors.LabelSelector
    fields: selectors.FieldSelector
    resource_version: int  # 0: start at the latest revision
    initial_events: bool  # send ADDED for the current state first
    initial_events_end_bookmark: bool  # then a BOOKMARK annotated initial-events-end
    allow_bookmarks: bool
    bookmark_interval: float
    timeout: float  # seconds; 0: until the watcher goes away


def _matches(options: Options, obj: dict[str, Any]) -> bool:
    return options.labels.matches(obj) and options.fields.matches(obj)


def transform(event: Event, options: Options) -> WatchEvent | None:
    """The watch event this change means to a watcher with these selectors, if any."""
    match_all = options.labels.empty and options.fields.empty
    rev = event.revision
    if event.type is EventType.DELETE:
        if event.prev_value is None:
            return None
        old = orjson.loads(event.prev_value)
        if not (match_all or _matches(options, old)):
            return None
        return WatchEvent("DELETED", objects.with_revision(old, rev), rev)
    current = orjson.loads(event.value)
    now_matches = match_all or _matches(options, current)
    if event.created or event.prev_value is None:
        kind = "ADDED" if event.created else "MODIFIED"
        return WatchEvent(kind, objects.with_revision(current, rev), rev) if now_matches else None
    if match_all:
        return WatchEvent("MODIFIED", objects.with_revision(current, rev), rev)
    old = orjson.loads(event.prev_value)
    matched = _matches(options, old)
    if now_matches:
        kind = "MODIFIED" if matched else "ADDED"
        return WatchEvent(kind, objects.with_revision(current, rev), rev)
    if matched:  # stopped matching: gone from this watcher's view, as it was last seen
        return WatchEvent("DELETED", objects.with_revision(old, rev), rev)
    return None


def expired_event(revision: int, compacted_revision: int) -> WatchEvent:
    """The in-band 410 for a start revision older than the kept history.

    The number in parentheses is the oldest resourceVersion a watch can still start
    from (the revision before the compaction point), as the watch cache reports it.
    """
    oldest = max(compacted_revision - 1, 0)
    status = errors.expired(f"too old resource version: {revision} ({oldest})")
    return WatchEvent("ERROR", status.to_json(), 0)


class _Pump:
    """Reads a backend watch into a bounded queue from its own task."""

    def __init__(self, events: AsyncGenerator[Event, None]) -> None:
        self._queue: asyncio.Queue[Event | Exception] = asyncio.Queue(_QUEUE_SIZE)
        self._task = asyncio.create_task(self._run(events))

    async def _run(self, events: AsyncGenerator[Event, None]) -> None:
        try:
            async for event in events:
                await self._queue.put(event)
            await self._queue.put(storage_errors.Unavailable("the backend ended the watch"))
        except Exception as exc:
            await self._queue.put(exc)
        finally:
            await events.aclose()

    async def get(self, timeout: float | None) -> Event | None:
        """The next event; ``None`` when ``timeout`` passes first. Raises the watch's error."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def stream(
    backend: Backend, prefix: str, options: Options
) -> AsyncGenerator[WatchEvent, None]:
    """The events of one watcher of the keys under ``prefix``; see the module docstring.

    Ends cleanly when ``options.timeout`` passes; raises ``Unavailable`` when the
    backend goes away (the caller ends the stream with an error).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.timeout if options.timeout > 0 else None
    start = options.resource_version
    if options.initial_events:
        page = await backend.list(prefix)
        if start and page.revision < start:
            raise storage_errors.FutureRevision(start, page.revision)
        start = page.revision
        for kv in page.items:
            obj = orjson.loads(kv.value)
            if _matches(options, obj):
                yield WatchEvent(
                    "ADDED", objects.with_revision(obj, kv.mod_revision), kv.mod_revision
                )
        if options.initial_events_end_bookmark:
            annotations = {INITIAL_EVENTS_END: "true"}
            yield WatchEvent("BOOKMARK", objects.bookmark(start, annotations), start)

    last = start
    pump = _Pump(backend.watch(prefix, start + 1))
    try:
        next_bookmark = loop.time() + options.bookmark_interval
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            if options.allow_bookmarks and now >= next_bookmark:
                yield WatchEvent("BOOKMARK", objects.bookmark(last), last)
                next_bookmark = now + options.bookmark_interval
            wake = deadline
            if options.allow_bookmarks:
                wake = next_bookmark if wake is None else min(wake, next_bookmark)
            try:
                event = await pump.get(None if wake is None else max(wake - now, 0))
            except storage_errors.Compacted as exc:
                yield expired_event(last, exc.compacted_revision)
                return
            if event is None:
                continue
            last = event.revision
            out = transform(event, options)
            if out is not None:
                yield out
    finally:
        await pump.close()
