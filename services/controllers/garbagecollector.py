"""garbage-collector-controller: owner references, and the three propagation policies.

kube's ``pkg/controller/garbagecollector`` (``garbagecollector.go``, ``graph_builder.go``):

* Every resource discovery lists with list, watch and delete (Events excepted, as kube's
  ``DefaultIgnoredResources``) is watched; a graph keeps, per uid, an object's owner
  references and its dependents. Discovery is read again every 30 s so custom resources
  join.
* **Background** (the default): an object all of whose owners are gone (404, or an object
  of that name with another uid) is deleted, with the propagation its own finalizers say.
  An object with some owners gone and one still there only loses the dangling references.
* **Foreground**: an owner being deleted with the ``foregroundDeletion`` finalizer gets
  its dependents deleted (each in the foreground too when it has dependents of its own);
  the finalizer is removed — and so the owner deleted — once no dependent that blocks it
  (``blockOwnerDeletion: true``) remains.
* **Orphan**: an owner being deleted with the ``orphan`` finalizer has its reference
  removed from every dependent, then the finalizer.

Owners are looked up in the watch caches, and read from the API server when the cache
does not have them, before anything is deleted; every delete carries the uid the
decision was made on as a precondition.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import ClassVar

from kapi import errors
from kapi.kube.client import MERGE_PATCH
from kapi.kube.informer import Handler, Informer
from kapi.kube.resources import Resource
from kapi.kube.workqueue import RateLimitingQueue
from services.controllers import discovery, objects
from services.controllers.framework import Context, Controller, Obj

log = logging.getLogger(__name__)

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
IGNORED = {("", "events"), ("events.k8s.io", "events")}
DISCOVERY_PERIOD = 30.0
WORKERS = 5


@dataclass(frozen=True)
class Identity:
    """An object as an owner reference names it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""


@dataclass
class Node:
    identity: Identity
    owners: list[Obj] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)
    deleting: bool = False
    deleting_dependents: bool = False
    virtual: bool = False  # named by a dependent, not yet seen


def _identity(obj: Obj, res: Resource) -> Identity:
    return Identity(
        res.api_version,
        obj.get("kind") or res.kind,
        objects.namespace(obj),
        objects.name(obj),
        objects.uid(obj),
    )


class GarbageCollector(Controller):
    name: ClassVar[str] = "garbage-collector-controller"
    service_account: ClassVar[str] = "generic-garbage-collector"
    aliases: ClassVar[tuple[str, ...]] = ("garbagecollector",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.graph: dict[str, Node] = {}
        self.attempt_to_delete: RateLimitingQueue[str] = RateLimitingQueue(name="gc delete")
        self.attempt_to_orphan: RateLimitingQueue[str] = RateLimitingQueue(name="gc orphan")
        self.monitors: dict[tuple[str, str], Informer] = {}
        self.kinds: dict[tuple[str, str], Resource] = {}  # (group, kind) -> resource

    # --- the graph builder --------------------------------------------------------

    async def _sync_monitors(self) -> None:
        found = await discovery.preferred_resources(self.client)
        for item in found.resources:
            res = item.resource
            key = (res.group, res.resource)
            self.kinds.setdefault((res.group, res.kind), res)
            if key in IGNORED or key in self.monitors:
                continue
            if not {"list", "watch", "delete"} <= item.verbs:
                continue
            informer = self.ctx.informers.informer(res)
            informer.add_handler(self._handler(res))
            self.monitors[key] = informer
        self.ctx.informers.start()

    def _handler(self, res: Resource) -> Handler:
        def add(obj: Obj) -> None:
            self._observe(obj, res)

        def update(_old: Obj, new: Obj) -> None:
            self._observe(new, res)

        def delete(obj: Obj) -> None:
            self._gone(obj, res)

        return Handler(on_add=add, on_update=update, on_delete=delete)

    def _observe(self, obj: Obj, res: Resource) -> None:
        uid = objects.uid(obj)
        if not uid:
            return
        node = self.graph.get(uid)
        owners = objects.owner_references(obj)
        if node is None:
            node = Node(_identity(obj, res))
            self.graph[uid] = node
        elif node.virtual:
            node.virtual = False
            node.identity = _identity(obj, res)
        old_owner_uids = {str(o.get("uid")) for o in node.owners}
        node.owners = owners
        new_owner_uids = {str(o.get("uid")) for o in owners}
        for gone in old_owner_uids - new_owner_uids:
            owner = self.graph.get(gone)
            if owner is not None:
                owner.dependents.discard(uid)
                if owner.deleting_dependents:
                    self.attempt_to_delete.add(gone)
        for ref in owners:
            owner_uid = str(ref.get("uid"))
            owner = self.graph.get(owner_uid)
            if owner is None:
                owner = Node(
                    Identity(
                        str(ref.get("apiVersion", "")),
                        str(ref.get("kind", "")),
                        node.identity.namespace,
                        str(ref.get("name", "")),
                        owner_uid,
                    ),
                    virtual=True,
                )
                self.graph[owner_uid] = owner
                self.attempt_to_delete.add(owner_uid)
            owner.dependents.add(uid)
            if owner.deleting_dependents:
                self.attempt_to_delete.add(uid)
        finalizers = objects.meta(obj).get("finalizers") or []
        node.deleting = objects.deleting(obj)
        node.deleting_dependents = node.deleting and FOREGROUND in finalizers
        if node.deleting and ORPHAN in finalizers:
            self.attempt_to_orphan.add(uid)
        if node.deleting_dependents:
            self.attempt_to_delete.add(uid)
            for dependent in node.dependents:
                self.attempt_to_delete.add(dependent)

    def _gone(self, obj: Obj, res: Resource) -> None:
        uid = objects.uid(obj)
        node = self.graph.pop(uid, None)
        if node is None:
            return
        for dependent in node.dependents:
            self.attempt_to_delete.add(dependent)
        for ref in node.owners:
            owner = self.graph.get(str(ref.get("uid")))
            if owner is not None:
                owner.dependents.discard(uid)
                if owner.deleting_dependents:
                    self.attempt_to_delete.add(str(ref.get("uid")))

    # --- running ------------------------------------------------------------------

    async def run(self) -> None:
        await self._sync_monitors()
        await self.ctx.informers.wait_for_cache_sync(list(self.monitors.values()))
        log.info(
            "%s: %d resources monitored, graph of %d",
            self.name,
            len(self.monitors),
            len(self.graph),
        )
        tasks = [
            *(
                asyncio.create_task(self._worker(self.attempt_to_delete, self._attempt_to_delete))
                for _ in range(WORKERS)
            ),
            *(
                asyncio.create_task(self._worker(self.attempt_to_orphan, self._attempt_to_orphan))
                for _ in range(WORKERS)
            ),
            asyncio.create_task(self._rediscover()),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _rediscover(self) -> None:
        while True:
            await asyncio.sleep(DISCOVERY_PERIOD)
            try:
                await self._sync_monitors()
            except errors.StatusError as err:
                log.info("%s: discovery: %s", self.name, err.message)

    async def _worker(self, queue: RateLimitingQueue[str], sync: object) -> None:
        while True:
            uid = await queue.get()
            if uid is None:
                return
            try:
                await sync(uid)  # type: ignore[operator]
            except asyncio.CancelledError:
                raise
            except errors.StatusError as err:
                log.info("%s: %s: %s", self.name, uid, err.message)
                queue.add_rate_limited(uid)
            except Exception:
                log.exception("%s: %s failed", self.name, uid)
                queue.add_rate_limited(uid)
            else:
                queue.forget(uid)
            finally:
                queue.done(uid)

    # --- lookups ------------------------------------------------------------------

    def _resource(self, identity: Identity) -> Resource | None:
        return self.kinds.get((identity.group, identity.kind))

    async def _get(self, identity: Identity) -> Obj | None:
        """The live object named by ``identity`` (None: absent, or another uid)."""
        res = self._resource(identity)
        if res is None:
            return None
        namespace = identity.namespace if res.namespaced else ""
        try:
            obj = await self.client.get(res, namespace, identity.name)
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise
        return obj if objects.uid(obj) == identity.uid else None

    async def _owner_state(self, ref: Obj, namespace: str) -> str:
        """ "solid", "dangling" or "waiting" (being deleted in the foreground)."""
        identity = Identity(
            str(ref.get("apiVersion", "")),
            str(ref.get("kind", "")),
            namespace,
            str(ref.get("name", "")),
            str(ref.get("uid", "")),
        )
        res = self._resource(identity)
        if res is None:
            return "solid"  # a kind we cannot look up: leave the reference alone
        informer = self.monitors.get((res.group, res.resource))
        cached = None
        if informer is not None:
            cached = informer.get(namespace if res.namespaced else "", identity.name)
        owner = cached if cached is not None and objects.uid(cached) == identity.uid else None
        if owner is None:
            owner = await self._get(identity)
        if owner is None:
            return "dangling"
        if objects.deleting(owner) and FOREGROUND in (objects.meta(owner).get("finalizers") or []):
            return "waiting"
        return "solid"

    # --- attemptToDelete ----------------------------------------------------------

    async def _attempt_to_delete(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None:
            return
        if node.virtual:
            if await self._get(node.identity) is not None:
                return  # it exists: its informer will report it
            # Absent: its dependents now have a dangling owner.
            self.graph.pop(uid, None)
            for dependent in node.dependents:
                self.attempt_to_delete.add(dependent)
            return
        latest = await self._get(node.identity)
        if latest is None:
            return
        if objects.deleting(latest) and FOREGROUND not in (
            objects.meta(latest).get("finalizers") or []
        ):
            return
        if FOREGROUND in (objects.meta(latest).get("finalizers") or []) and objects.deleting(
            latest
        ):
            await self._process_deleting_dependents(node, latest)
            return
        refs = objects.owner_references(latest)
        if not refs:
            return
        states = {
            str(r.get("uid")): await self._owner_state(r, node.identity.namespace) for r in refs
        }
        solid = [r for r in refs if states[str(r.get("uid"))] == "solid"]
        dangling = [r for r in refs if states[str(r.get("uid"))] == "dangling"]
        waiting = [r for r in refs if states[str(r.get("uid"))] == "waiting"]
        if solid:
            if dangling or waiting:
                keep = [r for r in refs if states[str(r.get("uid"))] == "solid"]
                await self._patch_owners(node, latest, keep)
            return
        finalizers = objects.meta(latest).get("finalizers") or []
        if waiting and node.dependents:
            policy = "Foreground"
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        res = self._resource(node.identity)
        if res is None:
            return
        log.info(
            "%s: deleting %s %s/%s (%s)",
            self.name,
            node.identity.kind,
            node.identity.namespace,
            node.identity.name,
            policy,
        )
        try:
            await self.client.delete(
                res,
                node.identity.namespace if res.namespaced else "",
                node.identity.name,
                propagation=policy,
                preconditions={"uid": node.identity.uid},
            )
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise

    async def _process_deleting_dependents(self, node: Node, latest: Obj) -> None:
        """Remove foregroundDeletion once no dependent blocks the owner's deletion."""
        blocking = []
        for dep_uid in list(node.dependents):
            dep = self.graph.get(dep_uid)
            if dep is None:
                continue
            for ref in dep.owners:
                if str(ref.get("uid")) == node.identity.uid and ref.get("blockOwnerDeletion"):
                    blocking.append(dep_uid)
        if not blocking:
            await self._remove_finalizer(node, latest, FOREGROUND)
            return
        for dep_uid in blocking:
            dep = self.graph.get(dep_uid)
            if dep is not None and not dep.deleting:
                self.attempt_to_delete.add(dep_uid)

    # --- attemptToOrphan ----------------------------------------------------------

    async def _attempt_to_orphan(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None:
            return
        for dep_uid in list(node.dependents):
            dep = self.graph.get(dep_uid)
            if dep is None:
                continue
            latest = await self._get(dep.identity)
            if latest is None:
                continue
            refs = objects.owner_references(latest)
            keep = [r for r in refs if str(r.get("uid")) != uid]
            if len(keep) != len(refs):
                await self._patch_owners(dep, latest, keep)
        latest_owner = await self._get(node.identity)
        if latest_owner is not None:
            await self._remove_finalizer(node, latest_owner, ORPHAN)

    # --- writes -------------------------------------------------------------------

    async def _patch_owners(self, node: Node, latest: Obj, keep: list[Obj]) -> None:
        res = self._resource(node.identity)
        if res is None:
            return
        patch = {
            "metadata": {
                "ownerReferences": keep or None,
                "resourceVersion": objects.meta(latest).get("resourceVersion"),
                "uid": node.identity.uid,
            }
        }
        await self.client.patch(
            res,
            node.identity.namespace if res.namespaced else "",
            node.identity.name,
            patch,
            content_type=MERGE_PATCH,
        )

    async def _remove_finalizer(self, node: Node, latest: Obj, finalizer: str) -> None:
        res = self._resource(node.identity)
        if res is None:
            return
        finalizers = [f for f in objects.meta(latest).get("finalizers") or [] if f != finalizer]
        patch = {
            "metadata": {
                "finalizers": finalizers or None,
                "resourceVersion": objects.meta(latest).get("resourceVersion"),
            }
        }
        try:
            await self.client.patch(
                res,
                node.identity.namespace if res.namespaced else "",
                node.identity.name,
                patch,
                content_type=MERGE_PATCH,
            )
        except errors.StatusError as err:
            if err.code != 404:
                raise
