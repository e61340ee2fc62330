"""What the aggregator knows: the APIServices, and the Services and EndpointSlices that
say where the remote ones run.

``Remote`` is an APIService with ``spec.service``, as the proxy and discovery use it.
``resolve`` picks an endpoint as kube-aggregator does with ``--enable-aggregator-routing``
(k8s.io/apiserver ``util/proxy.ResolveEndpoint`` over EndpointSlices): the Service's port
whose ``port`` is the APIService's, then a ready endpoint of a slice labelled
``kubernetes.io/service-name`` with a port of that port's name, chosen at random.
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass
from typing import Any

from kapi import errors
from services.gateway import feeds
from services.registry import aggregation as reg
from services.registry.client import RegistryClient
from services.registry.informer_client import Informer
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
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ROUTABLE_TYPES = ("ClusterIP", "LoadBalancer", "NodePort")


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
    def server_name(self) -> str:
        """The name its serving certificate is checked against (kube's ServerName)."""
        return f"{self.service}.{self.namespace}.svc"

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
        self.apiservices = Informer(registry, APISERVICES, user)
        self.services = Informer(registry, SERVICES, user)
        self.endpoint_slices = Informer(registry, ENDPOINT_SLICES, user)

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
        found = (remote_of(obj) for obj in self.apiservices.objects.values())
        return [remote for remote in found if remote is not None]

    def remote(self, group: str, version: str) -> Remote | None:
        """The remote APIService that serves ``group/version``, if one does."""
        obj = self.apiservices.get("", reg.apiservice_name(group, version))
        return remote_of(obj) if obj is not None else None

    def remote_groups(self) -> set[str]:
        return {remote.group for remote in self.remotes()}

    def slices_of(self, namespace: str, service: str) -> list[Obj]:
        return [
            obj
            for (ns, _), obj in self.endpoint_slices.objects.items()
            if ns == namespace
            and ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == service
        ]

    def service_port(self, remote: Remote) -> Obj | None:
        """The Service's port the APIService names, None when it has none."""
        svc = self.services.get(remote.namespace, remote.service) or {}
        for port in (svc.get("spec") or {}).get("ports") or []:
            if isinstance(port, dict) and port.get("port") == remote.port:
                return port
        return None

    def endpoints(self, remote: Remote) -> list[tuple[str, int]]:
        """Every ready address of the remote's Service with the port its APIService names
        (503 ServiceUnavailable, kube's words, when there is none)."""
        svc = self.services.get(remote.namespace, remote.service)
        if svc is None:
            raise errors.not_found("services", "", remote.service)
        port = self.service_port(remote)
        if port is None:
            raise errors.service_unavailable(
                f'no service port {remote.port} found for service "{remote.service}"'
            )
        kind = (svc.get("spec") or {}).get("type") or "ClusterIP"
        if kind not in ROUTABLE_TYPES:
            raise errors.service_unavailable(f'unsupported service type "{kind}"')
        port_name = port.get("name") or ""
        found: list[tuple[str, int]] = []
        for slice_ in self.slices_of(remote.namespace, remote.service):
            numbers = [
                p.get("port")
                for p in slice_.get("ports") or []
                if isinstance(p, dict) and (p.get("name") or "") == port_name
            ]
            if not numbers or not isinstance(numbers[0], int):
                continue
            for endpoint in slice_.get("endpoints") or []:
                ready = ((endpoint or {}).get("conditions") or {}).get("ready")
                if ready is False:
                    continue
                found += [(str(address), numbers[0]) for address in endpoint.get("addresses") or []]
        if not found:
            raise errors.service_unavailable(
                f'no endpoints available for service "{remote.service}"'
            )
        return found

    def resolve(self, remote: Remote) -> tuple[str, int]:
        """One endpoint of the remote, at random (kube's ResolveEndpoint)."""
        return random.choice(self.endpoints(remote))
