"""The authz gRPC servicer: converts, calls the domain, lets kapi.rpc map errors."""

from __future__ import annotations

import orjson

from kapi import errors, rpc
from kapi_proto import authz_pb2, authz_pb2_grpc, common_pb2
from services.authz import admission, authentication, authorization
from services.authz.grpc.convert import user_from_pb, user_to_pb


class AuthzServicer(authz_pb2_grpc.AuthzServicer):
    def __init__(
        self,
        *,
        authenticator: authentication.Union,
        authorizer: authorization.Authorizer,
        admission_chain: admission.Chain,
    ) -> None:
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.admission = admission_chain

    @rpc.unary_errors
    async def Authenticate(
        self, request: authz_pb2.AuthenticateRequest, context: rpc.Context
    ) -> common_pb2.UserInfo:
        user = self.authenticator.authenticate(
            authentication.Credentials(
                bearer_token=request.bearer_token,
                cert_common_name=request.client_cert_common_name,
                cert_organizations=tuple(request.client_cert_organizations),
            )
        )
        return user_to_pb(user)

    @rpc.unary_errors
    async def Authorize(
        self, request: authz_pb2.AuthorizeRequest, context: rpc.Context
    ) -> authz_pb2.AuthorizeResponse:
        decision, reason = self.authorizer.authorize(
            authorization.Attributes(
                user=user_from_pb(request.user),
                verb=request.verb,
                api_group=request.api_group,
                api_version=request.api_version,
                resource=request.resource,
                subresource=request.subresource,
                namespace=request.namespace,
                name=request.name,
                resource_request=request.resource_request,
                path=request.path,
            )
        )
        return authz_pb2.AuthorizeResponse(decision=decision.name, reason=reason)

    @rpc.unary_errors
    async def Admit(
        self, request: authz_pb2.AdmitRequest, context: rpc.Context
    ) -> authz_pb2.AdmitResponse:
        return await self._admit(request)

    @rpc.unary_errors
    async def AdmitBatch(
        self, request: authz_pb2.AdmitBatchRequest, context: rpc.Context
    ) -> authz_pb2.AdmitBatchResponse:
        return authz_pb2.AdmitBatchResponse(
            items=await rpc.each(self._admit, request.items, authz_pb2.AdmitOutcome, "response")
        )

    async def _admit(self, request: authz_pb2.AdmitRequest) -> authz_pb2.AdmitResponse:
        try:
            obj = orjson.loads(request.object) if request.object else None
            old = orjson.loads(request.old_object) if request.old_object else None
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"admission: undecodable object: {exc}") from exc
        attributes = admission.Attributes(
            operation=request.operation,
            user=user_from_pb(request.user),
            group=request.group,
            version=request.version,
            kind=request.kind,
            resource=request.resource,
            subresource=request.subresource,
            namespace=request.namespace,
            name=request.name,
            object=obj,
            old_object=old,
            dry_run=request.dry_run,
        )
        if request.phase == authz_pb2.MUTATING:
            await self.admission.run_mutating(attributes)
        else:
            await self.admission.run_validating(attributes)
        out = orjson.dumps(attributes.object) if attributes.object is not None else b""
        return authz_pb2.AdmitResponse(
            object=out,
            warnings=attributes.warnings,
            validating_plugins=bool(self.admission.validating),
        )
