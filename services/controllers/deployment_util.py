"""The arithmetic of rollouts (kube's ``pkg/controller/deployment/util``): revisions and
their annotations, surge and unavailability, the template hash, and the conditions
``kubectl rollout status`` reads. Pure functions over dicts."""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson

from services.controllers import objects

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
# Not copied from the Deployment to its ReplicaSets (annotationsToSkip).
SKIPPED_ANNOTATIONS = {
    LAST_APPLIED,
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    ROLLBACK_TO,
}
REVISION_HISTORY_LIMIT_CHARS = 2000

# Condition reasons (deploymentutil).
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
RS_UPDATED_REASON = "ReplicaSetUpdated"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """apimachinery's rand.SafeEncodeString: no vowels, no look-alike characters."""
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in text)


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """controller.ComputeHash: a hash of the pod template (and the collision count)."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def replicas(obj: Obj) -> int:
    value = objects.spec(obj).get("replicas")
    return 1 if value is None else int(value)


def revision(obj: Obj) -> int:
    try:
        return int(objects.annotations_of(obj).get(REVISION) or 0)
    except ValueError:
        return 0


def max_revision(sets: list[Obj]) -> int:
    return max((revision(rs) for rs in sets), default=0)


def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """EqualIgnoreHash: templates equal but for the pod-template-hash label."""
    return _without_hash(a) == _without_hash(b)


def by_creation(sets: list[Obj]) -> list[Obj]:
    """Oldest first; ties by name (controller.ReplicaSetsByCreationTimestamp)."""
    return sorted(
        sets, key=lambda rs: (objects.meta(rs).get("creationTimestamp") or "", objects.name(rs))
    )


def find_new(deployment: Obj, sets: list[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest whose template is the Deployment's."""
    template = objects.spec(deployment).get("template") or {}
    for rs in by_creation(sets):
        if equal_ignore_hash(objects.spec(rs).get("template") or {}, template):
            return rs
    return None


def _int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        percent = int(text[:-1])
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def is_rolling(deployment: Obj) -> bool:
    strategy = objects.spec(deployment).get("strategy") or {}
    return str(strategy.get("type") or "RollingUpdate") == "RollingUpdate"


def fenceposts(deployment: Obj) -> tuple[int, int]:
    """ResolveFenceposts: (maxSurge, maxUnavailable); both 0 would deadlock: 1 unavailable."""
    rolling = (objects.spec(deployment).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(deployment)
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: Obj) -> int:
    return fenceposts(deployment)[0] if is_rolling(deployment) else 0


def max_unavailable(deployment: Obj) -> int:
    if not is_rolling(deployment) or replicas(deployment) == 0:
        return 0
    return min(fenceposts(deployment)[1], replicas(deployment))


def total_spec_replicas(sets: list[Obj]) -> int:
    return sum(replicas(rs) for rs in sets)


def total_status(sets: list[Obj], field: str) -> int:
    return sum(int(objects.status(rs).get(field) or 0) for rs in sets)


def new_rs_new_replicas(deployment: Obj, all_sets: list[Obj], new_rs: Obj) -> int:
    """NewRSNewReplicas: how far the new ReplicaSet may grow now."""
    if not is_rolling(deployment):
        return replicas(deployment)
    current = total_spec_replicas(all_sets)
    max_total = replicas(deployment) + max_surge(deployment)
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(deployment) - replicas(new_rs))
    return replicas(new_rs) + max(scale_up, 0)


def copy_annotations(deployment: Obj, rs: Obj) -> bool:
    """copyDeploymentAnnotationsToReplicaSet: all but the skipped ones; True if changed."""
    rs_annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in objects.annotations_of(deployment).items():
        if key in SKIPPED_ANNOTATIONS:
            continue
        if rs_annotations.get(key) != value:
            rs_annotations[key] = value
            changed = True
    return changed


def set_new_rs_annotations(deployment: Obj, rs: Obj, new_revision: int, *, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copied annotations, the revision (a rollback back to
    this ReplicaSet keeps its old revision in revision-history), and on creation the
    desired and max replicas."""
    changed = copy_annotations(deployment, rs)
    annotations = rs["metadata"]["annotations"]
    old = annotations.get(REVISION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        old_int = 0
    if old_int < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old:
            history = annotations.get(REVISION_HISTORY, "")
            joined = f"{history},{old}" if history else old
            if len(joined) <= REVISION_HISTORY_LIMIT_CHARS:
                annotations[REVISION_HISTORY] = joined
    if not exists and set_replicas_annotations(
        rs, replicas(deployment), replicas(deployment) + max_surge(deployment)
    ):
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def desired_replicas_annotation(rs: Obj) -> int | None:
    value = objects.annotations_of(rs).get(DESIRED_REPLICAS)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def condition(type_: str, status: str, reason: str, message: str, *, now: str | None = None) -> Obj:
    stamp = now or objects.rfc3339()
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, new: Obj) -> None:
    """SetDeploymentCondition: same status and reason: nothing; same status: keep
    lastTransitionTime."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    current = next((c for c in conditions if c.get("type") == new["type"]), None)
    if (
        current is not None
        and current.get("status") == new["status"]
        and current.get("reason") == new["reason"]
    ):
        return
    if current is not None and current.get("status") == new["status"]:
        new = {**new, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in conditions if c.get("type") != new["type"]] + [new]


def remove_condition(status: Obj, type_: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if not status["conditions"]:
        status.pop("conditions")


def get_condition(status: Obj, type_: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def complete(deployment: Obj, status: Obj) -> bool:
    """DeploymentComplete."""
    want = replicas(deployment)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0)
        >= int(objects.meta(deployment).get("generation") or 0)
    )


def progressing(deployment: Obj, new_status: Obj) -> bool:
    """DeploymentProgressing: more updated, ready or available pods, or fewer old ones."""
    old = objects.status(deployment)

    def n(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(new_status, "replicas") - n(new_status, "updatedReplicas")
    return (
        n(new_status, "updatedReplicas") > n(old, "updatedReplicas")
        or n(new_status, "readyReplicas") > n(old, "readyReplicas")
        or n(new_status, "availableReplicas") > n(old, "availableReplicas")
        or new_old < old_old
    )


def timed_out(deployment: Obj, new_status: Obj, now_ts: float) -> bool:
    """DeploymentTimedOut: the Progressing condition last moved longer than the deadline ago."""
    deadline = objects.spec(deployment).get("progressDeadlineSeconds")
    if deadline is None:
        return False
    cond = get_condition(new_status, "Progressing")
    if cond is None:
        return False
    if cond.get("reason") == NEW_RS_AVAILABLE_REASON or cond.get("reason") == TIMED_OUT_REASON:
        return cond.get("reason") == TIMED_OUT_REASON
    updated = objects.parse_time(cond.get("lastUpdateTime"))
    return updated is not None and updated.timestamp() + int(deadline) < now_ts
