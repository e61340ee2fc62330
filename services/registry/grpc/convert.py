"""Protobuf <-> domain values for the registry service."""

from __future__ import annotations

import hashlib
import weakref
from typing import Any

import orjson

from kapi_proto import registry_pb2
from services.authz.client import user_from_pb
from services.registry.service import ReadOptions, Target
from services.registry.types import TypeTable

RENDERING = {
    registry_pb2.OBJECT: "object",
    registry_pb2.TABLE: "table",
    registry_pb2.TABLE_V1BETA1: "table-v1beta1",
    registry_pb2.METADATA: "metadata",
}
INCLUDE_OBJECT = {
    registry_pb2.INCLUDE_METADATA: "Metadata",
    registry_pb2.INCLUDE_NONE: "None",
    registry_pb2.INCLUDE_OBJECT: "Object",
}


def target_from_pb(t: registry_pb2.RequestTarget) -> Target:
    return Target(
        group=t.group,
        version=t.version,
        resource=t.resource,
        subresource=t.subresource,
        namespace=t.namespace,
        name=t.name,
        user=user_from_pb(t.user),
        user_agent=t.user_agent,
        catalog_revision=t.catalog_revision,
    )


def read_options_from_pb(r: registry_pb2.ReadRequest) -> ReadOptions:
    return ReadOptions(
        rendering=RENDERING.get(r.rendering, "object"),
        include_object=INCLUDE_OBJECT.get(r.include_object, "Metadata"),
        label_selector=r.label_selector,
        field_selector=r.field_selector,
        limit=r.limit,
        continue_token=r.continue_token,
        resource_version=r.resource_version,
        resource_version_match=r.resource_version_match,
        allow_bookmarks=r.allow_bookmarks,
        timeout_seconds=r.timeout_seconds,
        send_initial_events=r.send_initial_events,
    )


def types_reply(table: TypeTable[Any], *, bootstrapped: bool) -> registry_pb2.TypesResponse:
    """A table as the gateway gets it: its descriptors (JSON, sorted keys), their hash and
    the table's revision. The encoding is made once per table."""
    types, digest = _encoded(table)
    return registry_pb2.TypesResponse(
        types=types, hash=digest, bootstrapped=bootstrapped, revision=table.revision
    )


_ENCODED: weakref.WeakKeyDictionary[TypeTable[Any], tuple[bytes, str]] = weakref.WeakKeyDictionary()


def _encoded(table: TypeTable[Any]) -> tuple[bytes, str]:
    found = _ENCODED.get(table)
    if found is None:
        data = orjson.dumps([t.to_json() for t in table.types], option=orjson.OPT_SORT_KEYS)
        found = (data, hashlib.sha256(data).hexdigest())
        _ENCODED[table] = found
    return found
