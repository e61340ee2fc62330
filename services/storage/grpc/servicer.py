"""The Storage gRPC servicer: convert, call the ``Store``, translate storage errors.

The one place storage errors become Kubernetes Status errors (conventions §11), worded
with the request's resource and name: ``configmaps "c" already exists``,
``deployments.apps "x" not found``, a 409 Conflict, 410 Expired, and 503/504 when etcd
cannot be reached: 503 (retry) only when the request certainly made no change, 504
(no retry) for a write whose outcome is unknown. etcd's own words (its addresses) go
to the log, not to the client.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from kapi import audit_id, errors, rpc
from kapi.rpc import stream_errors, unary_errors
from kapi_proto import common_pb2, storage_pb2, storage_pb2_grpc
from services.storage import storage_errors
from services.storage.grpc import convert
from services.storage.model import ResourceRef
from services.storage.store import Store
from services.storage.watch import too_large_resource_version

# kube-apiserver's words for a list at a compacted revision (etcd3/errors.go).
LIST_EXPIRED = "The resourceVersion for the provided list is too old."
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list."
)

__all__ = [
    "CONTINUE_EXPIRED",
    "INCONSISTENT_CONTINUE",
    "LIST_EXPIRED",
    "StorageServicer",
    "too_large_resource_version",
    "translated",
]


log = logging.getLogger(__name__)

# What errors name when a call names no resource.
NO_RESOURCE = ResourceRef("", "", False)


@contextmanager
def translated(
    ref: ResourceRef, name: str = "", *, expired_message: str | None = None, write: bool = False
) -> Iterator[None]:
    """Raise the Status error that a storage error means for this request (``write``:
    one that changes etcd, whose outcome a lost connection leaves unknown)."""
    try:
        yield
    except storage_errors.KeyExists:
        raise errors.already_exists(ref.resource, ref.group, name) from None
    except storage_errors.KeyNotFound:
        raise errors.not_found(ref.resource, ref.group, name) from None
    except storage_errors.Conflict:
        raise errors.conflict(ref.resource, ref.group, name) from None
    except storage_errors.PreconditionFailed as exc:
        raise errors.conflict(ref.resource, ref.group, name, exc.message) from None
    except storage_errors.ContinueExpired as exc:
        # etcd3/errors.go handleCompactedErrorForPaging: the Status carries a token that
        # continues at the latest revision.
        err = errors.expired(INCONSISTENT_CONTINUE)
        err.metadata = {"continue": exc.continue_token}
        raise err from None
    except storage_errors.Compacted as exc:
        oldest = max(exc.compacted_revision - 1, 0)
        raise errors.expired(
            expired_message or f"too old resource version: {exc.revision} ({oldest})"
        ) from None
    except storage_errors.FutureRevision as exc:
        raise too_large_resource_version(exc.revision, exc.current) from None
    except storage_errors.TooLarge as exc:
        raise errors.request_entity_too_large(f"limit is {exc.limit}") from None
    except storage_errors.Unavailable as exc:
        raise _unreachable(exc, write=write) from None
    except storage_errors.StorageError as exc:
        log.error("etcd failed: %s (audit ID %s)", exc, audit_id.current() or "-")
        raise errors.unexpected(audit_id.current()) from None


def _unreachable(exc: storage_errors.Unavailable, *, write: bool) -> errors.StatusError:
    log.warning("storage unavailable: %s (audit ID %s)", exc, audit_id.current() or "-")
    if write and exc.sent:
        return errors.timeout(rpc.UNKNOWN_OUTCOME)
    if isinstance(exc, storage_errors.Timeout):
        return errors.timeout(rpc.DEADLINE, 1)  # a read: safe to retry
    return errors.service_unavailable(rpc.UNAVAILABLE, retry_after=1)


class StorageServicer(storage_pb2_grpc.StorageServicer):
    def __init__(self, store: Store) -> None:
        self._store = store

    async def _create(self, request: storage_pb2.CreateRequest) -> storage_pb2.StoredObject:
        ref = convert.ref_from_pb(request.ref)
        with translated(ref, request.name, write=not request.dry_run):
            stored = await self._store.create(
                ref, request.namespace, request.name, request.object, dry_run=request.dry_run
            )
        return convert.stored_to_pb(stored)

    @unary_errors
    async def Create(
        self, request: storage_pb2.CreateRequest, context: rpc.Context
    ) -> storage_pb2.StoredObject:
        return await self._create(request)

    @unary_errors
    async def CreateBatch(
        self, request: storage_pb2.CreateBatchRequest, context: rpc.Context
    ) -> storage_pb2.StoredBatch:
        return storage_pb2.StoredBatch(
            items=await rpc.each(self._create, request.items, storage_pb2.StoredOutcome, "object")
        )

    async def _get(self, request: storage_pb2.GetRequest) -> storage_pb2.StoredObject:
        ref = convert.ref_from_pb(request.ref)
        with translated(ref, request.name):
            stored = await self._store.get(
                ref, request.namespace, request.name, resource_version=request.resource_version
            )
        return convert.stored_to_pb(stored)

    @unary_errors
    async def Get(
        self, request: storage_pb2.GetRequest, context: rpc.Context
    ) -> storage_pb2.StoredObject:
        return await self._get(request)

    @unary_errors
    async def GetBatch(
        self, request: storage_pb2.GetBatchRequest, context: rpc.Context
    ) -> storage_pb2.StoredBatch:
        return storage_pb2.StoredBatch(
            items=await rpc.each(self._get, request.items, storage_pb2.StoredOutcome, "object")
        )

    @unary_errors
    async def List(
        self, request: storage_pb2.ListRequest, context: rpc.Context
    ) -> storage_pb2.ListResponse:
        ref = convert.ref_from_pb(request.ref)
        expired = CONTINUE_EXPIRED if request.continue_token else LIST_EXPIRED
        with translated(ref, expired_message=expired):
            page = await self._store.list(
                ref,
                request.namespace,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
                limit=request.limit,
                continue_token=request.continue_token,
                resource_version=request.resource_version,
                resource_version_match=request.resource_version_match,
            )
        return convert.list_to_pb(page)

    @unary_errors
    async def Update(
        self, request: storage_pb2.UpdateRequest, context: rpc.Context
    ) -> storage_pb2.StoredObject:
        ref = convert.ref_from_pb(request.ref)
        with translated(ref, request.name, write=not request.dry_run):
            stored = await self._store.update(
                ref,
                request.namespace,
                request.name,
                request.object,
                expected_revision=request.expected_revision,
                dry_run=request.dry_run,
            )
        return convert.stored_to_pb(stored)

    @unary_errors
    async def Delete(
        self, request: storage_pb2.DeleteRequest, context: rpc.Context
    ) -> storage_pb2.StoredObject:
        ref = convert.ref_from_pb(request.ref)
        with translated(ref, request.name, write=not request.dry_run):
            stored = await self._store.delete(
                ref,
                request.namespace,
                request.name,
                expected_revision=request.expected_revision,
                dry_run=request.dry_run,
            )
        return convert.stored_to_pb(stored)

    @stream_errors
    async def Watch(
        self, request: storage_pb2.WatchRequest, context: rpc.Context
    ) -> AsyncIterator[common_pb2.WatchEvent]:
        ref = convert.ref_from_pb(request.ref)
        with translated(ref):
            watch = self._store.watch(
                ref,
                request.namespace,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
                resource_version=request.resource_version,
                allow_bookmarks=request.allow_bookmarks,
                timeout_seconds=request.timeout_seconds,
                send_initial_events=request.send_initial_events,
            )
            async with contextlib.aclosing(watch) as events:
                async for event in events:
                    yield convert.event_to_pb(event)

    @unary_errors
    async def CurrentRevision(
        self, request: storage_pb2.CurrentRevisionRequest, context: rpc.Context
    ) -> common_pb2.Freshness:
        return await self._freshness(request)

    @stream_errors
    async def CurrentRevisions(
        self, asks: AsyncIterator[storage_pb2.RevisionAsk], context: rpc.Context
    ) -> AsyncIterator[storage_pb2.RevisionAnswer]:
        answers = rpc.answers(asks, self._freshness, storage_pb2.RevisionAnswer, "freshness")
        async with contextlib.aclosing(answers):
            async for answer in answers:
                yield answer

    async def _freshness(
        self, request: storage_pb2.CurrentRevisionRequest | storage_pb2.RevisionAsk
    ) -> common_pb2.Freshness:
        refs = [convert.ref_from_pb(ref) for ref in request.refs]
        with translated(refs[0] if refs else NO_RESOURCE):
            revision, summaries = await self._store.current_revision(refs)
        return convert.freshness_to_pb(revision, summaries)

    @unary_errors
    async def Health(
        self, request: common_pb2.Empty, context: rpc.Context
    ) -> storage_pb2.HealthResponse:
        return convert.health_to_pb(await self._store.health())
