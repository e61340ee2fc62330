"""``componentstatuses``: the health of the control plane's parts, read when asked
(kube's ``pkg/registry/core/componentstatus``), never stored.

kube-apiserver lists the scheduler, the controller manager and each etcd member
(``etcd-0``...) and probes each one's health endpoint. kapi's scheduler and controller
manager serve no health port: each is Healthy ("ok") while its leader holds its Lease
(``kube-system/kube-scheduler``, ``kube-system/kube-controller-manager``) and renewed it
within the lease's duration — what leader election guarantees a live leader does —
and Unhealthy, saying so, otherwise; ``etcd-0`` is the etcd behind the storage service,
Healthy when storage reaches it. Every read carries kube's deprecation warning.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from kapi import errors

Obj = dict[str, Any]

DEPRECATED = "v1 ComponentStatus is deprecated in v1.19+"
LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}
LeaseReader = Callable[[str], Awaitable[Obj | None]]
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


def _parse(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def leader_health(lease: Obj | None, lease_name: str, now: datetime.datetime) -> str:
    """ "" when a leader holds ``lease`` and renewed it in time, else why not."""
    spec = (lease or {}).get("spec") or {}
    holder = spec.get("holderIdentity")
    renewed = _parse(spec.get("renewTime"))
    duration = spec.get("leaseDurationSeconds")
    if lease is None or not holder or renewed is None or not isinstance(duration, int):
        return f"no {lease_name} holds its lease kube-system/{lease_name}"
    if renewed + datetime.timedelta(seconds=duration) < now:
        return f"{lease_name} leader {holder} last renewed its lease at {spec['renewTime']}"
    return ""


async def read(name: str, etcd_health: Callable[[], Awaitable[object]], lease: LeaseReader) -> Obj:
    """One component's status; 404 for a component kube does not list."""
    if name in LEASES:
        why = leader_health(
            await lease(LEASES[name]), LEASES[name], datetime.datetime.now(datetime.UTC)
        )
        return _status(name, True, message="ok") if not why else _status(name, False, error=why)
    if name != "etcd-0":
        raise errors.not_found("componentstatuses", "", name)
    try:
        await etcd_health()
    except errors.StatusError as err:
        return _status(name, False, error=err.message)
    return _status(name, True, message="ok")


async def read_all(etcd_health: Callable[[], Awaitable[object]], lease: LeaseReader) -> list[Obj]:
    return [await read(name, etcd_health, lease) for name in NAMES]
