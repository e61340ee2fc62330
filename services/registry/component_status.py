"""``componentstatuses``: the health of the control plane's parts, read when asked
(kube's ``pkg/registry/core/componentstatus``), never stored.

kube-apiserver lists the scheduler, the controller manager and each etcd member
(``etcd-0``...) and probes each one's health endpoint. kapi runs no scheduler and no
controller manager yet: they are listed Unhealthy, saying so; ``etcd-0`` is the etcd
behind the storage service, Healthy when storage reaches it. Every read carries kube's
deprecation warning.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kapi import errors

Obj = dict[str, Any]

DEPRECATED = "v1 ComponentStatus is deprecated in v1.19+"
NOT_RUN = {
    "scheduler": "kapi runs no kube-scheduler",
    "controller-manager": "kapi runs no kube-controller-manager",
}
NAMES = ("scheduler", "controller-manager", "etcd-0")


def _status(name: str, healthy: bool, message: str = "", error: str = "") -> Obj:
    condition: Obj = {"type": "Healthy", "status": "True" if healthy else "False"}
    if message:
        condition["message"] = message
    if error:
        condition["error"] = error
    return {
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "conditions": [condition],
    }


async def read(name: str, etcd_health: Callable[[], Awaitable[object]]) -> Obj:
    """One component's status; 404 for a component kube does not list."""
    if name in NOT_RUN:
        return _status(name, False, error=NOT_RUN[name])
    if name != "etcd-0":
        raise errors.not_found("componentstatuses", "", name)
    try:
        await etcd_health()
    except errors.StatusError as err:
        return _status(name, False, error=err.message)
    return _status(name, True, message="ok")


async def read_all(etcd_health: Callable[[], Awaitable[object]]) -> list[Obj]:
    return [await read(name, etcd_health) for name in NAMES]
