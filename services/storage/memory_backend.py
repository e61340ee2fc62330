"""An in-memory backend with etcd's semantics: MVCC revisions, history, compaction.

For tests and a machine without etcd. Every key keeps its versions (tombstones
included) so reads at an older revision see that revision's state, as paginated lists
need; a window of recent events feeds watchers. When the window is full the oldest
history is compacted away, so a watcher or a read that far behind gets ``Compacted``
exactly as it would from etcd after kube-apiserver's periodic compaction.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass

from services.storage import storage_errors
from services.storage.backend import Event, EventType, KeyValue, Page, WatchBatch, prefix_end


@dataclass(frozen=True, slots=True)
class _Version:
    revision: int
    create_revision: int
    value: bytes | None  # None: a tombstone (the key was deleted at ``revision``)


class MemoryBackend:
    """The ``Backend`` contract in a process's memory. Single event loop, no locks needed."""

    def __init__(self, *, history_limit: int = 10_000) -> None:
        self._revision = 1  # as a fresh etcd: the first write gets revision 2
        self._compacted = 0
        self._history_limit = history_limit
        self._keys: list[str] = []  # sorted; a key stays until compaction drops it
        self._versions: dict[str, list[_Version]] = {}
        self._events: list[Event] = []  # revision order; those >= the compaction point
        self._changed = asyncio.Event()

    # --- reads ------------------------------------------------------------------------

    def _latest(self, key: str) -> _Version | None:
        versions = self._versions.get(key)
        if not versions or versions[-1].value is None:
            return None
        return versions[-1]

    @staticmethod
    def _at(versions: list[_Version], revision: int) -> _Version | None:
        i = bisect.bisect_right(versions, revision, key=lambda v: v.revision)
        if i == 0 or versions[i - 1].value is None:
            return None
        return versions[i - 1]

    async def get(self, key: str) -> KeyValue:
        version = self._latest(key)
        if version is None or version.value is None:
            raise storage_errors.KeyNotFound(key)
        return KeyValue(key, version.value, version.revision, version.create_revision)

    async def list(
        self, prefix: str, *, revision: int = 0, start_key: str = "", limit: int = 0
    ) -> Page:
        if revision > self._revision:
            raise storage_errors.FutureRevision(revision, self._revision)
        if 0 < revision < self._compacted:
            raise storage_errors.Compacted(revision, self._compacted)
        at = revision or self._revision
        start = max(start_key, prefix)
        end = prefix_end(prefix)
        lo = bisect.bisect_left(self._keys, start)
        hi = len(self._keys) if end == "\x00" else bisect.bisect_left(self._keys, end)
        live: list[KeyValue] = []
        for key in self._keys[lo:hi]:
            version = self._at(self._versions[key], at)
            if version is not None and version.value is not None:
                live.append(KeyValue(key, version.value, version.revision, version.create_revision))
        items = live[:limit] if limit > 0 else live
        return Page(
            items=items, revision=self._revision, more=len(items) < len(live), count=len(live)
        )

    async def current_revision(self) -> int:
        return self._revision

    # --- writes -----------------------------------------------------------------------

    def _write(self, key: str, value: bytes | None, create_revision: int) -> int:
        if value is not None:
            value = bytes(memoryview(value))  # our own copy, of its own size (not orjson's)
        self._revision += 1
        rev = self._revision
        if key not in self._versions:
            bisect.insort(self._keys, key)
            self._versions[key] = []
        self._versions[key].append(_Version(rev, create_revision, value))
        self._events.append(
            Event(
                type=EventType.PUT if value is not None else EventType.DELETE,
                key=key,
                value=value or b"",
                revision=rev,
                created=value is not None and create_revision == rev,
            )
        )
        # Compaction walks every key: done once the history is a quarter over its limit,
        # not on every write past it (which made each write O(keys)).
        if len(self._events) > self._history_limit + self._history_limit // 4:
            self._compact(self._events[-self._history_limit].revision)
        self._wake()
        return rev

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def create(self, key: str, value: bytes) -> int:
        if self._latest(key) is not None:
            raise storage_errors.KeyExists(key)
        return self._write(key, value, self._revision + 1)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        current = self._latest(key)
        if current is None:
            raise storage_errors.KeyNotFound(key)
        if current.revision != expected_revision:
            raise storage_errors.Conflict(key, expected=expected_revision, actual=current.revision)
        return self._write(key, value, current.create_revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> tuple[KeyValue, int]:
        current = self._latest(key)
        if current is None or current.value is None:
            raise storage_errors.KeyNotFound(key)
        if expected_revision is not None and current.revision != expected_revision:
            raise storage_errors.Conflict(key, expected=expected_revision, actual=current.revision)
        rev = self._write(key, None, 0)
        return KeyValue(key, current.value, current.revision, current.create_revision), rev

    # --- history ----------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        if revision > self._revision:
            raise storage_errors.FutureRevision(revision, self._revision)
        if revision <= self._compacted:
            raise storage_errors.Compacted(revision, self._compacted)
        self._compact(revision)
        self._wake()  # watchers that now fell behind fail

    def _compact(self, revision: int) -> None:
        """Keep, per key, the versions a read at ``revision`` or later can see."""
        self._compacted = revision
        dead: list[str] = []
        for key, versions in self._versions.items():
            i = bisect.bisect_right(versions, revision, key=lambda v: v.revision)
            keep = versions[i - 1 :] if i > 0 else versions
            if keep and keep[0].revision <= revision and keep[0].value is None:
                keep = keep[1:]  # a tombstone at or before the compaction point is forgotten
            if keep:
                self._versions[key] = keep
            else:
                dead.append(key)
        for key in dead:
            del self._versions[key]
        if dead:
            gone = set(dead)
            self._keys = [k for k in self._keys if k not in gone]
        first = bisect.bisect_left(self._events, revision, key=lambda e: e.revision)
        del self._events[:first]

    def watch(self, prefix: str, from_revision: int) -> MemoryWatch:
        return MemoryWatch(self, prefix, from_revision)

    async def close(self) -> None:
        return None


class MemoryWatch:
    """A ``backend.WatchStream`` over the memory backend's event history.

    Progress notifications are exact here: one is given only once every pending event
    has been, so its revision is always safe to trust.
    """

    def __init__(self, backend: MemoryBackend, prefix: str, from_revision: int) -> None:
        self._backend = backend
        self._prefix = prefix
        self._end = prefix_end(prefix)
        self._next = max(from_revision, 1)
        self._progress = False
        self._closed = False

    def __aiter__(self) -> MemoryWatch:
        return self

    async def __anext__(self) -> WatchBatch:
        backend = self._backend
        while True:
            if self._closed:
                raise storage_errors.Unavailable("the watch was closed")
            if self._next < backend._compacted:
                raise storage_errors.Compacted(self._next, backend._compacted)
            changed = backend._changed  # taken before reading, so no write slips between
            events = backend._events
            i = bisect.bisect_left(events, self._next, key=lambda e: e.revision)
            batch = [
                e
                for e in events[i:]
                if self._prefix <= e.key and (self._end == "\x00" or e.key < self._end)
            ]
            if i < len(events):
                self._next = events[-1].revision + 1
            if batch:
                return WatchBatch(batch, batch[-1].revision)
            if self._progress and backend._revision >= self._next - 1:
                self._progress = False
                self._next = backend._revision + 1
                return WatchBatch([], backend._revision)
            await changed.wait()

    def request_progress(self) -> bool:
        self._progress = True
        self._backend._wake()
        return True

    async def aclose(self) -> None:
        self._closed = True
