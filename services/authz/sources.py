"""Informers over the storage service: what authz keeps in memory, and where from.

authz reads nothing per request: namespaces (NamespaceLifecycle), the four RBAC types
(the authorizer's index), ServiceAccounts (their tokens' validation), the admission
configuration (ValidatingAdmissionPolicies and their bindings, webhook configurations)
and policies' params are each one ``kapi.informer.Informer`` fed by one storage watch.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from kapi import informer
from services.storage.model import ObjectList, ResourceRef, StoredObject, WatchEvent


def _ref(group: str, resource: str, *, namespaced: bool) -> ResourceRef:
    """(Where storage keeps each is storage's business.)"""
    return ResourceRef(group=group, resource=resource, namespaced=namespaced)


RBAC_GROUP = "rbac.authorization.k8s.io"
NAMESPACES = _ref("", "namespaces", namespaced=False)
SERVICE_ACCOUNTS = _ref("", "serviceaccounts", namespaced=True)
SECRETS = _ref("", "secrets", namespaced=True)
PODS = _ref("", "pods", namespaced=True)
NODES = _ref("", "nodes", namespaced=False)
ROLES = _ref(RBAC_GROUP, "roles", namespaced=True)
ROLE_BINDINGS = _ref(RBAC_GROUP, "rolebindings", namespaced=True)
CLUSTER_ROLES = _ref(RBAC_GROUP, "clusterroles", namespaced=False)
CLUSTER_ROLE_BINDINGS = _ref(RBAC_GROUP, "clusterrolebindings", namespaced=False)
ADMISSION_GROUP = "admissionregistration.k8s.io"
VALIDATING_ADMISSION_POLICIES = _ref(
    ADMISSION_GROUP, "validatingadmissionpolicies", namespaced=False
)
VALIDATING_ADMISSION_POLICY_BINDINGS = _ref(
    ADMISSION_GROUP, "validatingadmissionpolicybindings", namespaced=False
)
VALIDATING_WEBHOOK_CONFIGURATIONS = _ref(
    ADMISSION_GROUP, "validatingwebhookconfigurations", namespaced=False
)
MUTATING_WEBHOOK_CONFIGURATIONS = _ref(
    ADMISSION_GROUP, "mutatingwebhookconfigurations", namespaced=False
)
SERVICES = _ref("", "services", namespaced=True)
PRIORITY_CLASSES = _ref("scheduling.k8s.io", "priorityclasses", namespaced=False)
STORAGE_CLASSES = _ref("storage.k8s.io", "storageclasses", namespaced=False)
RESOURCE_QUOTAS = _ref("", "resourcequotas", namespaced=True)
LIMIT_RANGES = _ref("", "limitranges", namespaced=True)
ENDPOINT_SLICES = _ref("discovery.k8s.io", "endpointslices", namespaced=True)
CUSTOM_RESOURCE_DEFINITIONS = _ref(
    "apiextensions.k8s.io", "customresourcedefinitions", namespaced=False
)


class Storage(Protocol):
    """What authz uses of ``StorageClient`` (a fake stands in for it in tests).

    Failures are ``StatusError``s, as the client raises them.
    """

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject: ...

    async def list(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        limit: int = 0,
        continue_token: str = "",
    ) -> ObjectList: ...

    async def update(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> StoredObject: ...

    def watch(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: int = 0,
    ) -> AsyncGenerator[WatchEvent, None]: ...


def informer_of(
    storage: Storage,
    ref: ResourceRef,
    *,
    backoff_initial: float = informer.BACKOFF_INITIAL,
    backoff_max: float = informer.BACKOFF_MAX,
    page_size: int = informer.LIST_PAGE_SIZE,
) -> informer.Informer:
    """An informer of every object of ``ref`` (all namespaces)."""

    async def list_page(limit: int, continue_token: str) -> ObjectList:
        return await storage.list(ref, limit=limit, continue_token=continue_token)

    def watch(revision: int, timeout_seconds: int) -> AsyncIterator[WatchEvent]:
        return storage.watch(
            ref,
            resource_version=str(revision),
            allow_bookmarks=True,
            timeout_seconds=timeout_seconds,
        )

    return informer.Informer(
        ref.resource,
        list_page,
        watch,
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
        page_size=page_size,
    )
