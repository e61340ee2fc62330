"""Where a Service is served, read from storage: the registry's ``ServiceResolver`` for
webhooks addressed by ``service`` (a CRD's conversion webhook).

The resolution itself is ``kapi.service_resolution`` (kube's ResolveEndpoint over
EndpointSlices, shared with the gateway's aggregator); this reads its inputs when a
webhook is called, the Service and its slices by label: two reads per conversion call,
where an informer in every registry replica would hold every Service and slice of the
cluster for the rare CRD converted by a service webhook.
"""

from __future__ import annotations

import orjson

from kapi import errors, service_resolution
from services.registry.ports import StoragePort, Where

SERVICES = Where(group="", resource="services", namespaced=True)
ENDPOINT_SLICES = Where(group="discovery.k8s.io", resource="endpointslices", namespaced=True)


class StoredServiceResolver:
    """``crd.conversion.ServiceResolver`` over the registry's storage."""

    def __init__(self, storage: StoragePort) -> None:
        self.storage = storage

    async def endpoint(self, ref: service_resolution.ServiceRef) -> service_resolution.Endpoint:
        try:
            service = orjson.loads(await self.storage.get(SERVICES, ref.namespace, ref.name))
        except errors.StatusError as err:
            if err.code != 404:
                raise
            service = None
        label = f"{service_resolution.SERVICE_NAME_LABEL}={ref.name}"
        listed = await self.storage.list(ENDPOINT_SLICES, ref.namespace, label_selector=label)
        slices = [orjson.loads(item) for item in listed.items]
        return service_resolution.resolve(ref, service, slices)
