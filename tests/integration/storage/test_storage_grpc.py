"""The storage service end to end: ``StorageClient`` → gRPC → servicer → real etcd.

Pins the error contract (every failure is a ``StatusError`` with kube-apiserver's code,
reason and message; never a ``grpc.RpcError``) and the behaviour when etcd dies and
comes back.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import grpc
import orjson
import pytest

from kapi import errors
from services.storage.client import StorageClient
from services.storage.grpc.servicer import INCONSISTENT_CONTINUE
from services.storage.model import ResourceRef
from services.storage.server import StorageConfig, create_server, create_store
from tests.conftest import EtcdProcess

pytestmark = pytest.mark.integration

# Waiting for an answer at all, not a latency budget: a hang fails here, not at the
# session timeout.
NO_HANG = 10.0


@pytest.fixture
def prefix() -> str:
    return f"/registry-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def configmaps() -> ResourceRef:
    return ResourceRef("", "configmaps", namespaced=True)


@pytest.fixture
def deployments() -> ResourceRef:
    return ResourceRef("apps", "deployments", namespaced=True)


async def serve(
    etcd: EtcdProcess, prefix: str
) -> tuple[StorageClient, Callable[[], Awaitable[None]]]:
    backend = etcd.backend()
    config = StorageConfig(
        listen="127.0.0.1:0", bookmark_interval=0.05, future_wait=0.3, etcd_prefix=prefix
    )
    store = create_store(config, backend)
    server, port = await create_server(config, store=store)
    await server.start()
    client = StorageClient(f"127.0.0.1:{port}")

    async def stop() -> None:
        await client.close()
        await server.stop(None)
        await store.close()
        await backend.close()

    return client, stop


@pytest.fixture
async def client(etcd: EtcdProcess, prefix: str) -> AsyncIterator[StorageClient]:
    storage, stop = await serve(etcd, prefix)
    try:
        yield storage
    finally:
        await stop()


def cm(name: str, **data: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns"},
            "data": data,
        }
    )


def meta(data: bytes) -> dict[str, Any]:
    return dict(orjson.loads(data)["metadata"])


async def failure(call: Awaitable[object]) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as err:
        await asyncio.wait_for(call, NO_HANG)
    return err.value


async def test_round_trip(client: StorageClient, configmaps: ResourceRef) -> None:
    created = await client.create(configmaps, "ns", "c", cm("c", a="1"))
    assert meta(created.object)["resourceVersion"] == str(created.resource_version)
    assert await client.get(configmaps, "ns", "c") == created

    updated = await client.update(
        configmaps, "ns", "c", cm("c", a="2"), expected_revision=created.resource_version
    )
    listed = await client.list(configmaps, "ns")
    assert listed.items == [updated.object]
    assert listed.resource_version >= updated.resource_version
    assert listed.remaining_item_count is None

    dry = await client.delete(configmaps, "ns", "c", dry_run=True)
    assert dry.object == updated.object
    deleted = await client.delete(configmaps, "ns", "c", expected_revision=updated.resource_version)
    assert deleted.object == updated.object
    assert (await client.list(configmaps, "ns")).items == []
    assert (await client.health()).ok


async def test_pagination_over_grpc(client: StorageClient, configmaps: ResourceRef) -> None:
    for name in "abc":
        await client.create(configmaps, "ns", name, cm(name))
    first = await client.list(configmaps, "ns", limit=2)
    assert [meta(i)["name"] for i in first.items] == ["a", "b"]
    assert first.remaining_item_count == 1
    second = await client.list(configmaps, "ns", limit=2, continue_token=first.continue_token)
    assert [meta(i)["name"] for i in second.items] == ["c"]
    assert (second.continue_token, second.remaining_item_count) == ("", None)


async def test_errors_arrive_as_kubernetes_status(
    client: StorageClient, configmaps: ResourceRef, deployments: ResourceRef
) -> None:
    created = await client.create(configmaps, "ns", "c", cm("c"))
    await client.update(
        configmaps, "ns", "c", cm("c", v="2"), expected_revision=created.resource_version
    )
    stale = created.resource_version
    cases: list[tuple[Awaitable[object], int, str, str]] = [
        (
            client.create(configmaps, "ns", "c", cm("c")),
            409,
            "AlreadyExists",
            'configmaps "c" already exists',
        ),
        (client.get(deployments, "ns", "x"), 404, "NotFound", 'deployments.apps "x" not found'),
        (client.delete(deployments, "ns", "x"), 404, "NotFound", 'deployments.apps "x" not found'),
        (
            client.update(configmaps, "ns", "c", cm("c"), expected_revision=stale),
            409,
            "Conflict",
            'Operation cannot be fulfilled on configmaps "c": the object has '
            "been modified; please apply your changes to the latest version and try again",
        ),
        (
            client.delete(configmaps, "ns", "c", expected_revision=stale),
            409,
            "Conflict",
            'Operation cannot be fulfilled on configmaps "c": the object has '
            "been modified; please apply your changes to the latest version and try again",
        ),
        (client.get(configmaps, "", "c"), 400, "BadRequest", "Namespace parameter required."),
        (
            client.get(configmaps, "ns", "a/b"),
            400,
            "BadRequest",
            """Name parameter invalid: "a/b": may not contain '/'""",
        ),
        (
            client.list(configmaps, label_selector="a=b,"),
            400,
            "BadRequest",
            "found '', expected: identifier after ','",
        ),
        (
            client.get(configmaps, "ns", "c", resource_version="99999999"),
            504,
            "Timeout",
            f"Timeout: Too large resource version: 99999999, current: {stale + 1}",
        ),
    ]
    for call, code, reason, message in cases:
        err = await failure(call)
        assert (err.code, err.reason, err.message) == (code, reason, message)
    details = (await failure(client.get(deployments, "ns", "x"))).details
    assert details == {"name": "x", "group": "apps", "kind": "deployments"}


async def test_expired_continue_token(
    client: StorageClient, configmaps: ResourceRef, etcd: EtcdProcess
) -> None:
    """kube-apiserver's inconsistent continuation: 410 Expired whose Status carries, in
    ``metadata.continue``, a token that continues at the latest revision."""
    for name in "abc":
        await client.create(configmaps, "ns", name, cm(name))
    first = await client.list(configmaps, "ns", limit=1)
    moved = await client.update(
        configmaps, "ns", "b", cm("b", v="2"), expected_revision=first.resource_version - 1
    )
    backend = etcd.backend()
    try:
        await backend.compact(moved.resource_version)
    finally:
        await backend.close()
    err = await failure(client.list(configmaps, "ns", limit=1, continue_token=first.continue_token))
    assert (err.code, err.reason, err.message) == (410, "Expired", INCONSISTENT_CONTINUE)
    assert err.metadata is not None
    token = err.metadata["continue"]
    assert orjson.loads(err.to_json())["metadata"] == {"continue": token}
    rest = await client.list(configmaps, "ns", limit=5, continue_token=token)
    assert [meta(i)["name"] for i in rest.items] == ["b", "c"]
    assert orjson.loads(rest.items[0])["data"] == {"v": "2"}  # the latest, not the snapshot


async def test_watch_over_grpc(
    client: StorageClient, configmaps: ResourceRef, etcd: EtcdProcess
) -> None:
    a = await client.create(configmaps, "ns", "a", cm("a"))
    async with aclosing(client.watch(configmaps, "ns", resource_version="")) as events:
        first = await asyncio.wait_for(anext(events), NO_HANG)
        assert (first.type, first.object) == ("ADDED", a.object)
        b = await client.create(configmaps, "ns", "b", cm("b"))
        second = await asyncio.wait_for(anext(events), NO_HANG)
        assert (second.type, second.object, second.resource_version) == (
            "ADDED",
            b.object,
            b.resource_version,
        )

    backend = etcd.backend()
    try:
        await backend.compact(b.resource_version)
    finally:
        await backend.close()
    old = str(a.resource_version - 1)
    async with aclosing(client.watch(configmaps, "ns", resource_version=old)) as events:
        error = await asyncio.wait_for(anext(events), NO_HANG)
        assert error.type == "ERROR"
        assert errors.StatusError.from_status(orjson.loads(error.object)).code == 410
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(events), NO_HANG)


async def test_watch_timeout_ends_the_stream(
    client: StorageClient, configmaps: ResourceRef
) -> None:
    events = client.watch(configmaps, "ns", resource_version="0", timeout_seconds=1)
    received = await asyncio.wait_for(_drain(events), NO_HANG)
    assert received == []


async def _drain(events: AsyncIterator[Any]) -> list[Any]:
    return [event async for event in events]


async def test_no_rpc_error_escapes_the_client(configmaps: ResourceRef) -> None:
    """A storage service that is not there is a 503 StatusError, not a grpc.RpcError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = StorageClient(f"127.0.0.1:{port}", timeout=2)
    try:
        calls: list[Awaitable[object]] = [
            client.get(configmaps, "ns", "c"),
            client.create(configmaps, "ns", "c", cm("c")),
            client.list(configmaps),
            client.health(),
            _drain(client.watch(configmaps)),
        ]
        for call in calls:
            try:
                await asyncio.wait_for(call, NO_HANG)
            except grpc.RpcError:  # pragma: no cover - the failure this test exists for
                pytest.fail("grpc.RpcError escaped StorageClient")
            except errors.StatusError as err:
                assert err.code in (503, 504)
            else:
                pytest.fail("a call to a missing service succeeded")
    finally:
        await client.close()


async def test_etcd_down_then_back(
    etcd_factory: Callable[[], Any], configmaps: ResourceRef
) -> None:
    """etcd killed: calls fail fast with 503/504 (no hang) but an open watch stays open
    and resourceVersion=0 reads are served from the watch cache; etcd restarted on the
    same data and port: calls work, data intact, and the watch goes on with no gap."""
    etcd = etcd_factory()
    client, stop = await serve(etcd, "/registry")
    try:
        created = await client.create(configmaps, "ns", "c", cm("c"))
        watch = client.watch(configmaps, "ns", resource_version=str(created.resource_version))
        async with aclosing(watch) as events:
            live = await client.create(configmaps, "ns", "w", cm("w"))
            seen = await asyncio.wait_for(anext(events), NO_HANG)  # the watch is streaming
            assert (seen.type, seen.resource_version) == ("ADDED", live.resource_version)
            etcd.stop()
            for call in (
                client.get(configmaps, "ns", "c"),
                client.create(configmaps, "ns", "d", cm("d")),
                client.list(configmaps, "ns"),
            ):
                err = await failure(call)
                assert err.code in (503, 504), err
            assert not (await _health_ok(client))
            cached = await client.list(configmaps, "ns", resource_version="0")
            assert [meta(i)["name"] for i in cached.items] == ["c", "w"]

            etcd.start()
            deadline = time.monotonic() + 15
            while True:  # the channel reconnects within its backoff (at most a second)
                try:
                    got = await client.get(configmaps, "ns", "c")
                    break
                except errors.StatusError as err:
                    assert err.code in (503, 504), err
                    assert time.monotonic() < deadline, "storage did not recover after etcd restart"
                    await asyncio.sleep(0.1)
            assert got == created
            after = await client.create(configmaps, "ns", "d", cm("d"))
            event = await asyncio.wait_for(anext(events), NO_HANG)
            assert (event.type, event.resource_version) == ("ADDED", after.resource_version)
    finally:
        await stop()


async def _health_ok(client: StorageClient) -> bool:
    try:
        await asyncio.wait_for(client.health(), NO_HANG)
    except errors.StatusError:
        return False
    return True
