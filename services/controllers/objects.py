"""Small accessors the controllers share: metadata, owner references, conditions, time."""

from __future__ import annotations

import datetime
from typing import Any

Obj = dict[str, Any]


def meta(obj: Obj) -> Obj:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def uid(obj: Obj) -> str:
    return str(meta(obj).get("uid") or "")


def labels(obj: Obj) -> dict[str, str]:
    value = meta(obj).get("labels")
    return value if isinstance(value, dict) else {}


def annotations_of(obj: Obj) -> dict[str, str]:
    value = meta(obj).get("annotations")
    return value if isinstance(value, dict) else {}


def deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def spec(obj: Obj) -> Obj:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def status(obj: Obj) -> Obj:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def owner_references(obj: Obj) -> list[Obj]:
    refs = meta(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def controller_ref(obj: Obj) -> Obj | None:
    """The owner reference with ``controller: true`` (metav1.GetControllerOf)."""
    for ref in owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Obj) -> Obj:
    """metav1.NewControllerRef: controller and blockOwnerDeletion true."""
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": name(owner),
        "uid": uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(when: datetime.datetime | None = None) -> str:
    return (when or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def condition(obj: Obj, type_: str) -> Obj | None:
    for cond in status(obj).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == type_:
            return cond
    return None


def set_condition(conditions: list[Obj], new: Obj) -> list[Obj]:
    """Replace the condition of ``new``'s type, keeping lastTransitionTime when the status
    did not change (the API's SetStatusCondition)."""
    out = []
    found = False
    for cond in conditions:
        if cond.get("type") == new.get("type"):
            found = True
            merged = dict(new)
            if cond.get("status") == new.get("status") and cond.get("lastTransitionTime"):
                merged["lastTransitionTime"] = cond["lastTransitionTime"]
            out.append(merged)
        else:
            out.append(cond)
    if not found:
        out.append(new)
    return out


def pod_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def pod_active(pod: Obj) -> bool:
    """controller.IsPodActive: not terminated and not being deleted."""
    return status(pod).get("phase") not in ("Succeeded", "Failed") and not deleting(pod)


def pod_available(pod: Obj, min_ready_seconds: int, at: datetime.datetime) -> bool:
    """podutil.IsPodAvailable: ready for at least minReadySeconds."""
    cond = condition(pod, "Ready")
    if not cond or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) <= at
