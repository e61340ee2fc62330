"""What the watch cache holds: objects with their final JSON, and events.

Shared by the cache (``cache.py``) and its watchers (``cache_watcher.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from kapi.json_bytes import compact
from services.storage import objects
from services.storage.predicate import Predicate

JSON = dict[str, Any]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class CachedObject:
    """One object as the cache holds it: final JSON and what selectors read."""

    __slots__ = ("data", "key", "labels", "name", "namespace", "revision")

    def __init__(
        self,
        key: str,
        data: bytes,
        revision: int,
        namespace: str,
        name: str,
        labels: Mapping[str, str],
    ) -> None:
        self.key = key
        self.data = data  # JSON with metadata.resourceVersion == str(revision)
        self.revision = revision
        self.namespace = namespace
        self.name = name
        self.labels = labels

    def decode(self) -> JSON:
        obj: JSON = orjson.loads(self.data)
        return obj


class CacheEvent:
    """A change as watchers see it. ``obj`` is the new state — for ``DELETED`` the last
    state with the delete's revision as its resourceVersion; ``prev`` the state before."""

    __slots__ = ("_deleted", "obj", "prev", "revision", "time", "type")

    def __init__(
        self, type: str, obj: CachedObject, prev: CachedObject | None, time: float
    ) -> None:
        self.type = type
        self.obj = obj
        self.prev = prev
        self.revision = obj.revision
        self.time = time
        self._deleted: bytes | None = None

    def deleted_data(self) -> bytes:
        """The JSON of a DELETED event for this change: for an update after which the
        object no longer matches a watcher, its previous state at this revision."""
        if self.type == DELETED or self.prev is None:
            return self.obj.data
        if self._deleted is None:
            self._deleted = compact(objects.with_revision(self.prev.decode(), self.revision))
        return self._deleted


class Decoded:
    """An event's objects decoded lazily, at most once each (shared by its watchers)."""

    __slots__ = ("_event", "_obj", "_prev")

    def __init__(self, event: CacheEvent, obj: JSON | None = None) -> None:
        self._event = event
        self._obj = obj
        self._prev: JSON | None = None

    def obj(self) -> JSON:
        if self._obj is None:
            self._obj = self._event.obj.decode()
        return self._obj

    def prev(self) -> JSON:
        if self._prev is None:
            prev = self._event.prev
            self._prev = prev.decode() if prev is not None else {}
        return self._prev


def event_type_for(predicate: Predicate, event: CacheEvent, decoded: Decoded) -> str | None:
    """What ``event`` is to a watcher with ``predicate``: an object that starts matching is
    ADDED, one that stops matching DELETED; None when the watcher does not see it."""
    if predicate.everything:
        return event.type
    now = event.type != DELETED and predicate.matches(event.obj, decoded.obj)
    before = event.prev is not None and predicate.matches(event.prev, decoded.prev)
    if now:
        return MODIFIED if before else ADDED
    return DELETED if before else None
