"""The authz gRPC servicer: converts, calls the domain, lets kapi.rpc map errors."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import orjson

from kapi import errors, rpc
from kapi_proto import authz_pb2, authz_pb2_grpc
from services.authz import admission, authentication
from services.authz.access import AccessControl
from services.authz.authentication.service_accounts import Bound
from services.authz.authorization import aggregate
from services.authz.grpc.convert import (
    attributes_from_pb,
    rule_to_pb,
    user_from_pb,
    user_to_pb,
)


def _ref(ref: authz_pb2.ObjectRef, present: bool) -> tuple[str, str] | None:
    return (ref.name, ref.uid) if present and ref.name else None


class AuthzServicer(authz_pb2_grpc.AuthzServicer):
    def __init__(self, *, access: AccessControl, admission_chain: admission.Chain) -> None:
        self.access = access
        self.admission = admission_chain

    @rpc.unary_errors
    async def Authenticate(
        self, request: authz_pb2.AuthenticateRequest, context: rpc.Context
    ) -> authz_pb2.AuthenticateResponse:
        identity = self.access.revisions.current.identity
        outcome = await self.access.authenticate(
            authentication.Credentials(
                bearer_token=request.bearer_token,
                client_certificates=tuple(request.client_certificates),
                audiences=tuple(request.audiences),
            ),
            anonymous=request.anonymous,
        )
        if isinstance(outcome, authentication.Authenticated):
            return authz_pb2.AuthenticateResponse(
                authenticated=True,
                user=user_to_pb(outcome.user),
                audiences=list(outcome.audiences),
                identity_revision=identity,
            )
        return authz_pb2.AuthenticateResponse(
            error=outcome.reason if outcome is not None else "", identity_revision=identity
        )

    @rpc.unary_errors
    async def Authorize(
        self, request: authz_pb2.AuthorizeRequest, context: rpc.Context
    ) -> authz_pb2.AuthorizeResponse:
        policy = self.access.revisions.current.policy
        outcome = self.access.authorize(attributes_from_pb(request))
        return authz_pb2.AuthorizeResponse(
            decision=outcome.decision.name,
            reason=outcome.reason,
            evaluation_error=outcome.error,
            policy_revision=policy,
        )

    @rpc.unary_errors
    async def RulesFor(
        self, request: authz_pb2.RulesForRequest, context: rpc.Context
    ) -> authz_pb2.RulesForResponse:
        rules = self.access.rules_for(user_from_pb(request.user), request.namespace)
        return authz_pb2.RulesForResponse(
            resource_rules=[rule_to_pb(r) for r in rules.resource_rules],
            non_resource_rules=[rule_to_pb(r) for r in rules.non_resource_rules],
            incomplete=rules.incomplete,
            evaluation_error=aggregate(rules.errors),
        )

    @rpc.unary_errors
    async def IssueToken(
        self, request: authz_pb2.IssueTokenRequest, context: rpc.Context
    ) -> authz_pb2.IssueTokenResponse:
        issued, audiences = self.access.issue_token(
            namespace=request.namespace,
            name=request.name,
            uid=request.uid,
            audiences=tuple(request.audiences),
            expiration_seconds=request.expiration_seconds,
            bound=Bound(
                pod=_ref(request.pod, request.HasField("pod")),
                secret=_ref(request.secret, request.HasField("secret")),
                node=_ref(request.node, request.HasField("node")),
            ),
        )
        return authz_pb2.IssueTokenResponse(
            token=issued.token, expiration=issued.expiration, audiences=list(audiences)
        )

    @rpc.unary_errors
    async def ServiceAccountIssuer(
        self, request: authz_pb2.ServiceAccountIssuerRequest, context: rpc.Context
    ) -> authz_pb2.ServiceAccountIssuerResponse:
        issuer, jwks, algorithms = self.access.oidc()
        return authz_pb2.ServiceAccountIssuerResponse(
            issuer=issuer, jwks=jwks, signing_algorithms=list(algorithms)
        )

    @rpc.stream_errors
    async def WatchRevisions(
        self, request: authz_pb2.WatchRevisionsRequest, context: rpc.Context
    ) -> AsyncIterator[authz_pb2.Revisions]:
        async for revisions in self.access.revisions.follow():
            yield authz_pb2.Revisions(policy=revisions.policy, identity=revisions.identity)

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
            options = orjson.loads(request.options) if request.options else None
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
            options=options if isinstance(options, dict) else None,
            equivalents=tuple(
                admission.Served(e.group, e.version, e.resource, e.kind)
                for e in request.equivalents
            ),
            requested=(
                admission.Served(
                    request.requested.group,
                    request.requested.version,
                    request.requested.resource,
                    request.requested.kind,
                )
                if request.HasField("requested")
                else None
            ),
        )
        try:
            if request.phase != authz_pb2.MUTATING:
                # Validating plugins change nothing: the object is not sent back.
                await self.admission.run_validating(attributes, owned=True)
                return authz_pb2.AdmitResponse(
                    warnings=attributes.warnings, audit_annotations=attributes.audit_annotations
                )
            await self.admission.run_mutating(attributes)
        except errors.StatusError as err:
            err.audit_annotations = {**attributes.audit_annotations, **err.audit_annotations}
            raise
        out = orjson.dumps(attributes.object) if attributes.object is not None else b""
        reply = authz_pb2.AdmitResponse(
            object=out,
            warnings=attributes.warnings,
            audit_annotations=attributes.audit_annotations,
        )
        if request.validate_ahead:
            acting = self.admission.validating_for(attributes)
            if not acting:
                reply.validated = True  # nothing would act: nothing to say
            elif admission.side_effect_free(acting):
                await self._validate_ahead(attributes, reply)
        return reply

    async def _validate_ahead(
        self, mutated: admission.Attributes, reply: authz_pb2.AdmitResponse
    ) -> None:
        """The validating phase on the mutated object, its verdict in ``reply`` (see
        ``AdmitRequest.validate_ahead``): the registry's VALIDATING call saved."""
        # The mutated object itself: the reply's bytes of it are already made, and the
        # validating plugins that change what they see get copies (``run_validating``).
        attributes = dataclasses.replace(mutated, warnings=[], audit_annotations={})
        try:
            await self.admission.run_validating(attributes, owned=True)
        except errors.StatusError as err:
            reply.validation_error.CopyFrom(rpc.kube_status(err))
        reply.validated = True
        reply.validation_warnings.extend(attributes.warnings)
        reply.validation_audit_annotations.update(attributes.audit_annotations)
