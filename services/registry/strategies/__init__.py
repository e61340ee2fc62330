"""Per-resource strategies, looked up by (group, resource)."""

from __future__ import annotations

from services.registry.strategies import apps, core
from services.registry.strategy import Strategy

STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "namespaces"): core.NamespaceStrategy(),
    ("", "configmaps"): core.ConfigMapStrategy(),
    ("", "secrets"): core.SecretStrategy(),
    ("", "serviceaccounts"): core.ServiceAccountStrategy(),
    ("", "pods"): core.PodStrategy(),
    ("", "services"): core.ServiceStrategy(),
    ("", "events"): core.EventStrategy(),
    ("apps", "deployments"): apps.DeploymentStrategy(),
}

DEFAULT = Strategy()


def strategy_for(group: str, resource: str) -> Strategy:
    return STRATEGIES.get((group, resource), DEFAULT)
