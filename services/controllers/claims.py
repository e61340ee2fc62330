"""Claiming children by selector (kube's ``ControllerRefManager``): a controller owns the
objects whose controller reference names it, adopts matching orphans (unless it is being
deleted) and releases owned objects whose labels stopped matching. Adoption and release
are strategic merge patches of ``metadata.ownerReferences`` (merged by uid) that carry
the child's uid, so a recreated child of the same name is never touched."""

from __future__ import annotations

import logging
from typing import Any

from kapi import errors
from kapi.kube.client import STRATEGIC_MERGE_PATCH, ApiClient
from kapi.kube.resources import Resource
from services.controllers import objects, selectors

log = logging.getLogger(__name__)

Obj = dict[str, Any]


async def claim(
    client: ApiClient,
    owner: Obj,
    selector: Obj,
    candidates: list[Obj],
    child: Resource,
    *,
    adopt_filter: Any = None,
) -> list[Obj]:
    """The children ``owner`` controls among ``candidates``, after adopting and releasing."""
    owner_uid = objects.uid(owner)
    owned = []
    for obj in candidates:
        ref = objects.controller_ref(obj)
        matching = selectors.matches(selector, objects.labels(obj))
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if matching:
                owned.append(obj)
            elif not objects.deleting(obj):
                await _release(client, owner, obj, child)
            continue
        if not matching or objects.deleting(obj) or objects.deleting(owner):
            continue
        if adopt_filter is not None and not adopt_filter(obj):
            continue
        adopted = await _adopt(client, owner, obj, child)
        if adopted is not None:
            owned.append(adopted)
    return owned


async def _adopt(client: ApiClient, owner: Obj, obj: Obj, child: Resource) -> Obj | None:
    patch = {
        "metadata": {
            "ownerReferences": [objects.new_controller_ref(owner)],
            "uid": objects.uid(obj),
        }
    }
    try:
        return await client.patch(
            child,
            objects.namespace(obj),
            objects.name(obj),
            patch,
            content_type=STRATEGIC_MERGE_PATCH,
        )
    except errors.StatusError as err:
        if err.code in (404, 409, 422):
            return None
        raise


async def _release(client: ApiClient, owner: Obj, obj: Obj, child: Resource) -> None:
    patch = {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": objects.uid(owner)}],
            "uid": objects.uid(obj),
        }
    }
    try:
        await client.patch(
            child,
            objects.namespace(obj),
            objects.name(obj),
            patch,
            content_type=STRATEGIC_MERGE_PATCH,
        )
    except errors.StatusError as err:
        if err.code not in (404, 409, 422):
            raise
