"""NamespaceInformer (services/authz/namespace_informer.py) against a real storage service
on the memory backend, in process: lookups come from memory once synced and are live
reads before that and on a miss; watch events keep it current; it resumes after the
storage service restarts, relists when its revision has left the watch window, never
holds up start-up and stops on close.
"""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from kapi import errors
from kapi.user import UserInfo as User
from services.authz.admission import Attributes
from services.authz.admission.namespace_lifecycle import NamespaceLifecycle
from services.authz.namespace_informer import NAMESPACES, NamespaceInformer
from services.authz.server import AuthzConfig, create_server
from services.storage.client import StorageClient
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ObjectList, ResourceRef, StoredObject, WatchEvent
from services.storage.server import StorageConfig, create_store
from services.storage.server import create_server as create_storage_server
from services.storage.store import Store

# Waiting for something to happen at all, not a latency budget.
DEADLINE = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def namespace(name: str, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name},
            "status": {"phase": "Active"},
            **extra,
        }
    )


async def eventually(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not check():
        assert loop.time() < deadline, f"not within {DEADLINE}s: {what}"
        await asyncio.sleep(0.01)


class StorageService:
    """A storage gRPC server on a fixed port over one memory backend, to stop and restart."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.port = free_port()
        self.config = StorageConfig(
            listen=f"127.0.0.1:{self.port}",
            backend="memory",
            bookmark_interval=0.05,
            compaction_interval=0,
        )
        self._running: tuple[Any, Store] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        store = create_store(self.config, self.backend)
        server, _ = await create_storage_server(self.config, store=store)
        await server.start()
        self._running = (server, store)

    async def stop(self) -> None:
        if self._running is not None:
            server, store = self._running
            self._running = None
            await server.stop(None)
            await store.close()

    def offline_store(self) -> Store:
        """A store on the same backend, to write while the service is down."""
        return Store(self.backend)


class Counting:
    """The informer's storage, counting calls; ``gate`` holds watches back while clear."""

    def __init__(self, client: StorageClient) -> None:
        self.client = client
        self.calls: collections.Counter[str] = collections.Counter()
        self.watched_from: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject:
        self.calls["get"] += 1
        return await self.client.get(ref, namespace, name, resource_version=resource_version)

    async def list(
        self, ref: ResourceRef, namespace: str = "", *, limit: int = 0, continue_token: str = ""
    ) -> ObjectList:
        self.calls["list"] += 1
        return await self.client.list(ref, namespace, limit=limit, continue_token=continue_token)

    async def watch(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: int = 0,
    ) -> AsyncGenerator[WatchEvent, None]:
        self.calls["watch"] += 1
        self.watched_from.append(resource_version)
        await self.gate.wait()
        events = self.client.watch(
            ref,
            namespace,
            resource_version=resource_version,
            allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds,
        )
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()


@pytest.fixture
async def service() -> AsyncIterator[StorageService]:
    running = StorageService(MemoryBackend())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client(service: StorageService) -> AsyncIterator[StorageClient]:
    async with StorageClient(service.address, timeout=2.0) as storage:
        yield storage


@pytest.fixture
async def counting(client: StorageClient) -> Counting:
    return Counting(client)


@pytest.fixture
async def informer(counting: Counting) -> AsyncIterator[NamespaceInformer]:
    made = NamespaceInformer(counting, backoff_initial=0.01, backoff_max=0.1, page_size=2)
    try:
        yield made
    finally:
        await made.close()


async def synced(informer: NamespaceInformer) -> None:
    informer.start()
    await asyncio.wait_for(informer.wait_synced(), DEADLINE)


def create_in(namespace_name: str) -> Attributes:
    return Attributes(
        operation="CREATE",
        user=User("alice"),
        group="",
        version="v1",
        kind="ConfigMap",
        resource="configmaps",
        subresource="",
        namespace=namespace_name,
        name="c",
        object={"metadata": {"name": "c"}},
        old_object=None,
    )


def informer_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "namespaces informer"]


# --- lookups ---------------------------------------------------------------------------------


async def test_before_it_has_synced_every_lookup_is_a_live_read(
    client: StorageClient, counting: Counting, informer: NamespaceInformer
) -> None:
    await client.create(NAMESPACES, "", "a", namespace("a"))
    found = await informer.get("a")
    assert found is not None and found["metadata"]["name"] == "a"
    assert await informer.get("missing") is None
    assert counting.calls["get"] == 2
    assert not informer.synced


async def test_once_synced_known_namespaces_are_read_from_memory(
    client: StorageClient, counting: Counting, informer: NamespaceInformer
) -> None:
    for name in ("a", "b", "c", "d", "e"):  # three pages of two
        await client.create(NAMESPACES, "", name, namespace(name))
    await synced(informer)
    for name in ("a", "b", "c", "d", "e"):
        found = await informer.get(name)
        assert found is not None and found["metadata"]["name"] == name
    assert counting.calls["get"] == 0
    assert counting.calls["list"] == 3
    # A miss is checked live: it might have been created a moment ago.
    assert await informer.get("missing") is None
    assert counting.calls["get"] == 1


async def test_a_namespace_looked_up_is_never_changed_under_its_reader(
    client: StorageClient, informer: NamespaceInformer
) -> None:
    """Lookups share the informer's object (no copy per admission): a change arrives as
    a new object, so what a plugin holds across an await stays as it read it."""
    created = await client.create(NAMESPACES, "", "a", namespace("a"))
    await synced(informer)
    held = await informer.get("a")
    assert held is not None and held["status"]["phase"] == "Active"
    terminating = orjson.loads(namespace("a"))
    terminating["status"]["phase"] = "Terminating"
    await client.update(
        NAMESPACES, "", "a", orjson.dumps(terminating), expected_revision=created.resource_version
    )
    await eventually(
        lambda: (informer.cached("a") or {}).get("status", {}).get("phase") == "Terminating",
        "MODIFIED applied",
    )
    assert held["status"]["phase"] == "Active"


async def test_a_namespace_created_a_moment_ago_is_found_by_the_live_read(
    client: StorageClient, counting: Counting, informer: NamespaceInformer
) -> None:
    counting.gate.clear()  # the informer lists, but sees no watch event
    await synced(informer)
    await client.create(NAMESPACES, "", "fresh", namespace("fresh"))
    assert informer.cached("fresh") is None
    found = await informer.get("fresh")
    assert found is not None and found["metadata"]["name"] == "fresh"
    assert counting.calls["get"] == 1
    await NamespaceLifecycle(informer).admit(create_in("fresh"))  # admitted


async def test_live_skips_memory(
    client: StorageClient, counting: Counting, informer: NamespaceInformer
) -> None:
    await client.create(NAMESPACES, "", "a", namespace("a"))
    await synced(informer)
    assert await informer.get("a", live=True) is not None
    assert counting.calls["get"] == 1


# --- keeping current -------------------------------------------------------------------------


async def test_watch_events_update_and_remove_namespaces(
    client: StorageClient, counting: Counting, informer: NamespaceInformer
) -> None:
    await synced(informer)
    created = await client.create(NAMESPACES, "", "a", namespace("a"))
    await eventually(lambda: informer.cached("a") is not None, "ADDED applied")
    plugin = NamespaceLifecycle(informer)
    await plugin.admit(create_in("a"))

    terminating = orjson.loads(namespace("a"))
    terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    terminating["status"]["phase"] = "Terminating"
    await client.update(
        NAMESPACES,
        "",
        "a",
        orjson.dumps(terminating),
        expected_revision=created.resource_version,
    )
    await eventually(
        lambda: (informer.cached("a") or {}).get("status", {}).get("phase") == "Terminating",
        "MODIFIED applied",
    )
    with pytest.raises(errors.StatusError) as refused:
        await plugin.admit(create_in("a"))
    assert refused.value.code == 403
    assert refused.value.message == (
        'configmaps "c" is forbidden: unable to create new content in namespace a because '
        "it is being terminated"
    )

    await client.delete(NAMESPACES, "", "a")
    await eventually(lambda: informer.cached("a") is None, "DELETED applied")
    with pytest.raises(errors.StatusError) as missing:
        await plugin.admit(create_in("a"))
    assert (missing.value.code, missing.value.message) == (404, 'namespaces "a" not found')
    assert counting.calls["get"] == 1  # only the last lookup, a miss, read storage


async def test_resumes_from_its_revision_after_the_storage_service_restarts(
    service: StorageService, client: StorageClient, counting: Counting, informer: NamespaceInformer
) -> None:
    await client.create(NAMESPACES, "", "before", namespace("before"))
    await client.create(NAMESPACES, "", "doomed", namespace("doomed"))
    await synced(informer)
    await eventually(lambda: counting.calls["watch"] == 1, "watching")
    await service.stop()
    await eventually(lambda: counting.calls["watch"] >= 3, "re-watches while storage is down")

    offline = service.offline_store()
    await offline.create(NAMESPACES, "", "during", namespace("during"))
    await offline.delete(NAMESPACES, "", "doomed")
    await offline.close()
    await service.start()

    await eventually(
        lambda: informer.cached("during") is not None and informer.cached("doomed") is None,
        "the changes made while storage was down",
    )
    assert informer.cached("before") is not None
    assert counting.calls["list"] == 1  # resumed, not relisted
    assert all(int(rv) > 0 for rv in counting.watched_from)


async def test_relists_when_its_revision_has_left_the_watch_window() -> None:
    service = StorageService(MemoryBackend(history_limit=10))
    await service.start()
    async with StorageClient(service.address, timeout=2.0) as client:
        counting = Counting(client)
        informer = NamespaceInformer(counting, backoff_initial=0.01, backoff_max=0.1)
        try:
            await client.create(NAMESPACES, "", "doomed", namespace("doomed"))
            await synced(informer)
            await eventually(lambda: counting.calls["watch"] == 1, "watching")
            await service.stop()

            offline = service.offline_store()
            await offline.delete(NAMESPACES, "", "doomed")  # a DELETED the watch will not see
            for i in range(30):  # more than the history: compacted past the informer's revision
                await offline.create(NAMESPACES, "", f"n{i}", namespace(f"n{i}"))
            await offline.close()
            await service.start()

            await eventually(
                lambda: informer.cached("n29") is not None and informer.cached("doomed") is None,
                "a relist after 410 Expired",
            )
            assert counting.calls["list"] == 2
        finally:
            await informer.close()
            await service.stop()


# --- lifecycle -------------------------------------------------------------------------------


async def test_start_does_not_wait_for_storage() -> None:
    service = StorageService(MemoryBackend())  # not started yet
    async with StorageClient(service.address, timeout=2.0) as client:
        counting = Counting(client)
        informer = NamespaceInformer(counting, backoff_initial=0.01, backoff_max=0.1)
        try:
            informer.start()
            assert not informer.synced
            with pytest.raises(errors.StatusError) as down:
                await informer.get("default")  # a live read, which fails while storage is down
            assert down.value.code == 503

            await service.start()
            await client.ready(DEADLINE)  # the channel reconnects after its own backoff
            await client.create(NAMESPACES, "", "default", namespace("default"))
            await asyncio.wait_for(informer.wait_synced(), DEADLINE)
            await eventually(lambda: informer.cached("default") is not None, "default seen")
            calls = counting.calls["get"]
            assert await informer.get("default") is not None
            assert counting.calls["get"] == calls
        finally:
            await informer.close()
            await service.stop()


async def test_close_cancels_the_reflector(informer: NamespaceInformer) -> None:
    await synced(informer)
    assert len(informer_tasks()) == 1
    await informer.close()
    assert informer_tasks() == []
    await informer.close()  # twice is fine


async def test_authz_serves_with_storage_down_and_closes_its_informer() -> None:
    port = free_port()  # nothing listens there
    authz = await asyncio.wait_for(
        create_server(
            AuthzConfig(listen="127.0.0.1:0", storage=f"127.0.0.1:{port}", token_file="")
        ),
        DEADLINE,
    )
    try:
        assert authz.port > 0
        assert not authz.namespaces.synced
        assert len(informer_tasks()) == 1
    finally:
        await authz.server.stop(None)
        await authz.close()
    assert informer_tasks() == []
