"""Evicting a pod: ``POST pods/{name}/eviction`` with a policy/v1 Eviction (kube's
EvictionREST, ``pkg/registry/core/pod/storage/eviction.go``).

An eviction is a delete that honours the PodDisruptionBudget covering the pod. A pod
that is not running yet (Pending), has ended, or is being deleted goes at once. Otherwise
the one PDB whose selector matches the pod must allow a disruption: its status must be
current (observedGeneration), and disruptionsAllowed above zero, which the eviction
then decrements (recording the pod in disruptedPods) before the pod is deleted; else
429 TooManyRequests "Cannot evict pod as it would violate the pod's disruption budget."
with a DisruptionBudget cause. More than one matching PDB is a 500. An unready pod is
deleted without spending the budget when the PDB's unhealthyPodEvictionPolicy is
AlwaysAllow or the PDB already has its desired healthy pods. Before the delete the pod
gets the DisruptionTarget condition. The answer is a 201 Status Success.

kapi has no disruption controller: a PDB's status is whatever its /status was given,
so a PDB nobody maintains blocks the eviction of the running pods it covers, as it does
in a cluster whose controller manager is down.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

import orjson

from kapi import errors
from services.registry import binding, pipeline
from services.registry.ports import AdmissionTarget, Where
from services.registry.strategies.common import selector_matches

if TYPE_CHECKING:
    from services.registry.service import Registry, Target

Obj = dict[str, Any]

BLOCKED = "Cannot evict pod as it would violate the pod's disruption budget."
MAX_DISRUPTED_PODS = 2000  # kube's MaxDisruptedPodSize
ATTEMPTS = 20  # kube's EvictionsRetry steps


def _budget_error(cause: str, retry_after: int) -> errors.StatusError:
    """kube's NewTooManyRequests with a DisruptionBudget cause."""
    err = errors.too_many_requests(BLOCKED, retry_after)
    err.details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    if retry_after:
        err.details["retryAfterSeconds"] = retry_after
    else:
        err.retry_after = None
    return err


def _still_processing(pdb_name: str) -> errors.StatusError:
    return _budget_error(
        f"The disruption budget {pdb_name} is still being processed by the server.", 10
    )


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def can_ignore_budget(pod: Obj) -> bool:
    """kube's canIgnorePDB: an ended, pending or already deleted pod disrupts nothing."""
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return _phase(pod) in ("Succeeded", "Failed", "Pending") or deleting


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )


def dry_run_of(eviction: Obj, dry_run: bool) -> tuple[Obj, bool]:
    """The Eviction's DeleteOptions with the request's dryRun in it (kube's
    propagateDryRun), and whether the eviction is a dry run; 400 when they differ."""
    options = eviction.get("deleteOptions")
    options = copy.deepcopy(options) if isinstance(options, dict) else {}
    requested = ["All"] if dry_run else []
    given = options.get("dryRun") or []
    if not given:
        if requested:
            options["dryRun"] = requested
    elif requested and given != requested:
        raise errors.bad_request(
            f"Non-matching dry-run options in request and content: {requested} and {given}"
        )
    return options, "All" in (options.get("dryRun") or [])


def check_and_decrement(pdb: Obj, pod_name: str, *, dry_run: bool) -> Obj:
    """kube's checkAndDecrement: the PDB with one disruption spent, or the error."""
    meta = pdb.get("metadata") or {}
    status = pdb.get("status") or {}
    name = str(meta.get("name") or "")
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        raise _still_processing(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise errors.forbidden(
            "poddisruptionbudget", "policy", name, "pdb disruptions allowed is negative"
        )
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.forbidden(
            "poddisruptionbudget",
            "policy",
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        )
    if allowed == 0:
        raise _budget_error(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently",
            0,
        )
    spent = copy.deepcopy(pdb)
    spent_status = spent.setdefault("status", {})
    spent_status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        _set_condition(
            spent_status,
            {
                "type": "DisruptionAllowed",
                "status": "False",
                "observedGeneration": int(status.get("observedGeneration") or 0),
                "reason": "InsufficientPods",
                "message": "",
            },
        )
    if not dry_run:
        disrupted = spent_status.setdefault("disruptedPods", {})
        disrupted[pod_name] = pipeline.now_rfc3339()
    return spent


def _set_condition(status: Obj, condition: Obj) -> None:
    """apimachinery's meta.SetStatusCondition."""
    conditions = status.setdefault("conditions", [])
    for existing in conditions:
        if isinstance(existing, dict) and existing.get("type") == condition["type"]:
            if existing.get("status") != condition["status"]:
                existing["lastTransitionTime"] = pipeline.now_rfc3339()
            existing.update({k: v for k, v in condition.items() if k != "type"})
            return
    conditions.append({**condition, "lastTransitionTime": pipeline.now_rfc3339()})


class _Eviction:
    """One eviction request against the registry's storage."""

    def __init__(self, registry: Registry, target: Target, name: str) -> None:
        self.registry = registry
        self.target = target
        self.name = name
        self.namespace = target.namespace
        self.pods = self._where("", "pods")
        self.pdbs = self._where("policy", "poddisruptionbudgets")

    def _where(self, group: str, resource: str) -> Where:
        rt = self.registry.table.lookup(group, "v1", resource)
        if rt is None:
            raise errors.not_found_path()
        return Where(group=group, resource=resource, namespaced=True)

    async def pod(self) -> Obj:
        data = await self.registry.storage.get(self.pods, self.namespace, self.name)
        pod: Obj = orjson.loads(data)
        return pod

    async def budgets(self, pod: Obj) -> list[Obj]:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        listed = await self.registry.storage.list(self.pdbs, self.namespace)
        budgets = [orjson.loads(item) for item in listed.items]
        return [
            b for b in budgets if selector_matches((b.get("spec") or {}).get("selector"), labels)
        ]

    async def spend(self, pdb: Obj, *, dry_run: bool) -> None:
        """Decrement the PDB's allowance, retrying on conflicts with the latest PDB."""
        name = str(pdb["metadata"]["name"])
        for _attempt in range(ATTEMPTS):
            spent = check_and_decrement(pdb, self.name, dry_run=dry_run)
            if dry_run:
                return
            revision = int(spent["metadata"].pop("resourceVersion"))
            try:
                await self.registry.storage.update(
                    self.pdbs, self.namespace, name, orjson.dumps(spent), expected_revision=revision
                )
                return
            except errors.StatusError as err:
                if err.reason != "Conflict":
                    raise
            pdb = orjson.loads(await self.registry.storage.get(self.pdbs, self.namespace, name))
        raise errors.timeout(
            f"couldn't update PodDisruptionBudget {errors.quote(name)} due to conflicts", 10
        )

    async def delete(self, options: Obj, *, dry_run: bool) -> None:
        """kube's addConditionAndDeletePod: the DisruptionTarget condition, then the delete
        (with the pod's new revision when the delete is pinned to one)."""
        options = copy.deepcopy(options)
        preconditions = options.get("preconditions") or {}
        if not dry_run:
            current = await self.pod()
            meta = current["metadata"]
            uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
            if uid and uid != meta.get("uid"):
                raise errors.conflict(
                    "Pod",
                    "",
                    self.name,
                    f"the UID in the precondition ({uid}) does not match the UID in record "
                    f"({meta.get('uid')}). The object might have been deleted and then recreated",
                )
            if rv and str(rv) != str(meta.get("resourceVersion")):
                raise errors.conflict(
                    "Pod",
                    "",
                    self.name,
                    f"the ResourceVersion in the precondition ({rv}) does not match the "
                    f"ResourceVersion in record ({meta.get('resourceVersion')}). The object "
                    "might have been modified",
                )
            binding.set_condition(
                current,
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "EvictionByEvictionAPI",
                    "message": "Eviction API: evicting",
                },
            )
            revision = int(meta.pop("resourceVersion"))
            updated = await self.registry.storage.update(
                self.pods,
                self.namespace,
                self.name,
                orjson.dumps(current),
                expected_revision=revision,
            )
            if rv:
                new_rv = orjson.loads(updated)["metadata"]["resourceVersion"]
                options["preconditions"] = {**preconditions, "resourceVersion": str(new_rv)}
        pod_target = dataclasses.replace(self.target, subresource="", name=self.name)
        await self.registry.delete(pod_target, options, dry_run=dry_run)


async def evict(registry: Registry, target: Target, eviction: Obj, *, dry_run: bool) -> bytes:
    """Create an Eviction of the pod ``target`` names. Answers the 201's body."""
    api_version = eviction.get("apiVersion")
    if api_version and api_version not in ("policy/v1", "policy/v1beta1"):
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            "version (policy/v1)"
        )
    kind = eviction.get("kind")
    if kind and kind != "Eviction":
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind (Eviction)"
        )
    pods = registry.table.lookup("", "v1", "pods")
    if pods is None:
        raise errors.not_found_path()
    pipeline.set_namespace(pods, eviction, target.namespace)
    if str(eviction["metadata"].get("name") or "") != target.name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options, dry = dry_run_of(eviction, dry_run)
    admission = AdmissionTarget(
        operation="CREATE",
        user=target.user,
        group="policy",
        version="v1",
        kind="Eviction",
        resource="pods",
        subresource="eviction",
        namespace=target.namespace,
        name=target.name,
        dry_run=dry,
    )
    await registry.admission.admit("mutating", admission, eviction)
    await registry.admission.admit("validating", admission, eviction)
    run = _Eviction(registry, target, target.name)
    pinned = bool((options.get("preconditions") or {}).get("resourceVersion"))
    pod: Obj = {}
    for _attempt in range(ATTEMPTS):
        pod = await run.pod()
        if not can_ignore_budget(pod):
            break
        delete_options = options
        terminal = _phase(pod) in ("Succeeded", "Failed") or pod["metadata"].get(
            "deletionTimestamp"
        )
        if not terminal and not pinned:  # do not race a pod becoming ready
            delete_options = {
                **options,
                "preconditions": {
                    **(options.get("preconditions") or {}),
                    "resourceVersion": str(pod["metadata"]["resourceVersion"]),
                },
            }
        try:
            await run.delete(delete_options, dry_run=dry)
        except errors.StatusError as err:
            if err.reason == "Conflict" and not pinned:
                continue
            raise
        return binding.success()
    else:
        raise errors.conflict("pods", "", target.name)
    budgets = await run.budgets(pod)
    if len(budgets) > 1:
        raise errors.StatusError(
            code=500,
            reason="",
            message="This pod has more than one PodDisruptionBudget, which the eviction "
            "subresource does not support.",
        )
    pin_to_pod = False
    if budgets:
        pdb = budgets[0]
        spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
        desired = int(status.get("desiredHealthy") or 0)
        if not is_ready(pod) and (
            spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
            or (int(status.get("currentHealthy") or 0) >= desired and desired > 0)
        ):
            pin_to_pod = True  # an unready pod disrupts nothing the budget counts
        else:
            await run.spend(pdb, dry_run=dry)
    delete_options = options
    if pin_to_pod:
        delete_options = {
            **options,
            "preconditions": {
                **(options.get("preconditions") or {}),
                "resourceVersion": str(pod["metadata"]["resourceVersion"]),
            },
        }
    try:
        await run.delete(delete_options, dry_run=dry)
    except errors.StatusError as err:
        if err.reason == "Conflict" and pin_to_pod and not pinned:
            raise _still_processing(str(budgets[0]["metadata"]["name"])) from None
        raise
    return binding.success()
