"""A namespace's pods, listed from storage when asked: PodSecurity reads them only when a
namespace's enforce level is made stricter (``admission/pod_security/existing_pods``),
so authz keeps no pod informer (kube-apiserver's plugin reads its shared pod informer)."""

from __future__ import annotations

from typing import Any

import orjson

from services.authz.sources import PODS, Storage

Obj = dict[str, Any]


class StoredPods:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def page(
        self, namespace: str, *, limit: int, continue_token: str
    ) -> tuple[list[Obj], str, int | None]:
        listed = await self._storage.list(
            PODS, namespace, limit=limit, continue_token=continue_token
        )
        pods = [orjson.loads(item) for item in listed.items]
        return (
            [p for p in pods if isinstance(p, dict)],
            listed.continue_token,
            listed.remaining_item_count,
        )
