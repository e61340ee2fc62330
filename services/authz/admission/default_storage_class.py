"""DefaultStorageClass: a PersistentVolumeClaim that names no storage class gets the
default one — kube's ``plugin/pkg/admission/storage/storageclass/setdefault``: the
StorageClass annotated ``storageclass.kubernetes.io/is-default-class: "true"`` (or the
beta annotation), the newest when several are."""

from __future__ import annotations

from typing import Any, Protocol

from services.authz.admission import Attributes

Obj = dict[str, Any]
ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


class StorageClasses(Protocol):
    def items(self) -> list[Obj]: ...


class DefaultStorageClass:
    operations = frozenset({"CREATE"})

    def __init__(self, classes: StorageClasses) -> None:
        self.classes = classes

    def active(self) -> bool:
        return True

    def default(self) -> str | None:
        defaults = [
            c
            for c in self.classes.items()
            if any(
                ((c.get("metadata") or {}).get("annotations") or {}).get(a) == "true"
                for a in ANNOTATIONS
            )
        ]
        if not defaults:
            return None
        newest = max(
            defaults,
            key=lambda c: (
                str((c.get("metadata") or {}).get("creationTimestamp") or ""),
                str((c.get("metadata") or {}).get("name") or ""),
            ),
        )
        return str((newest.get("metadata") or {}).get("name") or "")

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group or attributes.resource != "persistentvolumeclaims":
            return
        if attributes.subresource:
            return
        spec = (attributes.object or {}).get("spec")
        if not isinstance(spec, dict) or "storageClassName" in spec:
            return
        name = self.default()
        if name:
            spec["storageClassName"] = name
