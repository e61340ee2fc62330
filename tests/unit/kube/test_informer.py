"""kapi.kube.informer's reflector against a scripted API (client-go's reflector_test.go:
list then watch from its resourceVersion, bookmarks, relist on 410, pagination)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kapi import errors
from kapi.kube.informer import Handler, Informer
from kapi.kube.resources import CONFIGMAPS

Obj = dict[str, Any]


def cm(name: str, rv: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


class FakeApi:
    """Lists answered from ``lists`` (by the resourceVersion asked), watches from
    ``watches`` in order; every call recorded."""

    def __init__(self, lists: dict[str, Any], watches: list[list[Obj]]) -> None:
        self.lists = lists
        self.watches = watches
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.idle = asyncio.Event()

    async def request(self, method: str, path: str, *, params: Any = None, **_: Any) -> Obj:
        params = dict(params or {})
        self.calls.append(("list", params))
        key = params.get("continue") or params.get("resourceVersion", "")
        answer = self.lists[key]
        if isinstance(answer, errors.StatusError):
            raise answer
        return dict(answer)

    async def stream(
        self, path: str, *, params: Any = None, timeout: Any = None
    ) -> AsyncIterator[Obj]:
        self.calls.append(("watch", dict(params or {})))
        if not self.watches:
            self.idle.set()
            await asyncio.Event().wait()
        for event in self.watches.pop(0):
            yield event


def _list(rv: str, *items: Obj, cont: str = "") -> Obj:
    meta = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return {"metadata": meta, "items": list(items)}


def _recording(informer: Informer) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    informer.add_handler(
        Handler(
            on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
            on_update=lambda _o, n: seen.append(("update", n["metadata"]["name"])),
            on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
        )
    )
    return seen


async def _run(informer: Informer, api: FakeApi) -> None:
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(api.idle.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_lists_then_watches_from_the_lists_revision() -> None:
    api = FakeApi(
        {"0": _list("10", cm("a", "5"))},
        [
            [
                {"type": "ADDED", "object": cm("b", "11")},
                {"type": "MODIFIED", "object": cm("a", "12")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
                {"type": "DELETED", "object": cm("b", "16")},
            ]
        ],
    )
    informer = Informer(api, CONFIGMAPS)  # type: ignore[arg-type]
    seen = _recording(informer)
    await _run(informer, api)
    assert seen == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
    assert [c[1].get("resourceVersion") for c in api.calls] == ["0", "10", "16"]
    watch = api.calls[1][1]
    assert watch["allowWatchBookmarks"] is True and watch["watch"] is True
    assert 300 <= watch["timeoutSeconds"] <= 600
    assert informer.store.key_list() == ["ns/a"]


async def test_a_bookmark_moves_the_revision_without_an_event() -> None:
    api = FakeApi(
        {"0": _list("10")},
        [[{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "20"}}}]],
    )
    informer = Informer(api, CONFIGMAPS)  # type: ignore[arg-type]
    seen = _recording(informer)
    await _run(informer, api)
    assert seen == []
    assert api.calls[-1][1]["resourceVersion"] == "20"


async def test_an_expired_watch_relists_and_reports_what_vanished() -> None:
    """After a watch expired the list is a consistent one (no resourceVersion): a list
    at the expired "10" could be answered at 10 again, and its watch expire again, round
    after round (kapi's scheduler and nodes did so after a storage restart)."""
    gone = errors.expired("too old resource version: 10 (50)").status()
    api = FakeApi(
        {"0": _list("10", cm("a", "5"), cm("b", "6")), "": _list("60", cm("a", "55"))},
        [[{"type": "ERROR", "object": gone}]],
    )
    informer = Informer(api, CONFIGMAPS)  # type: ignore[arg-type]
    informer._backoff = 0.01
    seen = _recording(informer)
    await _run(informer, api)
    assert seen == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
    assert informer.lists == 2
    assert "resourceVersion" not in api.calls[2][1]  # list, watch, then the consistent list
    assert api.calls[-1] == ("watch", {**api.calls[-1][1], "resourceVersion": "60"})


async def test_a_list_at_an_expired_revision_lists_anew() -> None:
    api = FakeApi(
        {"0": errors.expired("too old resource version: 0 (5)"), "": _list("7", cm("a", "7"))},
        [],
    )
    informer = Informer(api, CONFIGMAPS)  # type: ignore[arg-type]
    await _run(informer, api)
    assert [c[1].get("resourceVersion", "") for c in api.calls[:2]] == ["0", ""]
    assert informer.has_synced() and informer.last_sync_resource_version == "7"


async def test_pages_are_followed() -> None:
    api = FakeApi(
        {"0": _list("9", cm("a", "1"), cont="next"), "next": _list("9", cm("b", "2"))}, []
    )
    informer = Informer(api, CONFIGMAPS, page_size=1)  # type: ignore[arg-type]
    await _run(informer, api)
    assert sorted(informer.store.key_list()) == ["ns/a", "ns/b"]
    assert api.calls[1][1]["continue"] == "next" and api.calls[0][1]["limit"] == 1


async def test_a_late_handler_is_handed_what_is_stored() -> None:
    api = FakeApi({"0": _list("3", cm("a", "1"))}, [])
    informer = Informer(api, CONFIGMAPS)  # type: ignore[arg-type]
    await _run(informer, api)
    seen = _recording(informer)
    assert seen == [("add", "a")]
