"""disruption-controller: a PodDisruptionBudget's status, which evictions spend.

kube's ``pkg/controller/disruption/disruption.go``: the pods the budget selects in its
namespace are ``expectedPods``; the ready ones ``currentHealthy``; ``desiredHealthy``
is ``minAvailable`` (a number, or a percentage of the expected pods rounded up) or the
expected pods less ``maxUnavailable`` (a percentage rounded up); ``disruptionsAllowed``
is what healthy pods exceed it by. The DisruptionAllowed condition says
``SufficientPods`` or ``InsufficientPods``. (kube counts expected pods from the scale
of their controllers; here every selected pod counts.)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of
from kapi.kube.resources import PODDISRUPTIONBUDGETS, PODS
from services.controllers import objects, selectors
from services.controllers.framework import Context, Obj, QueueController


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


class DisruptionController(QueueController):
    name: ClassVar[str] = "disruption-controller"
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
            if selectors.matches(spec.get("selector"), objects.labels(p)) and objects.pod_active(p)
        ]
        expected = len(selected)
        healthy = sum(1 for p in selected if objects.pod_ready(p))
        if spec.get("minAvailable") is not None:
            desired = _scaled(spec["minAvailable"], expected)
        elif spec.get("maxUnavailable") is not None:
            desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        old = objects.status(pdb)
        sufficient = allowed > 0
        condition = {
            "type": "DisruptionAllowed",
            "status": "True" if sufficient else "False",
            "reason": "SufficientPods" if sufficient else "InsufficientPods",
            "message": "",
            "observedGeneration": objects.meta(pdb).get("generation", 0),
            "lastTransitionTime": objects.rfc3339(),
        }
        status: Obj = {
            **old,
            "observedGeneration": objects.meta(pdb).get("generation", 0),
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
