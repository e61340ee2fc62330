"""What the registry domain needs from its peers, as Protocols.

The gRPC clients of storage and authz satisfy these; the domain never imports gRPC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapi.user import UserInfo


@dataclass(frozen=True)
class StoredList:
    items: list[bytes]
    resource_version: int
    continue_token: str
    remaining_item_count: int | None


@dataclass(frozen=True)
class Where:
    """Which stored resource, by the group and resource it is served as (errors name it
    so); storage alone knows where its objects live in etcd."""

    group: str
    resource: str
    namespaced: bool


class StoragePort(Protocol):
    async def create(
        self, where: Where, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> bytes: ...

    async def get(
        self, where: Where, namespace: str, name: str, *, resource_version: str = ""
    ) -> bytes: ...

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
    ) -> StoredList: ...

    async def update(
        self,
        where: Where,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> bytes: ...

    async def delete(
        self,
        where: Where,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        dry_run: bool = False,
    ) -> bytes: ...

    async def health(self) -> object:
        """Whether etcd answers through storage: a 503 StatusError when it does not."""
        ...

    def watch(
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
    ) -> AsyncIterator[tuple[str, bytes]]: ...


@dataclass
class AdmissionTarget:
    """One write's admission: what it is, and what admission fills in as it runs."""

    operation: str
    user: UserInfo | None  # who asks: passed through to admission
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    dry_run: bool = False
    # The resource's other served versions, (group, version, resource, kind) each, the
    # request's included; empty when it is served in one (``TypeTable.equivalents``).
    equivalents: tuple[tuple[str, str, str, str], ...] = ()
    # The resource the request was made to, when the object is admitted in another's
    # form (a built-in type served converted; a delete's stored object).
    requested: tuple[str, str, str, str] | None = None
    # Filled by admission: what the request's audit event records (kube's
    # Attributes.AddAnnotation).
    audit_annotations: dict[str, str] = field(default_factory=dict, compare=False)
    # Filled by the admission adapter with its mutating phase: the validating phase's
    # verdict on the mutated object, when it could be reached in the same call; the
    # validating phase uses it if the object has not changed since.
    validated_ahead: Any = field(default=None, compare=False)


class AdmissionPort(Protocol):
    async def admit(
        self,
        phase: str,
        target: AdmissionTarget,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """Run the ``phase`` ("mutating"/"validating") plugins: (object, warnings)."""
        ...


@dataclass(frozen=True)
class TokenReviewResult:
    """Who a token is (``user`` None: not authenticated), the audiences it is good for
    among those asked, and why it is not good (``error``)."""

    user: UserInfo | None
    audiences: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class AccessQuestion:
    """One SubjectAccessReview's question: may ``user`` do this?"""

    user: UserInfo
    verb: str
    resource_request: bool
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class AccessAnswer:
    allowed: bool
    denied: bool = False
    reason: str = ""
    evaluation_error: str = ""


@dataclass(frozen=True)
class HeldRules:
    """What a user may do in a namespace: rules as their JSON (resource rules:
    verbs, apiGroups, resources, resourceNames; non-resource: verbs, nonResourceURLs)."""

    resource_rules: list[dict[str, Any]]
    non_resource_rules: list[dict[str, Any]]
    incomplete: bool = False
    evaluation_error: str = ""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expiration: int  # Unix seconds
    audiences: tuple[str, ...]


class AccessPort(Protocol):
    """What the reviews and TokenRequest ask of authz. Failures raise ``StatusError``."""

    async def review_token(self, token: str, audiences: tuple[str, ...]) -> TokenReviewResult: ...

    async def review_access(self, question: AccessQuestion) -> AccessAnswer: ...

    async def rules_for(self, user: UserInfo, namespace: str) -> HeldRules: ...

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
        """``bound``: "pod", "secret", "node" -> (name, uid) of what the token is bound to."""
        ...
