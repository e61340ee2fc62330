"""ControllerRevisions (``pkg/controller/history``): the templates a StatefulSet or
DaemonSet has had, each named ``OWNER-HASH`` with a growing ``revision``, owned by its
workload; ``kubectl rollout history`` lists them. The hash also labels the pods
(``controller-revision-hash``), telling updated pods from old ones."""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.informer import Informer
from kapi.kube.resources import CONTROLLERREVISIONS
from services.controllers import objects
from services.controllers.deployment_util import compute_hash

Obj = dict[str, Any]
HASH_LABEL = "controller-revision-hash"


def revision_name(owner: Obj) -> str:
    template = objects.spec(owner).get("template") or {}
    collisions = objects.status(owner).get("collisionCount")
    return f"{objects.name(owner)}-{compute_hash(template, collisions)}"


async def ensure(client: ApiClient, informer: Informer, owner: Obj) -> str:
    """The revision of ``owner``'s current template, created if new; its name."""
    name = revision_name(owner)
    mine = [
        r
        for r in informer.store.list(objects.namespace(owner))
        if (objects.controller_ref(r) or {}).get("uid") == objects.uid(owner)
    ]
    if any(objects.name(r) == name for r in mine):
        return name
    revision = max((int(r.get("revision") or 0) for r in mine), default=0) + 1
    template = objects.spec(owner).get("template") or {}
    body = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "namespace": objects.namespace(owner),
            "labels": {
                **(objects.spec(owner).get("selector") or {}).get("matchLabels", {}),
                HASH_LABEL: name.rsplit("-", 1)[-1],
            },
            "ownerReferences": [objects.new_controller_ref(owner)],
        },
        "data": {"spec": {"template": {**template, "$patch": "replace"}}},
        "revision": revision,
    }
    try:
        await client.create(CONTROLLERREVISIONS, objects.namespace(owner), body)
    except errors.StatusError as err:
        if err.code not in (403, 409):
            raise
    return name
