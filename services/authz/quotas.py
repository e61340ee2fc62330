"""ResourceQuotas as the ResourceQuota admission plugin sees them: an informer of every
namespace's quotas, live reads on a conflict, and ``status.used`` written to storage
compare-and-swap (the plugin's reservation; the resourcequota controller recounts)."""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors, informer
from services.authz import sources

Obj = dict[str, Any]


class NamespacedObjects:
    """An informer's objects by namespace (the namespace's LimitRanges)."""

    def __init__(self, source: informer.Informer) -> None:
        self.informer = source

    def any(self) -> bool:
        return len(self.informer) > 0

    def in_namespace(self, namespace: str) -> list[Obj]:
        return [
            o
            for o in self.informer.items()
            if (o.get("metadata") or {}).get("namespace") == namespace
        ]


class StoredQuotas:
    def __init__(self, storage: sources.Storage, quotas: informer.Informer) -> None:
        self.storage = storage
        self.informer = quotas

    def any(self) -> bool:
        return len(self.informer) > 0

    def in_namespace(self, namespace: str) -> list[Obj]:
        return [
            q
            for q in self.informer.items()
            if (q.get("metadata") or {}).get("namespace") == namespace
        ]

    async def read(self, namespace: str, name: str) -> Obj | None:
        try:
            stored = await self.storage.get(sources.RESOURCE_QUOTAS, namespace, name)
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise
        found = orjson.loads(stored.object)
        return found if isinstance(found, dict) else None

    async def write_status(self, quota_obj: Obj, used: dict[str, str]) -> Obj:
        meta = quota_obj.get("metadata") or {}
        revision = int(meta.get("resourceVersion") or 0)
        status = {**(quota_obj.get("status") or {}), "used": used}
        updated = {
            **quota_obj,
            "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"},
            "status": status,
        }
        stored = await self.storage.update(
            sources.RESOURCE_QUOTAS,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            orjson.dumps(updated),
            expected_revision=revision,
        )
        out = orjson.loads(stored.object)
        return out if isinstance(out, dict) else updated
