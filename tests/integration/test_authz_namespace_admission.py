"""NamespaceLifecycle on authz's namespace informer, on real etcd.

Through the whole control plane: a create in a namespace created a moment ago is
admitted, one in a deleted namespace is 404, one in a terminating namespace 403, and
once the informer has synced a namespaced create costs authz no storage read. Then the
informer alone against a storage service on a private etcd: it keeps following
namespaces when etcd restarts and when the storage service restarts.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import httpx
import orjson
import pytest

import services.authz.server
from kapi import errors
from services.authz.namespace_informer import NAMESPACES, NamespaceInformer
from services.storage.client import StorageClient
from services.storage.model import ResourceRef, StoredObject, WatchEvent
from services.storage.server import StorageConfig, create_server, create_store
from tests.conftest import EtcdProcess
from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

# Waiting for something to happen at all, not a latency budget.
DEADLINE = 15.0


class CountingStorageClient(StorageClient):
    """authz's storage client, counting its reads of namespaces; while ``deliver`` is
    clear, its watches hold their events back (the informer falls behind)."""

    made: list[CountingStorageClient] = []

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.target = target
        self.tls = kwargs.get("tls")  # authz's certificate, to reach the same storage
        self.namespace_reads = 0
        self.deliver = asyncio.Event()
        self.deliver.set()
        CountingStorageClient.made.append(self)

    async def watch(self, *args: Any, **kwargs: Any) -> AsyncGenerator[WatchEvent, None]:
        async with aclosing(super().watch(*args, **kwargs)) as events:
            async for event in events:
                await self.deliver.wait()
                yield event

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject:
        if ref.resource == "namespaces":
            self.namespace_reads += 1
        return await super().get(ref, namespace, name, resource_version=resource_version)


@pytest.fixture
def authz_storage(monkeypatch: pytest.MonkeyPatch) -> Callable[[], CountingStorageClient]:
    """Makes the control plane's authz use a ``CountingStorageClient``; gives it."""
    made: list[CountingStorageClient] = []
    monkeypatch.setattr(CountingStorageClient, "made", made)
    monkeypatch.setattr(services.authz.server, "StorageClient", CountingStorageClient)

    def the_one() -> CountingStorageClient:
        assert len(made) == 1, made
        return made[0]

    return the_one


@pytest.fixture
def control_plane(
    authz_storage: Callable[[], CountingStorageClient], control_plane: ControlPlane
) -> ControlPlane:
    """The conftest's control plane, its authz built after ``authz_storage`` patched it."""
    return control_plane


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        assert loop.time() < deadline, f"not within {DEADLINE}s: {what}"
        await asyncio.sleep(0.02)


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


async def create_namespace(api: httpx.AsyncClient) -> str:
    name = f"ns-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    created = await api.post("/api/v1/namespaces", json=body)
    assert created.status_code == 201, created.text
    return name


async def create_configmap(
    api: httpx.AsyncClient, namespace: str, *, dry_run: bool = False
) -> httpx.Response:
    params = {"dryRun": "All"} if dry_run else {}
    return await api.post(
        f"/api/v1/namespaces/{namespace}/configmaps",
        json=configmap(f"c-{uuid.uuid4().hex[:8]}"),
        params=params,
    )


# --- through the control plane ---------------------------------------------------------------


async def test_a_create_in_a_namespace_created_a_moment_ago_is_admitted(
    control_plane: ControlPlane,
) -> None:
    api = control_plane.api
    for _ in range(5):
        namespace = await create_namespace(api)
        response = await create_configmap(api, namespace)
        assert response.status_code == 201, response.text


async def delete_namespace(api: Any, namespace: str) -> None:
    """DELETE, then what the namespace controller does once the content is gone (none runs
    here): empty spec.finalizers through /finalize, which removes the namespace."""
    deleted = await api.delete(f"/api/v1/namespaces/{namespace}")
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    body["spec"]["finalizers"] = []
    finalized = await api.put(f"/api/v1/namespaces/{namespace}/finalize", json=body)
    assert finalized.status_code == 200, finalized.text


async def test_a_create_in_a_deleted_namespace_is_404(control_plane: ControlPlane) -> None:
    api = control_plane.api
    namespace = await create_namespace(api)
    assert (await create_configmap(api, namespace)).status_code == 201
    await delete_namespace(api, namespace)

    response = await create_configmap(api, namespace)
    assert response.status_code == 404, response.text
    body = response.json()
    assert (body["reason"], body["message"]) == ("NotFound", f'namespaces "{namespace}" not found')
    assert body["details"] == {"name": namespace, "kind": "namespaces"}


async def test_a_create_right_after_a_namespace_delete_is_404_though_the_informer_lags(
    control_plane: ControlPlane, authz_storage: Callable[[], CountingStorageClient]
) -> None:
    """The informer still holds the namespace as Active; authz admitted its deletion, so
    it reads the namespace live for a while (kube's forceLiveLookup)."""
    api = control_plane.api
    counting = authz_storage()
    namespace = await create_namespace(api)

    async def from_memory() -> bool:
        reads = counting.namespace_reads
        assert (await create_configmap(api, namespace, dry_run=True)).status_code == 201
        return counting.namespace_reads == reads

    await eventually(from_memory, "the informer has the namespace")
    counting.deliver.clear()
    try:
        await delete_namespace(api, namespace)
        reads = counting.namespace_reads
        response = await create_configmap(api, namespace)
        assert response.status_code == 404, response.text
        assert response.json()["message"] == f'namespaces "{namespace}" not found'
        assert counting.namespace_reads == reads + 1
    finally:
        counting.deliver.set()


async def test_a_create_in_a_terminating_namespace_is_403(
    control_plane: ControlPlane, authz_storage: Callable[[], CountingStorageClient]
) -> None:
    api = control_plane.api
    namespace = await create_namespace(api)
    # What a namespace held by a finalizer looks like while its content is deleted.
    stored = (await api.get(f"/api/v1/namespaces/{namespace}")).json()
    revision = int(stored["metadata"].pop("resourceVersion"))
    stored["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    stored["status"] = {"phase": "Terminating"}
    async with StorageClient(authz_storage().target, tls=authz_storage().tls) as storage:
        await storage.update(
            NAMESPACES, "", namespace, orjson.dumps(stored), expected_revision=revision
        )
        try:

            async def refused() -> bool:
                return (await create_configmap(api, namespace, dry_run=True)).status_code == 403

            await eventually(refused, "the informer sees the namespace terminating")
            reads = authz_storage().namespace_reads
            response = await create_configmap(api, namespace)
            assert authz_storage().namespace_reads == reads  # answered from the informer
            assert response.status_code == 403, response.text
            body = response.json()
            name = body["details"]["name"]
            assert body["reason"] == "Forbidden"
            assert body["message"] == (
                f'configmaps "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated"
            )
            assert body["details"]["causes"] == [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
        finally:
            await storage.delete(NAMESPACES, "", namespace)


async def test_once_synced_a_namespaced_create_reads_no_namespace_from_storage(
    control_plane: ControlPlane, authz_storage: Callable[[], CountingStorageClient]
) -> None:
    api = control_plane.api
    counting = authz_storage()

    async def from_memory() -> bool:
        reads = counting.namespace_reads
        response = await create_configmap(api, control_plane.namespace)
        assert response.status_code == 201, response.text
        return counting.namespace_reads == reads

    await eventually(from_memory, "the informer has the namespace")
    for _ in range(5):
        assert await from_memory()


# --- the informer across restarts ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StorageService:
    """A storage service on a fixed port over an etcd, to stop and start again."""

    def __init__(self, etcd: EtcdProcess) -> None:
        self.etcd = etcd
        self.port = free_port()
        self._stop: Callable[[], Awaitable[None]] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        config = StorageConfig(listen=self.address, bookmark_interval=0.05, compaction_interval=0)
        backend = self.etcd.backend()
        store = create_store(config, backend)
        server, _ = await create_server(config, store=store)
        await server.start()

        async def stop() -> None:
            await server.stop(None)
            await store.close()
            await backend.close()

        self._stop = stop

    async def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            await stop()


def namespace(name: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name},
            "status": {"phase": "Active"},
        }
    )


async def retried(call: Callable[[], Awaitable[Any]]) -> Any:
    """``call()`` once storage answers again (503/504 until then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        try:
            return await call()
        except errors.StatusError as err:
            assert err.code in (503, 504), err
            assert loop.time() < deadline, f"storage did not come back: {err.message}"
            await asyncio.sleep(0.1)


@pytest.fixture
async def private_etcd(etcd_factory: Callable[[], EtcdProcess]) -> EtcdProcess:
    return etcd_factory()


@pytest.fixture
async def storage_service(private_etcd: EtcdProcess) -> AsyncIterator[StorageService]:
    service = StorageService(private_etcd)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def informer(storage_service: StorageService) -> AsyncIterator[NamespaceInformer]:
    async with StorageClient(storage_service.address, timeout=2.0) as storage:
        made = NamespaceInformer(storage, backoff_initial=0.05, backoff_max=0.5)
        made.start()
        try:
            await asyncio.wait_for(made.wait_synced(), DEADLINE)
            yield made
        finally:
            await made.close()


async def seen(informer: NamespaceInformer, name: str, *, present: bool = True) -> None:
    async def check() -> bool:
        return (informer.cached(name) is not None) == present

    await eventually(check, f"namespace {name} {'present' if present else 'gone'}")


async def test_the_informer_follows_namespaces_across_an_etcd_restart(
    private_etcd: EtcdProcess, storage_service: StorageService, informer: NamespaceInformer
) -> None:
    async with StorageClient(storage_service.address, timeout=2.0) as storage:
        await storage.create(NAMESPACES, "", "before", namespace("before"))
        await seen(informer, "before")
        await asyncio.to_thread(private_etcd.restart)

        await retried(lambda: storage.create(NAMESPACES, "", "after", namespace("after")))
        await seen(informer, "after")
        await storage.delete(NAMESPACES, "", "before")
        await seen(informer, "before", present=False)


async def test_the_informer_follows_namespaces_across_a_storage_restart(
    private_etcd: EtcdProcess, storage_service: StorageService, informer: NamespaceInformer
) -> None:
    async with StorageClient(storage_service.address, timeout=2.0) as storage:
        await storage.create(NAMESPACES, "", "doomed", namespace("doomed"))
        await seen(informer, "doomed")
    await storage_service.stop()

    other = StorageService(private_etcd)  # another replica, up meanwhile
    await other.start()
    try:
        async with StorageClient(other.address, timeout=2.0) as storage:
            await retried(lambda: storage.create(NAMESPACES, "", "during", namespace("during")))
            await storage.delete(NAMESPACES, "", "doomed")
    finally:
        await other.stop()
    assert informer.cached("doomed") is not None  # nothing seen while storage was down

    await storage_service.start()
    await seen(informer, "during")
    await seen(informer, "doomed", present=False)
