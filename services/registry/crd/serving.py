"""What follows the CRDs in each registry replica: the catalog's custom definitions and
the CRD controllers.

The informer lists and watches the CRDs; each change rebuilds the definitions of that CRD
when what is served of it changed (its spec, accepted names, whether it is served or
terminating) and gives the catalog the change's revision either way, so the catalog's
``reached`` follows storage; the controllers look at the CRD (and its group) again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from services.registry.crd.controllers import Controllers
from services.registry.crd.conversion import WEBHOOK_TIMEOUT
from services.registry.crd.definitions import definitions_of, served
from services.registry.crd.informer import CRDInformer, name_of
from services.registry.service_resolver import StoredServiceResolver

if TYPE_CHECKING:
    from services.registry.service import Registry

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def serving_key(crd: Obj) -> bytes:
    """What the served definitions depend on: a CRD whose key is unchanged serves the same."""
    meta = crd.get("metadata") or {}
    status = crd.get("status") or {}
    terminating = bool(meta.get("deletionTimestamp")) or any(
        c.get("type") == "Terminating" and c.get("status") == "True"
        for c in status.get("conditions") or ()
        if isinstance(c, dict)
    )
    return orjson.dumps(
        [crd.get("spec"), status.get("acceptedNames"), served(crd), terminating],
        option=orjson.OPT_SORT_KEYS,
    )


class CustomResources:
    """``start()`` follows the CRDs; ``close()`` stops."""

    def __init__(self, registry: Registry, *, user: Any = None) -> None:
        self.registry = registry
        self.informer = CRDInformer(registry.storage, self)
        self.controllers = Controllers(registry, lambda: self.informer.crds, user=user)
        self._keys: dict[str, bytes] = {}
        self.resolver = StoredServiceResolver(registry.storage)
        self._retired: dict[asyncio.Task[None], tuple[Any, ...]] = {}

    def start(self) -> None:
        self.informer.start()
        self.controllers.start()

    async def close(self) -> None:
        await self.informer.close()
        await self.controllers.close()
        for task, retired in list(self._retired.items()):
            task.cancel()
            await _close_converter(retired)
        for defs in self.registry.catalog.custom().values():
            await _close_converter(defs)

    def _retire(self, defs: tuple[Any, ...] | None) -> None:
        """Close the replaced definitions' webhook client once the conversions that may
        still use it are over (a webhook call's timeout, twice)."""
        if not defs:
            return

        async def later() -> None:
            await asyncio.sleep(2 * WEBHOOK_TIMEOUT)
            await _close_converter(defs)

        task = asyncio.get_running_loop().create_task(later())
        self._retired[task] = defs
        task.add_done_callback(lambda done: self._retired.pop(done, None))

    # --- informer.Handler ------------------------------------------------------------

    async def listed(self, crds: Mapping[str, Obj], revision: int) -> None:
        custom = {}
        for name, crd in crds.items():
            self._keys[name] = serving_key(crd)
            custom[name] = self._definitions(crd)
        for name in set(self._keys) - set(crds):
            del self._keys[name]
        for old in self.registry.catalog.custom().values():
            self._retire(old)
        self.registry.catalog.replace(custom, revision)
        for name in crds:
            self.controllers.enqueue(name)

    async def changed(self, kind: str, crd: Obj, revision: int) -> None:
        name = name_of(crd)
        if kind == "DELETED":
            self._keys.pop(name, None)
            self._retire(self.registry.catalog.custom().get(name))
            self.registry.catalog.set_crd(name, (), revision)
            group = (crd.get("spec") or {}).get("group")
            self.controllers.enqueue_group(str(group))
            return
        key = serving_key(crd)
        if self._keys.get(name) != key:
            self._keys[name] = key
            self._retire(self.registry.catalog.custom().get(name))
            self.registry.catalog.set_crd(name, self._definitions(crd), revision)
        else:
            self.registry.catalog.advance(revision)
        self.controllers.enqueue(name)

    async def progressed(self, revision: int) -> None:
        self.registry.catalog.advance(revision)

    def _definitions(self, crd: Obj) -> list[Any]:
        try:
            return list(definitions_of(crd, resolver=self.resolver))
        except Exception:
            log.exception("crd %s: cannot serve it", name_of(crd))
            return []


async def _close_converter(defs: tuple[Any, ...]) -> None:
    if defs:
        await defs[0].converter.close()
