"""kapi/informer.py with a scripted lister and watcher: what its handlers are told, the
revisions it keeps, and that it never applies an event twice or goes backwards. (Its
reflector against a real storage service: tests/unit/authz/test_authz_namespace_informer.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from kapi import informer


@dataclass(frozen=True)
class Page:
    items: list[bytes]
    resource_version: int
    continue_token: str = ""


@dataclass(frozen=True)
class Event:
    type: str
    object: bytes
    resource_version: int = 0


def obj(name: str, revision: int, namespace: str = "ns") -> bytes:
    return orjson.dumps(
        {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(revision)}}
    )


async def test_handlers_hear_the_list_then_each_change() -> None:
    events = asyncio.Queue[Event | None]()

    async def list_page(limit: int, continue_token: str) -> Page:
        return Page([obj("a", 3), obj("b", 5)], 10)

    async def watch(revision: int, timeout: int) -> AsyncIterator[Event]:
        assert revision == 10
        while (event := await events.get()) is not None:
            yield event
        await asyncio.Event().wait()  # the watch stays open

    heard: list[tuple[str, Any, Any]] = []
    informed = informer.Informer("things", list_page, watch)
    informed.on_change(
        lambda kind, new, old: heard.append(
            (kind, new and new["metadata"]["name"], old and old["metadata"]["name"])
        )
    )
    informed.start()
    await asyncio.wait_for(informed.wait_synced(), 5)
    assert (informed.revision, informed.changed_at) == (10, 10)
    for event in (
        Event("MODIFIED", obj("a", 11)),
        Event("MODIFIED", obj("a", 11)),  # seen already: ignored
        Event("BOOKMARK", obj("", 12)),
        Event("DELETED", obj("b", 13)),
    ):
        events.put_nowait(event)
    for _ in range(100):
        if informed.revision == 13:
            break
        await asyncio.sleep(0.01)
    assert heard == [("RELISTED", None, None), ("MODIFIED", "a", "a"), ("DELETED", None, "b")]
    assert (informed.revision, informed.changed_at) == (13, 13)
    assert informed.get("ns", "b") is None and informed.get("ns", "a") is not None
    assert [o["metadata"]["name"] for o in informed.items()] == ["a"]
    await informed.close()


async def test_each_object_hears_a_relist_as_deletions_and_listings() -> None:
    """on_each_object: after a relist (a 410 in the watch), what went is DELETED with its
    last state and what is there is LISTED; changes in between are told one by one."""
    pages = [Page([obj("a", 3), obj("b", 5)], 10), Page([obj("a", 12), obj("c", 14)], 20)]
    events = asyncio.Queue[Event | None]()

    async def list_page(limit: int, continue_token: str) -> Page:
        return pages.pop(0)

    async def watch(revision: int, timeout: int) -> AsyncIterator[Event]:
        while (event := await events.get()) is not None:
            yield event
        await asyncio.Event().wait()

    heard: list[tuple[str, str]] = []
    informed = informer.Informer("things", list_page, watch, backoff_initial=0.001)
    informer.on_each_object(informed, lambda kind, o: heard.append((kind, o["metadata"]["name"])))
    informed.start()
    await asyncio.wait_for(informed.wait_synced(), 5)
    events.put_nowait(Event("ADDED", obj("d", 11)))
    events.put_nowait(Event("ERROR", b'{"code": 410}'))  # events lost: list again
    for _ in range(200):
        if informed.revision == 20:
            break
        await asyncio.sleep(0.01)
    await informed.close()
    assert heard[:3] == [("LISTED", "a"), ("LISTED", "b"), ("ADDED", "d")]
    assert sorted(heard[3:5]) == [("DELETED", "b"), ("DELETED", "d")]
    assert heard[5:] == [("LISTED", "a"), ("LISTED", "c")]
