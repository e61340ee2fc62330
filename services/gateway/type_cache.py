"""The registry's type table as the gateway sees it: fetched, kept a few seconds."""

from __future__ import annotations

import asyncio
import time

import orjson

from kapi import errors
from services.registry.client import RegistryClient
from services.registry.types import ResourceType, TypeTable

TYPES_REFRESH_SECONDS = 10.0


class TypeCache:
    """The registry's type table, refreshed every few seconds."""

    def __init__(self, registry: RegistryClient) -> None:
        self.registry = registry
        self.table: TypeTable | None = None
        self.fetched = 0.0
        self.hash = ""
        self._lock = asyncio.Lock()

    async def get(self) -> TypeTable:
        if self.table is not None and time.monotonic() - self.fetched < TYPES_REFRESH_SECONDS:
            return self.table
        async with self._lock:
            if self.table is None or time.monotonic() - self.fetched >= TYPES_REFRESH_SECONDS:
                try:
                    reply = await self.registry.types()
                except errors.StatusError:
                    if self.table is None:
                        raise
                    return self.table  # serve the last known table while the registry is away
                self.table = TypeTable(ResourceType.from_json(t) for t in orjson.loads(reply.types))
                self.hash = reply.hash
                self.fetched = time.monotonic()
        return self.table
