"""Errors across a service boundary (kapi/rpc.py), through a real gRPC server and the
storage client: a Status of any size crosses intact; a bug is a 500 that names only the
request's audit ID, logged once where it happened; a transport failure's details stay
in the log; a write lost in flight is a 504 a client does not retry."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from kapi import audit_id, errors, rpc
from kapi_proto import common_pb2, storage_pb2, storage_pb2_grpc
from services.storage.client import StorageClient
from services.storage.model import ResourceRef
from tests.unit.peer_that_dies import EXIT_CODE
from tests.unit.test_clients_raise_status_errors import closed_port

ROOT = Path(__file__).resolve().parents[2]
REF = ResourceRef("", "configmaps", namespaced=True)
SECRET = "boom at 10.9.8.7:2379"  # what a bug's message might hold: never for clients


class Scripted(storage_pb2_grpc.StorageServicer):
    """Fails every call with ``fail``; notes the audit ID each call was served under."""

    def __init__(self) -> None:
        self.fail: Exception = errors.bad_request("unset")
        self.seen: list[str] = []

    def _serve(self) -> NoReturn:
        self.seen.append(audit_id.current())
        raise self.fail

    @rpc.unary_errors
    async def Get(self, request: Any, context: rpc.Context) -> NoReturn:
        self._serve()

    @rpc.stream_errors
    async def Watch(self, request: Any, context: rpc.Context) -> AsyncIterator[Any]:
        self._serve()
        yield  # pragma: no cover

    async def _create(self, request: storage_pb2.CreateRequest) -> NoReturn:
        self._serve()

    @rpc.unary_errors
    async def CreateBatch(self, request: Any, context: rpc.Context) -> storage_pb2.StoredBatch:
        outcomes = await rpc.each(self._create, request.items, storage_pb2.StoredOutcome, "object")
        return storage_pb2.StoredBatch(items=outcomes)

    async def _freshness(self, ask: storage_pb2.RevisionAsk) -> common_pb2.Freshness:
        """Fails with ``fail``, except for asks about "slow-N"/"fast-N" resources:
        answered with revision N, the slow ones later than the fast ones."""
        names = [ref.resource for ref in ask.refs]
        if names and names[0].startswith(("slow-", "fast-")):
            await asyncio.sleep(0.3 if names[0].startswith("slow-") else 0)
            return common_pb2.Freshness(revision=int(names[0].split("-")[1]))
        self._serve()

    @rpc.stream_errors
    async def CurrentRevisions(self, asks: Any, context: rpc.Context) -> AsyncIterator[Any]:
        async for answer in rpc.answers(
            asks, self._freshness, storage_pb2.RevisionAnswer, "freshness"
        ):
            yield answer


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Scripted, StorageClient]]:
    servicer = Scripted()
    server, port = rpc.server("127.0.0.1:0", tls=None)
    storage_pb2_grpc.add_StorageServicer_to_server(servicer, server)
    await server.start()
    client = StorageClient(f"127.0.0.1:{port}")
    try:
        yield servicer, client
    finally:
        await client.close()
        await server.stop(None)


async def failure(call: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        await call
    return caught.value


def long_label_error(length: int) -> errors.StatusError:
    """What validation says of a label value of ``length`` characters (quoted twice)."""
    value = "x" * length
    return errors.invalid(
        "ConfigMap",
        "",
        "c",
        [errors.invalid_value("metadata.labels", value, "must be no more than 63 characters")],
    )


@pytest.mark.parametrize("length", [20_000, 300_000, 3 * 1024 * 1024])
async def test_a_status_of_any_size_crosses_intact(
    peer: tuple[Scripted, StorageClient], length: int
) -> None:
    """gRPC's 8/16 KiB metadata cap turned a 422 quoting a 20,000-character label (by
    PATCH), a long uid precondition or an 8 KB selector into a 500."""
    servicer, client = peer
    servicer.fail = long_label_error(length)
    got = await failure(client.get(REF, "ns", "c", resource_version="7"))  # one call
    assert got.status() == servicer.fail.status()
    if length == 20_000:
        stream = client.watch(REF, "ns", resource_version="7")
        assert (await failure(anext(stream))).status() == servicer.fail.status()
        assert (await failure(client.freshness(REF))).status() == servicer.fail.status()


async def test_a_status_too_large_even_so_is_cut_not_lost(
    peer: tuple[Scripted, StorageClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rpc, "MAX_STATUS_BYTES", 50_000)
    servicer, client = peer
    servicer.fail = long_label_error(200_000)
    got = await failure(client.get(REF, "ns", "c", resource_version="7"))
    assert (got.code, got.reason) == (422, "Invalid")
    assert len(got.to_json()) <= 50_000
    assert got.message.startswith('ConfigMap "c" is invalid: metadata.labels: Invalid value: "xxx')
    assert got.message.endswith(rpc.TRUNCATED)


def bug_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


@pytest.mark.parametrize("call", ["unary", "stream", "ask"])
async def test_a_bug_is_a_500_naming_only_the_audit_id_logged_once(
    peer: tuple[Scripted, StorageClient], caplog: pytest.LogCaptureFixture, call: str
) -> None:
    servicer, client = peer
    servicer.fail = ValueError(SECRET)
    audit_id.bind(("req-123",))
    if call == "unary":
        got = await failure(client.get(REF, "ns", "c", resource_version="7"))
    elif call == "ask":  # on the stream of revision asks: the id crossed in the ask
        got = await failure(client.freshness(REF))
    else:
        got = await failure(anext(client.watch(REF, "ns", resource_version="7")))
    assert got.status() == errors.unexpected("req-123").status()
    body = got.to_json().decode()
    assert "ValueError" not in body and "10.9.8.7" not in body and "boom" not in body
    assert servicer.seen == ["req-123"]  # the id crossed
    [record] = bug_records(caplog)  # once, by the service that met it
    assert "req-123" in record.getMessage() and SECRET in str(record.exc_info)


async def test_each_batch_item_is_served_and_logged_under_its_own_audit_id(
    peer: tuple[Scripted, StorageClient], caplog: pytest.LogCaptureFixture
) -> None:
    servicer, client = peer
    servicer.fail = ValueError(SECRET)

    async def create(request_id: str) -> errors.StatusError:
        audit_id.bind((request_id,))  # this task's own request
        return await failure(client.create(REF, "ns", request_id, b"{}"))

    got = await asyncio.gather(*(create(f"req-{i}") for i in range(5)))
    assert [e.message for e in got] == [errors.unexpected(f"req-{i}").message for i in range(5)]
    assert sorted(servicer.seen) == [f"req-{i}" for i in range(5)]
    logged = sorted(r.getMessage() for r in bug_records(caplog))
    assert len(logged) == 5 and all(f"req-{i}" in logged[i] for i in range(5))


async def test_an_unreachable_peer_is_503_with_retry_after_and_no_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing was sent: a client may retry, reads and writes alike."""
    target = closed_port()
    client = StorageClient(target)
    try:
        for call in (
            client.update(REF, "ns", "c", b"{}", expected_revision=3),
            client.get(REF, "ns", "c", resource_version="7"),
            client.freshness(REF),
        ):
            got = await failure(call)
            assert (got.code, got.reason, got.retry_after) == (503, "ServiceUnavailable", 1)
            assert got.message == rpc.UNAVAILABLE
            assert target not in got.to_json().decode() and "ipv4" not in got.to_json().decode()
    finally:
        await client.close()
    assert any(target in r.getMessage() for r in caplog.records)  # the details: logged


async def test_asks_on_one_stream_each_get_their_own_answer(
    peer: tuple[Scripted, StorageClient],
) -> None:
    """Answers come back as they are ready, each to its own ask."""
    _, client = peer
    names = [f"slow-{i}" if i % 2 else f"fast-{i}" for i in range(10)]
    got = await asyncio.gather(
        *(client.current_revision([ResourceRef("", name, True)]) for name in names)
    )
    assert [answer.revision for answer in got] == list(range(10))


async def test_a_stream_of_asks_that_ended_is_opened_again(
    peer: tuple[Scripted, StorageClient],
) -> None:
    """An ask waiting when its stream breaks is a read that failed: 503, retry; the
    next ask goes out on a new stream."""
    _, client = peer
    slow = asyncio.create_task(client.current_revision([ResourceRef("", "slow-1", True)]))
    await asyncio.sleep(0.1)  # on its way
    stream = client._revision_asks._stream
    assert stream is not None
    stream.call.cancel()
    got = await failure(slow)
    assert (got.code, got.reason, got.retry_after) == (503, "ServiceUnavailable", 1)
    answer = await client.current_revision([ResourceRef("", "fast-2", True)])
    assert answer.revision == 2
    assert client._revision_asks._stream is not stream


@pytest.mark.parametrize("write", [True, False, "ask"])
async def test_a_call_whose_peer_dies_in_flight(write: bool | str) -> None:
    """A write the peer may have made before it died is an unknown outcome: 504 without
    Retry-After, which client-go does not retry (a retried generateName create stored
    two objects). A read is safe to retry: 503 with Retry-After."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.unit.peer_that_dies"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            port = int(await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30))
            client = StorageClient(f"127.0.0.1:{port}")
            try:
                if write == "ask":
                    call = client.freshness(REF)
                elif write:
                    call = client.update(REF, "ns", "c", b"{}", expected_revision=3)
                else:
                    call = client.get(REF, "ns", "c", resource_version="7")
                got = await failure(call)
            finally:
                await client.close()
            assert await asyncio.to_thread(process.wait, 30) == EXIT_CODE  # died in the call
        finally:
            process.kill()
    if write is True:
        assert (got.code, got.reason, got.retry_after) == (504, "Timeout", None)
        assert got.message == f"Timeout: {rpc.UNKNOWN_OUTCOME}"
        assert "retryAfterSeconds" not in (got.details or {})
    else:
        assert (got.code, got.reason, got.retry_after) == (503, "ServiceUnavailable", 1)
    assert "127.0.0.1" not in got.to_json().decode()
