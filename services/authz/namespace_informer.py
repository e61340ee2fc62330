"""Namespaces kept in authz's memory, so admitting a namespaced create costs no storage call.

kube-apiserver's NamespaceLifecycle plugin reads a namespace lister fed by a shared
informer and makes a live (quorum) GET only when the lister has no such namespace. This
is that lister: a ``kapi.informer.Informer`` of namespaces, with the live read.

``get`` answers from memory once the first list is in, and falls back to the live read
before that and on a miss — a namespace created a moment ago is never reported missing,
and authz never waits for storage to start serving.
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors, informer
from services.authz.sources import NAMESPACES, Storage, informer_of

__all__ = ["NAMESPACES", "NamespaceInformer"]

Obj = dict[str, Any]


class NamespaceInformer:
    """``start()`` begins the reflector in the background; ``close()`` cancels it.

    Lookups never wait for it: until the first list is in, every ``get`` is a live read.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        backoff_initial: float = informer.BACKOFF_INITIAL,
        backoff_max: float = informer.BACKOFF_MAX,
        page_size: int = informer.LIST_PAGE_SIZE,
    ) -> None:
        self._storage = storage
        self.informer = informer_of(
            storage,
            NAMESPACES,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            page_size=page_size,
        )
        # Namespaces with a pod-security.kubernetes.io label (PodSecurity idles without).
        self._labelled: set[str] = set()
        self.informer.on_change(self._track_labels)

    def _track_labels(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        if kind == informer.RELISTED:
            self._labelled = {
                str((ns.get("metadata") or {}).get("name"))
                for ns in self.informer.items()
                if _pod_security_labelled(ns)
            }
            return
        obj = new if new is not None else old
        name = str(((obj or {}).get("metadata") or {}).get("name") or "")
        if new is not None and _pod_security_labelled(new):
            self._labelled.add(name)
        else:
            self._labelled.discard(name)

    def labelled(self) -> bool:
        return bool(self._labelled)

    @property
    def synced(self) -> bool:
        return self.informer.synced

    def start(self) -> None:
        self.informer.start()

    async def close(self) -> None:
        await self.informer.close()

    async def wait_synced(self) -> None:
        await self.informer.wait_synced()

    def cached(self, name: str) -> Obj | None:
        """The namespace as last seen (the informer's own object: read it, never change
        it); None before the first list or if absent. Every namespaced write's
        admission reads it, one to three times: a copy each time cost more than the
        policy that read it."""
        return self.informer.get("", name) if self.synced else None

    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        """The namespace, or None if it does not exist.

        From memory when synced and known (``live`` skips that); otherwise a quorum read.
        A storage failure of the live read is raised as its ``StatusError``.
        """
        if not live:
            found = self.cached(name)
            if found is not None:
                return found
        return await self.read_live(name)

    async def read_live(self, name: str) -> Obj | None:
        try:
            stored = await self._storage.get(NAMESPACES, "", name)
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise
        found = orjson.loads(stored.object)
        return found if isinstance(found, dict) else None


def _pod_security_labelled(namespace: Obj) -> bool:
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return any(str(k).startswith("pod-security.kubernetes.io/") for k in labels)
