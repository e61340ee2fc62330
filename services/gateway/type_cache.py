"""The registry's type table as the gateway sees it: followed by watch, never stale for long.

The registry streams its catalog (``Registry.WatchCatalog``): the table now, then every
new revision as CustomResourceDefinitions come, change and go. The gateway routes and
publishes discovery from the latest table it got, and tells the registry which revision
it routed a request with (``RequestTarget.catalog_revision``), so a registry replica
that has not caught up waits for it rather than answering 404. If the stream breaks
(the registry restarting, another replica taking over), the last table stays in use
while it is opened again after a short, growing delay; before the first table arrives
a request asks for it directly (``Registry.Types``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import orjson

from kapi import errors
from kapi_proto import registry_pb2
from services.registry.client import RegistryClient
from services.registry.types import ResourceType, TypeTable

log = logging.getLogger(__name__)

RETRY_INITIAL = 0.1
RETRY_MAX = 2.0


def table_from(reply: registry_pb2.TypesResponse) -> TypeTable[ResourceType]:
    return TypeTable(
        (ResourceType.from_json(t) for t in orjson.loads(reply.types)), revision=reply.revision
    )


class TypeCache:
    """The latest type table the registry sent (``get``), and its hash."""

    def __init__(self, registry: RegistryClient) -> None:
        self.registry = registry
        self.table: TypeTable[ResourceType] | None = None
        self.hash = ""
        self._follower: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.changed = asyncio.Event()  # set on each new table, then replaced

    def _take(self, reply: registry_pb2.TypesResponse) -> None:
        if self.table is not None and reply.hash == self.hash:
            if reply.revision > self.table.revision:
                self.table.revision = reply.revision
            return
        self.table = table_from(reply)
        self.hash = reply.hash
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def get(self) -> TypeTable[ResourceType]:
        if self._follower is None:
            self._follower = asyncio.create_task(self._follow(), name="catalog follower")
        table = self.table
        if table is not None:
            return table
        async with self._lock:
            if self.table is None:
                self._take(await self.registry.types())
            assert self.table is not None
            return self.table

    async def close(self) -> None:
        task, self._follower = self._follower, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        delay = RETRY_INITIAL
        while True:
            try:
                async for reply in self.registry.watch_catalog():
                    self._take(reply)
                    delay = RETRY_INITIAL
            except errors.StatusError as err:
                log.debug("catalog watch ended: %s", err.message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("catalog watch failed")
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RETRY_MAX)
