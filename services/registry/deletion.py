"""How a DELETE changes an object before (or instead of) removing it, as kube's generic
store decides (``k8s.io/apiserver/pkg/registry/rest/delete.go`` ``BeforeDelete``;
``registry/generic/registry/store.go`` ``Delete``, ``deletionFinalizersForGarbageCollection``,
``markAsDeleting``, ``shouldDeleteDuringUpdate``):

* **Propagation.** ``propagationPolicy: Orphan`` (or ``orphanDependents: true``) puts the
  ``orphan`` finalizer on the object, ``Foreground`` the ``foregroundDeletion`` one;
  ``Background`` removes both. Without a policy an existing finalizer decides, then the
  resource's default (``DeleteDependents`` but for a few: ReplicationControllers orphan,
  Events are ``Unsupported`` and never get either). The garbage collector (in the
  controller manager) acts on those finalizers and removes them.
* **Graceful deletion** (pods): the object stays with ``deletionTimestamp`` = now + the
  grace period and ``deletionGracePeriodSeconds``; whoever runs it (the kubelet; the
  simulated nodes) deletes it again with grace 0 when its containers have stopped. A
  second DELETE may only shorten the period; a longer one leaves it pending.
* **Finalizers.** An object with finalizers is only marked (``deletionTimestamp`` now,
  grace 0: ``markAsDeleting``); the update that removes its last finalizer deletes it,
  if its grace period is over (``deletionGracePeriodSeconds`` 0).

Everything here is pure: functions of the stored object and the DeleteOptions.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass
from typing import Any

from kapi import errors

Obj = dict[str, Any]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
POLICIES = ("Foreground", "Background", "Orphan")

# rest.GarbageCollectionPolicy
DELETE_DEPENDENTS = "DeleteDependents"
ORPHAN_DEPENDENTS = "OrphanDependents"
UNSUPPORTED = "Unsupported"


def _parse(ts: str) -> datetime.datetime:
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def _format(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_options(options: Obj) -> None:
    """kube's ValidateDeleteOptions: 422 ``DeleteOptions.meta.k8s.io`` on a bad policy."""
    problems = []
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is not None and policy is not None:
        problems.append(
            errors.invalid_value(
                "propagationPolicy",
                policy,
                "orphanDependents and deletionPropagation cannot be both set",
            )
        )
    if policy is not None and policy not in POLICIES:
        problems.append(errors.not_supported("propagationPolicy", policy, [*POLICIES, "nil"]))
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        problems.append(errors.invalid_value("gracePeriodSeconds", grace, "must be an integer"))
    if problems:
        raise errors.invalid("DeleteOptions", "meta.k8s.io", "", problems)


def _should_orphan(finalizers: list[str], options: Obj, default_policy: str) -> bool:
    if default_policy == UNSUPPORTED:
        return False
    if options.get("orphanDependents") is not None:
        return bool(options["orphanDependents"])
    policy = options.get("propagationPolicy")
    if policy == "Orphan":
        return True
    if policy in ("Background", "Foreground"):
        return False
    for name in finalizers:
        if name == ORPHAN:
            return True
        if name == FOREGROUND:
            return False
    return default_policy == ORPHAN_DEPENDENTS


def _should_delete_dependents(finalizers: list[str], options: Obj, default_policy: str) -> bool:
    if default_policy == UNSUPPORTED or options.get("orphanDependents") is not None:
        return False
    policy = options.get("propagationPolicy")
    if policy == "Foreground":
        return True
    if policy in ("Background", "Orphan"):
        return False
    return FOREGROUND in finalizers


def gc_finalizers(meta: Obj, options: Obj, default_policy: str) -> list[str] | None:
    """The finalizers after the propagation policy is applied; ``None`` if unchanged."""
    current = [f for f in meta.get("finalizers") or [] if isinstance(f, str)]
    wanted = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    if _should_orphan(current, options, default_policy):
        wanted.append(ORPHAN)
    if _should_delete_dependents(current, options, default_policy):
        wanted.append(FOREGROUND)
    return None if set(wanted) == set(current) else wanted


def namespace_gc_finalizers(meta: Obj, options: Obj) -> list[str] | None:
    """The namespace REST's own rule (``shouldHaveOrphanFinalizer``,
    ``shouldHaveDeleteDependentsFinalizer``): only an explicit option adds or removes the
    orphan or foregroundDeletion finalizer; ``None`` if unchanged."""
    current = [f for f in meta.get("finalizers") or [] if isinstance(f, str)]
    orphan_option = options.get("orphanDependents")
    policy = options.get("propagationPolicy")
    if orphan_option is not None:
        orphan, foreground = bool(orphan_option), False
    elif policy is not None:
        orphan, foreground = policy == "Orphan", policy == "Foreground"
    else:
        return None
    wanted = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    if orphan:
        wanted.append(ORPHAN)
    if foreground:
        wanted.append(FOREGROUND)
    return None if set(wanted) == set(current) else wanted


@dataclass(frozen=True)
class Plan:
    """What to do: ``update`` the object to ``obj`` and keep it, or ``delete`` it now
    (``obj`` then the object as last stored), or nothing (``pending``)."""

    action: str  # "update" | "delete" | "pending"
    obj: Obj


def plan(
    current: Obj,
    options: Obj,
    *,
    grace_period: int | None,
    default_policy: str,
    now: datetime.datetime | None = None,
) -> Plan:
    """Decide a DELETE of ``current``. ``grace_period``: the strategy's answer to
    CheckGracefulDelete (``None``: not a graceful resource)."""
    now = now or datetime.datetime.now(datetime.UTC)
    requested = options.get("gracePeriodSeconds")
    if requested is not None and int(requested) < 0:
        options = {**options, "gracePeriodSeconds": 1}  # BeforeDelete: negative is 1 s
    obj = copy.deepcopy(current)
    meta = obj["metadata"]
    graceful = False
    if grace_period is not None:
        if meta.get("deletionTimestamp"):
            existing = meta.get("deletionGracePeriodSeconds")
            if existing:
                requested = options.get("gracePeriodSeconds")
                if requested is None or int(requested) >= int(existing):
                    return Plan("pending", current)
                # Only a shorter period: the deadline moves earlier by the difference.
                deadline = _parse(meta["deletionTimestamp"]) - datetime.timedelta(
                    seconds=int(existing) - int(requested)
                )
                meta["deletionTimestamp"] = _format(deadline)
                meta["deletionGracePeriodSeconds"] = int(requested)
                graceful = True
        else:
            meta["deletionTimestamp"] = _format(now + datetime.timedelta(seconds=grace_period))
            meta["deletionGracePeriodSeconds"] = grace_period
            if meta.get("generation"):
                meta["generation"] = int(meta["generation"]) + 1
            graceful = True
    finalizers = gc_finalizers(meta, options, default_policy)
    if finalizers is not None:
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
    pending_finalizers = bool(meta.get("finalizers"))
    if not graceful:
        if not pending_finalizers:
            return Plan("delete", current)
        mark_as_deleting(meta, now)
        return Plan("update", obj)
    if pending_finalizers or int(meta.get("deletionGracePeriodSeconds") or 0) > 0:
        return Plan("update", obj)
    return Plan("delete", obj)


def mark_as_deleting(meta: Obj, now: datetime.datetime) -> None:
    """``markAsDeleting``: deletion now (or earlier, if already set), grace period 0."""
    if not meta.get("deletionTimestamp") and meta.get("generation"):
        meta["generation"] = int(meta["generation"]) + 1
    existing = meta.get("deletionTimestamp")
    if not existing or _parse(existing) > now:
        meta["deletionTimestamp"] = _format(now)
    meta["deletionGracePeriodSeconds"] = 0


def delete_during_update(new_meta: Obj, old_meta: Obj) -> bool:
    """``shouldDeleteDuringUpdate``: the update removed the last finalizer of an object
    whose deletion was requested and whose grace period is over."""
    if new_meta.get("finalizers"):
        return False
    if not old_meta.get("deletionTimestamp"):
        return False
    return not old_meta.get("deletionGracePeriodSeconds")


def pod_grace_period(pod: Obj, options: Obj) -> int:
    """The pod strategy's CheckGracefulDelete: the requested period, else the pod's
    terminationGracePeriodSeconds; 0 for a pod on no node or already terminated;
    a negative one is 1."""
    requested = options.get("gracePeriodSeconds")
    spec = pod.get("spec") or {}
    if requested is not None:
        period = int(requested)
    else:
        period = int(spec.get("terminationGracePeriodSeconds") or 0)
    if not spec.get("nodeName"):
        period = 0
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        period = 0
    return 1 if period < 0 else period
