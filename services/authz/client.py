"""The one client of the authz service. No ``grpc.RpcError`` escapes it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import orjson

from kapi import batching, errors, metrics_service, pki, rpc
from kapi_proto import authz_pb2, authz_pb2_grpc, common_pb2

DEADLINE = 10.0


@dataclass(frozen=True)
class AdmissionRequest:
    operation: str
    user: common_pb2.UserInfo
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    dry_run: bool = False


class AuthzClient:
    def __init__(self, target: str, *, tls: pki.TLSFiles | None = None) -> None:
        """``tls``: this service's identity towards authz (``kapi.rpc.channel``)."""
        self._channel = rpc.channel(target, tls)
        self._stub = authz_pb2_grpc.AuthzStub(self._channel)
        # What the last Admit reply said of the validating plugins (None: not known yet).
        self.validating_plugins: bool | None = None
        self._admissions: batching.Batcher[authz_pb2.AdmitRequest, authz_pb2.AdmitResponse] = (
            batching.Batcher(self._admit_batch)
        )

    async def close(self) -> None:
        await self._admissions.close()
        await self._channel.close()

    async def ready(self, timeout: float = 2.0) -> None:
        """Return once the channel is connected; raise TimeoutError otherwise."""
        await asyncio.wait_for(self._channel.channel_ready(), timeout)

    async def metrics(self) -> bytes:
        """The service's Prometheus metrics, as text (``kapi.metrics_service``)."""
        return await metrics_service.scrape(self._channel, "authz")

    async def authenticate(
        self,
        *,
        bearer_token: str = "",
        cert_common_name: str = "",
        cert_organizations: tuple[str, ...] = (),
    ) -> common_pb2.UserInfo:
        """The caller, or StatusError 401."""
        request = authz_pb2.AuthenticateRequest(
            bearer_token=bearer_token,
            client_cert_common_name=cert_common_name,
            client_cert_organizations=list(cert_organizations),
        )
        return cast(common_pb2.UserInfo, await self._call(self._stub.Authenticate, request))

    async def authorize(self, request: authz_pb2.AuthorizeRequest) -> tuple[bool, str]:
        reply = await self._call(self._stub.Authorize, request)
        return reply.decision == authz_pb2.ALLOW, reply.reason

    async def admit(
        self,
        phase: str,
        request: AdmissionRequest,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """Run one admission phase ("mutating" or "validating"): (object, warnings)."""
        message = authz_pb2.AdmitRequest(
            phase=authz_pb2.MUTATING if phase == "mutating" else authz_pb2.VALIDATING,
            operation=request.operation,
            user=request.user,
            group=request.group,
            version=request.version,
            kind=request.kind,
            resource=request.resource,
            subresource=request.subresource,
            namespace=request.namespace,
            name=request.name,
            object=orjson.dumps(obj) if obj is not None else b"",
            old_object=orjson.dumps(old) if old is not None else b"",
            dry_run=request.dry_run,
        )
        reply = await self._admissions.call(message)
        self.validating_plugins = reply.validating_plugins
        if obj is not None and reply.object == message.object:
            return obj, list(reply.warnings)  # unchanged: no second copy of a large object
        try:
            out = orjson.loads(reply.object) if reply.object else None
        except orjson.JSONDecodeError as exc:
            raise errors.internal(f"authz returned undecodable object: {exc}") from None
        return out, list(reply.warnings)

    async def _admit_batch(
        self, requests: list[authz_pb2.AdmitRequest]
    ) -> list[authz_pb2.AdmitResponse | errors.StatusError]:
        reply = await self._call(self._stub.AdmitBatch, authz_pb2.AdmitBatchRequest(items=requests))
        return rpc.replies(reply.items, "response")

    async def _call(self, method: Any, request: Any) -> Any:
        """A call to authz (nothing it does is stored: a failed one may be retried)."""
        return await rpc.unary(self._channel, "authz", method, request, timeout=DEADLINE)
