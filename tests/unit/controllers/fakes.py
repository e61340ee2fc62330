"""A client and an event recorder that record what a controller asks, for controllers'
unit tests (kube's fake clientset and FakeRecorder): no network, no clock of their own."""

from __future__ import annotations

import itertools
from typing import Any, cast

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.events import Recorder
from kapi.kube.informer import InformerFactory
from kapi.kube.resources import Resource
from services.controllers.framework import Context

Obj = dict[str, Any]


class FakeClient:
    """Objects by (resource, namespace, name); every call appended to ``actions``."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.actions: list[tuple[str, str, str]] = []
        self.deletes: list[tuple[str, str, str, str]] = []
        self.patches: list[tuple[str, str, Obj]] = []
        self._uids = itertools.count(1)

    def created(self, resource: str = "pods") -> list[str]:
        return [name for verb, res, name in self.actions if verb == "create" and res == resource]

    def deleted(self, resource: str = "pods") -> list[str]:
        return [name for verb, res, name in self.actions if verb == "delete" and res == resource]

    def put(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects[(res.resource, meta.get("namespace", ""), meta["name"])] = obj
        return obj

    async def get(self, res: Resource, namespace: str, name: str, subresource: str = "") -> Obj:
        self.actions.append(("get", res.resource, name))
        found = self.objects.get((res.resource, namespace, name))
        if found is None:
            raise errors.not_found(res.resource, res.group, name)
        return found

    async def create(self, res: Resource, namespace: str, obj: Obj, **_: Any) -> Obj:
        name = (
            obj["metadata"].get("name")
            or f"{obj['metadata']['generateName']}{next(self._uids):05d}"
        )
        obj = {**obj, "metadata": {**obj["metadata"], "name": name, "namespace": namespace}}
        self.actions.append(("create", res.resource, name))
        if (res.resource, namespace, name) in self.objects:
            raise errors.already_exists(res.resource, res.group, name)
        meta = {**obj["metadata"], "uid": f"uid-{next(self._uids)}", "resourceVersion": "1"}
        return self.put(res, {**obj, "metadata": meta})

    async def update(self, res: Resource, obj: Obj, *, subresource: str = "") -> Obj:
        self.actions.append(
            (
                "update" + (f"/{subresource}" if subresource else ""),
                res.resource,
                obj["metadata"]["name"],
            )
        )
        return self.put(res, obj)

    async def patch(self, res: Resource, namespace: str, name: str, patch: Obj, **_: Any) -> Obj:
        """Records the patch (``patches``); its metadata lands on the object as sent (a
        claim's adoption: the new ownerReferences), nothing deeper."""
        self.actions.append(("patch", res.resource, name))
        self.patches.append((res.resource, name, patch))
        found = self.objects.get((res.resource, namespace, name))
        if found is None:
            raise errors.not_found(res.resource, res.group, name)
        meta = {**found["metadata"], **patch.get("metadata", {})}
        return self.put(res, {**found, "metadata": meta})

    def patched(self) -> list[tuple[str, str, Obj]]:
        return list(self.patches)

    async def delete(self, res: Resource, namespace: str, name: str, **options: Any) -> Obj:
        self.actions.append(("delete", res.resource, name))
        self.deletes.append((res.resource, namespace, name, str(options.get("propagation", ""))))
        if self.objects.pop((res.resource, namespace, name), None) is None:
            raise errors.not_found(res.resource, res.group, name)
        return {}


class FakeRecorder(Recorder):
    """Events as ``"Type Reason Message"`` strings (kube's FakeRecorder)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(f"{type_} {reason} {message}")


def context(client: FakeClient, component: str) -> tuple[Context, FakeRecorder]:
    api = cast(ApiClient, client)
    recorder = FakeRecorder()
    ctx = Context(client=api, informers=InformerFactory(api), recorders={component: recorder})
    return ctx, recorder
