"""The controllers this manager can run, and ``--controllers`` as kube reads it.

``--controllers`` is a comma-separated list: ``*`` turns on every controller that is on
by default, ``NAME`` turns one on, ``-NAME`` turns one off; the first entry naming a
controller decides (kube's ``IsControllerEnabled``). Names are kube's canonical ones
(``deployment-controller``) or their older aliases (``deployment``).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.controllers.cronjob import CronJobController
from services.controllers.daemonset import DaemonSetController
from services.controllers.deployment import DeploymentController
from services.controllers.disruption import DisruptionController
from services.controllers.endpoints import EndpointsController, EndpointSliceController
from services.controllers.framework import Controller
from services.controllers.garbagecollector import GarbageCollector
from services.controllers.horizontal import HorizontalController
from services.controllers.job import JobController
from services.controllers.namespace import NamespaceController
from services.controllers.policystatus import PolicyStatusController
from services.controllers.replicaset import ReplicaSetController
from services.controllers.resourcequota import ResourceQuotaController
from services.controllers.rootca import RootCAPublisher
from services.controllers.serviceaccount import ServiceAccountController
from services.controllers.statefulset import StatefulSetController
from services.controllers.ttlafterfinished import TTLAfterFinishedController

CONTROLLERS: tuple[type[Controller], ...] = (
    NamespaceController,
    GarbageCollector,
    ServiceAccountController,
    RootCAPublisher,
    DeploymentController,
    ReplicaSetController,
    StatefulSetController,
    DaemonSetController,
    JobController,
    CronJobController,
    EndpointsController,
    EndpointSliceController,
    DisruptionController,
    TTLAfterFinishedController,
    HorizontalController,
    ResourceQuotaController,
    PolicyStatusController,
)


def canonical(name: str) -> str:
    for controller in CONTROLLERS:
        if name == controller.name or name in controller.aliases:
            return controller.name
    return name


def known() -> list[str]:
    return [c.name for c in CONTROLLERS]


def parse(spec: str) -> list[str]:
    """The entries of a ``--controllers`` value; ValueError for an unknown name."""
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    out = []
    for entry in entries:
        if entry == "*":
            out.append(entry)
            continue
        negated = entry.startswith("-")
        name = canonical(entry[1:] if negated else entry)
        if name not in known():
            raise ValueError(
                f'"{entry.lstrip("-")}" is not in the list of known controllers: '
                f"{', '.join(sorted(known()))}"
            )
        out.append(f"-{name}" if negated else name)
    return out


def enabled(entries: Sequence[str]) -> list[type[Controller]]:
    """The controllers ``entries`` (from ``parse``) turn on, in catalog order."""
    chosen = []
    for controller in CONTROLLERS:
        decided: bool | None = None
        star = False
        for entry in entries:
            if entry == controller.name:
                decided = True
                break
            if entry == f"-{controller.name}":
                decided = False
                break
            if entry == "*":
                star = True
        if decided is None:
            decided = star and not controller.disabled_by_default
        if decided:
            chosen.append(controller)
    return chosen
