"""Lookups over the built-in definitions for the registry's tests."""

from __future__ import annotations

from services.registry.definition import Definition
from services.registry.strategies import BUILTIN
from services.registry.strategy import Strategy

BY_GROUP_RESOURCE: dict[tuple[str, str], Definition] = {}
for _definition in BUILTIN:
    BY_GROUP_RESOURCE.setdefault((_definition.group, _definition.resource), _definition)


def strategy_for(group: str, resource: str) -> Strategy:
    """The strategy of ``resource`` as ``group`` serves it (a base one for none)."""
    found = BY_GROUP_RESOURCE.get((group, resource))
    return found.strategy if found is not None else Strategy()
