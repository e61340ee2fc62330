"""resourcequota-controller: every ResourceQuota's ``status`` counted from the objects
themselves — kube's ``pkg/controller/resourcequota`` (syncResourceQuota).

``status.hard`` is the spec's; ``status.used`` is, for each limited resource, the sum
of what the namespace's objects under the quota use (``kapi.quota``: pods' compute and
counts, services, persistentvolumeclaims, configmaps, secrets, generic ``count/``).
A quota created or changed is counted at once; a change to a counted object in its
namespace (a pod that ends, a configmap deleted) queues the namespace's quotas again, so
usage admission reserved for writes that never landed is given back. Every quota is
recounted every ``RESYNC`` seconds as well (kube's --resource-quota-sync-period).
"""

from __future__ import annotations

from fractions import Fraction
from typing import ClassVar

from kapi import errors, quota
from kapi.kube.informer import Handler, Informer
from kapi.kube.resources import (
    CONFIGMAPS,
    PODS,
    SERVICES,
    Resource,
)
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController

RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota")
SECRETS = Resource("", "v1", "secrets", "Secret")
PVCS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
COUNTED = (PODS, SERVICES, CONFIGMAPS, SECRETS, PVCS)
RESYNC = 300.0


class ResourceQuotaController(QueueController):
    name: ClassVar[str] = "resourcequota-controller"
    aliases: ClassVar[tuple[str, ...]] = ("resourcequota",)
    service_account: ClassVar[str] = "resourcequota-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.quotas = self.watch(
            ctx.informers.informer(RESOURCEQUOTAS), self.enqueue_handler(resync=RESYNC)
        )
        self.counted: dict[tuple[str, str], Informer] = {}
        for res in COUNTED:
            self.counted[(res.group, res.resource)] = self.watch(
                ctx.informers.informer(res),
                Handler(
                    on_add=self._changed,
                    on_update=lambda _old, new: self._changed(new),
                    on_delete=self._changed,
                ),
            )

    def _changed(self, obj: Obj) -> None:
        namespace = objects.namespace(obj)
        for each in self.quotas.store.list(namespace):
            self.enqueue(each)

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        current = self.quotas.get(namespace, name)
        if current is None or objects.deleting(current):
            return
        hard_json = dict((current.get("spec") or {}).get("hard") or {})
        hard = quota.parse_list(hard_json)
        used: quota.Usage = {name: Fraction(0) for name in hard}
        for (group, resource), source in self.counted.items():
            for obj in source.store.list(namespace):
                if not quota.matches(current, group, resource, obj):
                    continue
                for res, value in quota.usage(group, resource, obj).items():
                    if res in used:
                        used[res] += value
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
