"""deployment-controller: Deployments roll out through ReplicaSets.

kube's ``pkg/controller/deployment`` (``deployment_controller.go``, ``sync.go``,
``rolling.go``, ``recreate.go``, ``progress.go``), with its arithmetic in
``deployment_util``:

* The Deployment owns the ReplicaSets its selector matches (adopted and released as the
  replicaset controller does pods). The **new** ReplicaSet is the oldest whose template
  is the Deployment's (but for ``pod-template-hash``); it is created when missing, named
  ``NAME-HASH``, with the hash in its labels, selector and template, and revision
  ``max(old revisions) + 1`` in ``deployment.kubernetes.io/revision``, which is also
  written on the Deployment (``kubectl rollout undo`` patches that annotation path). A
  rollback to an old template makes its ReplicaSet new again with the next revision and
  remembers the old one in ``revision-history``. Annotations other than kubectl's and
  the controller's own are copied to the ReplicaSets (``kubernetes.io/change-cause`` is
  what ``rollout history`` shows).
* **RollingUpdate**: the new ReplicaSet grows while the total stays within replicas +
  maxSurge; old ones shrink — unhealthy replicas first — while the available stay at
  least replicas - maxUnavailable (percentages: surge rounds up, unavailability down;
  both 0 means 1 unavailable). **Recreate**: old ones go to 0, and only once their pods
  are gone does the new one scale up.
* A change of ``replicas`` alone (or any change while paused) is a scaling event: the
  active ReplicaSets are resized in proportion, the remainder to the largest.
* Status: replicas, updated, ready, available and unavailable replicas,
  observedGeneration, the Available condition (MinimumReplicasAvailable or not) and
  Progressing (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
  NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused,
  DeploymentResumed) — what ``kubectl rollout status`` waits on.
* Old ReplicaSets scaled to 0 beyond ``revisionHistoryLimit`` are deleted, oldest
  revision first, once the rollout is complete.
* Events ``ScalingReplicaSet`` ``Scaled up replica set X from 0 to 3`` /
  ``Scaled down replica set X from 3 to 2``.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of, split_key
from kapi.kube.resources import DEPLOYMENTS, PODS, REPLICASETS
from services.controllers import claims, objects, selectors
from services.controllers import deployment_util as du
from services.controllers.framework import Context, Obj, QueueController

log = logging.getLogger(__name__)

SELECTING_ALL = "This deployment is selecting all pods. A non-empty selector is required."


class DeploymentController(QueueController):
    name: ClassVar[str] = "deployment-controller"
    service_account: ClassVar[str] = "deployment-controller"
    aliases: ClassVar[tuple[str, ...]] = ("deployment",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder(self.name, self.client)
        self.deployments = self.watch(ctx.informers.informer(DEPLOYMENTS), self.enqueue_handler())
        self.sets = self.watch(
            ctx.informers.informer(REPLICASETS),
            Handler(
                on_add=self._rs_changed,
                on_update=self._rs_updated,
                on_delete=self._rs_changed,
            ),
        )
        self.pods = self.watch(ctx.informers.informer(PODS), Handler(on_delete=self._pod_deleted))

    # --- events --------------------------------------------------------------------

    def _owner(self, obj: Obj, kind: str, informer_kind: str) -> Obj | None:
        ref = objects.controller_ref(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        store = self.deployments if informer_kind == "Deployment" else self.sets
        owner = store.get(objects.namespace(obj), str(ref.get("name")))
        return owner if owner is not None and objects.uid(owner) == ref.get("uid") else None

    def _rs_changed(self, rs: Obj) -> None:
        owner = self._owner(rs, "Deployment", "Deployment")
        if owner is not None:
            self.enqueue(owner)
            return
        if objects.controller_ref(rs) is None:
            for d in self.deployments.store.list(objects.namespace(rs)):
                if selectors.matches(objects.spec(d).get("selector"), objects.labels(rs)):
                    self.enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        self._rs_changed(old)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        rs = self._owner(pod, "ReplicaSet", "ReplicaSet")
        if rs is None:
            return
        d = self._owner(rs, "Deployment", "Deployment")
        if d is not None and not du.is_rolling(d):
            self.enqueue(d)

    # --- the sync --------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.deployments.store.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        namespace, _ = split_key(key)
        selector = objects.spec(d).get("selector")
        if selectors.is_empty(selector):
            self.recorder.warning(d, "SelectingAll", SELECTING_ALL)
            if int(objects.status(d).get("observedGeneration") or 0) < int(
                objects.meta(d).get("generation") or 0
            ):
                status = {**objects.status(d), "observedGeneration": objects.meta(d)["generation"]}
                await self._write_status(d, status)
            return
        candidates = [
            rs
            for rs in self.sets.store.list(namespace)
            if not objects.deleting(rs)
            or (objects.controller_ref(rs) or {}).get("uid") == objects.uid(d)
        ]
        rs_list = [
            copy.deepcopy(rs)
            for rs in await claims.claim(self.client, d, selector or {}, candidates, REPLICASETS)
        ]
        if objects.deleting(d):
            new, old = await self._get_all(d, rs_list, create=False)
            await self._sync_status(d, old + ([new] if new else []), new)
            return
        await self._check_paused(d)
        if objects.spec(d).get("paused"):
            await self._sync_scale(d, rs_list)
            return
        if await self._is_scaling_event(d, rs_list):
            await self._sync_scale(d, rs_list)
            return
        if du.is_rolling(d):
            await self._rollout_rolling(d, rs_list)
        else:
            await self._rollout_recreate(d, rs_list)

    # --- status writes -------------------------------------------------------------

    async def _write_status(
        self, d: Obj, status: Obj, annotations: dict[str, str] | None = None
    ) -> None:
        body = {**d, "status": status}
        if annotations is not None:
            body["metadata"] = {**objects.meta(d), "annotations": annotations}
        updated = await self.client.update(DEPLOYMENTS, body, subresource="status")
        d.clear()
        d.update(updated)

    async def _check_paused(self, d: Obj) -> None:
        if objects.spec(d).get("progressDeadlineSeconds") is None:
            return
        status = copy.deepcopy(objects.status(d))
        cond = du.get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT_REASON:
            return
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED_REASON
        paused = bool(objects.spec(d).get("paused"))
        if paused and not paused_cond:
            du.set_condition(
                status,
                du.condition("Progressing", "Unknown", du.PAUSED_REASON, "Deployment is paused"),
            )
        elif not paused and paused_cond:
            du.set_condition(
                status,
                du.condition("Progressing", "Unknown", du.RESUMED_REASON, "Deployment is resumed"),
            )
        else:
            return
        await self._write_status(d, status)

    # --- replica sets ----------------------------------------------------------------

    async def _get_all(
        self, d: Obj, rs_list: list[Obj], *, create: bool
    ) -> tuple[Obj | None, list[Obj]]:
        existing = du.find_new(d, rs_list)
        old = [rs for rs in rs_list if rs is not existing]
        new = await self._get_new(d, existing, old, create=create)
        return new, old

    async def _get_new(
        self, d: Obj, existing: Obj | None, old: list[Obj], *, create: bool
    ) -> Obj | None:
        new_revision = du.max_revision(old) + 1
        if existing is not None:
            synced = copy.deepcopy(existing)
            changed = du.set_new_rs_annotations(d, synced, new_revision, exists=True)
            min_ready = objects.spec(d).get("minReadySeconds", 0)
            if changed or objects.spec(synced).get("minReadySeconds", 0) != min_ready:
                synced["spec"]["minReadySeconds"] = min_ready
                updated = await self.client.update(REPLICASETS, synced)
                existing.clear()
                existing.update(updated)
                return existing
            await self._sync_revision(d, existing, None)
            return existing
        if not create:
            return None
        spec = objects.spec(d)
        collisions = objects.status(d).get("collisionCount")
        template = copy.deepcopy(spec.get("template") or {})
        hash_ = du.compute_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = hash_
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = hash_
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{objects.name(d)}-{hash_}",
                "namespace": objects.namespace(d),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [objects.new_controller_ref(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, [*old, rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = await self.client.create(REPLICASETS, objects.namespace(d), rs)
        except errors.StatusError as err:
            if err.code == 409 and err.reason == "AlreadyExists":
                found = await self.client.get(REPLICASETS, objects.namespace(d), objects.name(rs))
                ref = objects.controller_ref(found) or {}
                if ref.get("uid") == objects.uid(d) and du.equal_ignore_hash(
                    objects.spec(found).get("template") or {}, spec.get("template") or {}
                ):
                    return found
                status = {**objects.status(d), "collisionCount": int(collisions or 0) + 1}
                await self._write_status(d, status)
                raise errors.conflict(
                    "deployments",
                    "apps",
                    objects.name(d),
                    "hash collision: retrying with a new collision count",
                ) from None
            if err.code == 403 and "being terminated" in err.message:
                return None
            msg = f'Failed to create new replica set "{objects.name(rs)}": {err.message}'
            self.recorder.warning(d, du.FAILED_RS_CREATE_REASON, msg)
            status = copy.deepcopy(objects.status(d))
            if spec.get("progressDeadlineSeconds") is not None:
                du.set_condition(
                    status,
                    du.condition("Progressing", "False", du.FAILED_RS_CREATE_REASON, msg),
                )
                await self._write_status(d, status)
            raise
        replicas = du.replicas(created)
        if replicas > 0:
            self.recorder.normal(
                d,
                "ScalingReplicaSet",
                f"Scaled up replica set {objects.name(created)} from 0 to {replicas}",
            )
        await self._sync_revision(
            d,
            created,
            du.condition(
                "Progressing",
                "True",
                du.NEW_RS_REASON,
                f'Created new replica set "{objects.name(created)}"',
            ),
        )
        return created

    async def _sync_revision(self, d: Obj, rs: Obj, created: Obj | None) -> None:
        """SetDeploymentRevision and the first Progressing condition, through /status (the
        annotation rides along: /status may change annotations, not the spec)."""
        annotations = dict(objects.annotations_of(d))
        rev = objects.annotations_of(rs).get(du.REVISION)
        changed = False
        if rev and annotations.get(du.REVISION) != rev:
            annotations[du.REVISION] = rev
            changed = True
        status = copy.deepcopy(objects.status(d))
        if objects.spec(d).get("progressDeadlineSeconds") is not None:
            if created is not None:
                du.set_condition(status, created)
                changed = True
            elif du.get_condition(status, "Progressing") is None:
                du.set_condition(
                    status,
                    du.condition(
                        "Progressing",
                        "True",
                        du.FOUND_NEW_RS_REASON,
                        f'Found new replica set "{objects.name(rs)}"',
                    ),
                )
                changed = True
        if changed:
            await self._write_status(d, status, annotations)

    async def _scale(self, rs: Obj, new_scale: int, d: Obj) -> bool:
        """scaleReplicaSetAndRecordEvent: True if the size changed."""
        old_scale = du.replicas(rs)
        wanted = copy.deepcopy(rs)
        annotations_changed = du.set_replicas_annotations(
            wanted, du.replicas(d), du.replicas(d) + du.max_surge(d)
        )
        if old_scale == new_scale and not annotations_changed:
            return False
        wanted["spec"]["replicas"] = new_scale
        updated = await self.client.update(REPLICASETS, wanted)
        rs.clear()
        rs.update(updated)
        if old_scale != new_scale:
            direction = "up" if new_scale > old_scale else "down"
            self.recorder.normal(
                d,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {objects.name(rs)} from {old_scale} to "
                f"{new_scale}",
            )
        return old_scale != new_scale

    # --- rolling update --------------------------------------------------------------

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=True)
        all_sets = old + ([new] if new else [])
        if new is not None and await self._reconcile_new(all_sets, new, d):
            await self._sync_rollout_status(d, all_sets, new)
            return
        active_old = [rs for rs in old if du.replicas(rs) > 0]
        if await self._reconcile_old(all_sets, active_old, new, d):
            await self._sync_rollout_status(d, all_sets, new)
            return
        if du.complete(d, objects.status(d)):
            await self._cleanup(old, d)
        await self._sync_rollout_status(d, all_sets, new)

    async def _reconcile_new(self, all_sets: list[Obj], new: Obj, d: Obj) -> bool:
        want = du.replicas(d)
        if du.replicas(new) == want:
            return False
        if du.replicas(new) > want:
            return await self._scale(new, want, d)
        return await self._scale(new, du.new_rs_new_replicas(d, all_sets, new), d)

    async def _reconcile_old(
        self, all_sets: list[Obj], old: list[Obj], new: Obj | None, d: Obj
    ) -> bool:
        if du.total_spec_replicas(old) == 0:
            return False
        all_pods = du.total_spec_replicas(all_sets)
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = 0
        if new is not None:
            new_unavailable = du.replicas(new) - int(
                objects.status(new).get("availableReplicas") or 0
            )
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = 0
        for rs in du.by_creation(old):
            if cleaned >= max_scaled_down:
                break
            if du.replicas(rs) == 0:
                continue
            unhealthy = du.replicas(rs) - int(objects.status(rs).get("availableReplicas") or 0)
            if unhealthy <= 0:
                continue
            count = min(max_scaled_down - cleaned, unhealthy)
            await self._scale(rs, du.replicas(rs) - count, d)
            cleaned += count
        available = du.total_status(all_sets, "availableReplicas")
        scaled = 0
        if available > min_available:
            total = available - min_available
            for rs in du.by_creation(old):
                if scaled >= total:
                    break
                if du.replicas(rs) == 0:
                    continue
                count = min(du.replicas(rs), total - scaled)
                await self._scale(rs, du.replicas(rs) - count, d)
                scaled += count
        return cleaned + scaled > 0

    # --- recreate --------------------------------------------------------------------

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=False)
        all_sets = old + ([new] if new else [])
        scaled = False
        for rs in old:
            if du.replicas(rs) > 0:
                scaled = await self._scale(rs, 0, d) or scaled
        if scaled:
            await self._sync_rollout_status(d, all_sets, new)
            return
        old_uids = {objects.uid(rs) for rs in old}
        running = any(
            (objects.controller_ref(p) or {}).get("uid") in old_uids
            and objects.status(p).get("phase") not in ("Succeeded", "Failed")
            for p in self.pods.store.list(objects.namespace(d))
        )
        if running or du.total_status(old, "replicas") > 0:
            await self._sync_rollout_status(d, all_sets, new)
            return
        if new is None:
            new, old = await self._get_all(d, rs_list, create=True)
            all_sets = old + ([new] if new else [])
        if new is not None:
            await self._scale(new, du.replicas(d), d)
        if du.complete(d, objects.status(d)):
            await self._cleanup(old, d)
        await self._sync_rollout_status(d, all_sets, new)

    # --- scaling ---------------------------------------------------------------------

    async def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new, old = await self._get_all(d, rs_list, create=False)
        for rs in old + ([new] if new else []):
            if du.replicas(rs) == 0:
                continue
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    async def _sync_scale(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=False)
        await self._proportional_scale(d, new, old)
        if objects.spec(d).get("paused"):
            await self._cleanup(old, d)
        await self._sync_status(d, old + ([new] if new else []), new)

    async def _proportional_scale(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        candidates = ([new] if new else []) + old
        active = [rs for rs in candidates if du.replicas(rs) > 0]
        want = du.replicas(d)
        if len(active) <= 1:
            target = (
                active[0] if active else (du.by_creation(candidates)[-1] if candidates else None)
            )
            if target is not None and du.replicas(target) != want:
                await self._scale(target, want, d)
            return
        if (
            new is not None
            and du.replicas(new) == want
            and du.desired_replicas_annotation(new) == want
            and int(objects.status(new).get("availableReplicas") or 0) == want
        ):
            for rs in old:
                if du.replicas(rs):
                    await self._scale(rs, 0, d)
            return
        if not du.is_rolling(d):
            return
        allowed = want + du.max_surge(d)
        to_add = allowed - du.total_spec_replicas(active)
        if to_add == 0:
            return
        ordered = sorted(
            active,
            key=lambda rs: (du.replicas(rs), objects.meta(rs).get("creationTimestamp") or ""),
            reverse=to_add > 0,
        )
        proportions: dict[str, int] = {}
        added = 0
        for rs in ordered:
            proportion = self._proportion(rs, d, to_add, added)
            proportions[objects.name(rs)] = proportion
            added += proportion
        if ordered and added != to_add:
            first = objects.name(ordered[0])
            proportions[first] += to_add - added
        for rs in ordered:
            size = max(du.replicas(rs) + proportions[objects.name(rs)], 0)
            await self._scale(rs, size, d)

    @staticmethod
    def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
        if du.replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        if du.replicas(d) == 0:
            fraction = -du.replicas(rs)
        else:
            deployment_replicas = du.replicas(d) + du.max_surge(d)
            try:
                annotated = int(objects.annotations_of(rs).get(du.MAX_REPLICAS) or 0)
            except ValueError:
                annotated = 0
            annotated = annotated or int(objects.status(d).get("replicas") or 0)
            if annotated == 0:
                return 0
            fraction = round(du.replicas(rs) * deployment_replicas / annotated) - du.replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    # --- history ---------------------------------------------------------------------

    async def _cleanup(self, old: list[Obj], d: Obj) -> None:
        limit = objects.spec(d).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not objects.deleting(rs)]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=du.revision)[:diff]:
            if (
                int(objects.status(rs).get("replicas") or 0) != 0
                or du.replicas(rs) != 0
                or int(objects.meta(rs).get("generation") or 0)
                > int(objects.status(rs).get("observedGeneration") or 0)
            ):
                continue
            try:
                await self.client.delete(
                    REPLICASETS,
                    objects.namespace(rs),
                    objects.name(rs),
                    preconditions={"uid": objects.uid(rs)},
                )
            except errors.StatusError as err:
                if err.code not in (404, 409):
                    raise

    # --- status ----------------------------------------------------------------------

    def _calculate_status(self, d: Obj, all_sets: list[Obj], new: Obj | None) -> Obj:
        available = du.total_status(all_sets, "availableReplicas")
        total = du.total_spec_replicas(all_sets)
        status: Obj = {
            "observedGeneration": objects.meta(d).get("generation", 0),
            "replicas": du.total_status(all_sets, "replicas"),
            "updatedReplicas": du.total_status([new], "replicas") if new else 0,
            "readyReplicas": du.total_status(all_sets, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        status = {k: v for k, v in status.items() if v}
        old = objects.status(d)
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = copy.deepcopy(old["conditions"])
        if available >= du.replicas(d) - du.max_unavailable(d):
            du.set_condition(
                status,
                du.condition(
                    "Available",
                    "True",
                    du.MIN_AVAILABLE_REASON,
                    "Deployment has minimum availability.",
                ),
            )
        else:
            du.set_condition(
                status,
                du.condition(
                    "Available",
                    "False",
                    du.MIN_UNAVAILABLE_REASON,
                    "Deployment does not have minimum availability.",
                ),
            )
        return status

    async def _sync_status(self, d: Obj, all_sets: list[Obj], new: Obj | None) -> None:
        status = self._calculate_status(d, all_sets, new)
        if status != objects.status(d):
            await self._write_status(d, status)

    async def _sync_rollout_status(self, d: Obj, all_sets: list[Obj], new: Obj | None) -> None:
        status = self._calculate_status(d, all_sets, new)
        deadline = objects.spec(d).get("progressDeadlineSeconds")
        if deadline is None:
            du.remove_condition(status, "Progressing")
        current = du.get_condition(status, "Progressing")
        is_complete = (
            int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
            and current is not None
            and current.get("reason") == du.NEW_RS_AVAILABLE_REASON
        )
        name = objects.name(new) if new else ""
        if deadline is not None and not is_complete:
            if du.complete(d, status):
                msg = (
                    f'ReplicaSet "{name}" has successfully progressed.'
                    if new
                    else "Deployment has successfully progressed."
                )
                du.set_condition(
                    status, du.condition("Progressing", "True", du.NEW_RS_AVAILABLE_REASON, msg)
                )
            elif du.progressing(d, status):
                msg = (
                    f'ReplicaSet "{name}" is progressing.' if new else "Deployment is progressing."
                )
                cond = du.condition("Progressing", "True", du.RS_UPDATED_REASON, msg)
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                du.remove_condition(status, "Progressing")
                status.setdefault("conditions", []).append(cond)
            elif du.timed_out(d, status, time.time()):
                msg = (
                    f'ReplicaSet "{name}" has timed out progressing.'
                    if new
                    else "Deployment has timed out progressing."
                )
                du.set_condition(
                    status, du.condition("Progressing", "False", du.TIMED_OUT_REASON, msg)
                )
        if status != objects.status(d):
            await self._write_status(d, status)
        if deadline is not None and not du.complete(d, status):
            self.queue.add_after(key_of(d), min(float(deadline) + 1, 600.0))
