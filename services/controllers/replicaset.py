"""replicaset-controller: as many pods as ``spec.replicas``, and the status that says so.

kube's ``pkg/controller/replicaset/replica_set.go``:

* Pods are matched to their ReplicaSet through the controller reference; orphans that
  match a ReplicaSet's selector are adopted, owned pods that stop matching released.
* Too few active pods (not terminating, not Succeeded/Failed): new ones from the template
  (``generateName: NAME-``), at most 500 per sync, in slow-start batches (1, 2, 4, ...);
  too many: the least valuable are deleted first (unassigned, pending, not ready, ready
  for the shortest time, most restarts, newest). Events ``SuccessfulCreate``
  ``Created pod: X`` / ``SuccessfulDelete`` ``Deleted pod: X`` (``FailedCreate``,
  ``FailedDelete`` on errors).
* Expectations: after creating or deleting, the controller waits to see those pods in its
  cache before counting again.
* Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
  minReadySeconds), observedGeneration; written only when it changed. With
  minReadySeconds a ReplicaSet whose ready pods are not yet available is synced again
  after that long.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of, split_key
from kapi.kube.resources import PODS, REPLICASETS, Resource
from services.controllers import claims, objects, pods, selectors
from services.controllers.expectations import Expectations
from services.controllers.framework import Context, Obj, QueueController

log = logging.getLogger(__name__)

OWNER_INDEX = "controller-uid"


def owner_index(obj: Obj) -> list[str]:
    """A pod's controller's UID, or for a pod without one its namespace's orphan key:
    a sync reads only the pods it may own or adopt (kube's podControllerUID index)."""
    ref = objects.controller_ref(obj)
    return [str(ref.get("uid"))] if ref else [orphan_key(objects.namespace(obj))]


def orphan_key(namespace: str) -> str:
    return f"orphan/{namespace}"  # no UID has a slash


class ReplicaSetController(QueueController):
    name: ClassVar[str] = "replicaset-controller"
    service_account: ClassVar[str] = "replicaset-controller"
    aliases: ClassVar[tuple[str, ...]] = ("replicaset",)
    resource: ClassVar[Resource] = REPLICASETS
    kind: ClassVar[str] = "ReplicaSet"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder(self.name, self.client)
        self.expectations = Expectations()
        self.sets = self.watch(ctx.informers.informer(self.resource), self.enqueue_handler())
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
            ),
        )
        self.pods.store.add_indexer(OWNER_INDEX, owner_index)

    # --- pod events ----------------------------------------------------------------

    def _owner_key(self, pod: Obj) -> str | None:
        ref = objects.controller_ref(pod)
        if ref is None or ref.get("kind") != self.kind:
            return None
        owner = self.sets.get(objects.namespace(pod), str(ref.get("name")))
        if owner is None or objects.uid(owner) != ref.get("uid"):
            return None
        return key_of(owner)

    def _orphan_owners(self, pod: Obj) -> list[str]:
        labels = objects.labels(pod)
        return [
            key_of(rs)
            for rs in self.sets.store.list(objects.namespace(pod))
            if selectors.matches(objects.spec(rs).get("selector"), labels)
        ]

    def _pod_added(self, pod: Obj) -> None:
        if objects.deleting(pod):
            self._pod_deleted(pod)
            return
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif objects.controller_ref(pod) is None:
            for owner in self._orphan_owners(pod):
                self.queue.add(owner)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if objects.meta(old).get("resourceVersion") == objects.meta(new).get("resourceVersion"):
            return  # a resync
        if objects.deleting(new) and not objects.deleting(old):
            self._pod_deleted(new)
            return
        old_key, new_key = self._owner_key(old), self._owner_key(new)
        if old_key is not None and old_key != new_key:
            self.queue.add(old_key)
        if new_key is not None:
            self.queue.add(new_key)
            owner = self.sets.store.get(new_key)
            min_ready = int(objects.spec(owner or {}).get("minReadySeconds") or 0)
            if min_ready and not objects.pod_ready(old) and objects.pod_ready(new):
                self.queue.add_after(new_key, min_ready + 1)
        elif objects.controller_ref(new) is None and (
            objects.labels(old) != objects.labels(new) or objects.controller_ref(old) is not None
        ):
            for owner_key in self._orphan_owners(new):
                self.queue.add(owner_key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, key_of(pod))
            self.queue.add(key)

    # --- the sync --------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        rs = self.sets.store.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        namespace, _ = split_key(key)
        selector = objects.spec(rs).get("selector")
        needs_sync = self.expectations.satisfied(key)
        candidates = [
            p
            for p in (
                *self.pods.store.by_index(OWNER_INDEX, objects.uid(rs)),
                *self.pods.store.by_index(OWNER_INDEX, orphan_key(namespace)),
            )
            if objects.pod_active(p) and objects.namespace(p) == namespace
        ]
        owned = await claims.claim(self.client, rs, selector or {}, candidates, PODS)
        if needs_sync and not objects.deleting(rs):
            await self._manage(key, rs, owned)
        await self._update_status(rs, owned)

    async def _manage(self, key: str, rs: Obj, owned: list[Obj]) -> None:
        wanted = int(objects.spec(rs).get("replicas", 1) or 0)
        diff = len(owned) - wanted
        if diff < 0:
            count = min(-diff, pods.BURST_REPLICAS)
            self.expectations.expect(key, adds=count)
            template = objects.spec(rs).get("template") or {}

            async def create() -> None:
                body = pods.from_template(template, rs)
                try:
                    pod = await self.client.create(PODS, objects.namespace(rs), body)
                except errors.StatusError as err:
                    self.expectations.creation_failed(key)
                    if err.code == 403 and "being terminated" in err.message:
                        return  # the namespace is going: not a failure
                    self.recorder.warning(rs, "FailedCreate", f"Error creating: {err.message}")
                    raise
                self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {objects.name(pod)}")

            await pods.slow_start(count, create)
        elif diff > 0:
            count = min(diff, pods.BURST_REPLICAS)
            at = objects.now()
            victims = sorted(owned, key=lambda p: pods.deletion_rank(p, at))[:count]
            self.expectations.expect(key, deleted_keys=tuple(key_of(p) for p in victims))
            for pod in victims:
                try:
                    await self.client.delete(PODS, objects.namespace(pod), objects.name(pod))
                except errors.StatusError as err:
                    self.expectations.deletion_observed(key, key_of(pod))
                    if err.code == 404:
                        continue
                    self.recorder.warning(rs, "FailedDelete", f"Error deleting: {err.message}")
                    raise
                self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {objects.name(pod)}")

    def calculate_status(self, rs: Obj, owned: list[Obj]) -> Obj:
        template_labels = (objects.spec(rs).get("template") or {}).get("metadata", {}).get(
            "labels"
        ) or {}
        min_ready = int(objects.spec(rs).get("minReadySeconds") or 0)
        at = objects.now()
        status: Obj = {
            "replicas": len(owned),
            "fullyLabeledReplicas": sum(
                1
                for p in owned
                if all(objects.labels(p).get(k) == v for k, v in template_labels.items())
            ),
            "readyReplicas": sum(1 for p in owned if objects.pod_ready(p)),
            "availableReplicas": sum(1 for p in owned if objects.pod_available(p, min_ready, at)),
            "observedGeneration": objects.meta(rs).get("generation", 0),
        }
        conditions = objects.status(rs).get("conditions")
        if conditions:
            status["conditions"] = conditions
        return status

    async def _update_status(self, rs: Obj, owned: list[Obj]) -> None:
        new = self.calculate_status(rs, owned)
        old = objects.status(rs)
        if all(old.get(k, 0) == v for k, v in new.items() if k != "conditions"):
            return
        body = {**rs, "status": {**old, **{k: v for k, v in new.items() if v or k == "replicas"}}}
        for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not new[k]:
                body["status"].pop(k, None)
        try:
            await self.client.update(self.resource, body, subresource="status")
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise
            self.queue.add(key_of(rs))  # stale: the newer object's event syncs again
        min_ready = int(objects.spec(rs).get("minReadySeconds") or 0)
        if min_ready and new["readyReplicas"] == new["replicas"] != new["availableReplicas"]:
            self.queue.add_after(key_of(rs), min_ready)
