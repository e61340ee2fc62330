"""The CustomResourceDefinitions, kept in memory: one reflector lists them from storage,
then watches from the list's revision.

As the namespace informer in authz: a watch that fails is resumed from the last revision
seen after a jittered backoff; an in-band ERROR event (410 Expired once storage's window
has moved past that revision) means events were lost, so the reflector lists again.
Every change reaches ``Handler`` in order, each with the storage revision it brings the
informer to; bookmarks move the revision on (``progressed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from kapi import errors
from services.registry.ports import StoragePort, Where

log = logging.getLogger(__name__)

CRDS = Where(group="apiextensions.k8s.io", resource="customresourcedefinitions", namespaced=False)
LIST_PAGE_SIZE = 500
BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 5.0
WATCH_TIMEOUT_SECONDS = (300, 600)

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


class CRDInformer:
    """``start()`` begins the reflector in the background; ``close()`` cancels it."""

    def __init__(self, storage: StoragePort, handler: Handler) -> None:
        self._storage = storage
        self._handler = handler
        self.crds: dict[str, Obj] = {}
        self.revision = 0
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._delay = BACKOFF_INITIAL
        self._failing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="crd informer")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                need_list = await self._watch()
            except errors.StatusError as err:
                if not self._failing:
                    log.warning("crd informer: %s; retrying", err.message)
                self._failing = True
                need_list = need_list or err.code == 410
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("crd informer failed; listing again")
                need_list = True
            await asyncio.sleep(self._delay * random.uniform(0.5, 1.0))
            self._delay = min(self._delay * 2, BACKOFF_MAX)

    async def _relist(self) -> None:
        found: dict[str, Obj] = {}
        token, revision = "", 0
        while True:
            page = await self._storage.list(CRDS, "", limit=LIST_PAGE_SIZE, continue_token=token)
            revision = revision or page.resource_version
            for raw in page.items:
                obj = orjson.loads(raw)
                if isinstance(obj, dict) and name_of(obj):
                    found[name_of(obj)] = obj
            token = page.continue_token
            if not token:
                break
        self.crds, self.revision = found, revision
        await self._handler.listed(dict(found), revision)
        self.synced.set()
        self._failing = False
        self._delay = BACKOFF_INITIAL

    async def _watch(self) -> bool:
        """Apply events after the last revision until the watch ends; True: list again."""
        stream = self._storage.watch(
            CRDS,
            "",
            resource_version=str(self.revision),
            allow_bookmarks=True,
            timeout_seconds=random.randint(*WATCH_TIMEOUT_SECONDS),
        )
        async with contextlib.aclosing(stream) as events:  # type: ignore[type-var]
            async for kind, data in events:
                if kind == "ERROR":
                    log.info("crd informer: watch ended: %s", data[:200])
                    return True
                await self._apply(kind, orjson.loads(data))
                self._delay = BACKOFF_INITIAL
                self._failing = False
        return False

    async def _apply(self, kind: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        try:
            revision = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
        except (TypeError, ValueError):
            return
        if revision <= self.revision:
            return  # never go backwards, never apply an event twice
        self.revision = revision
        if kind == "BOOKMARK":
            await self._handler.progressed(revision)
            return
        name = name_of(obj)
        if not name:
            return
        if kind == "DELETED":
            self.crds.pop(name, None)
        else:
            self.crds[name] = obj
        await self._handler.changed(kind, obj, revision)
