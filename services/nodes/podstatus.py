"""The status a kubelet writes for a pod, computed for a simulated one (pure functions).

What kube's kubelet reports (``pkg/kubelet/status``, ``kubelet_pods.go``
``generateAPIPodStatus``): phase, hostIP(s), podIP(s), startTime, qosClass, the
conditions PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled
(reasons ``PodCompleted`` once containers have exited), and a status per container:
running (``startedAt``) or terminated (``exitCode``, ``reason`` Completed or Error,
``startedAt``, ``finishedAt``), with ``containerID``, ``image``, ``imageID``,
``ready``, ``started`` and ``restartCount``. Simulated containers have ``kapi://``
container IDs, by which the registry knows it may answer their logs itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]

CONTAINER_ID_SCHEME = "kapi://"
RUN_SECONDS = "nodes.kapi.dev/run-seconds"
EXIT_CODE = "nodes.kapi.dev/exit-code"
TERMINATION_SECONDS = "nodes.kapi.dev/termination-seconds"
DEFAULT_RUN_SECONDS = 1.0  # a pod that runs to completion (restartPolicy Never/OnFailure)


def container_id(pod: Obj, name: str, restarts: int = 0) -> str:
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    digest = hashlib.sha256(f"{uid}/{name}/{restarts}".encode()).hexdigest()
    return f"{CONTAINER_ID_SCHEME}{digest}"


def image_id(image: str) -> str:
    digest = hashlib.sha256(image.encode()).hexdigest()
    repo = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image or ":" in image else image
    return f"{repo}@sha256:{digest}"


def qos_class(pod: Obj) -> str:
    """v1qos.GetPodQOS: BestEffort without requests or limits; Guaranteed when every
    container limits cpu and memory, with requests equal to limits; else Burstable."""
    containers = [
        *((pod.get("spec") or {}).get("containers") or []),
        *((pod.get("spec") or {}).get("initContainers") or []),
    ]
    any_set = False
    guaranteed = True
    for c in containers:
        resources = c.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits.get(name)) != limits.get(name):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def runs_to_completion(pod: Obj) -> bool:
    return (pod.get("spec") or {}).get("restartPolicy", "Always") in ("Never", "OnFailure")


def _annotation(pod: Obj, key: str) -> str | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    return str(value) if value is not None else None


def run_seconds(pod: Obj) -> float:
    raw = _annotation(pod, RUN_SECONDS)
    try:
        return max(0.0, float(raw)) if raw is not None else DEFAULT_RUN_SECONDS
    except ValueError:
        return DEFAULT_RUN_SECONDS


def exit_code(pod: Obj) -> int:
    raw = _annotation(pod, EXIT_CODE)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 1


def termination_seconds(pod: Obj) -> float:
    """How long the simulated containers take to stop once the pod is deleted, within
    its grace period (0 unless annotated)."""
    raw = _annotation(pod, TERMINATION_SECONDS)
    try:
        wanted = max(0.0, float(raw)) if raw is not None else 0.0
    except ValueError:
        wanted = 0.0
    grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
    return min(wanted, float(grace)) if grace is not None else wanted


def _condition(type_: str, status: str, now: str, reason: str = "") -> Obj:
    out: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        out["reason"] = reason
    return out


def running(pod: Obj, *, host_ip: str, pod_ip: str, now: str) -> Obj:
    """Every container started and ready."""
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    return {
        "phase": "Running",
        "conditions": [
            _condition("PodReadyToStartContainers", "True", now),
            _condition("Initialized", "True", now),
            _condition("Ready", "True", now),
            _condition("ContainersReady", "True", now),
            _condition("PodScheduled", "True", now),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": now,
        "initContainerStatuses": [
            _terminated(pod, c, 0, now, now) for c in spec.get("initContainers") or []
        ]
        or None,
        "containerStatuses": [
            {
                "name": c.get("name"),
                "state": {"running": {"startedAt": now}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": c.get("image", ""),
                "imageID": image_id(str(c.get("image", ""))),
                "containerID": container_id(pod, str(c.get("name"))),
                "started": True,
            }
            for c in containers
        ],
        "qosClass": qos_class(pod),
    }


def _terminated(pod: Obj, c: Obj, code: int, started: str, finished: str) -> Obj:
    return {
        "name": c.get("name"),
        "state": {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": started,
                "finishedAt": finished,
                "containerID": container_id(pod, str(c.get("name"))),
            }
        },
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": c.get("image", ""),
        "imageID": image_id(str(c.get("image", ""))),
        "containerID": container_id(pod, str(c.get("name"))),
        "started": False,
    }


def finished(pod: Obj, *, code: int, now: str) -> Obj:
    """Every container exited with ``code``: Succeeded for 0, else Failed."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    started = str(status.get("startTime") or now)
    reason = "PodCompleted" if code == 0 else "PodFailed"
    return {
        "phase": "Succeeded" if code == 0 else "Failed",
        "conditions": [
            _condition("Ready", "False", now, reason),
            _condition("ContainersReady", "False", now, reason),
        ],
        "containerStatuses": [
            _terminated(pod, c, code, started, now) for c in spec.get("containers") or []
        ],
    }
