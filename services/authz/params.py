"""The objects a ValidatingAdmissionPolicy's ``paramKind`` names, kept by informers.

A paramKind (apiVersion, kind) is resolved to its resource as kube's REST mapper would:
the built-in definitions first, then the CustomResourceDefinitions (followed by an
informer started on first need). Each kind's informer starts when a policy first needs
it and is kept while authz runs, as kube keeps one per paramKind.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kapi import informer
from services.authz import sources
from services.storage.model import ResourceRef

Obj = dict[str, Any]
SYNC_WAIT = 1.0  # seconds a first lookup waits for the CRDs to be listed


def _builtin_kinds() -> dict[tuple[str, str, str], ResourceRef]:
    from services.registry.strategies import BUILTIN  # the served built-in types

    return {
        (d.group, d.version, d.kind): ResourceRef(
            group=d.group, resource=d.resource, namespaced=d.namespaced
        )
        for d in BUILTIN
    }


class Lister:
    def __init__(self, source: informer.Informer, namespaced: bool) -> None:
        self.informer = source
        self.namespaced = namespaced

    async def wait_synced(self, timeout: float) -> bool:
        if self.informer.synced:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.informer.wait_synced(), timeout)
        return self.informer.synced

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.informer.get(namespace, name)

    def list(self, namespace: str) -> list[Obj]:
        items = self.informer.items()
        if not namespace:
            return items
        return [o for o in items if (o.get("metadata") or {}).get("namespace") == namespace]


class ParamInformers:
    """``lister(api_version, kind)``: the ParamSource of ``ValidatingAdmissionPolicy``."""

    def __init__(self, storage: sources.Storage) -> None:
        self.storage = storage
        self._builtin: dict[tuple[str, str, str], ResourceRef] | None = None
        self._crds: informer.Informer | None = None
        self._listers: dict[ResourceRef, Lister] = {}

    async def _resolve(self, api_version: str, kind: str) -> ResourceRef | None:
        group, _, version = api_version.rpartition("/")
        if self._builtin is None:
            self._builtin = _builtin_kinds()
        found = self._builtin.get((group, version, kind))
        if found is not None:
            return found
        if self._crds is None:
            self._crds = sources.informer_of(self.storage, sources.CUSTOM_RESOURCE_DEFINITIONS)
            self._crds.start()
        if not self._crds.synced:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._crds.wait_synced(), SYNC_WAIT)
        for crd in self._crds.items():
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            served = {
                v.get("name")
                for v in spec.get("versions") or []
                if isinstance(v, dict) and v.get("served")
            }
            if spec.get("group") == group and names.get("kind") == kind and version in served:
                return ResourceRef(
                    group=group,
                    resource=str(names.get("plural") or ""),
                    namespaced=spec.get("scope") == "Namespaced",
                )
        return None

    async def lister(self, api_version: str, kind: str) -> Lister | None:
        ref = await self._resolve(api_version, kind)
        if ref is None:
            return None
        found = self._listers.get(ref)
        if found is None:
            source = sources.informer_of(self.storage, ref)
            source.start()
            found = self._listers[ref] = Lister(source, ref.namespaced)
        return found

    async def close(self) -> None:
        closing = [lister.informer.close() for lister in self._listers.values()]
        if self._crds is not None:
            closing.append(self._crds.close())
        await asyncio.gather(*closing)
