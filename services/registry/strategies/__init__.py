"""The built-in resources: one module per API group, each declaring its definitions
(``DEFINITIONS``) beside the strategies they use.

A strategy sees objects in their stored form. Where one stored resource is served by
several groups, the served group's definition carries the rules, as kube's strategies
read the request's group-version: an Event written through events.k8s.io/v1 is validated
by ``events.EventStrategy``, one written through core v1 by ``core.EventStrategy``,
though both are stored as core v1 Events. The versions of one group (autoscaling/v1 and
v2 HorizontalPodAutoscalers) share a strategy.
"""

from __future__ import annotations

from services.registry.definition import Definition
from services.registry.strategies import (
    admissionregistration,
    apiextensions,
    apiregistration,
    apps,
    authentication,
    authorization,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    flowcontrol,
    networking,
    node,
    policy,
    rbac,
    scheduling,
    storage,
)
from services.registry.types import TypeTable

# Every built-in definition, in kube's discovery order: the core group, then the groups
# by kube-aggregator's priority (apiregistration.k8s.io, the aggregator's own, first;
# then apps, events.k8s.io, autoscaling, batch, ...), each
# version's resources sorted by name; a group served in several versions lists the
# preferred one first (autoscaling/v2).
BUILTIN: tuple[Definition, ...] = (
    *core.DEFINITIONS,
    *apiregistration.DEFINITIONS,
    *apps.DEFINITIONS,
    *events.DEFINITIONS,
    *authentication.DEFINITIONS,
    *authorization.DEFINITIONS,
    *autoscaling.DEFINITIONS,
    *batch.DEFINITIONS,
    *certificates.DEFINITIONS,
    *networking.DEFINITIONS,
    *policy.DEFINITIONS,
    *rbac.DEFINITIONS,
    *storage.DEFINITIONS,
    *admissionregistration.DEFINITIONS,
    *apiextensions.DEFINITIONS,
    *scheduling.DEFINITIONS,
    *coordination.DEFINITIONS,
    *node.DEFINITIONS,
    *discovery.DEFINITIONS,
    *flowcontrol.DEFINITIONS,
)


def builtin_table() -> TypeTable[Definition]:
    """The built-in definitions alone, as one table (revision 0)."""
    return TypeTable(BUILTIN)
