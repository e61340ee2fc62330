"""The one client of the authz service. No ``grpc.RpcError`` escapes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
import orjson

from kapi import batching, errors, metrics_service, pki, rpc
from kapi.user import UserInfo
from kapi_proto import authz_pb2, authz_pb2_grpc, common_pb2

DEADLINE = 10.0


def user_to_pb(user: UserInfo | None) -> common_pb2.UserInfo:
    if user is None:
        return common_pb2.UserInfo()
    return common_pb2.UserInfo(
        username=user.username,
        uid=user.uid,
        groups=list(user.groups),
        extra={k: common_pb2.StringList(values=list(v)) for k, v in user.extra.items()},
    )


def user_from_pb(info: common_pb2.UserInfo) -> UserInfo:
    return UserInfo(
        username=info.username,
        uid=info.uid,
        groups=tuple(info.groups),
        extra={k: tuple(v.values) for k, v in info.extra.items()},
    )


@dataclass(frozen=True)
class Verdict:
    """authz's authorization decision: ``decision`` is ALLOW, DENY or NO_OPINION (only
    ALLOW allows); ``reason`` is kube's (audit's ``authorization.k8s.io/reason``)."""

    decision: str
    reason: str = ""
    evaluation_error: str = ""
    policy_revision: int = 0

    @property
    def allowed(self) -> bool:
        return self.decision == "ALLOW"

    def audit_annotations(self) -> dict[str, str]:
        """What kube's authorization filter records in the audit event:
        ``authorization.k8s.io/decision`` (``allow`` or ``forbid``) and
        ``authorization.k8s.io/reason``."""
        return {
            "authorization.k8s.io/decision": "allow" if self.allowed else "forbid",
            "authorization.k8s.io/reason": self.reason,
        }


@dataclass(frozen=True)
class AdmissionRequest:
    operation: str
    user: UserInfo | None
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    dry_run: bool = False
    # The resource's served versions, (group, version, resource, kind) each, when it has
    # more than one (AdmitRequest.equivalents).
    equivalents: tuple[tuple[str, str, str, str], ...] = ()
    # The resource the request was made to, when the object is in another's form.
    requested: tuple[str, str, str, str] | None = None


@dataclass(frozen=True)
class ValidatedAhead:
    """The validating phase's verdict on ``object`` (its JSON bytes), run by authz right
    after the mutating phase (``AdmitRequest.validate_ahead``)."""

    object: bytes
    error: errors.StatusError | None
    warnings: list[str]
    audit_annotations: dict[str, str]


@dataclass(frozen=True)
class Admitted:
    """One admission phase's outcome: the object (mutating: as the plugins left it),
    the warnings, and with ``validate_ahead`` the validating verdict when authz could
    give it."""

    object: dict[str, Any] | None
    warnings: list[str]
    validated_ahead: ValidatedAhead | None = None


class AuthzClient:
    def __init__(self, target: str, *, tls: pki.TLSFiles | None = None) -> None:
        """``tls``: this service's identity towards authz (``kapi.rpc.channel``)."""
        self._channel = rpc.channel(target, tls)
        self._stub = authz_pb2_grpc.AuthzStub(self._channel)
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
        client_certificates: Sequence[bytes] = (),
        audiences: Sequence[str] = (),
        anonymous: bool = True,
    ) -> authz_pb2.AuthenticateResponse:
        """Who presented these credentials (``authenticated``, ``user``), or why they
        are not good (``error``). ``anonymous``: a request nobody recognises is the
        anonymous user (requests), or not authenticated (TokenReview)."""
        request = authz_pb2.AuthenticateRequest(
            bearer_token=bearer_token,
            client_certificates=list(client_certificates),
            audiences=list(audiences),
            anonymous=anonymous,
        )
        return cast(
            authz_pb2.AuthenticateResponse, await self._call(self._stub.Authenticate, request)
        )

    async def authorize(self, request: authz_pb2.AuthorizeRequest) -> Verdict:
        reply = await self._call(self._stub.Authorize, request)
        return Verdict(
            decision=authz_pb2.Decision.Name(reply.decision),
            reason=reply.reason,
            evaluation_error=reply.evaluation_error,
            policy_revision=reply.policy_revision,
        )

    async def rules_for(self, user: UserInfo, namespace: str) -> authz_pb2.RulesForResponse:
        request = authz_pb2.RulesForRequest(user=user_to_pb(user), namespace=namespace)
        return cast(authz_pb2.RulesForResponse, await self._call(self._stub.RulesFor, request))

    async def issue_token(
        self, request: authz_pb2.IssueTokenRequest
    ) -> authz_pb2.IssueTokenResponse:
        return cast(authz_pb2.IssueTokenResponse, await self._call(self._stub.IssueToken, request))

    async def service_account_issuer(self) -> authz_pb2.ServiceAccountIssuerResponse:
        return cast(
            authz_pb2.ServiceAccountIssuerResponse,
            await self._call(
                self._stub.ServiceAccountIssuer, authz_pb2.ServiceAccountIssuerRequest()
            ),
        )

    async def watch_revisions(self) -> AsyncIterator[authz_pb2.Revisions]:
        """The policy and identity revisions authz decides with: at once, then after
        each change. Ends (StatusError 503) when authz goes away."""
        call = self._stub.WatchRevisions(authz_pb2.WatchRevisionsRequest())
        try:
            async for revisions in call:
                yield revisions
        except grpc.RpcError as exc:
            raise rpc.from_rpc_error(exc, "authz") from None
        finally:
            call.cancel()

    async def admit(
        self,
        phase: str,
        request: AdmissionRequest,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
        *,
        audit_annotations: dict[str, str] | None = None,
        validate_ahead: bool = False,
    ) -> Admitted:
        """Run one admission phase ("mutating" or "validating"); the audit annotations
        admission asks for are added to ``audit_annotations``. ``validate_ahead``
        (mutating): ask authz to run the validating phase too, where it may."""
        message = authz_pb2.AdmitRequest(
            phase=authz_pb2.MUTATING if phase == "mutating" else authz_pb2.VALIDATING,
            operation=request.operation,
            user=user_to_pb(request.user),
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
            validate_ahead=validate_ahead,
            equivalents=[
                authz_pb2.EquivalentResource(group=g, version=v, resource=r, kind=k)
                for g, v, r, k in request.equivalents
            ],
        )
        if request.requested is not None:
            g, v, r, k = request.requested
            message.requested.CopyFrom(
                authz_pb2.EquivalentResource(group=g, version=v, resource=r, kind=k)
            )
        reply = await self._admissions.call(message)
        if audit_annotations is not None:
            for key, value in reply.audit_annotations.items():
                audit_annotations.setdefault(key, value)
        ahead = _validated_ahead(reply) if reply.validated else None
        if obj is not None and reply.object == message.object:
            # Unchanged: no second copy of a large object.
            return Admitted(obj, list(reply.warnings), ahead)
        try:
            out = orjson.loads(reply.object) if reply.object else None
        except orjson.JSONDecodeError as exc:
            raise errors.internal(f"authz returned undecodable object: {exc}") from None
        return Admitted(out, list(reply.warnings), ahead)

    async def _admit_batch(
        self, requests: list[authz_pb2.AdmitRequest]
    ) -> list[authz_pb2.AdmitResponse | errors.StatusError]:
        reply = await self._call(self._stub.AdmitBatch, authz_pb2.AdmitBatchRequest(items=requests))
        return rpc.replies(reply.items, "response")

    async def _call(self, method: Any, request: Any) -> Any:
        """A call to authz (nothing it does is stored: a failed one may be retried)."""
        return await rpc.unary(self._channel, "authz", method, request, timeout=DEADLINE)


def _validated_ahead(reply: authz_pb2.AdmitResponse) -> ValidatedAhead:
    error = rpc.status_error(reply.validation_error) if reply.HasField("validation_error") else None
    return ValidatedAhead(
        object=reply.object,
        error=error,
        warnings=list(reply.validation_warnings),
        audit_annotations=dict(reply.validation_audit_annotations),
    )
