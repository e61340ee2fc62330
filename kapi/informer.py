"""A resource's objects kept in a service's memory by list and watch: client-go's
reflector and indexer, shared by the services that need them (authz's namespaces,
RBAC objects and ServiceAccounts; the registry's ClusterRole aggregation).

One reflector task lists the resource (in pages, all at one revision), then watches from
the list's revision and keeps ``(namespace, name) -> object`` current. A watch that
fails (storage or etcd restarting) is resumed from the last revision seen after a
jittered exponential backoff; an in-band ERROR event (410 Expired once the watch window
has moved past that revision) means events were lost, so the reflector lists again.
Watches end after 5-10 minutes and are resumed, so that many replicas do not reconnect
at once (client-go's reflector does the same).

Where the objects come from is two callables (``Lister``, ``Watcher``), so each service
wraps its own storage client; revisions are etcd's. Handlers registered with
``on_change`` run on the event loop after each change is applied; they must not block.
A ``Follower`` (at most one) is awaited instead, in revision order, before the next
event is read: for work that must see every state in turn (the registry's CRD serving).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson

from kapi import errors

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 500
BACKOFF_INITIAL = 0.2  # seconds before the first retry; doubled on each failure in a row
BACKOFF_MAX = 5.0
WATCH_TIMEOUT_SECONDS = (300, 600)

# What a handler is told: the event's type, and the object after and before it. A relist
# is one ("RELISTED", None, None): the whole set may have changed.
RELISTED = "RELISTED"

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
Handler = Callable[[str, Obj | None, Obj | None], None]
# What ``on_each_object`` tells: ADDED, MODIFIED, DELETED or LISTED, and the object.
ObjectHandler = Callable[[str, Obj], None]


class Page(Protocol):
    """One page of a list (``services.storage.model.ObjectList`` is one)."""

    @property
    def items(self) -> list[bytes]: ...

    @property
    def resource_version(self) -> int: ...

    @property
    def continue_token(self) -> str: ...


class Event(Protocol):
    """One watch event (``services.storage.model.WatchEvent`` is one). A revision of 0
    is read from the object's ``metadata.resourceVersion``."""

    @property
    def type(self) -> str: ...

    @property
    def object(self) -> bytes: ...

    @property
    def resource_version(self) -> int: ...


class Follower(Protocol):
    """Follows the informer in order; each call is awaited before the next event."""

    async def listed(self, objects: Mapping[Key, Obj], revision: int) -> None:
        """Every object, as of ``revision`` (the first list, and each relist)."""
        ...

    async def changed(self, kind: str, obj: Obj, revision: int) -> None:
        """ADDED, MODIFIED or DELETED ``obj`` (for DELETED, its last state)."""
        ...

    async def progressed(self, revision: int) -> None:
        """Nothing changed up to ``revision`` (a bookmark)."""
        ...


# (limit, continue token) -> one page at one revision; 410 when the token expired.
Lister = Callable[[int, str], Awaitable[Page]]
# (revision to watch after, timeout in seconds) -> events, bookmarks allowed.
Watcher = Callable[[int, int], AsyncIterator[Event]]


class Backoff:
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


def object_key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name")
    return (
        namespace if isinstance(namespace, str) else "",
        name if isinstance(name, str) else "",
    )


def _revision_of(obj: Obj) -> int:
    with contextlib.suppress(TypeError, ValueError):
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    return 0


class Informer:
    """``start()`` begins the reflector in the background; ``close()`` cancels it.

    Reads (``get``, ``items``) answer from memory and never wait: before the first list
    is in they see nothing (``synced`` says which). Objects handed out are the stored
    dicts themselves: callers must not change them.
    """

    def __init__(
        self,
        name: str,
        lister: Lister,
        watcher: Watcher,
        *,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
        page_size: int = LIST_PAGE_SIZE,
        follower: Follower | None = None,
    ) -> None:
        self.name = name
        self._follower = follower
        self._lister = lister
        self._watcher = watcher
        self._backoff = Backoff(backoff_initial, backoff_max)
        self._page_size = page_size
        self._objects: dict[Key, Obj] = {}
        self._handlers: list[Handler] = []
        # The last revision seen (events and bookmarks), where a watch resumes.
        self.revision = 0
        # The revision of the last change applied (an event or a relist): what the held
        # objects reflect, comparable across replicas.
        self.changed_at = 0
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False  # in a streak of failures: logged once, at its start

    # --- reading ----------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """Whether a first list is in (it stays true while a watch is being resumed)."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Return once the first list is in (callers bound the wait themselves)."""
        await self._synced.wait()

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._objects.get((namespace, name))

    def items(self) -> list[Obj]:
        return list(self._objects.values())

    def __len__(self) -> int:
        """How many objects are held (no copy: cheap enough to ask per request)."""
        return len(self._objects)

    def on_change(self, handler: Handler) -> None:
        """Call ``handler`` after each change is applied (see ``RELISTED``)."""
        self._handlers.append(handler)

    # --- running ----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.name} informer")

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
                # Storage or etcd down or restarting: resume from the last revision.
                if not self._failing:
                    log.warning("%s informer: %s; retrying", self.name, err.message)
                self._failing = True
                need_list = need_list or err.code == 410  # a list's continue token expired
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s informer failed; listing again", self.name)
                need_list = True
            await asyncio.sleep(self._backoff.delay())

    async def _relist(self) -> None:
        """Replace the objects by a consistent list (paged, all at one revision)."""
        found: dict[Key, Obj] = {}
        token, revision = "", 0
        while True:
            page = await self._lister(self._page_size, token)
            revision = revision or page.resource_version
            for raw in page.items:
                obj = orjson.loads(raw)
                if isinstance(obj, dict) and object_key(obj)[1]:
                    found[object_key(obj)] = obj
            token = page.continue_token
            if not token:
                break
        self._objects, self.revision = found, revision
        self.changed_at = revision
        if self._follower is not None:
            await self._follower.listed(dict(found), revision)
        self._synced.set()
        self._failing = False
        self._backoff.reset()
        log.info("%s informer: listed %d at %d", self.name, len(found), revision)
        self._notify(RELISTED, None, None)

    async def _watch(self) -> bool:
        """Apply events after the last revision until the watch ends; True: list again."""
        stream = self._watcher(self.revision, random.randint(*WATCH_TIMEOUT_SECONDS))
        try:
            async for event in stream:
                if event.type == "ERROR":
                    log.info("%s informer: watch ended: %s", self.name, event.object[:200])
                    return True
                await self._apply(event)
                self._backoff.reset()
                self._failing = False
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()
        return False

    async def _apply(self, event: Event) -> None:
        obj = orjson.loads(event.object)
        if not isinstance(obj, dict):
            return
        revision = event.resource_version or _revision_of(obj)
        if revision <= self.revision:
            return  # never go backwards, never apply an event twice
        self.revision = revision
        key = object_key(obj)
        if event.type in ("ADDED", "MODIFIED") and key[1]:
            old = self._objects.get(key)
            self._objects[key] = obj
            self.changed_at = revision
            if self._follower is not None:
                await self._follower.changed(event.type, obj, revision)
            self._notify(event.type, obj, old)
        elif event.type == "DELETED" and key[1]:
            old = self._objects.pop(key, None)
            self.changed_at = revision
            if self._follower is not None:
                await self._follower.changed(event.type, obj, revision)
            self._notify(event.type, None, old)
        elif event.type == "BOOKMARK" and self._follower is not None:
            await self._follower.progressed(revision)

    def _notify(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(kind, new, old)
            except Exception:
                log.exception("%s informer: a change handler failed", self.name)


def on_each_object(informer: Informer, handler: ObjectHandler) -> None:
    """Call ``handler(kind, obj)`` for every object that changes, a relist included:
    after one, each object gone is told as DELETED (its last state) and each present one
    as LISTED — for handlers that keep per-object state rather than rescan."""
    known: dict[Key, Obj] = {}

    def changed(kind: str, new: Obj | None, old: Obj | None) -> None:
        if kind == RELISTED:
            current = {object_key(obj): obj for obj in informer.items()}
            for key in known.keys() - current.keys():
                handler("DELETED", known[key])
            known.clear()
            known.update(current)
            for obj in current.values():
                handler("LISTED", obj)
        elif new is not None:
            known[object_key(new)] = new
            handler(kind, new)
        elif old is not None:
            known.pop(object_key(old), None)
            handler(kind, old)

    informer.on_change(changed)
