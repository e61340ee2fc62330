"""The current objects of one resource, as the gateway's feed of it last saw them.

kube-apiserver answers ``resourceVersion=0`` lists from its watch cache, in process.
Here the watch cache lives in the storage service, two gRPC hops from the client, and a
10,000-object list spends most of its time crossing them. So a feed that already
follows a resource (services/gateway/watch_hub.py) also keeps its objects: seeded once
from a list, then kept current by the feed's own events, and a ``resourceVersion=0``
list becomes a filter and a concatenation of bytes the gateway already holds.

Each object is held as the JSON bytes of its watch event (the same bytes objects the
feed's window holds, not copies) plus its labels, for label selectors. Keys sort as
etcd's keys do (``namespace/name``), so a list comes out in the order storage gives.
The state also knows each object's previous bytes, which is what selector watches need
to turn a label change into ADDED or DELETED.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kapi import selectors

Obj = dict[str, Any]


@dataclass(slots=True)
class Stored:
    data: bytes
    namespace: str
    labels: Mapping[str, str]


def object_key(obj: Obj) -> tuple[str, str, str]:
    """(sort key as etcd orders it, namespace, name) of an object."""
    metadata = obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "")
    name = str(metadata.get("name") or "")
    return (f"{namespace}/{name}" if namespace else name), namespace, name


def _labels(obj: Obj) -> Mapping[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


class ObjectState:
    """The objects of one resource at ``revision``."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.since = revision  # the revision it was seeded at
        self._objects: dict[str, Stored] = {}
        self._order: list[str] | None = None

    @classmethod
    def seeded(cls, items: Iterable[bytes], revision: int) -> ObjectState:
        """The objects of a list: each decoded on its own, for its key and labels."""
        state = cls(revision)
        for data in items:
            obj = orjson.loads(data)
            key, namespace, _ = object_key(obj)
            state._objects[key] = Stored(data, namespace, _labels(obj))
        return state

    def __len__(self) -> int:
        return len(self._objects)

    def apply(self, kind: str, obj: Obj, data: bytes, revision: int) -> bytes | None:
        """Apply one event; the object's previous bytes (None if it was not held).

        Events at or below the state's revision are already in it and change nothing.
        """
        key, namespace, _ = object_key(obj)
        previous = self._objects.get(key)
        if revision <= self.revision:
            return previous.data if previous is not None else None
        self.revision = revision
        if kind == "DELETED":
            if previous is not None:
                del self._objects[key]
                self._order = None
        else:
            if previous is None:
                self._order = None
            self._objects[key] = Stored(data, namespace, _labels(obj))
        return previous.data if previous is not None else None

    def advance(self, revision: int) -> None:
        """A bookmark: nothing changed up to ``revision``."""
        self.revision = max(self.revision, revision)

    def get(self, namespace: str, name: str) -> bytes | None:
        stored = self._objects.get(f"{namespace}/{name}" if namespace else name)
        return stored.data if stored is not None else None

    def previous(self, obj: Obj) -> bytes | None:
        stored = self._objects.get(object_key(obj)[0])
        return stored.data if stored is not None else None

    def select(self, namespace: str, labels: selectors.LabelSelector) -> list[bytes]:
        """The bytes of the objects in ``namespace`` ('' for all) matching ``labels``,
        in key order."""
        if self._order is None:
            self._order = sorted(self._objects)
        objects = self._objects
        if namespace:
            # Keys of one namespace are contiguous in key order: find them by bisection.
            prefix = namespace + "/"
            start = bisect.bisect_left(self._order, prefix)
            end = bisect.bisect_left(self._order, namespace + "0")  # "0" follows "/"
            keys: Iterable[str] = self._order[start:end]
        else:
            keys = self._order
        if labels.empty:
            return [objects[k].data for k in keys]
        return [objects[k].data for k in keys if labels.matches_labels(objects[k].labels)]
