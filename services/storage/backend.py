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
from collections.abc import AsyncGenerator
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

    ``revision`` is the revision of the change; ``prev_value`` the value before it
    (``None`` for a creation, or when the backend no longer has it); ``created`` tells
    a creation from an update.
    """

    type: EventType
    key: str
    value: bytes
    revision: int
    prev_value: bytes | None
    created: bool


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

    def watch(self, prefix: str, from_revision: int) -> AsyncGenerator[Event, None]:
        """Changes under ``prefix`` at revisions ``>= from_revision``, in revision order.

        Never ends on its own. Raises ``Compacted`` (when starting, or when a slow watcher
        falls behind the kept history) and ``Unavailable`` while iterating. Closing the
        iterator (``aclose``) releases the underlying watch.
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
