"""Simulated resource usage: what a kubelet's cAdvisor would report for simulated pods.

No container runs here, so usage follows what the pods ask for: a running container uses
its requests times a load (``--load``, 0.5 by default; a pod's
``metrics.kapi.dev/load`` annotation overrides it, so an HorizontalPodAutoscaler can be
made to scale), give or take 5% that changes every window, the same for every reader
within a window (seeded by the pod's uid, the container and the window). A container
with no request uses a little (1m of CPU, 4Mi of memory). A node uses what its running
pods use, plus a system overhead.

Values are written as metrics-server writes them: CPU in nanocores (``"123456789n"``),
memory in kibibytes (``"1024Ki"``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kapi.quantity import parse as quantity

Obj = dict[str, Any]

LOAD_ANNOTATION = "metrics.kapi.dev/load"
DEFAULT_LOAD = 0.5
# metrics-server's default resolution: a window of usage per 15 s.
WINDOW_SECONDS = 15
IDLE_CPU = Fraction(1, 1000)  # 1m
IDLE_MEMORY = Fraction(4 * 2**20)  # 4Mi
NODE_CPU_OVERHEAD = Fraction(1, 10)  # 100m: kubelet and the container runtime
NODE_MEMORY_OVERHEAD = Fraction(512 * 2**20)  # 512Mi
WOBBLE = 0.05


def cpu_text(cores: Fraction) -> str:
    return f"{max(0, round(cores * 10**9))}n"


def memory_text(size: Fraction) -> str:
    return f"{max(0, round(size / 1024))}Ki"


@dataclass(frozen=True)
class Usage:
    cpu: Fraction  # cores
    memory: Fraction  # bytes

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.cpu + other.cpu, self.memory + other.memory)

    def as_json(self) -> dict[str, str]:
        return {"cpu": cpu_text(self.cpu), "memory": memory_text(self.memory)}


ZERO = Usage(Fraction(0), Fraction(0))


def _wobble(*seed: str) -> Fraction:
    """A factor in [1 - WOBBLE, 1 + WOBBLE], the same for the same seed."""
    digest = hashlib.sha256("/".join(seed).encode()).digest()
    unit = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
    return Fraction(1 - WOBBLE + 2 * WOBBLE * unit).limit_denominator(10**6)


def load_of(pod: Obj, default: float) -> Fraction:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    given = annotations.get(LOAD_ANNOTATION)
    try:
        value = float(given) if given is not None else default
    except ValueError:
        value = default
    return Fraction(max(0.0, value)).limit_denominator(10**6)


def running(pod: Obj) -> bool:
    """A pod a kubelet would report: on a node, Running."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (
        (pod.get("status") or {}).get("phase") == "Running"
    )


def containers(pod: Obj, *, load: float, window: int) -> list[tuple[str, Usage]]:
    """Each container's usage in ``window`` (a window number: time // WINDOW_SECONDS)."""
    factor = load_of(pod, load)
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    out = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = str(container.get("name") or "")
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu = quantity(requests.get("cpu"))
        memory = quantity(requests.get("memory"))
        wobble = _wobble(uid, name, str(window))
        out.append(
            (
                name,
                Usage(
                    cpu * factor * wobble if cpu is not None else IDLE_CPU,
                    memory * factor * wobble if memory is not None else IDLE_MEMORY,
                ),
            )
        )
    return out


def node_usage(pods: list[Obj], *, load: float, window: int) -> Usage:
    """A node's usage: its running pods' and the system's."""
    total = Usage(NODE_CPU_OVERHEAD, NODE_MEMORY_OVERHEAD)
    for pod in pods:
        for _, used in containers(pod, load=load, window=window):
            total = total + used
    return total
