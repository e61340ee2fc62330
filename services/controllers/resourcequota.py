"""resourcequota-controller: every ResourceQuota's ``status`` counted from the objects
themselves — kube's ``pkg/controller/resourcequota`` (resource_quota_controller.go:
syncResourceQuota; resource_quota_monitor.go for what it watches).

``status.hard`` is the spec's; ``status.used`` is, for each limited resource, the sum of
what the namespace's objects within the quota's scopes use (``kapi.quota``: pods'
compute and counts, services, persistentvolumeclaims by storage class, the legacy
object counts, and ``count/<resource>.<group>`` for any resource, custom ones
included); a limited name no kind uses keeps its last value (0 at first), as kube
keeps what no evaluator recounts.

What is watched follows what quotas limit: the first quota naming a resource (through
``count/widgets.example.com`` or ``requests.cpu``) starts an informer of that resource
(found through discovery; shared with the other controllers through the informer
factory) and waits for it to sync before counting. A change to a counted object (a pod
that ends, a configmap deleted) queues its namespace's quotas again, so usage admission
reserved for writes that never landed is given back. A quota naming a resource the
server does not serve yet is looked at again after ``DISCOVERY_RETRY`` seconds (a
CustomResourceDefinition may come), and every quota is recounted every ``RESYNC``
seconds (kube's --resource-quota-sync-period) — a pod whose deletion grace ran out
stops being charged then.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from typing import ClassVar

from kapi import errors, quota
from kapi.kube.informer import Handler, Informer
from kapi.kube.resources import Resource
from services.controllers import discovery, objects
from services.controllers.framework import Context, Obj, QueueController

RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota")
RESYNC = 300.0
DISCOVERY_RETRY = 10.0
SYNC_TIMEOUT = 30.0
# What kube's GetQuotableResources asks of a resource.
QUOTABLE_VERBS = frozenset({"create", "list", "watch", "delete"})


class ResourceQuotaController(QueueController):
    name: ClassVar[str] = "resourcequota-controller"
    aliases: ClassVar[tuple[str, ...]] = ("resourcequota",)
    service_account: ClassVar[str] = "resourcequota-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.quotas = self.watch(
            ctx.informers.informer(RESOURCEQUOTAS), self.enqueue_handler(resync=RESYNC)
        )
        self.monitors: dict[quota.GroupResource, Informer] = {}
        self.served: dict[quota.GroupResource, Resource] = {}
        self._discovered_at = 0.0
        self._discovery_lock = asyncio.Lock()

    def _changed(self, obj: Obj) -> None:
        for each in self.quotas.store.list(objects.namespace(obj)):
            self.enqueue(each)

    async def _resolve(self, key: quota.GroupResource) -> Resource | None:
        """The served resource for (group, resource): discovery, read again at most
        every DISCOVERY_RETRY seconds when a name is not (yet) known."""
        async with self._discovery_lock:
            if key not in self.served and time.monotonic() - self._discovered_at >= (
                DISCOVERY_RETRY
            ):
                found = await discovery.preferred_resources(self.client)
                self._discovered_at = time.monotonic()
                for item in found.resources:
                    res = item.resource
                    if res.namespaced and item.verbs >= QUOTABLE_VERBS:
                        self.served[(res.group, res.resource)] = res
        return self.served.get(key)

    async def _monitor(self, key: quota.GroupResource) -> Informer | None:
        """A synced informer of (group, resource), started on first need."""
        found = self.monitors.get(key)
        if found is None:
            res = await self._resolve(key)
            if res is None:
                return None
            found = self.monitors.get(key)
            if found is None:
                found = self.ctx.informers.informer(res)
                if key == ("", "resourcequotas"):
                    # a quota's own status writes change nothing another quota counts
                    handler = Handler(on_add=self._changed, on_delete=self._changed)
                else:
                    handler = Handler(
                        on_add=self._changed,
                        on_update=lambda _old, new: self._changed(new),
                        on_delete=self._changed,
                    )
                found.add_handler(handler)
                self.monitors[key] = found
                self.ctx.informers.start()
        if not found.has_synced():
            await asyncio.wait_for(found.wait_synced(), SYNC_TIMEOUT)
        return found

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        current = self.quotas.get(namespace, name)
        if current is None or objects.deleting(current):
            return
        hard_json = dict((current.get("spec") or {}).get("hard") or {})
        # what nothing counts keeps its last value (admission's reservations included)
        before = quota.parse_list((current.get("status") or {}).get("used"))
        used: quota.Usage = {name: before.get(name, Fraction(0)) for name in hard_json}
        kinds = {quota.evaluated_by(name) for name in hard_json} - {None}
        now = time.time()
        unserved = False
        for kind in sorted(k for k in kinds if k is not None):
            source = await self._monitor(kind)
            if source is None:
                unserved = True
                continue
            for name in quota.matching_resources(*kind, hard_json):
                used[name] = Fraction(0)
            group, resource = kind
            for obj in source.store.list(namespace):
                if not quota.scopes_match(current, group, resource, obj):
                    continue
                for res, value in quota.usage(group, resource, obj, now).items():
                    if res in used:
                        used[res] += value
        if unserved:
            self.queue.add_after(key, DISCOVERY_RETRY)
        status = {"hard": hard_json, "used": quota.to_json(used)}
        if current.get("status") == status:
            return
        try:
            await self.client.update(
                RESOURCEQUOTAS, {**current, "status": status}, subresource="status"
            )
        except errors.StatusError as err:
            if err.code == 404:
                return
            raise
