"""statefulset-controller: pods with stable names NAME-0 … NAME-(N-1).

kube's ``pkg/controller/statefulset`` (``stateful_set_control.go``):

* Each pod is ``NAME-ORDINAL`` with ``hostname`` its name and ``subdomain`` the
  ``serviceName``, labels ``statefulset.kubernetes.io/pod-name``,
  ``apps.kubernetes.io/pod-index`` and ``controller-revision-hash``.
* ``podManagementPolicy: OrderedReady`` (the default) creates ordinal i only once every
  lower one is Running and Ready, one at a time, and removes the highest first, one at a
  time; ``Parallel`` creates and removes them all at once.
* A failed or succeeded pod is deleted and made again with the same name.
* ``updateStrategy: RollingUpdate`` replaces pods whose revision is not the current
  template's, from the highest ordinal down to ``partition``, one at a time once all are
  ready; ``OnDelete`` waits for the user to delete them. Each template is a
  ControllerRevision (``kubectl rollout history``).
* Status: replicas, readyReplicas, availableReplicas, currentReplicas, updatedReplicas,
  currentRevision, updateRevision, observedGeneration, collisionCount.

Volume claim templates are not turned into PersistentVolumeClaims (no storage is
simulated).
"""

from __future__ import annotations

from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of
from kapi.kube.resources import CONTROLLERREVISIONS, PODS, STATEFULSETS
from services.controllers import objects, pods, revisions
from services.controllers.framework import Context, Obj, QueueController

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(sts: Obj, pod: Obj) -> int | None:
    prefix = f"{objects.name(sts)}-"
    name = objects.name(pod)
    if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return None
    return int(name[len(prefix) :])


def _running_and_ready(pod: Obj) -> bool:
    return objects.status(pod).get("phase") == "Running" and objects.pod_ready(pod)


class StatefulSetController(QueueController):
    name: ClassVar[str] = "statefulset-controller"
    service_account: ClassVar[str] = "statefulset-controller"
    aliases: ClassVar[tuple[str, ...]] = ("statefulset",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder(self.name, self.client)
        self.sets = self.watch(ctx.informers.informer(STATEFULSETS), self.enqueue_handler())
        self.revisions = self.watch(ctx.informers.informer(CONTROLLERREVISIONS), Handler())
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(on_add=self._pod, on_update=lambda _o, n: self._pod(n), on_delete=self._pod),
        )

    def _pod(self, pod: Obj) -> None:
        ref = objects.controller_ref(pod)
        if ref is None or ref.get("kind") != "StatefulSet":
            return
        sts = self.sets.get(objects.namespace(pod), str(ref.get("name")))
        if sts is not None and objects.uid(sts) == ref.get("uid"):
            self.queue.add(key_of(sts))

    async def sync(self, key: str) -> None:
        sts = self.sets.store.get(key)
        if sts is None or objects.deleting(sts):
            return
        spec = objects.spec(sts)
        update = await revisions.ensure(self.client, self.revisions, sts)
        current = str(objects.status(sts).get("currentRevision") or update)
        owned = {
            o: p
            for p in self.pods.store.list(objects.namespace(sts))
            if (objects.controller_ref(p) or {}).get("uid") == objects.uid(sts)
            and (o := ordinal(sts, p)) is not None
        }
        replicas = int(spec.get("replicas", 1))
        parallel = spec.get("podManagementPolicy") == "Parallel"
        done = await self._scale(sts, owned, replicas, parallel, update)
        if done and (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == (
            "RollingUpdate"
        ):
            await self._roll(sts, owned, replicas, update)
        await self._status(sts, owned, replicas, current, update)

    async def _scale(
        self, sts: Obj, owned: dict[int, Obj], replicas: int, parallel: bool, update: str
    ) -> bool:
        """Create the missing and remove the condemned; True once all are running."""
        for i in range(replicas):
            pod = owned.get(i)
            if pod is not None and objects.status(pod).get("phase") in ("Failed", "Succeeded"):
                if not objects.deleting(pod):
                    await self._delete(sts, pod)
                return False
            if pod is None:
                await self._create(sts, i, update)
                if not parallel:
                    return False
                continue
            if not parallel and (objects.deleting(pod) or not _running_and_ready(pod)):
                return False
        condemned = sorted((o for o in owned if o >= replicas), reverse=True)
        for o in condemned:
            pod = owned[o]
            if not objects.deleting(pod):
                await self._delete(sts, pod)
            if not parallel:
                return False
        return not condemned and len(owned) >= replicas

    async def _roll(self, sts: Obj, owned: dict[int, Obj], replicas: int, update: str) -> None:
        rolling = (objects.spec(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
        partition = int(rolling.get("partition") or 0)
        if not all(_running_and_ready(owned[i]) for i in range(replicas) if i in owned):
            return
        for i in range(replicas - 1, partition - 1, -1):
            pod = owned.get(i)
            if pod is not None and objects.labels(pod).get(revisions.HASH_LABEL) != update:
                await self._delete(sts, pod)
                return

    async def _create(self, sts: Obj, index: int, update: str) -> None:
        template = objects.spec(sts).get("template") or {}
        name = f"{objects.name(sts)}-{index}"
        body = pods.from_template(template, sts, name=name)
        body["metadata"].setdefault("labels", {}).update(
            {
                POD_NAME_LABEL: name,
                POD_INDEX_LABEL: str(index),
                revisions.HASH_LABEL: update,
            }
        )
        body["spec"]["hostname"] = name
        if objects.spec(sts).get("serviceName"):
            body["spec"]["subdomain"] = objects.spec(sts)["serviceName"]
        try:
            await self.client.create(PODS, objects.namespace(sts), body)
        except errors.StatusError as err:
            if err.code == 409 or (err.code == 403 and "being terminated" in err.message):
                return
            self.recorder.warning(
                sts,
                "FailedCreate",
                f"create Pod {name} in StatefulSet {objects.name(sts)} failed error: {err.message}",
            )
            raise
        self.recorder.normal(
            sts,
            "SuccessfulCreate",
            f"create Pod {name} in StatefulSet {objects.name(sts)} successful",
        )

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(
                PODS,
                objects.namespace(pod),
                objects.name(pod),
                preconditions={"uid": objects.uid(pod)},
            )
        except errors.StatusError as err:
            if err.code in (404, 409):
                return
            raise
        self.recorder.normal(
            sts,
            "SuccessfulDelete",
            f"delete Pod {objects.name(pod)} in StatefulSet {objects.name(sts)} successful",
        )

    async def _status(
        self, sts: Obj, owned: dict[int, Obj], replicas: int, current: str, update: str
    ) -> None:
        live = [p for p in owned.values() if not objects.deleting(p)]
        updated = sum(1 for p in live if objects.labels(p).get(revisions.HASH_LABEL) == update)
        on_current = sum(1 for p in live if objects.labels(p).get(revisions.HASH_LABEL) == current)
        if updated == replicas == len(live):
            current, on_current = update, updated
        min_ready = int(objects.spec(sts).get("minReadySeconds") or 0)
        at = objects.now()
        status: Obj = {
            "observedGeneration": objects.meta(sts).get("generation", 0),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if objects.pod_ready(p)),
            "availableReplicas": sum(1 for p in live if objects.pod_available(p, min_ready, at)),
            "currentReplicas": on_current,
            "updatedReplicas": updated,
            "currentRevision": current,
            "updateRevision": update,
            "collisionCount": int(objects.status(sts).get("collisionCount") or 0),
        }
        status = {
            k: v
            for k, v in status.items()
            if v or k in ("replicas", "collisionCount", "availableReplicas")
        }
        if status != objects.status(sts):
            try:
                await self.client.update(
                    STATEFULSETS, {**sts, "status": status}, subresource="status"
                )
            except errors.StatusError as err:
                if err.code not in (404, 409):
                    raise
                self.queue.add(key_of(sts))
