"""What the aggregator knows: the APIServices, and the Services and EndpointSlices that
say where the remote ones run.

``Remote`` is an APIService with ``spec.service``, as the proxy and discovery use it.
``resolve`` picks an endpoint as kube-aggregator does with ``--enable-aggregator-routing``,
through ``kapi.service_resolution`` (shared with the webhooks).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from kapi import service_resolution as resolution
from kapi.informer import Informer
from kapi.service_resolution import Endpoint, ServiceRef
from services.gateway import feeds
from services.registry import aggregation as reg
from services.registry.client import RegistryClient
from services.registry.informer_client import registry_informer
from services.registry.types import ResourceType

Obj = dict[str, Any]

APISERVICES = ResourceType(
    group=reg.GROUP,
    version="v1",
    resource="apiservices",
    kind="APIService",
    singular="apiservice",
    namespaced=False,
    schema="",
)
SERVICES = ResourceType(
    group="", version="v1", resource="services", kind="Service", singular="service",
    namespaced=True, schema="",
)  # fmt: skip
ENDPOINT_SLICES = ResourceType(
    group="discovery.k8s.io", version="v1", resource="endpointslices", kind="EndpointSlice",
    singular="endpointslice", namespaced=True, schema="",
)  # fmt: skip


@dataclass(frozen=True)
class Remote:
    """An APIService served by an extension API server."""

    name: str
    group: str
    version: str
    namespace: str  # the Service's
    service: str
    port: int
    ca_bundle: bytes
    insecure: bool
    group_priority: int
    version_priority: int
    available: bool

    @property
    def ref(self) -> ServiceRef:
        return ServiceRef(self.namespace, self.service, self.port)

    @property
    def server_name(self) -> str:
        """The name its serving certificate is checked against (kube's ServerName)."""
        return self.ref.server_name

    @property
    def discovery_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


def remote_of(apiservice: Obj) -> Remote | None:
    """The APIService as a Remote; None for a local one."""
    spec = apiservice.get("spec") or {}
    service = spec.get("service")
    if not isinstance(service, dict):
        return None
    condition = reg.available(apiservice) or {}
    return Remote(
        name=str((apiservice.get("metadata") or {}).get("name") or ""),
        group=str(spec.get("group") or ""),
        version=str(spec.get("version") or ""),
        namespace=str(service.get("namespace") or ""),
        service=str(service.get("name") or ""),
        port=int(service.get("port") or 443),
        ca_bundle=_decode(spec.get("caBundle")),
        insecure=spec.get("insecureSkipTLSVerify") is True,
        group_priority=int(spec.get("groupPriorityMinimum") or 0),
        version_priority=int(spec.get("versionPriority") or 0),
        available=condition.get("status") == "True",
    )


def _decode(ca_bundle: Any) -> bytes:
    if not isinstance(ca_bundle, str) or not ca_bundle:
        return b""
    try:
        return base64.b64decode(ca_bundle)
    except (binascii.Error, ValueError):
        return b""


class State:
    """The three informers, and what the aggregator asks of them."""

    def __init__(self, registry: RegistryClient) -> None:
        user = feeds.FEED_USER
        self.apiservices = registry_informer(registry, APISERVICES, user)
        self.services = registry_informer(registry, SERVICES, user)
        self.endpoint_slices = registry_informer(registry, ENDPOINT_SLICES, user)

    def start(self) -> None:
        for informer in self._informers():
            informer.start()

    async def close(self) -> None:
        for informer in self._informers():
            await informer.close()

    def _informers(self) -> tuple[Informer, ...]:
        return (self.apiservices, self.services, self.endpoint_slices)

    def remotes(self) -> list[Remote]:
        """Every remote APIService."""
        found = (remote_of(obj) for obj in self.apiservices.items())
        return [remote for remote in found if remote is not None]

    def remote(self, group: str, version: str) -> Remote | None:
        """The remote APIService that serves ``group/version``, if one does."""
        obj = self.apiservices.get("", reg.apiservice_name(group, version))
        return remote_of(obj) if obj is not None else None

    def remote_groups(self) -> set[str]:
        return {remote.group for remote in self.remotes()}

    def service_of(self, remote: Remote) -> resolution.Obj | None:
        return self.services.get(remote.namespace, remote.service)

    def slices_of(self, remote: Remote) -> list[resolution.Obj]:
        """The EndpointSlices of the remote's Service."""
        return resolution.slices_of(self.endpoint_slices.items(), remote.ref)

    def service_port(self, remote: Remote) -> resolution.Obj | None:
        """The Service's port the APIService names, None when it has none."""
        svc = self.service_of(remote)
        return resolution.service_port(svc, remote.port) if svc is not None else None

    def endpoints(self, remote: Remote) -> list[Endpoint]:
        """Every ready endpoint of the remote's Service on the port its APIService names
        (NotFound, or 503 ServiceUnavailable in kube's words, when there is none)."""
        return resolution.endpoints(remote.ref, self.service_of(remote), self.slices_of(remote))

    def resolve(self, remote: Remote) -> Endpoint:
        """One endpoint of the remote, at random (kube's ResolveEndpoint)."""
        return resolution.resolve(remote.ref, self.service_of(remote), self.slices_of(remote))
