"""Informers with client-go's semantics (``k8s.io/client-go/tools/cache``).

A reflector lists a resource, then watches from the list's resourceVersion and applies
each event to a local store, so controllers read from memory and react to changes, never
polling:

* The first list asks for ``resourceVersion=0`` (the server may answer from its cache),
  in pages of 500. After a watch ends the reflector watches again from the last
  resourceVersion it saw (a BOOKMARK event moves it on without an object), with
  ``allowWatchBookmarks`` and a ``timeoutSeconds`` spread over 5-10 minutes, as
  client-go's reflector does.
* A watch answered with 410 Gone/Expired (the server's window moved past our
  resourceVersion) means events were lost: after a backoff the reflector lists again
  with no resourceVersion (a consistent read; a list at the expired resourceVersion may
  be answered at it, and the watch from there expire again, round after round). A list
  replaces the store: objects that vanished are reported deleted.
* Other failures back off (0.8 s doubling to 30 s, jittered) before the next attempt.
* Handlers are plain functions called on the event loop (they only enqueue keys); each
  may ask for a resync period, at which it is handed every object again as an update.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import Resource

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]

PAGE_SIZE = 500
MIN_WATCH_TIMEOUT = 300  # seconds; client-go's minWatchTimeout (each watch: 1-2x this)
BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
NAMESPACE_INDEX = "namespace"


def key_of(obj: Obj) -> str:
    """client-go's ``MetaNamespaceKeyFunc``: ``namespace/name``, or ``name``."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    return f"{namespace}/{meta.get('name', '')}" if namespace else str(meta.get("name", ""))


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


def _resource_version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Store:
    """Objects by key, with secondary indexes (client-go's ``Indexer``)."""

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {
            NAMESPACE_INDEX: lambda o: [(o.get("metadata") or {}).get("namespace") or ""]
        }
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        if name in self._indexers:
            return
        self._indexers[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def key_list(self) -> builtins.list[str]:
        return list(self._items)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        keys = self._indices[name].get(value, ())
        return [self._items[k] for k in keys if k in self._items]

    def put(self, obj: Obj) -> Obj | None:
        """Store ``obj``; the object it replaced, if any."""
        key = key_of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


@dataclass
class Handler:
    """What a controller is told; any may be ``None``. ``resync``: seconds, 0 for never."""

    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None
    resync: float = 0.0
    next_resync: float = 0.0


class Informer:
    """One resource's reflector, store and handlers; ``run()`` until cancelled."""

    def __init__(
        self,
        client: ApiClient,
        resource: Resource,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = PAGE_SIZE,
        min_watch_timeout: int = MIN_WATCH_TIMEOUT,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.store = Store()
        self.handlers: list[Handler] = []
        self.last_sync_resource_version = ""
        self.lists = 0  # how many times the reflector listed (tests: relist on 410)
        self._synced = asyncio.Event()
        self._backoff = BACKOFF_INITIAL

    # --- for controllers ---------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """Register ``handler``; objects already stored are handed to it as adds."""
        if handler.resync:
            handler.next_resync = time.monotonic() + handler.resync
        self.handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.store.list():
                self._call(handler.on_add, obj)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.store.get(f"{namespace}/{name}" if namespace else name)

    # --- the reflector -----------------------------------------------------------

    async def run(self) -> None:
        resync = asyncio.create_task(self._resync_loop())
        try:
            relist_from = "0"
            while True:
                try:
                    relist_from = await self._list_and_watch(relist_from)
                except asyncio.CancelledError:
                    raise
                except errors.StatusError as err:
                    log.info("%s: %s; retrying", self.resource.group_resource, err.message)
                    await self._sleep_backoff()
                    relist_from = self.last_sync_resource_version or "0"
                except Exception:
                    log.exception("%s: reflector failed", self.resource.group_resource)
                    await self._sleep_backoff()
                    relist_from = self.last_sync_resource_version or "0"
        finally:
            resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resync

    async def _sleep_backoff(self) -> None:
        await asyncio.sleep(self._backoff * random.uniform(1.0, 2.0))
        self._backoff = min(BACKOFF_MAX, self._backoff * 2)

    def _selectors(self) -> dict[str, str]:
        out = {}
        if self.label_selector:
            out["labelSelector"] = self.label_selector
        if self.field_selector:
            out["fieldSelector"] = self.field_selector
        return out

    async def _list_and_watch(self, resource_version: str) -> str:
        """List at ``resource_version`` (retrying with none on 410), then watch until the
        stream ends; the resourceVersion to list at next time."""
        try:
            await self._list(resource_version)
        except errors.StatusError as err:
            if err.code != 410:
                raise
            log.info(
                "%s: list at %s expired; listing anew",
                self.resource.group_resource,
                resource_version,
            )
            await self._list("")
        while True:
            try:
                await self._watch()
            except errors.StatusError as err:
                if err.code == 410:
                    log.info(
                        "%s: watch expired (%s); relisting",
                        self.resource.group_resource,
                        err.message,
                    )
                    # A list at the expired resourceVersion can be answered at that very
                    # version (an exact read of etcd) and the watch from it expire again:
                    # list consistently instead, after the backoff client-go's reflector
                    # keeps between two ListAndWatch rounds.
                    await self._sleep_backoff()
                    return ""
                raise
            self._backoff = BACKOFF_INITIAL

    async def _list(self, resource_version: str) -> None:
        params: dict[str, str | int] = {**self._selectors(), "limit": self.page_size}
        if resource_version:
            params["resourceVersion"] = resource_version
        items: list[Obj] = []
        path = self.resource.path(self.namespace)
        while True:
            page = await self.client.request("GET", path, params=params)
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            if not meta.get("continue"):
                break
            params = {**self._selectors(), "limit": self.page_size, "continue": meta["continue"]}
        self.lists += 1
        self._replace(items, str(meta.get("resourceVersion") or ""))

    def _replace(self, items: list[Obj], resource_version: str) -> None:
        seen = set()
        for obj in items:
            obj.setdefault("apiVersion", self.resource.api_version)
            obj.setdefault("kind", self.resource.kind)
            seen.add(key_of(obj))
            old = self.store.put(obj)
            if old is None:
                self._dispatch_add(obj)
            elif _resource_version(old) != _resource_version(obj):
                self._dispatch_update(old, obj)
        for key in self.store.key_list():
            if key not in seen:
                gone = self.store.remove(key)
                if gone is not None:
                    self._dispatch_delete(gone)
        self.last_sync_resource_version = resource_version
        self._synced.set()

    async def _watch(self) -> None:
        timeout = random.randint(self.min_watch_timeout, 2 * self.min_watch_timeout)
        params: dict[str, str | int | bool] = {
            **self._selectors(),
            "watch": True,
            "allowWatchBookmarks": True,
            "resourceVersion": self.last_sync_resource_version,
            "timeoutSeconds": timeout,
        }
        stream = self.client.stream(
            self.resource.path(self.namespace), params=params, timeout=timeout + 60
        )
        async for event in stream:
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                raise errors.StatusError.from_status(obj)
            rv = _resource_version(obj)
            if kind == "BOOKMARK":
                self.last_sync_resource_version = rv or self.last_sync_resource_version
                continue
            obj.setdefault("apiVersion", self.resource.api_version)
            obj.setdefault("kind", self.resource.kind)
            if kind in ("ADDED", "MODIFIED"):
                old = self.store.put(obj)
                if old is None:
                    self._dispatch_add(obj)
                else:
                    self._dispatch_update(old, obj)
            elif kind == "DELETED":
                self.store.remove(key_of(obj))
                self._dispatch_delete(obj)
            if rv:
                self.last_sync_resource_version = rv

    # --- dispatch ----------------------------------------------------------------

    def _call(self, func: Callable[..., None], *args: Obj) -> None:
        try:
            func(*args)
        except Exception:
            log.exception("%s: handler failed", self.resource.group_resource)

    def _dispatch_add(self, obj: Obj) -> None:
        for handler in self.handlers:
            if handler.on_add is not None:
                self._call(handler.on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for handler in self.handlers:
            if handler.on_update is not None:
                self._call(handler.on_update, old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for handler in self.handlers:
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if not self._synced.is_set():
                continue
            now = time.monotonic()
            for handler in self.handlers:
                if handler.resync and handler.on_update is not None and now >= handler.next_resync:
                    handler.next_resync = now + handler.resync
                    for obj in self.store.list():
                        self._call(handler.on_update, obj, obj)


class InformerFactory:
    """Shared informers, one per resource (and namespace and selectors): every controller
    that asks for pods gets the same one (client-go's ``SharedInformerFactory``)."""

    def __init__(self, client: ApiClient, *, min_watch_timeout: int = MIN_WATCH_TIMEOUT) -> None:
        self.client = client
        self.min_watch_timeout = min_watch_timeout
        self._informers: dict[tuple[Resource, str, str, str], Informer] = {}
        self._tasks: dict[tuple[Resource, str, str, str], asyncio.Task[None]] = {}

    def informer(
        self,
        resource: Resource,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
    ) -> Informer:
        key = (resource, namespace, label_selector, field_selector)
        found = self._informers.get(key)
        if found is None:
            found = Informer(
                self.client,
                resource,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                min_watch_timeout=self.min_watch_timeout,
            )
            self._informers[key] = found
        return found

    def start(self) -> None:
        """Start every informer not yet running (call again after adding more)."""
        for key, informer in self._informers.items():
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(
                    informer.run(), name=f"informer {informer.resource.group_resource}"
                )

    async def wait_for_cache_sync(self, informers: Iterable[Informer] | None = None) -> None:
        await asyncio.gather(
            *(i.wait_synced() for i in (informers or list(self._informers.values())))
        )

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
