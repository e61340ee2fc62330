"""Where a webhook's ``clientConfig.service`` leads: the Service's ready endpoints, from
informers of Services and EndpointSlices started when a webhook first names a Service
(kube-apiserver resolves webhook Services through their endpoints the same way when it
routes to endpoints)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from kapi import errors, informer
from services.authz import sources

Obj = dict[str, Any]
SYNC_WAIT = 1.0  # seconds a first resolution waits for the informers to list
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


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
        namespace, name = str(service.get("namespace") or ""), str(service.get("name") or "")
        port = service.get("port") if isinstance(service.get("port"), int) else 443
        path = str(service.get("path") or "")
        services, slices = await self._informers()
        found = services.get(namespace, name)
        if found is None:
            raise errors.not_found("services", "", name)
        service_port = next(
            (
                p
                for p in (found.get("spec") or {}).get("ports") or []
                if isinstance(p, dict) and p.get("port") == port
            ),
            None,
        )
        if service_port is None:
            raise errors.service_unavailable(f'no service port {port} found for service "{name}"')
        port_name = str(service_port.get("name") or "")
        candidates: list[str] = []
        for slice_ in slices.items():
            meta = slice_.get("metadata") or {}
            if meta.get("namespace") != namespace:
                continue
            if (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) != name:
                continue
            number = next(
                (
                    p.get("port")
                    for p in slice_.get("ports") or []
                    if isinstance(p, dict) and (p.get("name") or "") == port_name
                ),
                None,
            )
            if not isinstance(number, int):
                continue
            for endpoint in slice_.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                for address in endpoint.get("addresses") or []:
                    host = f"[{address}]" if ":" in str(address) else str(address)
                    candidates.append(f"https://{host}:{number}{path}")
        if not candidates:
            raise errors.service_unavailable(f'no endpoints available for service "{name}"')
        return random.choice(candidates), f"{name}.{namespace}.svc"

    async def close(self) -> None:
        for each in (self._services, self._slices):
            if each is not None:
                await each.close()
