"""daemonset-controller: one pod on every node the DaemonSet's pods may run on.

kube's ``pkg/controller/daemon`` (``daemon_controller.go``, ``update.go``):

* A node should run the daemon pod when its labels match the template's nodeSelector and
  required node affinity and it tolerates the node's NoSchedule and NoExecute taints —
  with the tolerations the controller adds to every daemon pod (not-ready and
  unreachable NoExecute; disk-, memory- and pid-pressure and unschedulable NoSchedule;
  network-unavailable for hostNetwork pods).
* The pod is pinned to its node by a required node affinity on ``metadata.name`` (the
  scheduler binds it), labelled ``controller-revision-hash``; extra pods on a node,
  pods on nodes that should not run one, and failed pods are deleted.
* ``updateStrategy: RollingUpdate`` replaces pods of an old revision while no more than
  ``maxUnavailable`` (default 1) are unavailable.
* Status: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled,
  numberReady, numberAvailable, numberUnavailable, updatedNumberScheduled,
  observedGeneration.
"""

from __future__ import annotations

import copy
from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of
from kapi.kube.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from services.controllers import objects, pods, revisions
from services.controllers.framework import Context, Obj, QueueController
from services.scheduler import predicates

DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK_UNAVAILABLE = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def daemon_template(template: Obj) -> Obj:
    """The template with the daemon tolerations added (util.AddOrUpdateDaemonPodTolerations)."""
    out = copy.deepcopy(template)
    spec = out.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    wanted = DAEMON_TOLERATIONS + ([NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])
    for toleration in wanted:
        if not any(
            t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"]
            for t in tolerations
        ):
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations
    return out


def should_run(template: Obj, node: Obj) -> bool:
    pod = {"spec": template.get("spec") or {}}
    return predicates.node_affinity_fits(pod, node) and (
        predicates.untolerated_taint(pod, node) is None
    )


def pinned(pod: Obj) -> str:
    """The node a daemon pod is for: its nodeName, or its metadata.name affinity."""
    if objects.spec(pod).get("nodeName"):
        return str(objects.spec(pod)["nodeName"])
    terms = (
        ((objects.spec(pod).get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return ""


def pin(template: Obj, node: str) -> Obj:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: one required term, the node's name."""
    out = copy.deepcopy(template)
    affinity = out.setdefault("spec", {}).setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]
    }
    return out


class DaemonSetController(QueueController):
    name: ClassVar[str] = "daemonset-controller"
    service_account: ClassVar[str] = "daemon-set-controller"
    aliases: ClassVar[tuple[str, ...]] = ("daemonset",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder(self.name, self.client)
        self.sets = self.watch(ctx.informers.informer(DAEMONSETS), self.enqueue_handler())
        self.revisions = self.watch(ctx.informers.informer(CONTROLLERREVISIONS), Handler())
        self.nodes = self.watch(
            ctx.informers.informer(NODES),
            Handler(on_add=self._all, on_update=self._node_updated, on_delete=self._all),
        )
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(on_add=self._pod, on_update=lambda _o, n: self._pod(n), on_delete=self._pod),
        )

    def _all(self, _node: Obj) -> None:
        for ds in self.sets.store.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if (objects.labels(old), objects.spec(old)) != (objects.labels(new), objects.spec(new)):
            self._all(new)

    def _pod(self, pod: Obj) -> None:
        ref = objects.controller_ref(pod)
        if ref is None or ref.get("kind") != "DaemonSet":
            return
        ds = self.sets.get(objects.namespace(pod), str(ref.get("name")))
        if ds is not None and objects.uid(ds) == ref.get("uid"):
            self.queue.add(key_of(ds))

    async def sync(self, key: str) -> None:
        ds = self.sets.store.get(key)
        if ds is None or objects.deleting(ds):
            return
        update = await revisions.ensure(self.client, self.revisions, ds)
        hash_ = update.rsplit("-", 1)[-1]
        template = daemon_template(objects.spec(ds).get("template") or {})
        by_node: dict[str, list[Obj]] = {}
        for pod in self.pods.store.list(objects.namespace(ds)):
            if (objects.controller_ref(pod) or {}).get("uid") == objects.uid(ds):
                by_node.setdefault(pinned(pod), []).append(pod)
        nodes = {objects.name(n): n for n in self.nodes.store.list()}
        wanted = {name for name, node in nodes.items() if should_run(template, node)}
        for name in sorted(wanted):
            live = [p for p in by_node.get(name, []) if not objects.deleting(p)]
            failed = [p for p in live if objects.status(p).get("phase") == "Failed"]
            for pod in failed:
                await self._delete(ds, pod)
            live = [p for p in live if p not in failed]
            if not live:
                await self._create(ds, template, name, hash_)
            for extra in sorted(live, key=lambda p: objects.meta(p).get("creationTimestamp") or "")[
                1:
            ]:
                await self._delete(ds, extra)
        for name, stray in by_node.items():
            if name not in wanted:
                for pod in stray:
                    if not objects.deleting(pod):
                        await self._delete(ds, pod)
        await self._roll(ds, by_node, wanted, hash_)
        await self._status(ds, by_node, wanted, hash_)

    async def _roll(
        self, ds: Obj, by_node: dict[str, list[Obj]], wanted: set[str], hash_: str
    ) -> None:
        strategy = objects.spec(ds).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        limit = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
        if isinstance(limit, str) and limit.endswith("%"):
            limit = max(1, int(int(limit[:-1]) * len(wanted) / 100))
        unavailable = sum(
            1
            for n in wanted
            if not any(objects.pod_ready(p) and not objects.deleting(p) for p in by_node.get(n, []))
        )
        for name in sorted(wanted):
            if unavailable >= int(limit):
                return
            for pod in by_node.get(name, []):
                if objects.labels(pod).get(revisions.HASH_LABEL) != hash_ and not (
                    objects.deleting(pod)
                ):
                    await self._delete(ds, pod)
                    unavailable += 1

    async def _create(self, ds: Obj, template: Obj, node: str, hash_: str) -> None:
        body = pods.from_template(pin(template, node), ds)
        body["metadata"].setdefault("labels", {})[revisions.HASH_LABEL] = hash_
        try:
            pod = await self.client.create(PODS, objects.namespace(ds), body)
        except errors.StatusError as err:
            if err.code == 403 and "being terminated" in err.message:
                return
            self.recorder.warning(ds, "FailedCreate", f"Error creating: {err.message}")
            raise
        self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {objects.name(pod)}")

    async def _delete(self, ds: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(PODS, objects.namespace(pod), objects.name(pod))
        except errors.StatusError as err:
            if err.code == 404:
                return
            raise
        self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {objects.name(pod)}")

    async def _status(
        self, ds: Obj, by_node: dict[str, list[Obj]], wanted: set[str], hash_: str
    ) -> None:
        min_ready = int(objects.spec(ds).get("minReadySeconds") or 0)
        at = objects.now()
        scheduled = ready = available = updated = misscheduled = 0
        for name, found in by_node.items():
            live = [p for p in found if not objects.deleting(p)]
            if not live:
                continue
            if name not in wanted:
                misscheduled += 1
                continue
            scheduled += 1
            pod = live[0]
            ready += objects.pod_ready(pod)
            available += objects.pod_available(pod, min_ready, at)
            updated += objects.labels(pod).get(revisions.HASH_LABEL) == hash_
        status: Obj = {
            "currentNumberScheduled": scheduled,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": len(wanted),
            "numberReady": ready,
            "observedGeneration": objects.meta(ds).get("generation", 0),
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": len(wanted) - available,
        }
        status = {
            k: v
            for k, v in status.items()
            if v
            or k
            in (
                "currentNumberScheduled",
                "numberMisscheduled",
                "desiredNumberScheduled",
                "numberReady",
            )
        }
        if status != objects.status(ds):
            try:
                await self.client.update(DAEMONSETS, {**ds, "status": status}, subresource="status")
            except errors.StatusError as err:
                if err.code not in (404, 409):
                    raise
                self.queue.add(key_of(ds))
