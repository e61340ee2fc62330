"""Admission: two explicit ordered lists of plugins, mutating then validating."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapi.user import UserInfo


@dataclass
class Attributes:
    """What admission sees of a request. ``object`` is the plugin's own copy."""

    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    user: UserInfo
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)


class Plugin(Protocol):
    operations: frozenset[str]

    async def admit(self, attributes: Attributes) -> None:
        """Mutate ``attributes.object`` (mutating plugins) or raise a StatusError."""


class Chain:
    def __init__(self, mutating: list[Plugin], validating: list[Plugin]) -> None:
        self.mutating = mutating
        self.validating = validating

    async def run_mutating(self, attributes: Attributes) -> None:
        for plugin in self.mutating:
            if attributes.operation in plugin.operations:
                await plugin.admit(attributes)

    async def run_validating(self, attributes: Attributes) -> None:
        """Validating plugins see copies: they can reject, never change, the object."""
        for plugin in self.validating:
            if attributes.operation in plugin.operations:
                view = copy.copy(attributes)
                view.object = copy.deepcopy(attributes.object)
                view.old_object = copy.deepcopy(attributes.old_object)
                await plugin.admit(view)
                attributes.warnings.extend(w for w in view.warnings if w not in attributes.warnings)
