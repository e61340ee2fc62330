"""The CustomResourceDefinitions, kept in memory: ``kapi.informer`` over the registry's
storage port, followed in order by the CRD serving (``Handler``: every change, with the
storage revision it brings the informer to; bookmarks move the revision on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from kapi import informer
from services.registry.ports import StoragePort, StoredList, Where

CRDS = Where(group="apiextensions.k8s.io", resource="customresourcedefinitions", namespaced=False)

Obj = dict[str, Any]


class Handler(Protocol):
    """What follows the informer. Calls come one at a time, in revision order."""

    async def listed(self, crds: Mapping[str, Obj], revision: int) -> None:
        """Every CRD, as of ``revision`` (the first list, and each relist)."""

    async def changed(self, kind: str, crd: Obj, revision: int) -> None:
        """ADDED, MODIFIED or DELETED ``crd``, as of ``revision``."""

    async def progressed(self, revision: int) -> None:
        """Nothing changed up to ``revision`` (a bookmark)."""


def name_of(obj: Obj) -> str:
    name = (obj.get("metadata") or {}).get("name")
    return name if isinstance(name, str) else ""


@dataclasses.dataclass(frozen=True)
class _Event:
    type: str
    object: bytes
    resource_version: int = 0


class _ByName:
    """The handler, told of CRDs by name (they are cluster-scoped)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def listed(self, objects: Mapping[informer.Key, Obj], revision: int) -> None:
        await self.handler.listed({name: obj for (_, name), obj in objects.items()}, revision)

    async def changed(self, kind: str, obj: Obj, revision: int) -> None:
        await self.handler.changed(kind, obj, revision)

    async def progressed(self, revision: int) -> None:
        await self.handler.progressed(revision)


class CRDInformer:
    """``start()`` begins the reflector in the background; ``close()`` cancels it."""

    def __init__(self, storage: StoragePort, handler: Handler) -> None:
        async def list_page(limit: int, continue_token: str) -> StoredList:
            return await storage.list(CRDS, "", limit=limit, continue_token=continue_token)

        async def watch(revision: int, timeout_seconds: int) -> AsyncIterator[_Event]:
            async for kind, data in storage.watch(
                CRDS,
                "",
                resource_version=str(revision),
                allow_bookmarks=True,
                timeout_seconds=timeout_seconds,
            ):
                yield _Event(kind, data)

        self._informer = informer.Informer("crd", list_page, watch, follower=_ByName(handler))

    @property
    def crds(self) -> dict[str, Obj]:
        return {name: obj for (_, name), obj in _pairs(self._informer)}

    @property
    def revision(self) -> int:
        return self._informer.revision

    def start(self) -> None:
        self._informer.start()

    async def close(self) -> None:
        await self._informer.close()

    async def wait_synced(self) -> None:
        await self._informer.wait_synced()


def _pairs(source: informer.Informer) -> list[tuple[informer.Key, Obj]]:
    return [(informer.object_key(obj), obj) for obj in source.items()]
