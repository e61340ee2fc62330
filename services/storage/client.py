"""``StorageClient``: the one gRPC client of the storage service (registry, authz, gateway).

Plain values in and out: a ``model.ResourceRef`` dataclass names the resource, objects
are JSON bytes, revisions ints; results are ``model.StoredObject``, ``model.ObjectList``
and ``model.WatchEvent``. No ``grpc.RpcError`` escapes: a failure is a
``kapi.errors.StatusError`` — the Status the storage service raised (404, 409, 410, ...)
or a 503/504 for a transport failure (``kapi.rpc``: a write that may have been made
is a 504, never a 503 a client would retry). Unary calls have a deadline (10 s by
default); watches have none (they end when ``timeout_seconds`` passes, or when closed).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator
from typing import Any, cast

import grpc
import grpc.aio

from kapi import audit_id, batching, errors, metrics_service, pki, rpc
from kapi_proto import common_pb2, storage_pb2, storage_pb2_grpc
from services.storage.grpc import convert
from services.storage.model import Health, ObjectList, ResourceRef, StoredObject, WatchEvent

__all__ = ["Health", "ObjectList", "ResourceRef", "StorageClient", "StoredObject", "WatchEvent"]

DEFAULT_TIMEOUT = 10.0
PEER = "storage"

# etcd's revision and the watch cache's summary of one resource (common.proto Freshness).
Freshness = tuple[int, common_pb2.CacheSummary]


class StorageClient:
    """Async client of ``kapi_proto.Storage``; ``target`` is ``host:port`` or a gRPC target."""

    def __init__(
        self, target: str, *, timeout: float = DEFAULT_TIMEOUT, tls: pki.TLSFiles | None = None
    ) -> None:
        """``tls``: this service's identity towards storage (``kapi.rpc.channel``)."""
        self._channel = rpc.channel(target, tls)
        self._stub = storage_pb2_grpc.StorageStub(self._channel)
        self._timeout = timeout
        self._creates: batching.Batcher[storage_pb2.CreateRequest, storage_pb2.StoredObject] = (
            batching.Batcher(self._create_batch)
        )
        self._gets: batching.Batcher[storage_pb2.GetRequest, storage_pb2.StoredObject] = (
            batching.Batcher(self._get_batch)
        )
        self._revisions: batching.Batcher[ResourceRef, Freshness] = batching.Batcher(
            self._freshness_batch
        )
        self._revision_asks = rpc.AskStream(
            self._stub.CurrentRevisions, PEER, timeout=self._timeout
        )

    async def close(self) -> None:
        await self._creates.close()
        await self._gets.close()
        await self._revisions.close()
        await self._revision_asks.close()
        await self._channel.close()

    async def __aenter__(self) -> StorageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ready(self, timeout: float = 2.0) -> None:
        """Return once the channel to the storage service is connected, else 503."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError:
            raise errors.service_unavailable(f"the {PEER} service is not reachable") from None

    async def metrics(self) -> bytes:
        """The service's Prometheus metrics, as text (``kapi.metrics_service``)."""
        return await metrics_service.scrape(self._channel, PEER)

    async def create(
        self, ref: ResourceRef, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> StoredObject:
        """Store a new object: 409 AlreadyExists if the key is taken."""
        request = storage_pb2.CreateRequest(
            ref=convert.ref_to_pb(ref), namespace=namespace, name=name, object=obj, dry_run=dry_run
        )
        return convert.stored_from_pb(await self._creates.call(request))

    async def _create_batch(
        self, requests: list[storage_pb2.CreateRequest]
    ) -> list[storage_pb2.StoredObject | errors.StatusError]:
        return await self._batch(
            self._stub.CreateBatch, storage_pb2.CreateBatchRequest, requests, write=True
        )

    async def _get_batch(
        self, requests: list[storage_pb2.GetRequest]
    ) -> list[storage_pb2.StoredObject | errors.StatusError]:
        return await self._batch(self._stub.GetBatch, storage_pb2.GetBatchRequest, requests)

    async def _batch(
        self, method: Any, batch_type: Any, requests: builtins.list[Any], *, write: bool = False
    ) -> list[storage_pb2.StoredObject | errors.StatusError]:
        """One batch call; each item's object or its Status (see ``rpc.replies``)."""
        reply = await self._call(method, batch_type(items=requests), write=write)
        return rpc.replies(reply.items, "object")

    async def _call(self, method: Any, request: Any, *, write: bool = False) -> Any:
        return await rpc.unary(
            self._channel, PEER, method, request, timeout=self._timeout, write=write
        )

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject:
        """The object (a quorum read): 404 NotFound if absent."""
        request = storage_pb2.GetRequest(
            ref=convert.ref_to_pb(ref),
            namespace=namespace,
            name=name,
            resource_version=resource_version,
        )
        if resource_version in batching.PROMPT_READS:
            return convert.stored_from_pb(await self._gets.call(request))
        return convert.stored_from_pb(await self._call(self._stub.Get, request))

    async def list(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> ObjectList:
        """One page of objects (namespace "" lists all namespaces): 410 if the token expired."""
        request = storage_pb2.ListRequest(
            ref=convert.ref_to_pb(ref),
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
            resource_version_match=resource_version_match,
        )
        return convert.list_from_pb(await self._call(self._stub.List, request))

    async def update(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> StoredObject:
        """Compare-and-swap on ``expected_revision``: 409 Conflict if stale, 404 if absent."""
        request = storage_pb2.UpdateRequest(
            ref=convert.ref_to_pb(ref),
            namespace=namespace,
            name=name,
            object=obj,
            expected_revision=expected_revision,
            dry_run=dry_run,
        )
        return convert.stored_from_pb(await self._call(self._stub.Update, request, write=True))

    async def delete(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        dry_run: bool = False,
    ) -> StoredObject:
        """Delete (only at ``expected_revision`` when non-zero); the deleted object."""
        request = storage_pb2.DeleteRequest(
            ref=convert.ref_to_pb(ref),
            namespace=namespace,
            name=name,
            expected_revision=expected_revision,
            dry_run=dry_run,
        )
        return convert.stored_from_pb(await self._call(self._stub.Delete, request, write=True))

    async def watch(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: int = 0,
        send_initial_events: bool = False,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events after ``resource_version`` ("" / "0": the current objects as ADDED first).

        A compacted start arrives in-band as an ERROR event (410 Expired Status JSON),
        then the stream ends. A failure of the stream itself raises ``StatusError``.
        Closing the iterator cancels the watch.
        """
        request = storage_pb2.WatchRequest(
            ref=convert.ref_to_pb(ref),
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
            allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds,
            send_initial_events=send_initial_events,
        )
        call = self._stub.Watch(request, metadata=audit_id.metadata())
        try:
            async for message in call:
                yield convert.event_from_pb(message)
        except grpc.RpcError as exc:
            raise rpc.from_rpc_error(exc, PEER) from None
        finally:
            call.cancel()

    async def freshness(self, ref: ResourceRef) -> Freshness:
        """etcd's revision, read after this call, and a summary of storage's watch cache
        of ``ref`` once it has every change up to it (see common.proto Freshness); 503
        when it cannot confirm that. Concurrent calls share one: each waits for a call
        that leaves after it was made."""
        return await self._revisions.call(ref)

    async def _freshness_batch(self, refs: builtins.list[ResourceRef]) -> builtins.list[Freshness]:
        unique = list(dict.fromkeys(refs))
        reply = await self.current_revision(unique)
        if len(reply.caches) != len(unique):
            raise errors.internal(f"{len(unique)} resources got {len(reply.caches)} summaries")
        summaries = dict(zip(unique, reply.caches, strict=True))
        return [(int(reply.revision), summaries[ref]) for ref in refs]

    async def current_revision(self, refs: builtins.list[ResourceRef]) -> common_pb2.Freshness:
        """etcd's revision, read after this call, and a summary of storage's watch cache
        of each of ``refs`` once it has reached it (see storage.proto); 503 when a cache
        cannot confirm it."""
        ask = storage_pb2.RevisionAsk(refs=[convert.ref_to_pb(r) for r in refs])
        answer = await self._revision_asks.ask(ask)
        return cast(common_pb2.Freshness, answer.freshness)

    async def health(self) -> Health:
        """Whether etcd answers through the storage service; 503 when it does not."""
        health = convert.health_from_pb(await self._call(self._stub.Health, common_pb2.Empty()))
        if not health.ok:
            raise errors.service_unavailable(f"etcd: {health.message}")
        return health
