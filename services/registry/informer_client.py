"""One resource's objects, kept in a client's memory: listed, then watched, through the
registry client (a client-go informer for the services inside the control plane).

The gateway's aggregator follows APIServices, Services and EndpointSlices with it, as
kube-aggregator's shared informers do; kapi's metrics server follows Nodes and Pods.
Listed as ``user``, then watched from the list's revision; a watch that ends is resumed
from the last revision seen, an in-band ERROR (410 once the window moved on) lists again,
a failure retries after a jittered, growing delay. ``on_change`` callbacks run for every
change, in order, after the objects took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import orjson

from kapi import errors
from kapi_proto import common_pb2, registry_pb2
from services.registry.client import RegistryClient
from services.registry.types import ResourceType

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 5.0
WATCH_TIMEOUT_SECONDS = (300, 600)
PAGE = 500

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)
Handler = Callable[[str, Obj], None]  # (ADDED | MODIFIED | DELETED | LISTED, object)


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Informer:
    """``start()`` begins listing and watching ``rt``; ``objects`` is the current state."""

    def __init__(
        self, registry: RegistryClient, rt: ResourceType, user: common_pb2.UserInfo
    ) -> None:
        self.registry = registry
        self.rt = rt
        self.user = user
        self.objects: dict[Key, Obj] = {}
        self.revision = 0
        self.synced = asyncio.Event()
        self._handlers: list[Handler] = []
        self._task: asyncio.Task[None] | None = None

    def on_change(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.objects.get((namespace, name))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer {self.rt.resource}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = BACKOFF_INITIAL
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                    delay = BACKOFF_INITIAL
                need_list = await self._watch()
                if not need_list:
                    continue  # a watch that timed out: resume at once
            except errors.StatusError as err:
                log.info("%s informer: %s; retrying", self.rt.resource, err.message)
                need_list = need_list or err.code == 410
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s informer failed; listing again", self.rt.resource)
                need_list = True
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_MAX)

    def _target(self) -> registry_pb2.RequestTarget:
        rt = self.rt
        return registry_pb2.RequestTarget(
            group=rt.group, version=rt.version, resource=rt.resource, user=self.user
        )

    async def _list(self) -> None:
        found: dict[Key, Obj] = {}
        token, revision = "", 0
        while True:
            reply = await self.registry.list(
                registry_pb2.ReadRequest(
                    target=self._target(),
                    rendering=registry_pb2.OBJECT,
                    limit=PAGE,
                    continue_token=token,
                )
            )
            page = orjson.loads(reply.object)
            for item in page.get("items") or []:
                found[key_of(item)] = item
            metadata = page.get("metadata") or {}
            revision = revision or int(metadata.get("resourceVersion") or 0)
            token = metadata.get("continue") or ""
            if not token:
                break
        gone = [obj for key, obj in self.objects.items() if key not in found]
        self.objects, self.revision = found, revision
        self.synced.set()
        for obj in gone:
            self._notify("DELETED", obj)
        for obj in found.values():
            self._notify("LISTED", obj)

    async def _watch(self) -> bool:
        """Apply events until the watch ends; True: list again."""
        events = await self.registry.open_watch(
            registry_pb2.ReadRequest(
                target=self._target(),
                rendering=registry_pb2.OBJECT,
                resource_version=str(self.revision),
                allow_bookmarks=True,
                timeout_seconds=random.randint(*WATCH_TIMEOUT_SECONDS),
            )
        )
        async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
            async for event in stream:
                if event.type == "ERROR":
                    log.info("%s informer: watch ended: %s", self.rt.resource, event.object[:200])
                    return True
                obj = orjson.loads(event.object)
                if not isinstance(obj, dict):
                    continue
                revision = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
                if revision <= self.revision:
                    continue
                self.revision = revision
                if event.type == "BOOKMARK":
                    continue
                if event.type == "DELETED":
                    self.objects.pop(key_of(obj), None)
                else:
                    self.objects[key_of(obj)] = obj
                self._notify(event.type, obj)
        return False

    def _notify(self, kind: str, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("%s informer: a handler failed", self.rt.resource)
