"""Pods from templates, which pods to delete first, and creating many at once: what
kube's ``controller_utils.go`` gives the workload controllers."""

from __future__ import annotations

import asyncio
import copy
import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from services.controllers import objects

Obj = dict[str, Any]

BURST_REPLICAS = 500  # kube's BurstReplicas: creates or deletes per sync at most
SLOW_START_INITIAL_BATCH = 1


def from_template(template: Obj, owner: Obj, *, generate_name: str = "", name: str = "") -> Obj:
    """GetPodFromTemplate: the template's labels, annotations, finalizers and spec, owned
    by ``owner`` through a controller reference."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or f"{objects.name(owner)}-"
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            meta[key] = copy.deepcopy(tmeta[key])
    meta["ownerReferences"] = [objects.new_controller_ref(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Obj, at: datetime.datetime) -> tuple[Any, ...]:
    """controller.ActivePods' order, least valuable first: unassigned before assigned,
    Pending < Unknown < Running, not ready before ready, ready for less time before more,
    more restarts before fewer, newer before older."""
    st = objects.status(pod)
    ready = objects.condition(pod, "Ready")
    is_ready = bool(ready and ready.get("status") == "True")
    ready_since = objects.parse_time(ready.get("lastTransitionTime")) if ready else None
    ready_for = (at - ready_since).total_seconds() if is_ready and ready_since else 0.0
    restarts = sum(int(c.get("restartCount") or 0) for c in st.get("containerStatuses") or [])
    created = objects.parse_time(objects.meta(pod).get("creationTimestamp"))
    age = (at - created).total_seconds() if created else 0.0
    return (
        1 if objects.spec(pod).get("nodeName") else 0,
        _PHASE_RANK.get(str(st.get("phase") or "Pending"), 0),
        1 if is_ready else 0,
        ready_for,
        -restarts,
        age,
    )


async def slow_start(
    count: int, action: Callable[[], Awaitable[None]], *, initial: int = SLOW_START_INITIAL_BATCH
) -> int:
    """slowStartBatch: run ``action`` ``count`` times in batches of 1, 2, 4, ...; stop after
    a batch with a failure. Returns how many succeeded; the first error is raised after."""
    done = 0
    batch = min(count, initial)
    first_error: BaseException | None = None
    while batch > 0 and first_error is None:
        results = await asyncio.gather(*(action() for _ in range(batch)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                first_error = first_error or result
            else:
                done += 1
        remaining = count - done - sum(1 for r in results if isinstance(r, BaseException))
        batch = min(remaining, 2 * batch)
    if first_error is not None:
        raise first_error
    return done
