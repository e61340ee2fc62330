"""Informers over the registry client, for the processes inside the control plane that
read through the registry rather than storage (the gateway's aggregator follows
APIServices, Services and EndpointSlices, as kube-aggregator's shared informers do;
kapi's metrics server follows Nodes and Pods).

The reflector is ``kapi.informer.Informer``, the one every service uses; this module is
only where its objects come from: the registry's List (paged, as ``user``) and Watch
(from the list's revision, bookmarks allowed).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import orjson

from kapi import informer
from kapi_proto import common_pb2, registry_pb2
from services.registry.client import RegistryClient
from services.registry.types import ResourceType


@dataclasses.dataclass(frozen=True)
class _Page:
    items: list[bytes]
    resource_version: int
    continue_token: str


def registry_informer(
    registry: RegistryClient, rt: ResourceType, user: common_pb2.UserInfo
) -> informer.Informer:
    """An informer of ``rt``'s objects, read through ``registry`` as ``user``."""
    target = registry_pb2.RequestTarget(
        group=rt.group, version=rt.version, resource=rt.resource, user=user
    )

    async def list_page(limit: int, token: str) -> _Page:
        reply = await registry.list(
            registry_pb2.ReadRequest(
                target=target, rendering=registry_pb2.OBJECT, limit=limit, continue_token=token
            )
        )
        page = orjson.loads(reply.object)
        metadata = page.get("metadata") or {}
        return _Page(
            items=[orjson.dumps(item) for item in page.get("items") or []],
            resource_version=int(metadata.get("resourceVersion") or 0),
            continue_token=str(metadata.get("continue") or ""),
        )

    async def watch(revision: int, timeout_seconds: int) -> AsyncIterator[common_pb2.WatchEvent]:
        events = await registry.open_watch(
            registry_pb2.ReadRequest(
                target=target,
                rendering=registry_pb2.OBJECT,
                resource_version=str(revision),
                allow_bookmarks=True,
                timeout_seconds=timeout_seconds,
            )
        )
        async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
            async for event in stream:
                yield event

    return informer.Informer(rt.resource, list_page, watch)
