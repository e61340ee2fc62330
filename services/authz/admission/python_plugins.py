"""Admission plugins from pip-installed packages (the ``kapi.admission`` entry points,
``kapi.admission``'s interface) as plugins of authz's chains."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kapi import admission as api
from kapi import errors
from services.authz.admission import Attributes
from services.authz.admission.validating_policy import request_name

log = logging.getLogger(__name__)
ALL_OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


@dataclass(frozen=True)
class Loaded:
    name: str
    plugin: Any

    @property
    def operations(self) -> frozenset[str]:
        ops = getattr(self.plugin, "operations", None)
        return frozenset(ops) if ops else ALL_OPERATIONS


def load(group: str = api.ENTRY_POINT_GROUP) -> list[Loaded]:
    """Every plugin of the entry-point group, in name order; one that does not load, or
    has neither ``mutate`` nor ``validate``, stops authz from starting (as a bad plugin
    configuration stops kube-apiserver)."""
    out = []
    for entry in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        target = entry.load()
        plugin = target() if isinstance(target, type) else target
        if not isinstance(plugin, api.Mutating | api.Validating):
            raise TypeError(
                f"admission plugin {entry.name!r} ({entry.value}) has neither mutate nor validate"
            )
        log.info("admission plugin %s loaded from %s", entry.name, entry.value)
        out.append(Loaded(entry.name, plugin))
    return out


def _request(attributes: Attributes) -> api.Request:
    return api.Request(
        operation=attributes.operation,
        group=attributes.group,
        version=attributes.version,
        kind=attributes.kind,
        resource=attributes.resource,
        subresource=attributes.subresource,
        namespace=attributes.namespace,
        name=attributes.name,
        user=attributes.user,
        object=attributes.object,
        old_object=attributes.old_object,
        dry_run=attributes.dry_run,
        options=attributes.options,
        warnings=attributes.warnings,
    )


def _refused(attributes: Attributes, denied: api.Denied) -> errors.StatusError:
    err = errors.forbidden(
        attributes.resource, attributes.group, request_name(attributes), denied.message
    )
    err.code, err.reason = denied.code, denied.reason
    return err


class MutatingPlugin:
    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.operations = loaded.operations

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        request = _request(attributes)
        try:
            await self.loaded.plugin.mutate(request)
        except api.Denied as denied:
            raise _refused(attributes, denied) from None
        attributes.object = request.object


class ValidatingPlugin:
    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.operations = loaded.operations

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        try:
            await self.loaded.plugin.validate(_request(attributes))
        except api.Denied as denied:
            raise _refused(attributes, denied) from None


def split(loaded: Iterable[Loaded]) -> tuple[list[MutatingPlugin], list[ValidatingPlugin]]:
    loaded = list(loaded)
    mutating = [MutatingPlugin(p) for p in loaded if isinstance(p.plugin, api.Mutating)]
    validating = [ValidatingPlugin(p) for p in loaded if isinstance(p.plugin, api.Validating)]
    return mutating, validating
