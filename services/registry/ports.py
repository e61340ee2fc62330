"""What the registry domain needs from its peers, as Protocols.

The gRPC clients of storage and authz satisfy these; the domain never imports gRPC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


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


@dataclass(frozen=True)
class AdmissionTarget:
    operation: str
    user: Any  # opaque to the domain: passed through to admission
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    dry_run: bool = False


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
