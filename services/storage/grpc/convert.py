"""``storage.proto`` messages ↔ the storage domain's plain values.

Shared by the servicer and ``services.storage.client``, so both sides of the wire
convert the same way.
"""

from __future__ import annotations

from kapi_proto import common_pb2, storage_pb2
from services.storage.model import Health, ObjectList, ResourceRef, StoredObject, WatchEvent


def ref_from_pb(ref: common_pb2.ResourceRef) -> ResourceRef:
    return ResourceRef(ref.group, ref.resource, ref.namespaced)


def ref_to_pb(ref: ResourceRef) -> common_pb2.ResourceRef:
    return common_pb2.ResourceRef(group=ref.group, resource=ref.resource, namespaced=ref.namespaced)


def stored_to_pb(stored: StoredObject) -> storage_pb2.StoredObject:
    return storage_pb2.StoredObject(object=stored.object, resource_version=stored.resource_version)


def stored_from_pb(msg: storage_pb2.StoredObject) -> StoredObject:
    return StoredObject(msg.object, msg.resource_version)


def list_to_pb(page: ObjectList) -> storage_pb2.ListResponse:
    msg = storage_pb2.ListResponse(
        items=page.items, resource_version=page.resource_version, continue_token=page.continue_token
    )
    if page.remaining_item_count is not None:
        msg.remaining_item_count = page.remaining_item_count
    return msg


def list_from_pb(msg: storage_pb2.ListResponse) -> ObjectList:
    remaining = msg.remaining_item_count if msg.HasField("remaining_item_count") else None
    return ObjectList(list(msg.items), msg.resource_version, msg.continue_token, remaining)


def event_to_pb(event: WatchEvent) -> common_pb2.WatchEvent:
    return common_pb2.WatchEvent(
        type=event.type, object=event.object, resource_version=event.resource_version
    )


def event_from_pb(msg: common_pb2.WatchEvent) -> WatchEvent:
    return WatchEvent(msg.type, msg.object, msg.resource_version)


def health_to_pb(health: Health) -> storage_pb2.HealthResponse:
    return storage_pb2.HealthResponse(ok=health.ok, message=health.message)


def health_from_pb(msg: storage_pb2.HealthResponse) -> Health:
    return Health(msg.ok, msg.message)


def freshness_to_pb(revision: int, summaries: list[tuple[int, int]]) -> common_pb2.Freshness:
    return common_pb2.Freshness(
        revision=revision,
        caches=[common_pb2.CacheSummary(count=n, max_modified=m) for n, m in summaries],
    )
