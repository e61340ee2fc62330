"""The catalog: every served resource's definition, at a revision that changes at run time.

Built-in definitions are there from the start; a CustomResourceDefinition adds the
definitions of its served versions once its names are accepted, changes them when it
changes and takes them away when it goes (``services/registry/crd``). Each change makes
a new ``TypeTable`` (tables are never changed in place: a request resolves once against
the table current when it began) whose ``revision`` is the storage revision of the CRD
change that made it. Every layer follows the catalog by watch: the registry serves from
``table``; the gateway gets each new table over ``Registry.WatchCatalog`` (routing,
discovery); OpenAPI documents are rebuilt for each table.

``reached`` is the storage revision the catalog reflects every CRD change up to (a
bookmark moves it on without a new table). A request routed by a gateway that knew a
newer table than this registry replica waits for the replica to reach it
(``wait_for``), so a custom resource served by one replica is not a 404 on another.

The order of ``table.types`` is discovery's: the built-in groups first in kube's order,
then the custom groups by name (kube-aggregator gives every CRD group the same
priority), each group's versions by kube's version priority (v2 > v1 > v1beta2 >
v1beta1 > v1alpha1 > others), each version's resources by name.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping

from services.registry.aggregation import version_priority
from services.registry.definition import Definition
from services.registry.types import TypeTable

__all__ = ["Catalog", "custom_order", "version_priority"]


def custom_order(definitions: Iterable[Definition]) -> list[Definition]:
    """Custom definitions in discovery order: groups by name, versions by priority,
    resources by name."""
    return sorted(definitions, key=lambda d: (d.group, version_priority(d.version), d.resource))


class Catalog:
    """The current ``TypeTable`` of definitions, replaced on every change."""

    def __init__(self, builtin: Iterable[Definition]) -> None:
        self._builtin = tuple(builtin)
        self._custom: dict[str, tuple[Definition, ...]] = {}  # by CRD name
        self._table: TypeTable[Definition] = TypeTable(self._builtin, revision=0)
        self._reached = 0
        self._changed = asyncio.Event()

    @property
    def table(self) -> TypeTable[Definition]:
        """The table requests resolve against now."""
        return self._table

    @property
    def reached(self) -> int:
        return self._reached

    def custom(self) -> Mapping[str, tuple[Definition, ...]]:
        """The definitions each CRD contributes now, by CRD name."""
        return dict(self._custom)

    def set_crd(self, name: str, definitions: Iterable[Definition], revision: int) -> None:
        """The definitions CRD ``name`` serves as of storage revision ``revision`` (none:
        it serves nothing, or is gone). The caller knows whether they changed: a new
        table is made either way."""
        served = tuple(definitions)
        if not served and name not in self._custom:
            self.advance(revision)
            return
        if served:
            self._custom[name] = served
        else:
            self._custom.pop(name, None)
        self._publish(revision)

    def replace(self, custom: Mapping[str, Iterable[Definition]], revision: int) -> None:
        """Every CRD's definitions at once (after a list of the CRDs at ``revision``)."""
        self._custom = {name: tuple(defs) for name, defs in custom.items() if defs}
        self._publish(revision)

    def advance(self, revision: int) -> None:
        """Nothing changed up to ``revision`` (a bookmark, an event that left the served
        definitions as they were)."""
        if revision > self._reached:
            self._reached = revision
            self._notify()

    def _publish(self, revision: int) -> None:
        customs = custom_order(d for defs in self._custom.values() for d in defs)
        revision = max(revision, self._table.revision + 1, self._reached)
        self._table = TypeTable((*self._builtin, *customs), revision=revision)
        self._reached = revision
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, revision: int, timeout: float) -> bool:
        """Wait until the catalog reflects storage revision ``revision`` (True), or
        ``timeout`` seconds have passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._reached < revision:
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return True

    async def replaced(self, definition: Definition) -> None:
        """Return once the catalog serves ``definition``'s resource by another definition
        or no longer at all (its CRD changed or went)."""
        key = (definition.group, definition.version, definition.resource)
        async for table in self.tables():
            if table.lookup(*key) is not definition:
                return

    async def next_table(
        self, after: TypeTable[Definition] | None, timeout: float
    ) -> TypeTable[Definition]:
        """The current table once it is another than ``after``, or after ``timeout``
        seconds whatever it is (a controller that also resyncs on a timer)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._table is after:
                    await self._changed.wait()
        return self._table

    async def tables(self) -> AsyncIterator[TypeTable[Definition]]:
        """The current table, then each new one as it is made (a consumer that falls
        behind skips to the latest)."""
        last: TypeTable[Definition] | None = None
        while True:
            changed = self._changed
            if self._table is not last:
                last = self._table
                yield last
                continue
            await changed.wait()
