"""An example admission plugin for kapi: ConfigMaps labelled
``example.kapi.dev/managed: "true"`` are stamped with who wrote them, and refused when
their data holds a key that looks like a password (that belongs in a Secret)."""

from __future__ import annotations

from kapi.admission import Denied, Request

MANAGED = "example.kapi.dev/managed"
OWNER = "example.kapi.dev/last-written-by"


def _managed(request: Request) -> bool:
    if request.group or request.resource != "configmaps" or request.object is None:
        return False
    labels = (request.object.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED) == "true"


class ConfigMapPolicy:
    operations = frozenset({"CREATE", "UPDATE"})

    async def mutate(self, request: Request) -> None:
        if not _managed(request):
            return
        assert request.object is not None
        meta = request.object.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), OWNER: request.user.username}

    async def validate(self, request: Request) -> None:
        if not _managed(request):
            return
        assert request.object is not None
        for key in sorted(request.object.get("data") or {}):
            if "password" in key.lower():
                raise Denied(f"key {key!r} looks like a password: keep it in a Secret")
        if not request.object.get("data"):
            request.warn("a managed ConfigMap without data")
