"""The watch cache: one backend watch per resource, its current state and a window of
recent events (kube-apiserver's ``cacher`` + ``watchCache``).

Per resource key prefix (``/registry/pods/``), a reflector task lists the objects once,
then follows one backend watch from that revision. Each change is decoded once: the
cache keeps every object's final JSON (``metadata.resourceVersion`` filled in), so a
list is a concatenation and an event is sent to any number of watchers without being
encoded again. Watchers are indexed by what they select (exact name, an exact field
value such as ``spec.nodeName``, namespace, or everything), so an event is offered only
to the watchers that may want it.

What the cache guarantees, as kube-apiserver's does:

- ``revision``: every change under the prefix up to it has been applied (from events,
  and from the backend's progress notifications where they are safe); a list from the
  cache is the state at exactly that revision.
- A watch can start from any revision ``>= window_start``: every later event is in the
  window. Older: ``Compacted`` (the caller answers 410 Expired in-band).
- Watchers get events in revision order, each once. One whose buffer is full (a client
  that stopped reading) is closed — its stream ends, and the client resumes from its
  last resourceVersion — so it never slows the reflector, the writers or other watchers.
- The backend going away (etcd restarted) is survived by resuming the watch from
  ``revision + 1``: no gap, no duplicate. If that revision has been compacted meanwhile,
  the cache lists again and ends every watch (clients resume, get 410, and relist).

Single event loop, no locks: state changes and dispatch happen without an ``await`` in
between, so a watcher registered at a point of the stream sees exactly what follows.
Knows nothing of gRPC.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from kapi import gc_policy, selectors
from kapi.json_bytes import compact
from services.storage import objects, storage_errors
from services.storage.backend import Backend, EventType, KeyValue, WatchBatch, WatchStream
from services.storage.backend import Event as BackendEvent
from services.storage.cache_watcher import CacheWatcher, WatcherOptions
from services.storage.cached import (
    ADDED,
    DELETED,
    MODIFIED,
    CachedObject,
    CacheEvent,
    Decoded,
)
from services.storage.predicate import Predicate

log = logging.getLogger(__name__)

JSON = dict[str, Any]

EMPTY_LABELS: Mapping[str, str] = MappingProxyType({})


DEFAULT_WATCHER_BUFFER = 1024
DEFAULT_BOOKMARK_INTERVAL = 60.0  # kube-apiserver's bookmark frequency
# A progress request not answered in this long is sent again (see ``wait_fresh``).
PROGRESS_RESEND = 0.1
# Without progress notifications, how long ``wait_fresh`` keeps looking for this
# process's writes to account for the revisions in between, and how often.
OWN_WRITES_GRACE = 0.02
OWN_WRITES_POLL = 0.002


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """How much a cache keeps and how its watchers behave.

    The window keeps at least ``window_min_events`` and at most ``window_max_events``
    events, and drops those older than ``window_seconds`` beyond the minimum
    (kube-apiserver: 100 to 100 Ki events, 75 s).
    """

    window_min_events: int = 100
    window_max_events: int = 100 * 1024
    window_seconds: float = 75.0
    watcher_buffer: int = DEFAULT_WATCHER_BUFFER
    bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL
    progress_interval: float = 1.0
    list_page_size: int = 10_000
    ready_timeout: float = 10.0


class WatchCache:
    """The cache of one resource (keys under ``root``, which ends with ``/``)."""

    def __init__(
        self,
        backend: Backend,
        root: str,
        *,
        namespaced: bool,
        config: CacheConfig,
        resource: str = "",
    ) -> None:
        self._backend = backend
        self._root = root
        # For the metrics (services/storage/metrics.py): the resource as kube labels it,
        # and counts kept as plain ints, read when scraped.
        self.resource = resource
        self.events_received = 0
        self.events_dispatched = 0
        self.initializations = 0
        self.terminated_watchers = 0
        self.progress_notifications = 0
        self._namespaced = namespaced
        self._config = config
        self._loop = asyncio.get_running_loop()
        # Current state: by key, and in key order (parallel lists) for lists and snapshots.
        self._objects: dict[str, CachedObject] = {}
        self._keys: list[str] = []
        self._sorted: list[CachedObject] = []
        # The window: events in revision order; those before _head are already evicted.
        self._events: list[CacheEvent] = []
        self._head = 0
        self._window_start = 0
        self._revision = 0
        # No object held was modified after this revision (see ``summary``).
        self._max_modified = 0
        self._ready = False
        self._ready_waiters: list[asyncio.Future[None]] = []
        self._advanced = asyncio.Event()
        # Watchers, each in exactly one index.
        self._all: set[CacheWatcher] = set()
        self._by_namespace: dict[str, set[CacheWatcher]] = {}
        self._by_name: dict[tuple[str | None, str], set[CacheWatcher]] = {}
        self._by_trigger: dict[str, dict[str, set[CacheWatcher]]] = {}
        self._watcher_count = 0
        self._stream: WatchStream | None = None
        self._last_progress_request = 0.0
        self._progress_pending = False  # asked the backend where it is; no answer yet
        self._progress_asked = 0.0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------

    def start(self, from_revision: int = 0) -> None:
        """Start the reflector. ``from_revision``: list at that revision when the backend
        still has it, so watches from it can be served; else at the latest."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(from_revision), name=f"cache {self._root}")

    async def close(self) -> None:
        self._closed = True
        self._terminate_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for waiter in self._ready_waiters:
            if not waiter.done():
                waiter.set_exception(storage_errors.Unavailable("the watch cache is closed"))

    @property
    def root(self) -> str:
        return self._root

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def window_start(self) -> int:
        return self._window_start

    @property
    def ready(self) -> bool:
        return self._ready

    def summary(self) -> tuple[int, int]:
        """(objects held, a revision no held object was modified after).

        With ``revision``, what a copy of this state kept one layer up from the same
        events needs to know it is as current: if it holds as many objects and has
        seen every event up to the second figure, it holds the same objects (each of
        these was last written by then, so it has it as it is; none is missing, so it
        has none that was deleted since)."""
        return len(self._objects), self._max_modified

    @property
    def watcher_count(self) -> int:
        return self._watcher_count

    def __len__(self) -> int:
        return len(self._objects)

    async def wait_ready(self) -> None:
        """Return once the first list is in; ``Unavailable`` if it fails or takes too long."""
        if self._ready:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._ready_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self._config.ready_timeout)
        except TimeoutError:
            raise storage_errors.Unavailable(
                f"the watch cache of {self._root} is not ready"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._ready_waiters.remove(waiter)

    def _resolve_ready(self, error: Exception | None) -> None:
        waiters, self._ready_waiters = self._ready_waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(storage_errors.Unavailable(f"watch cache: {error}"))

    def request_progress(self) -> None:
        """Ask the backend where it is, at most once per ``progress_interval``."""
        now = self._loop.time()
        if self._stream is not None and now - self._last_progress_request >= min(
            self._config.progress_interval, self._config.bookmark_interval
        ):
            self._last_progress_request = now
            self._stream.request_progress()

    async def wait_fresh(
        self,
        revision: int,
        timeout: float,
        elsewhere: Callable[[int, int], bool] | None = None,
    ) -> None:
        """Return once every change up to ``revision`` is in (kube-apiserver's
        ``waitUntilFreshAndBlock``): when an event says so, when the backend's progress
        notification does (asked for), or when ``elsewhere(cache revision, revision)``
        says every write in between was to other resources (``write_log``).
        ``Unavailable`` when none can tell — for a backend without safe progress
        notifications, after a short grace for writes whose answers are on their way —
        or not within ``timeout`` seconds."""
        began = self._loop.time()
        deadline = began + timeout
        while self._revision < revision:
            if elsewhere is not None and elsewhere(self._revision, revision):
                self._revision = revision  # nothing under this root changed in between
                self._advance()
                return
            now = self._loop.time()
            if now >= deadline:
                self._progress_pending = False
                raise storage_errors.Unavailable(
                    f"the watch cache of {self._root} did not reach revision {revision} "
                    f"in {timeout:g} s (it is at {self._revision})"
                )
            # Ask again when an answer is overdue: a request, or its answer, can be lost
            # (etcd drops a request while the previous one is being written, and an
            # answer below the watch's next revision carries nothing).
            if not self._progress_pending or now - self._progress_asked >= PROGRESS_RESEND:
                if self._stream is not None and self._stream.request_progress():
                    self._progress_pending, self._progress_asked = True, now
                elif elsewhere is None or now - began >= OWN_WRITES_GRACE:
                    raise storage_errors.Unavailable(
                        f"the watch cache of {self._root} cannot confirm revision {revision}"
                    )
            wait = PROGRESS_RESEND if self._progress_pending else OWN_WRITES_POLL
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), min(deadline - now, wait))

    # --- the reflector ----------------------------------------------------------------

    async def _run(self, from_revision: int) -> None:
        delay, need_list = 0.1, True
        while not self._closed:
            try:
                if need_list:
                    await self._relist(from_revision)
                    from_revision, need_list = 0, False
                stream = self._backend.watch(self._root, self._revision + 1)
                self._stream, self._progress_pending = stream, False
                try:
                    async for batch in stream:
                        self._apply(batch)
                        delay = 0.1
                finally:
                    self._stream, self._progress_pending = None, False
                    await stream.aclose()
            except storage_errors.Compacted as exc:
                log.info("watch cache %s: %s; listing again", self._root, exc)
                need_list = True
                continue
            except storage_errors.Unavailable as exc:
                log.info("watch cache %s: %s; resuming from %d", self._root, exc, self._revision)
                if not self._ready:
                    self._resolve_ready(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("watch cache %s failed; listing again", self._root)
                if not self._ready:
                    self._resolve_ready(exc)
                need_list = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _relist(self, at: int) -> None:
        """Replace the state by a list of the backend (at ``at`` if it still has it)."""
        revision, start = at, self._root
        kvs: list[KeyValue] = []
        while True:
            try:
                page = await self._backend.list(
                    self._root,
                    revision=revision,
                    start_key=start,
                    limit=self._config.list_page_size,
                )
            except (storage_errors.Compacted, storage_errors.FutureRevision):
                if revision and revision == at:
                    revision, start, kvs = 0, self._root, []
                    continue
                raise
            revision = revision or page.revision
            kvs.extend(page.items)
            if not page.more or not page.items:
                break
            start = page.items[-1].key + "\x00"
        self._replace(kvs, revision)

    def _replace(self, kvs: Iterable[KeyValue], revision: int) -> None:
        with gc_policy.bulk_load():
            cached = [self._cached(kv.key, kv.value, kv.mod_revision)[0] for kv in kvs]
        if self._ready:
            log.info("watch cache %s: relisted at %d; ending its watches", self._root, revision)
            self._terminate_all()
        self._objects = {c.key: c for c in cached}
        self._sorted = sorted(cached, key=lambda c: c.key)
        self._keys = [c.key for c in self._sorted]
        self._events, self._head = [], 0
        self._max_modified = max((c.revision for c in cached), default=0)
        self._window_start = self._revision = revision
        self._ready = True
        self.initializations += 1
        self._resolve_ready(None)
        self._advance()

    def _split(self, key: str) -> tuple[str, str]:
        rest = key[len(self._root) :]
        if self._namespaced:
            namespace, _, name = rest.partition("/")
            return namespace, name
        return "", rest

    def to_cached(self, kv: KeyValue) -> CachedObject:
        """A backend key-value as the cache would hold it (not added to the cache)."""
        return self._cached(kv.key, kv.value, kv.mod_revision)[0]

    def _cached(self, key: str, value: bytes, revision: int) -> tuple[CachedObject, JSON]:
        """Decode a stored value once: its final JSON, labels, namespace and name."""
        obj = orjson.loads(value)
        if not isinstance(obj, dict):
            obj = {"value": obj}
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict):
            metadata = obj["metadata"] = {}
        metadata["resourceVersion"] = str(revision)
        labels = metadata.get("labels")
        if not isinstance(labels, dict) or not labels:
            labels = EMPTY_LABELS
        namespace, name = self._split(key)
        data = compact(orjson.dumps(obj))
        return CachedObject(key, data, revision, namespace, name, labels), obj

    def _apply(self, batch: WatchBatch) -> None:
        if not batch.events:
            self.progress_notifications += 1
        else:
            self.events_received += len(batch.events)
            now = self._loop.time()
            for event in batch.events:
                if event.revision <= self._revision:
                    log.warning(
                        "watch cache %s: event at %d after revision %d",
                        self._root,
                        event.revision,
                        self._revision,
                    )
                self._ingest(event, now)
        if batch.revision > self._revision:
            self._revision = batch.revision
        self._progress_pending = False
        self._advance()

    def _advance(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    def _ingest(self, change: BackendEvent, now: float) -> None:
        key = change.key
        decoded: JSON | None = None
        if change.type is EventType.PUT:
            obj, decoded = self._cached(key, change.value, change.revision)
            self._max_modified = change.revision
            prev = self._objects.get(key)
            self._objects[key] = obj
            i = bisect.bisect_left(self._keys, key)
            if prev is None:
                self._keys.insert(i, key)
                self._sorted.insert(i, obj)
            else:
                self._sorted[i] = obj
            event = CacheEvent(MODIFIED if prev is not None else ADDED, obj, prev, now)
        else:
            prev = self._objects.pop(key, None)
            if prev is None:
                return  # never seen (deleted before the list): nothing to tell
            i = bisect.bisect_left(self._keys, key)
            del self._keys[i]
            del self._sorted[i]
            data = compact(objects.with_revision(prev.decode(), change.revision))
            gone = CachedObject(key, data, change.revision, prev.namespace, prev.name, prev.labels)
            event = CacheEvent(DELETED, gone, prev, now)
        self._append(event)
        if self._watcher_count:
            self.events_dispatched += 1
            self._dispatch(event, Decoded(event, decoded))

    def _append(self, event: CacheEvent) -> None:
        events, config = self._events, self._config
        events.append(event)
        size = len(events) - self._head
        horizon = event.time - config.window_seconds
        while size > config.window_max_events or (
            size > config.window_min_events and events[self._head].time < horizon
        ):
            self._window_start = events[self._head].revision
            self._head += 1
            size -= 1
        if self._head >= 1024:
            del events[: self._head]
            self._head = 0

    # --- reads --------------------------------------------------------------------------

    def get(self, key: str) -> CachedObject | None:
        return self._objects.get(key)

    def objects_under(self, prefix: str, start_key: str = "") -> list[CachedObject]:
        """The objects with keys under ``prefix`` (from ``start_key``), in key order."""
        lo = bisect.bisect_left(self._keys, max(prefix, start_key))
        hi = bisect.bisect_left(self._keys, _prefix_end(prefix), lo)
        return self._sorted[lo:hi]

    def events_after(self, revision: int) -> list[CacheEvent]:
        """The window's events after ``revision``; ``Compacted`` when some are gone."""
        if revision < self._window_start:
            raise storage_errors.Compacted(revision, self._window_start)
        i = bisect.bisect_right(self._events, revision, lo=self._head, key=lambda e: e.revision)
        return self._events[i:]

    # --- watchers -------------------------------------------------------------------------

    def watch(
        self,
        predicate: Predicate,
        options: WatcherOptions,
        *,
        after: int,
        backlog: list[CacheEvent] | None = None,
        initial: list[CachedObject] | None = None,
    ) -> CacheWatcher:
        """Register a watcher of the events that follow (those after ``after`` only).

        ``backlog``: window events to send first; ``initial``: objects to send first as
        ADDED (filtered by the predicate). Nothing is awaited, so nothing slips between
        what the caller read from the cache and what the watcher will be sent.
        """
        watcher = CacheWatcher(
            self, predicate, options, after=after, backlog=backlog or [], initial=initial or []
        )
        self._index(watcher, add=True)
        return watcher

    def _index(self, watcher: CacheWatcher, *, add: bool) -> None:
        p = watcher.predicate
        group: set[CacheWatcher]
        if p.name is not None:
            group = self._by_name.setdefault((p.namespace, p.name), set())
        elif p.trigger is not None:
            path, value = p.trigger
            group = self._by_trigger.setdefault(path, {}).setdefault(value, set())
        elif p.namespace:
            group = self._by_namespace.setdefault(p.namespace, set())
        else:
            group = self._all
        if add:
            group.add(watcher)
            self._watcher_count += 1
            return
        if watcher not in group:
            return
        group.discard(watcher)
        self._watcher_count -= 1
        if group or group is self._all:
            return
        if p.name is not None:
            del self._by_name[(p.namespace, p.name)]
        elif p.trigger is not None:
            values = self._by_trigger[p.trigger[0]]
            del values[p.trigger[1]]
            if not values:
                del self._by_trigger[p.trigger[0]]
        elif p.namespace:
            del self._by_namespace[p.namespace]

    def forget(self, watcher: CacheWatcher) -> None:
        """Unregister a watcher (it ended, was closed, or fell behind)."""
        if watcher.overflowed:
            self.terminated_watchers += 1
        self._index(watcher, add=False)

    def _terminate_all(self) -> None:
        groups: list[Iterable[CacheWatcher]] = [self._all, *self._by_namespace.values()]
        groups += self._by_name.values()
        groups += [g for values in self._by_trigger.values() for g in values.values()]
        for watcher in [w for group in groups for w in group]:
            watcher.close()

    def _targets(self, event: CacheEvent, decoded: Decoded) -> list[CacheWatcher]:
        obj = event.obj
        targets = list(self._all)
        if self._by_namespace and obj.namespace:
            targets.extend(self._by_namespace.get(obj.namespace, ()))
        if self._by_name:
            targets.extend(self._by_name.get((obj.namespace, obj.name), ()))
            targets.extend(self._by_name.get((None, obj.name), ()))
        for path, by_value in self._by_trigger.items():
            now = selectors.field_value(decoded.obj(), path) if event.type != DELETED else None
            before = selectors.field_value(decoded.prev(), path) if event.prev else None
            if now is not None:
                targets.extend(by_value.get(now, ()))
            if before is not None and before != now:
                targets.extend(by_value.get(before, ()))
        return targets

    def _dispatch(self, event: CacheEvent, decoded: Decoded) -> None:
        for watcher in self._targets(event, decoded):
            watcher.offer(event, decoded)


def _prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class CacheSet:
    """The caches of one store, one per resource root, started on first use."""

    def __init__(self, backend: Backend, config: CacheConfig) -> None:
        self._backend = backend
        self._config = config
        self._caches: dict[str, WatchCache] = {}

    @property
    def config(self) -> CacheConfig:
        return self._config

    async def get(
        self, root: str, *, namespaced: bool, from_revision: int = 0, resource: str = ""
    ) -> WatchCache:
        """The ready cache of the keys under ``root``; ``Unavailable`` if it cannot list.

        A cache started here lists at ``from_revision`` when given and still kept, so a
        watch from it (e.g. an informer resuming after a restart) need not relist.
        ``resource`` names it in the metrics.
        """
        cache = self._caches.get(root)
        if cache is None:
            cache = self._caches[root] = WatchCache(
                self._backend, root, namespaced=namespaced, config=self._config, resource=resource
            )
            cache.start(from_revision)
        await cache.wait_ready()
        return cache

    def peek(self, root: str) -> WatchCache | None:
        """The cache of ``root`` if one was started (ready or not); never starts one."""
        return self._caches.get(root)

    def all(self) -> list[WatchCache]:
        return list(self._caches.values())

    async def close(self) -> None:
        caches, self._caches = list(self._caches.values()), {}
        for cache in caches:
            await cache.close()
