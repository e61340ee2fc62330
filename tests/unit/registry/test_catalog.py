"""The catalog (services/registry/catalog.py): tables replaced at each change, in discovery
order, with a revision every layer follows."""

from __future__ import annotations

import asyncio

import pytest

from services.registry.catalog import Catalog, custom_order, version_priority
from services.registry.definition import Definition
from services.registry.strategies import BUILTIN


def custom(group: str, version: str, resource: str) -> Definition:
    return Definition(
        group=group,
        version=version,
        resource=resource,
        kind=resource.title(),
        singular=resource[:-1],
        namespaced=True,
        schema=f"{group}.{version}.{resource}",
        crd=f"{resource}.{group}",
    )


def test_kube_version_priority() -> None:
    versions = ["v1alpha1", "foo", "v2", "v1beta1", "v11alpha2", "v1", "v1beta2", "v10"]
    assert sorted(versions, key=version_priority) == [
        "v10", "v2", "v1", "v1beta2", "v1beta1", "v11alpha2", "v1alpha1", "foo",
    ]  # fmt: skip


def test_custom_groups_come_after_the_built_in_ones_in_discovery_order() -> None:
    defs = [custom("b.io", "v1", "zs"), custom("a.io", "v1beta1", "xs"),
            custom("a.io", "v1", "ys"), custom("a.io", "v1", "xs")]  # fmt: skip
    assert [(d.group, d.version, d.resource) for d in custom_order(defs)] == [
        ("a.io", "v1", "xs"), ("a.io", "v1", "ys"), ("a.io", "v1beta1", "xs"), ("b.io", "v1", "zs"),
    ]  # fmt: skip
    catalog = Catalog(BUILTIN)
    catalog.replace({"xs.a.io": defs}, 10)
    assert catalog.table.types[: len(BUILTIN)] == BUILTIN
    assert catalog.table.group_versions()[-3:] == [
        ("a.io", "v1"),
        ("a.io", "v1beta1"),
        ("b.io", "v1"),
    ]


async def test_tables_are_replaced_and_followed() -> None:
    catalog = Catalog(BUILTIN)
    first = catalog.table
    assert first.revision == 0
    seen = []

    async def follow() -> None:
        async for table in catalog.tables():
            seen.append(table)
            if len(seen) == 3:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    catalog.set_crd("xs.a.io", [custom("a.io", "v1", "xs")], 5)
    await asyncio.sleep(0)
    catalog.advance(7)  # nothing changed: no new table
    await asyncio.sleep(0)
    catalog.set_crd("xs.a.io", [], 9)
    await asyncio.wait_for(task, 1)
    assert [t.revision for t in seen] == [0, 5, 9]
    assert seen[1].lookup("a.io", "v1", "xs") is not None
    assert seen[2].lookup("a.io", "v1", "xs") is None
    assert first.lookup("a.io", "v1", "xs") is None  # a table is never changed
    assert catalog.reached == 9


async def test_waiting_for_a_revision() -> None:
    catalog = Catalog(BUILTIN)
    assert not await catalog.wait_for(3, 0.05)
    waiter = asyncio.create_task(catalog.wait_for(3, 5))
    await asyncio.sleep(0)
    catalog.advance(4)
    assert await waiter


@pytest.mark.parametrize("revision", [0, 2])
async def test_a_revision_reached_is_not_waited_for(revision: int) -> None:
    catalog = Catalog(BUILTIN)
    catalog.advance(2)
    assert await catalog.wait_for(revision, 0)
