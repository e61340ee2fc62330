"""Adapters from the peer services' clients to the registry domain's ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from kapi import errors
from kapi.user import UserInfo
from kapi_proto import authz_pb2
from services.authz.client import (
    AdmissionRequest,
    AuthzClient,
    ValidatedAhead,
    user_from_pb,
    user_to_pb,
)
from services.registry.ports import (
    AccessAnswer,
    AccessQuestion,
    AdmissionTarget,
    HeldRules,
    IssuedToken,
    StoredList,
    TokenReviewResult,
    Where,
)
from services.storage.client import StorageClient
from services.storage.model import ResourceRef


def _ref(where: Where) -> ResourceRef:
    return ResourceRef(
        group=where.group,
        resource=where.resource,
        namespaced=where.namespaced,
    )


class AuthzAdmission:
    """Admission in authz. The mutating call also asks for the validating phase's verdict
    on the mutated object (``validate_ahead``): when authz can give it (every validating
    plugin that would act is free of side effects) and the registry's steps in between
    leave that object as it was, the validating phase costs no second call. Its verdict
    takes effect only then, after the registry's validation passed, in kube's order."""

    def __init__(self, authz: AuthzClient) -> None:
        self.authz = authz

    async def admit(
        self,
        phase: str,
        target: AdmissionTarget,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, list[str]]:
        if phase == "validating":
            ahead = target.validated_ahead
            target.validated_ahead = None
            if isinstance(ahead, ValidatedAhead) and ahead.object == (
                orjson.dumps(obj) if obj is not None else b""
            ):
                for key, value in ahead.audit_annotations.items():
                    target.audit_annotations.setdefault(key, value)
                if ahead.error is not None:
                    raise _recorded(ahead.error, target)
                return obj, list(ahead.warnings)
        request = AdmissionRequest(
            operation=target.operation,
            user=target.user,
            group=target.group,
            version=target.version,
            kind=target.kind,
            resource=target.resource,
            subresource=target.subresource,
            namespace=target.namespace,
            name=target.name,
            dry_run=target.dry_run,
            equivalents=target.equivalents,
            requested=target.requested,
        )
        try:
            admitted = await self.authz.admit(
                phase,
                request,
                obj,
                old,
                audit_annotations=target.audit_annotations,
                validate_ahead=phase == "mutating",
            )
        except errors.StatusError as err:
            raise _recorded(err, target) from None
        if phase == "mutating":
            target.validated_ahead = admitted.validated_ahead
        return admitted.object, admitted.warnings


def _recorded(err: errors.StatusError, target: AdmissionTarget) -> errors.StatusError:
    """A refusal carrying every audit annotation the request's admission recorded, for
    its audit event (kube records a refused request's annotations too)."""
    for key, value in err.audit_annotations.items():
        target.audit_annotations.setdefault(key, value)
    err.audit_annotations = dict(target.audit_annotations)
    return err


class StorageAdapter:
    """The registry's view of storage: objects as JSON bytes."""

    def __init__(self, storage: StorageClient) -> None:
        self.storage = storage

    async def create(
        self, where: Where, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> bytes:
        stored = await self.storage.create(_ref(where), namespace, name, obj, dry_run=dry_run)
        return stored.object

    async def health(self) -> object:
        return await self.storage.health()

    async def get(
        self, where: Where, namespace: str, name: str, *, resource_version: str = ""
    ) -> bytes:
        stored = await self.storage.get(
            _ref(where), namespace, name, resource_version=resource_version
        )
        return stored.object

    async def list(
        self,
        where: Where,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> StoredList:
        listed = await self.storage.list(
            _ref(where),
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
            resource_version_match=resource_version_match,
        )
        return StoredList(
            items=listed.items,
            resource_version=listed.resource_version,
            continue_token=listed.continue_token,
            remaining_item_count=listed.remaining_item_count,
        )

    async def update(
        self,
        where: Where,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> bytes:
        stored = await self.storage.update(
            _ref(where), namespace, name, obj, expected_revision=expected_revision, dry_run=dry_run
        )
        return stored.object

    async def delete(
        self,
        where: Where,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        dry_run: bool = False,
    ) -> bytes:
        stored = await self.storage.delete(
            _ref(where), namespace, name, expected_revision=expected_revision, dry_run=dry_run
        )
        return stored.object

    async def watch(
        self,
        where: Where,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: int = 0,
        send_initial_events: bool = False,
    ) -> AsyncIterator[tuple[str, bytes]]:
        async for event in self.storage.watch(
            _ref(where),
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
            allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds,
            send_initial_events=send_initial_events,
        ):
            yield event.type, event.object


class AuthzAccess:
    """The reviews' and TokenRequest's view of authz."""

    def __init__(self, authz: AuthzClient) -> None:
        self.authz = authz

    async def review_token(self, token: str, audiences: tuple[str, ...]) -> TokenReviewResult:
        reply = await self.authz.authenticate(
            bearer_token=token, audiences=audiences, anonymous=False
        )
        return TokenReviewResult(
            user=user_from_pb(reply.user) if reply.authenticated else None,
            audiences=tuple(reply.audiences),
            error=reply.error,
        )

    async def review_access(self, question: AccessQuestion) -> AccessAnswer:
        verdict = await self.authz.authorize(
            authz_pb2.AuthorizeRequest(
                user=user_to_pb(question.user),
                verb=question.verb,
                api_group=question.group,
                api_version=question.version,
                resource=question.resource,
                subresource=question.subresource,
                namespace=question.namespace,
                name=question.name,
                resource_request=question.resource_request,
                path=question.path,
            )
        )
        return AccessAnswer(
            allowed=verdict.allowed,
            denied=verdict.decision == "DENY",
            reason=verdict.reason,
            evaluation_error=verdict.evaluation_error,
        )

    async def rules_for(self, user: UserInfo, namespace: str) -> HeldRules:
        reply = await self.authz.rules_for(user, namespace)
        return HeldRules(
            resource_rules=[_rule_json(r, resource=True) for r in reply.resource_rules],
            non_resource_rules=[_rule_json(r, resource=False) for r in reply.non_resource_rules],
            incomplete=reply.incomplete,
            evaluation_error=reply.evaluation_error,
        )

    async def issue_token(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        audiences: tuple[str, ...],
        expiration_seconds: int,
        bound: dict[str, tuple[str, str]],
    ) -> IssuedToken:
        refs = {
            kind: authz_pb2.ObjectRef(name=ref_name, uid=ref_uid)
            for kind, (ref_name, ref_uid) in bound.items()
        }
        reply = await self.authz.issue_token(
            authz_pb2.IssueTokenRequest(
                namespace=namespace,
                name=name,
                uid=uid,
                audiences=list(audiences),
                expiration_seconds=expiration_seconds,
                **refs,
            )
        )
        return IssuedToken(reply.token, reply.expiration, tuple(reply.audiences))


def _rule_json(rule: authz_pb2.PolicyRule, *, resource: bool) -> dict[str, Any]:
    """A ResourceRule (verbs, apiGroups, resources, resourceNames) or NonResourceRule
    (verbs, nonResourceURLs), empty lists left out as kube's omitempty leaves them."""
    out: dict[str, Any] = {"verbs": list(rule.verbs)}
    if resource:
        if rule.api_groups:
            out["apiGroups"] = list(rule.api_groups)
        if rule.resources:
            out["resources"] = list(rule.resources)
        if rule.resource_names:
            out["resourceNames"] = list(rule.resource_names)
    elif rule.non_resource_urls:
        out["nonResourceURLs"] = list(rule.non_resource_urls)
    return out
