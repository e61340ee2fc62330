"""The default scheduler: pending pods are bound to nodes through ``pods/binding``.

kube-scheduler's loop, reduced to its filter and score plugins (``predicates``):

* A pod is this scheduler's when it has no ``spec.nodeName``, its ``schedulerName`` is
  ``default-scheduler`` (or unset), it is not being deleted and has not terminated.
* The cache knows every node and the requests of the pods on it; a pod being bound is
  *assumed* on its node at once, so the next decision already counts it.
* A pod that fits somewhere is bound to the best-scored node (least allocated, then the
  fewest pods); the API server sets ``PodScheduled`` True, and an events.k8s.io Event
  ``Scheduled`` ("Successfully assigned NS/NAME to NODE", action Binding, reported by
  ``default-scheduler``) records it.
* A pod that fits nowhere gets ``PodScheduled`` False with reason ``Unschedulable`` and
  the FitError message (``0/3 nodes are available: ...``), and a ``FailedScheduling``
  Warning; it is tried again when a node is added or changes or a pod goes away, and at
  least every 5 minutes (``podMaxInUnschedulablePodsDuration``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import ClassVar

from kapi import errors
from kapi.kube.client import STRATEGIC_MERGE_PATCH
from kapi.kube.events import WARNING, EventsV1Recorder
from kapi.kube.informer import Handler, key_of, split_key
from kapi.kube.resources import NODES, PODS
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController
from services.scheduler import predicates
from services.scheduler.predicates import NodeInfo

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
UNSCHEDULABLE_RETRY = 300.0


def is_pending(pod: Obj) -> bool:
    spec = objects.spec(pod)
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
        and not objects.deleting(pod)
        and objects.status(pod).get("phase") not in ("Succeeded", "Failed")
    )


def _counts(pod: Obj) -> bool:
    """Whether a bound pod takes room on its node."""
    return bool(objects.spec(pod).get("nodeName")) and objects.status(pod).get("phase") not in (
        "Succeeded",
        "Failed",
    )


class Scheduler(QueueController):
    name: ClassVar[str] = SCHEDULER_NAME

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.recorder = EventsV1Recorder(
            ctx.client, SCHEDULER_NAME, f"{SCHEDULER_NAME}-{socket.gethostname()}"
        )
        self.nodes: dict[str, NodeInfo] = {}
        self.placed: dict[str, tuple[str, dict[str, int]]] = {}  # pod key -> node, requests
        self.unschedulable: set[str] = set()
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(
                on_add=self._pod_seen,
                on_update=lambda _o, n: self._pod_seen(n),
                on_delete=self._pod_gone,
            ),
        )
        self.node_informer = self.watch(
            ctx.informers.informer(NODES),
            Handler(
                on_add=self._node_seen,
                on_update=lambda _o, n: self._node_seen(n),
                on_delete=self._node_gone,
            ),
        )

    # --- the cache -------------------------------------------------------------------

    def _node_seen(self, node: Obj) -> None:
        name = objects.name(node)
        info = self.nodes.get(name)
        if info is None:
            self.nodes[name] = NodeInfo(node)
        else:
            info.node = node
        self._retry_unschedulable()

    def _node_gone(self, node: Obj) -> None:
        self.nodes.pop(objects.name(node), None)

    def _pod_seen(self, pod: Obj) -> None:
        key = key_of(pod)
        if _counts(pod):
            self._place(key, str(objects.spec(pod)["nodeName"]), predicates.pod_requests(pod))
        else:
            self._unplace(key)
        if is_pending(pod):
            if key not in self.unschedulable:
                self.queue.add(key)
        else:
            self.unschedulable.discard(key)

    def _pod_gone(self, pod: Obj) -> None:
        key = key_of(pod)
        self.unschedulable.discard(key)
        if self._unplace(key):
            self._retry_unschedulable()

    def _place(self, key: str, node: str, requests: dict[str, int]) -> None:
        current = self.placed.get(key)
        if current is not None and current[0] == node:
            return
        self._unplace(key)
        info = self.nodes.get(node)
        if info is None:
            info = self.nodes[node] = NodeInfo({"metadata": {"name": node}})
        info.add(key, requests)
        self.placed[key] = (node, requests)

    def _unplace(self, key: str) -> bool:
        current = self.placed.pop(key, None)
        if current is None:
            return False
        info = self.nodes.get(current[0])
        if info is not None:
            info.remove(key, current[1])
        return True

    def _retry_unschedulable(self) -> None:
        for key in list(self.unschedulable):
            self.unschedulable.discard(key)
            self.queue.add(key)

    # --- scheduling one pod ----------------------------------------------------------

    async def sync(self, key: str) -> None:
        pod = self.pods.store.get(key)
        if pod is None or not is_pending(pod) or key in self.placed:
            return
        requests = predicates.pod_requests(pod)
        reasons: dict[str, int] = {}
        best: NodeInfo | None = None
        best_score = -1.0
        for info in self.nodes.values():
            if "status" not in info.node:
                continue  # only heard of through a pod: not a node we know yet
            why = predicates.fit(pod, info, requests)
            if why:
                for reason in why:
                    reasons[reason] = reasons.get(reason, 0) + 1
                continue
            node_score = predicates.score(info, requests)
            if node_score > best_score:
                best, best_score = info, node_score
        if best is None:
            await self._unschedulable(pod, key, reasons)
            return
        self._place(key, best.name, requests)  # assumed: the next decision counts it
        await self._bind(pod, key, best.name)

    async def _bind(self, pod: Obj, key: str, node: str) -> None:
        namespace, name = split_key(key)
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": objects.uid(pod)},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self.client.create(PODS, namespace, binding, subresource="binding", name=name)
        except errors.StatusError as err:
            self._unplace(key)
            if err.code in (404, 409):
                return  # gone, or bound meanwhile (its update event tells us where)
            raise
        self.recorder.event(
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            f"Successfully assigned {namespace}/{name} to {node}",
        )

    async def _unschedulable(self, pod: Obj, key: str, reasons: dict[str, int]) -> None:
        total = sum(1 for info in self.nodes.values() if "status" in info.node)
        resources = any(r.startswith(("Insufficient", "Too many")) for r in reasons)
        message = predicates.unschedulable_message(total, reasons, resources)
        self.unschedulable.add(key)
        self.queue.add_after(key, UNSCHEDULABLE_RETRY)
        current = objects.condition(pod, "PodScheduled")
        if (
            current is not None
            and current.get("reason") == "Unschedulable"
            and current.get("message") == message
        ):
            return
        self.recorder.event(pod, WARNING, "FailedScheduling", "Scheduling", message)
        patch = {
            "status": {
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastProbeTime": None,
                        "lastTransitionTime": objects.rfc3339(),
                    }
                ]
            }
        }
        namespace, name = split_key(key)
        try:
            await self.client.patch(
                PODS,
                namespace,
                name,
                patch,
                content_type=STRATEGIC_MERGE_PATCH,
                subresource="status",
            )
        except errors.StatusError as err:
            if err.code != 404:
                raise

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.recorder.close()
            await asyncio.sleep(0)
