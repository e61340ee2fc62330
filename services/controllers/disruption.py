"""disruption-controller: a PodDisruptionBudget's status, which evictions spend.

kube's ``pkg/controller/disruption/disruption.go``: the ready pods the budget selects
(not being deleted) are ``currentHealthy``. With an integer ``minAvailable`` the
selected pods are ``expectedPods`` and ``desiredHealthy`` is that number; with a
percentage ``minAvailable`` or any ``maxUnavailable``, ``expectedPods`` is the sum of
the scales of the pods' controllers (a Deployment through its ReplicaSets, a
ReplicaSet, a StatefulSet: getExpectedScale) and ``desiredHealthy`` that percentage of
it rounded up, or it less ``maxUnavailable``. ``disruptionsAllowed`` is what healthy pods
exceed it by; the DisruptionAllowed condition says ``SufficientPods`` or
``InsufficientPods``, or ``SyncFailed`` (with no disruption allowed) when a selected
pod has no controller whose scale is known.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of
from kapi.kube.resources import (
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    STATEFULSETS,
)
from services.controllers import objects, selectors
from services.controllers.framework import Context, Obj, QueueController


class NoController(ValueError):
    """A selected pod whose controller's scale cannot be found (kube: a sync error)."""


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


class DisruptionController(QueueController):
    name: ClassVar[str] = "disruption-controller"
    service_account: ClassVar[str] = "disruption-controller"
    aliases: ClassVar[tuple[str, ...]] = ("disruption",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.budgets = self.watch(
            ctx.informers.informer(PODDISRUPTIONBUDGETS), self.enqueue_handler()
        )
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(on_add=self._pod, on_update=lambda _o, n: self._pod(n), on_delete=self._pod),
        )
        # The controllers whose scale is the expected pod count.
        self.scalers = {
            res.kind: self.watch(ctx.informers.informer(res), Handler())
            for res in (DEPLOYMENTS, REPLICASETS, STATEFULSETS)
        }

    def _owner(self, ref: Obj, namespace: str) -> Obj | None:
        informer = self.scalers.get(str(ref.get("kind")))
        found = informer.get(namespace, str(ref.get("name"))) if informer else None
        return found if found is not None and objects.uid(found) == ref.get("uid") else None

    def expected_scale(self, pods: list[Obj]) -> int:
        """getExpectedScale: the sum of the scales of the pods' controllers, each once
        (a ReplicaSet of a Deployment counts as the Deployment)."""
        scales: dict[str, int] = {}  # by the uid of the controller that scales
        seen: set[str] = set()  # controller references already followed
        for pod in pods:
            ref = objects.controller_ref(pod)
            if ref is None:
                raise NoController(f'found no controller ref for pod "{objects.name(pod)}"')
            if ref.get("uid") in seen:
                continue
            seen.add(str(ref.get("uid")))
            owner = self._owner(ref, objects.namespace(pod))
            if owner is not None and ref.get("kind") == "ReplicaSet":
                parent_ref = objects.controller_ref(owner)
                if parent_ref is not None and parent_ref.get("kind") == "Deployment":
                    owner = self._owner(parent_ref, objects.namespace(pod))
            if owner is None:
                raise NoController(f'found no controllers for pod "{objects.name(pod)}"')
            scales[objects.uid(owner)] = int(objects.spec(owner).get("replicas", 1) or 0)
        return sum(scales.values())

    def _pod(self, pod: Obj) -> None:
        for pdb in self.budgets.store.list(objects.namespace(pod)):
            if selectors.matches(objects.spec(pdb).get("selector"), objects.labels(pod)):
                self.queue.add(key_of(pdb))

    async def sync(self, key: str) -> None:
        pdb = self.budgets.store.get(key)
        if pdb is None:
            return
        spec = objects.spec(pdb)
        selected = [
            p
            for p in self.pods.store.list(objects.namespace(pdb))
            if selectors.matches(spec.get("selector"), objects.labels(p))
        ]
        healthy = sum(1 for p in selected if objects.pod_ready(p) and not objects.deleting(p))
        old = objects.status(pdb)
        generation = objects.meta(pdb).get("generation", 0)
        try:
            expected, desired = self.expected_and_desired(spec, selected)
        except NoController as failed:
            # failSafe: no disruption allowed, the reason said
            condition = {
                "type": "DisruptionAllowed",
                "status": "False",
                "reason": "SyncFailed",
                "message": str(failed),
                "observedGeneration": old.get("observedGeneration", 0),
                "lastTransitionTime": objects.rfc3339(),
            }
            conditions = objects.set_condition(list(old.get("conditions") or []), condition)
            status: Obj = {**old, "disruptionsAllowed": 0, "conditions": conditions}
        else:
            allowed = max(0, healthy - desired)
            sufficient = allowed > 0
            condition = {
                "type": "DisruptionAllowed",
                "status": "True" if sufficient else "False",
                "reason": "SufficientPods" if sufficient else "InsufficientPods",
                "message": "",
                "observedGeneration": generation,
                "lastTransitionTime": objects.rfc3339(),
            }
            status = {
                **old,
                "observedGeneration": generation,
                "expectedPods": expected,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "disruptionsAllowed": allowed,
                "conditions": objects.set_condition(list(old.get("conditions") or []), condition),
            }
        if status == old:
            return
        try:
            await self.client.update(
                PODDISRUPTIONBUDGETS, {**pdb, "status": status}, subresource="status"
            )
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise
            self.queue.add(key)

    def expected_and_desired(self, spec: Obj, selected: list[Obj]) -> tuple[int, int]:
        """getExpectedPodCount: (expectedPods, desiredHealthy)."""
        min_available = spec.get("minAvailable")
        if spec.get("maxUnavailable") is not None:
            expected = self.expected_scale(selected)
            return expected, max(0, expected - _scaled(spec["maxUnavailable"], expected))
        if isinstance(min_available, int):
            return len(selected), min_available
        if min_available is not None:
            expected = self.expected_scale(selected)
            return expected, _scaled(min_available, expected)
        return len(selected), len(selected)
