"""The one client of the registry service. No ``grpc.RpcError`` escapes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import grpc
import grpc.aio

from kapi import audit_id, batching, errors, metrics_service, pki, rpc
from kapi_proto import common_pb2, registry_pb2, registry_pb2_grpc

DEADLINE = 30.0
PEER = "registry"

WriteRequest = registry_pb2.WriteRequest
RenderedObject = registry_pb2.RenderedObject


class RegistryClient:
    def __init__(self, target: str, *, tls: pki.TLSFiles | None = None) -> None:
        """``tls``: this service's identity towards the registry (``kapi.rpc.channel``)."""
        self._channel = rpc.channel(target, tls)
        self._stub = registry_pb2_grpc.RegistryStub(self._channel)
        self._creates = self._batcher(self._stub.CreateBatch)
        self._updates = self._batcher(self._stub.UpdateBatch)
        self._gets: batching.Batcher[registry_pb2.ReadRequest, RenderedObject] = batching.Batcher(
            self._get_batch
        )

    def _batcher(self, method: Any) -> batching.Batcher[WriteRequest, RenderedObject]:
        async def send(requests: list[WriteRequest]) -> list[RenderedObject | errors.StatusError]:
            reply = await self._call(
                method, registry_pb2.WriteBatchRequest(items=requests), write=True
            )
            return rpc.replies(reply.items, "object")

        return batching.Batcher(send)

    async def close(self) -> None:
        await self._creates.close()
        await self._updates.close()
        await self._gets.close()
        await self._channel.close()

    async def ready(self, timeout: float = 2.0) -> None:
        """Return once the channel is connected; raise TimeoutError otherwise."""
        await asyncio.wait_for(self._channel.channel_ready(), timeout)

    async def metrics(self) -> bytes:
        """The service's Prometheus metrics, as text (``kapi.metrics_service``)."""
        return await metrics_service.scrape(self._channel, PEER)

    async def _call(
        self, method: Any, request: Any, timeout: float = DEADLINE, *, write: bool = False
    ) -> Any:
        return await rpc.unary(self._channel, PEER, method, request, timeout=timeout, write=write)

    async def types(self) -> registry_pb2.TypesResponse:
        return cast(
            registry_pb2.TypesResponse, await self._call(self._stub.Types, common_pb2.Empty(), 10.0)
        )

    async def watch_catalog(self) -> AsyncIterator[registry_pb2.TypesResponse]:
        """The type table now, then each new one; ends (StatusError) when the stream does."""
        call = self._stub.WatchCatalog(common_pb2.Empty(), metadata=audit_id.metadata())
        try:
            async for reply in call:
                yield reply
        except grpc.RpcError as exc:
            raise rpc.from_rpc_error(exc, PEER) from None
        finally:
            call.cancel()

    async def openapi(self, path: str) -> registry_pb2.OpenAPIResponse:
        return cast(
            registry_pb2.OpenAPIResponse,
            await self._call(self._stub.OpenAPI, registry_pb2.OpenAPIRequest(path=path)),
        )

    async def openapi_v2(self) -> registry_pb2.OpenAPIResponse:
        """The ``/openapi/v2`` Swagger 2.0 document (JSON) and its hash."""
        return cast(
            registry_pb2.OpenAPIResponse,
            await self._call(self._stub.OpenAPI, registry_pb2.OpenAPIRequest(openapi_version="v2")),
        )

    async def create(self, request: WriteRequest) -> RenderedObject:
        return await self._creates.call(request)

    async def update(self, request: WriteRequest) -> RenderedObject:
        return await self._updates.call(request)

    async def patch(self, request: registry_pb2.PatchRequest) -> registry_pb2.RenderedObject:
        return cast(
            registry_pb2.RenderedObject, await self._call(self._stub.Patch, request, write=True)
        )

    async def get(self, request: registry_pb2.ReadRequest) -> registry_pb2.RenderedObject:
        if request.resource_version in batching.PROMPT_READS:
            return await self._gets.call(request)
        return cast(registry_pb2.RenderedObject, await self._call(self._stub.Get, request))

    async def _get_batch(
        self, requests: list[registry_pb2.ReadRequest]
    ) -> list[RenderedObject | errors.StatusError]:
        reply = await self._call(self._stub.GetBatch, registry_pb2.ReadBatchRequest(items=requests))
        return rpc.replies(reply.items, "object")

    async def list(self, request: registry_pb2.ReadRequest) -> registry_pb2.RenderedObject:
        return cast(registry_pb2.RenderedObject, await self._call(self._stub.List, request))

    async def delete(
        self, request: registry_pb2.DeleteObjectRequest
    ) -> registry_pb2.RenderedObject:
        return cast(
            registry_pb2.RenderedObject, await self._call(self._stub.Delete, request, write=True)
        )

    async def connect(self, request: registry_pb2.ConnectRequest) -> registry_pb2.ConnectResponse:
        return cast(registry_pb2.ConnectResponse, await self._call(self._stub.Connect, request))

    async def convert(
        self, group: str, version: str, resource: str, objects: Sequence[bytes]
    ) -> tuple[bytes, ...]:
        """JSON objects of a resource in another served version of it (admission's
        matchPolicy Equivalent)."""
        request = registry_pb2.ConvertRequest(
            group=group, version=version, resource=resource, objects=objects
        )
        reply = cast(registry_pb2.ConvertResponse, await self._call(self._stub.Convert, request))
        return tuple(reply.objects)

    async def open_watch(
        self, request: registry_pb2.ReadRequest
    ) -> AsyncIterator[common_pb2.WatchEvent]:
        """Start a watch: a rejected request raises StatusError here, before any event."""
        call = self._stub.Watch(request, metadata=audit_id.metadata())
        try:
            await call.initial_metadata()
            if call.done() and await call.code() != grpc.StatusCode.OK:
                raise grpc.aio.AioRpcError(
                    await call.code(),
                    await call.initial_metadata(),
                    await call.trailing_metadata(),
                    await call.details(),
                )
        except grpc.RpcError as exc:
            call.cancel()
            raise rpc.from_rpc_error(exc, PEER) from None
        return self._events(call)

    async def _events(self, call: Any) -> AsyncIterator[common_pb2.WatchEvent]:
        try:
            async for event in call:
                yield event
        except grpc.RpcError as exc:
            raise rpc.from_rpc_error(exc, PEER) from None
        finally:
            call.cancel()
