"""Where a Service is served, read from storage: the registry's ``ServiceResolver`` for
webhooks addressed by ``service`` (a CRD's conversion webhook).

kube-apiserver resolves such a webhook's Service to a ClusterIP, or with
``--enable-aggregator-routing`` to one of its endpoints; kapi has no service proxy, so it
always picks an endpoint (k8s.io/apiserver ``util/proxy.ResolveEndpoint`` over
EndpointSlices). The Service and its slices are read when a webhook is called: two
reads per conversion call, where an informer in every registry replica would hold every
Service and slice of the cluster for the rare CRD converted by a service webhook.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from kapi import errors
from services.registry.ports import StoragePort, Where

Obj = dict[str, Any]

SERVICES = Where(group="", resource="services", namespaced=True)
ENDPOINT_SLICES = Where(group="discovery.k8s.io", resource="endpointslices", namespaced=True)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ROUTABLE_TYPES = ("ClusterIP", "LoadBalancer", "NodePort")


def ready_endpoints(service: Obj, slices: list[Obj], port: int) -> list[tuple[str, int]]:
    """Every ready (address, port) of ``service``'s port ``port`` in ``slices`` (503 in
    kube's words when there is none)."""
    name = str((service.get("metadata") or {}).get("name") or "")
    spec = service.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind not in ROUTABLE_TYPES:
        raise errors.service_unavailable(f'unsupported service type "{kind}"')
    named = next(
        (p for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("port") == port),
        None,
    )
    if named is None:
        raise errors.service_unavailable(f'no service port {port} found for service "{name}"')
    port_name = named.get("name") or ""
    found: list[tuple[str, int]] = []
    for slice_ in slices:
        numbers = [
            p.get("port")
            for p in slice_.get("ports") or []
            if isinstance(p, dict) and (p.get("name") or "") == port_name
        ]
        if not numbers or not isinstance(numbers[0], int):
            continue
        for endpoint in slice_.get("endpoints") or []:
            if ((endpoint or {}).get("conditions") or {}).get("ready") is False:
                continue
            found += [(str(a), numbers[0]) for a in (endpoint or {}).get("addresses") or []]
    if not found:
        raise errors.service_unavailable(f'no endpoints available for service "{name}"')
    return found


class StoredServiceResolver:
    """``crd.conversion.ServiceResolver`` over the registry's storage."""

    def __init__(self, storage: StoragePort) -> None:
        self.storage = storage

    async def endpoint(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        try:
            service = orjson.loads(await self.storage.get(SERVICES, namespace, name))
        except errors.StatusError as err:
            if err.code == 404:
                raise errors.not_found("service", "", name) from None
            raise
        listed = await self.storage.list(
            ENDPOINT_SLICES, namespace, label_selector=f"{SERVICE_NAME_LABEL}={name}"
        )
        slices = [orjson.loads(item) for item in listed.items]
        return random.choice(ready_endpoints(service, slices, port))
