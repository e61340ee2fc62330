"""Adapters from the peer services' clients to the registry domain's ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.authz.client import AdmissionRequest, AuthzClient
from services.registry.ports import AdmissionTarget, StoredList, Where
from services.storage.client import StorageClient
from services.storage.model import ResourceRef


def _ref(where: Where) -> ResourceRef:
    return ResourceRef(
        group=where.group,
        resource=where.resource,
        namespaced=where.namespaced,
    )


class AuthzAdmission:
    def __init__(self, authz: AuthzClient) -> None:
        self.authz = authz

    async def admit(
        self,
        phase: str,
        target: AdmissionTarget,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, list[str]]:
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
        )
        if phase == "validating" and self.authz.validating_plugins is False:
            # authz runs no validating plugin: the call would change and reject nothing.
            return obj, []
        return await self.authz.admit(phase, request, obj, old)


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
