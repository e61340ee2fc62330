"""Where a webhook's ``clientConfig.service`` leads: through ``kapi.service_resolution``
(the Service's port, then a ready address of its EndpointSlices: kube's
ResolveEndpoint, shared with the aggregator), from informers of Services and
EndpointSlices started when a webhook first names a Service."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kapi import errors, informer
from kapi import service_resolution as resolution
from services.authz import sources

Obj = dict[str, Any]
SYNC_WAIT = 1.0  # seconds a first resolution waits for the informers to list


class ServiceEndpoints:
    """``resolve(service stanza) -> (url, server name)`` (``caller.ServiceResolver``)."""

    def __init__(self, storage: sources.Storage) -> None:
        self.storage = storage
        self._services: informer.Informer | None = None
        self._slices: informer.Informer | None = None

    async def _informers(self) -> tuple[informer.Informer, informer.Informer]:
        if self._services is None or self._slices is None:
            self._services = sources.informer_of(self.storage, sources.SERVICES)
            self._slices = sources.informer_of(self.storage, sources.ENDPOINT_SLICES)
            self._services.start()
            self._slices.start()
        for each in (self._services, self._slices):
            if not each.synced:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(each.wait_synced(), SYNC_WAIT)
        return self._services, self._slices

    async def resolve(self, service: Obj) -> tuple[str, str]:
        ref = resolution.service_ref(service)
        if ref is None:
            raise errors.bad_request("webhook clientConfig.service is not an object")
        services, slices = await self._informers()
        url = resolution.url(ref, services.get(ref.namespace, ref.name), slices.items())
        return url, ref.server_name

    async def close(self) -> None:
        for each in (self._services, self._slices):
            if each is not None:
                await each.close()
