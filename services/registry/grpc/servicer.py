"""The registry gRPC servicer: converts, calls the domain, lets kapi.rpc map errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import orjson

from kapi import errors, rpc
from kapi_proto import common_pb2, registry_pb2, registry_pb2_grpc
from services.registry.grpc.convert import read_options_from_pb, target_from_pb, types_reply
from services.registry.openapi import OpenAPIV2, OpenAPIV3
from services.registry.service import Registry, Result


def _rendered(result: Result) -> registry_pb2.RenderedObject:
    return registry_pb2.RenderedObject(
        object=result.body,
        status_code=result.code,
        warnings=result.warnings,
        audit_annotations=result.audit_annotations,
    )


async def _batch(
    handle: Callable[[Any], Awaitable[registry_pb2.RenderedObject]], items: Iterable[Any]
) -> registry_pb2.RenderedBatch:
    """A batch call's items handled as separate calls, each with its own outcome."""
    return registry_pb2.RenderedBatch(
        items=await rpc.each(handle, items, registry_pb2.RenderedOutcome, "object")
    )


class RegistryServicer(registry_pb2_grpc.RegistryServicer):
    def __init__(self, registry: Registry, openapi: OpenAPIV3) -> None:
        self.registry = registry
        self.openapi = openapi
        self.openapi_v2 = OpenAPIV2(lambda: registry.catalog.table)

    @rpc.unary_errors
    async def Types(
        self, request: common_pb2.Empty, context: rpc.Context
    ) -> registry_pb2.TypesResponse:
        return types_reply(self.registry.table, bootstrapped=self.registry.bootstrapped)

    @rpc.stream_errors
    async def WatchCatalog(
        self, request: common_pb2.Empty, context: rpc.Context
    ) -> AsyncIterator[registry_pb2.TypesResponse]:
        async for table in self.registry.catalog.tables():
            yield types_reply(table, bootstrapped=self.registry.bootstrapped)

    @rpc.unary_errors
    async def OpenAPI(
        self, request: registry_pb2.OpenAPIRequest, context: rpc.Context
    ) -> registry_pb2.OpenAPIResponse:
        if request.openapi_version == "v2":
            document, digest = await asyncio.to_thread(self.openapi_v2.document)
            return registry_pb2.OpenAPIResponse(document=document, hash=digest)
        if request.openapi_version not in ("", "v3"):
            raise errors.not_found_path()
        if not request.path:
            return registry_pb2.OpenAPIResponse(document=orjson.dumps(self.openapi.index()))
        found = self.openapi.document(request.path)
        if found is None:
            raise errors.not_found_path()
        document, digest = found
        return registry_pb2.OpenAPIResponse(document=document, hash=digest)

    async def _create(self, request: registry_pb2.WriteRequest) -> registry_pb2.RenderedObject:
        return await self._write(self.registry.create, request)

    async def _update(self, request: registry_pb2.WriteRequest) -> registry_pb2.RenderedObject:
        return await self._write(self.registry.update, request)

    @staticmethod
    async def _write(
        method: Callable[..., Awaitable[Result]], request: registry_pb2.WriteRequest
    ) -> registry_pb2.RenderedObject:
        result = await method(
            target_from_pb(request.target),
            request.object,
            dry_run=request.dry_run,
            field_validation=request.field_validation,
            duplicate_fields=tuple(request.duplicate_fields),
            field_manager=request.field_manager,
        )
        return _rendered(result)

    @rpc.unary_errors
    async def Create(
        self, request: registry_pb2.WriteRequest, context: rpc.Context
    ) -> registry_pb2.RenderedObject:
        return await self._create(request)

    @rpc.unary_errors
    async def Update(
        self, request: registry_pb2.WriteRequest, context: rpc.Context
    ) -> registry_pb2.RenderedObject:
        return await self._update(request)

    @rpc.unary_errors
    async def CreateBatch(
        self, request: registry_pb2.WriteBatchRequest, context: rpc.Context
    ) -> registry_pb2.RenderedBatch:
        return await _batch(self._create, request.items)

    @rpc.unary_errors
    async def UpdateBatch(
        self, request: registry_pb2.WriteBatchRequest, context: rpc.Context
    ) -> registry_pb2.RenderedBatch:
        return await _batch(self._update, request.items)

    @rpc.unary_errors
    async def Patch(
        self, request: registry_pb2.PatchRequest, context: rpc.Context
    ) -> registry_pb2.RenderedObject:
        result = await self.registry.patch(
            target_from_pb(request.target),
            request.patch_type,
            request.patch,
            dry_run=request.dry_run,
            field_validation=request.field_validation,
            field_manager=request.field_manager,
            force=request.force,
        )
        return _rendered(result)

    @rpc.unary_errors
    async def Get(
        self, request: registry_pb2.ReadRequest, context: rpc.Context
    ) -> registry_pb2.RenderedObject:
        return await self._get(request)

    async def _get(self, request: registry_pb2.ReadRequest) -> registry_pb2.RenderedObject:
        return _rendered(
            await self.registry.get(target_from_pb(request.target), read_options_from_pb(request))
        )

    @rpc.unary_errors
    async def GetBatch(
        self, request: registry_pb2.ReadBatchRequest, context: rpc.Context
    ) -> registry_pb2.RenderedBatch:
        return await _batch(self._get, request.items)

    @rpc.unary_errors
    async def List(
        self, request: registry_pb2.ReadRequest, context: rpc.Context
    ) -> registry_pb2.RenderedObject:
        return _rendered(
            await self.registry.list(target_from_pb(request.target), read_options_from_pb(request))
        )

    @rpc.unary_errors
    async def Delete(
        self, request: registry_pb2.DeleteObjectRequest, context: rpc.Context
    ) -> registry_pb2.RenderedObject:
        try:
            options = orjson.loads(request.options) if request.options else {}
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"invalid DeleteOptions: {exc}") from None
        if not isinstance(options, dict):
            raise errors.bad_request("invalid DeleteOptions: must be an object")
        result = await self.registry.delete(
            target_from_pb(request.target), options, dry_run=request.dry_run
        )
        return _rendered(result)

    @rpc.unary_errors
    async def Connect(
        self, request: registry_pb2.ConnectRequest, context: rpc.Context
    ) -> registry_pb2.ConnectResponse:
        options = orjson.loads(request.options) if request.options else {}
        answer = await self.registry.connect(
            target_from_pb(request.target), request.method, request.path, options
        )
        return registry_pb2.ConnectResponse(
            body=answer.body, status_code=answer.code, content_type=answer.content_type
        )

    @rpc.unary_errors
    async def Convert(
        self, request: registry_pb2.ConvertRequest, context: rpc.Context
    ) -> registry_pb2.ConvertResponse:
        try:
            objects = [orjson.loads(each) for each in request.objects]
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"convert: undecodable object: {exc}") from None
        converted = await self.registry.convert(
            request.group, request.version, request.resource, objects
        )
        return registry_pb2.ConvertResponse(objects=[orjson.dumps(obj) for obj in converted])

    @rpc.stream_errors
    async def Watch(
        self, request: registry_pb2.ReadRequest, context: rpc.Context
    ) -> AsyncIterator[common_pb2.WatchEvent]:
        events = await self.registry.open_watch(
            target_from_pb(request.target), read_options_from_pb(request)
        )
        await context.send_initial_metadata(())
        async for kind, data in events:
            yield common_pb2.WatchEvent(type=kind, object=data)
