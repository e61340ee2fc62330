"""The storage backend contract, in etcd's revision vocabulary (kine's driver shape).

One store-wide revision counts every write; a key carries the revision that created
it and the one that last modified it. Writes are compare-and-swap only: create fails
when the key exists, update and conditional delete when the key's ``mod_revision`` is
not the expected one. Two implementations, one conformance suite: ``etcd_backend`` and
``memory_backend`` (tests/integration/storage/test_storage_conformance.py).

Every method may raise ``storage_errors.Unavailable`` (or ``Timeout``) when the backend
cannot answer; none retries on its own.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class Page:
    """A range read: ``items`` in key order, read at ``revision``.

    ``revision`` is the store's revision when the read was served (etcd's header
    revision), which for a read at an older revision is newer than that revision.
    ``count`` is the number of keys in the whole range (from the start key), so
    ``count - len(items)`` keys remain when ``more`` is set.
    """

    items: list[KeyValue]
    revision: int
    more: bool
    count: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    """One change: the key's new value (``PUT``) or its removal (``DELETE``).

    ``revision`` is the revision of the change; ``created`` tells a creation from an
    update. No previous value: whoever needs it keeps the state (the watch cache does).
    """

    type: EventType
    key: str
    value: bytes
    revision: int
    created: bool


@dataclass(frozen=True, slots=True)
class WatchBatch:
    """What one step of a watch gives: changes in revision order, and how far they reach.

    Every change under the watched prefix up to and including ``revision`` has been
    delivered on this stream once the batch is. ``events`` is empty for a progress
    notification: nothing changed under the prefix up to ``revision``.
    """

    events: list[Event]
    revision: int


class WatchStream(Protocol):
    """One open watch of a key prefix (``Backend.watch``): an async iterator of batches.

    Never ends on its own. ``__anext__`` raises ``Compacted`` (when the start revision
    is no longer kept) and ``Unavailable`` (the backend went away); the caller resumes
    with a new watch from the last revision it saw. ``aclose`` releases it.
    """

    def __aiter__(self) -> AsyncIterator[WatchBatch]: ...

    async def __anext__(self) -> WatchBatch: ...

    def request_progress(self) -> bool:
        """Ask for a progress batch (no events, the store's revision) soon.

        Non-blocking. ``False`` when this backend cannot give one that is safe to
        trust (etcd before 3.5.13 may send it ahead of pending events): the caller
        then learns the revision from events only.
        """
        ...

    async def aclose(self) -> None: ...


class Backend(Protocol):
    async def create(self, key: str, value: bytes) -> int:
        """Store ``value`` under a new key; the write's revision. ``KeyExists`` if present."""
        ...

    async def get(self, key: str) -> KeyValue:
        """The key's latest value (a linearizable read). ``KeyNotFound`` if absent."""
        ...

    async def list(
        self, prefix: str, *, revision: int = 0, start_key: str = "", limit: int = 0
    ) -> Page:
        """Keys under ``prefix`` from ``start_key`` (inclusive), at most ``limit`` (0: all).

        ``revision`` 0 reads the latest state; otherwise the state at that revision:
        ``Compacted`` when it is older than the compaction point, ``FutureRevision`` when
        the store has not reached it.
        """
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Replace the value if its ``mod_revision`` is ``expected_revision``; the new revision.

        ``KeyNotFound`` if absent, ``Conflict`` if the revision moved on.
        """
        ...

    async def delete(self, key: str, expected_revision: int | None = None) -> tuple[KeyValue, int]:
        """Remove the key (only at ``expected_revision`` when given).

        Returns the deleted key-value and the delete's revision. ``KeyNotFound`` if absent,
        ``Conflict`` if the revision moved on.
        """
        ...

    def watch(self, prefix: str, from_revision: int) -> WatchStream:
        """Changes under ``prefix`` at revisions ``>= from_revision``, in revision order.

        Nothing happens until the first ``__anext__``; see ``WatchStream``.
        """
        ...

    async def current_revision(self) -> int:
        """The store's latest revision (a linearizable read)."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision``: reads and watches before it fail with
        ``Compacted``. ``Compacted`` if already compacted past it."""
        ...

    async def close(self) -> None:
        """Release connections; the backend is not used afterwards."""
        ...


def prefix_end(prefix: str) -> str:
    """The smallest key greater than every key starting with ``prefix`` (etcd's range end).

    Keys compare by code point, which is the order of their UTF-8 bytes in etcd.
    """
    if not prefix:
        return "\x00"  # etcd: from the key to the end of the keyspace
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
