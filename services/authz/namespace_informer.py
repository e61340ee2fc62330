"""Namespaces kept in authz's memory, so admitting a namespaced create costs no storage call.

kube-apiserver's NamespaceLifecycle plugin reads a namespace lister fed by a shared
informer and makes a live (quorum) GET only when the lister has no such namespace. This
is that informer: one reflector task lists the namespaces, then watches from the list's
resourceVersion and keeps ``name -> namespace`` current. A watch that fails (the storage
service or etcd restarting) is resumed from the last resourceVersion seen, after a
jittered exponential backoff; an in-band ERROR event (410 Expired once the window has
moved past that revision) means events were lost, so the reflector lists again.

``get`` answers from memory once the first list is in, and falls back to the live read
before that and on a miss — a namespace created a moment ago is never reported missing,
and authz never waits for storage to start serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
from collections.abc import AsyncGenerator
from typing import Any, Protocol

import orjson

from kapi import errors
from services.storage.model import ObjectList, ResourceRef, StoredObject, WatchEvent

log = logging.getLogger(__name__)

NAMESPACES = ResourceRef(group="", resource="namespaces", namespaced=False)

LIST_PAGE_SIZE = 500
BACKOFF_INITIAL = 0.2  # seconds before the first retry; doubled on each failure in a row
BACKOFF_MAX = 5.0
# Watches end after 5-10 minutes and are resumed (client-go's reflector): the spread keeps
# many authz replicas from reconnecting at once.
WATCH_TIMEOUT_SECONDS = (300, 600)

Obj = dict[str, Any]


class NamespaceStorage(Protocol):
    """What the informer uses of ``StorageClient`` (a fake stands in for it in tests).

    Failures are ``StatusError``s, as the client raises them.
    """

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject: ...

    async def list(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        limit: int = 0,
        continue_token: str = "",
    ) -> ObjectList: ...

    def watch(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: int = 0,
    ) -> AsyncGenerator[WatchEvent, None]: ...


class _Backoff:
    """Jittered exponential delays: ``initial`` doubling up to ``maximum``."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def reset(self) -> None:
        self._next = self.initial

    def delay(self) -> float:
        delay = self._next * random.uniform(0.5, 1.0)
        self._next = min(self._next * 2, self.maximum)
        return delay


def _name(obj: Obj) -> str:
    name = (obj.get("metadata") or {}).get("name")
    return name if isinstance(name, str) else ""


class NamespaceInformer:
    """``start()`` begins the reflector in the background; ``close()`` cancels it.

    Lookups never wait for it: until the first list is in, every ``get`` is a live read.
    """

    def __init__(
        self,
        storage: NamespaceStorage,
        *,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self._storage = storage
        self._backoff = _Backoff(backoff_initial, backoff_max)
        self._page_size = page_size
        self._namespaces: dict[str, Obj] = {}
        self._revision = 0
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False  # in a streak of failures: logged once, at its start

    @property
    def synced(self) -> bool:
        """Whether a first list is in (it stays true while a watch is being resumed)."""
        return self._synced.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="namespace informer")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_synced(self) -> None:
        """Return once the first list is in (callers bound the wait themselves)."""
        await self._synced.wait()

    def cached(self, name: str) -> Obj | None:
        """The namespace as last seen, a copy; None before the first list or if absent."""
        found = self._namespaces.get(name) if self.synced else None
        return copy.deepcopy(found) if found is not None else None

    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        """The namespace, or None if it does not exist.

        From memory when synced and known (``live`` skips that); otherwise a quorum read.
        A storage failure of the live read is raised as its ``StatusError``.
        """
        if not live:
            found = self.cached(name)
            if found is not None:
                return found
        return await self.read_live(name)

    async def read_live(self, name: str) -> Obj | None:
        try:
            stored = await self._storage.get(NAMESPACES, "", name)
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise
        found = orjson.loads(stored.object)
        return found if isinstance(found, dict) else None

    # --- the reflector ----------------------------------------------------------------

    async def _run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                need_list = await self._watch()
            except errors.StatusError as err:
                # Storage or etcd down or restarting: resume from the last revision.
                if not self._failing:
                    log.warning("namespace informer: %s; retrying", err.message)
                self._failing = True
                need_list = need_list or err.code == 410  # a list's continue token expired
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("namespace informer failed; listing again")
                need_list = True
            await asyncio.sleep(self._backoff.delay())

    async def _relist(self) -> None:
        """Replace the namespaces by a consistent list (paged, all at one revision)."""
        found: dict[str, Obj] = {}
        token, revision = "", 0
        while True:
            page = await self._storage.list(NAMESPACES, limit=self._page_size, continue_token=token)
            revision = revision or page.resource_version
            for raw in page.items:
                obj = orjson.loads(raw)
                if isinstance(obj, dict) and _name(obj):
                    found[_name(obj)] = obj
            token = page.continue_token
            if not token:
                break
        self._namespaces, self._revision = found, revision
        self._synced.set()
        self._failing = False
        log.info("namespace informer: listed %d namespaces at %d", len(found), revision)

    async def _watch(self) -> bool:
        """Apply events after the last revision until the watch ends; True: list again."""
        stream = self._storage.watch(
            NAMESPACES,
            resource_version=str(self._revision),
            allow_bookmarks=True,
            timeout_seconds=random.randint(*WATCH_TIMEOUT_SECONDS),
        )
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                if event.type == "ERROR":
                    log.info("namespace informer: watch ended: %s", event.object[:200])
                    return True
                self._apply(event)
                self._backoff.reset()
                self._failing = False
        return False

    def _apply(self, event: WatchEvent) -> None:
        obj = orjson.loads(event.object)
        if not isinstance(obj, dict):
            return
        revision = event.resource_version
        if not revision:
            with contextlib.suppress(TypeError, ValueError):
                revision = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
        if revision <= self._revision:
            return  # never go backwards, never apply an event twice
        self._revision = revision
        name = _name(obj)
        if event.type in ("ADDED", "MODIFIED") and name:
            self._namespaces[name] = obj
        elif event.type == "DELETED":
            self._namespaces.pop(name, None)
