"""The aggregator: kube-apiserver's front server, in the gateway.

kube-apiserver is a chain of three servers, the aggregator in front; kapi's gateway is
the front here. Its parts:

- ``state``: the APIServices, Services and EndpointSlices, followed by watch
  (``services/registry/informer_client.py``); where a remote APIService's requests go
  (``--enable-aggregator-routing``);
- ``proxy``: a request for a remote group-version sent on over HTTPS with the caller in
  ``X-Remote-*`` headers and the front-proxy certificate (``transport``);
- ``availability``: each APIService's Available condition, with kube's reasons;
- ``remote_discovery`` and ``remote_openapi``: the extension servers' discovery and
  OpenAPI v3, merged into the gateway's own (``services/gateway/discovery.py``, the
  OpenAPI routes).

The registry keeps the local APIServices (``services/registry/local_apiservices.py``).
"""

from __future__ import annotations

from kapi import pki
from services.gateway.aggregator.availability import Availability
from services.gateway.aggregator.proxy import Proxy
from services.gateway.aggregator.remote_discovery import RemoteDiscovery, RemoteGroup
from services.gateway.aggregator.remote_openapi import RemoteOpenAPI
from services.gateway.aggregator.state import Remote, State
from services.gateway.aggregator.transport import Transports
from services.registry.client import RegistryClient

__all__ = ["Aggregator", "Remote", "RemoteGroup"]


class Aggregator:
    """The aggregator's parts, started and stopped together."""

    def __init__(self, registry: RegistryClient, *, front_proxy: pki.KeyPair | None) -> None:
        self.state = State(registry)
        self.transports = Transports(front_proxy)
        self.availability = Availability(self.state, self.transports, registry)
        self.proxy = Proxy(self.state, self.transports, self.availability.enqueue)
        self.discovery = RemoteDiscovery(self.state, self.proxy)
        self.openapi = RemoteOpenAPI(self.state, self.proxy)
        self._started = False

    def start(self) -> None:
        """Begin following (at the first request: the app has an event loop then)."""
        if self._started:
            return
        self._started = True
        self.availability.start()
        self.discovery.start()
        self.openapi.start()
        self.state.start()

    async def close(self) -> None:
        await self.availability.close()
        await self.discovery.close()
        await self.openapi.close()
        await self.state.close()
        await self.transports.close()

    def remote(self, group: str, version: str) -> Remote | None:
        """The remote APIService answering ``group/version``, if any."""
        return self.state.remote(group, version)

    def remote_groups(self) -> list[RemoteGroup]:
        return self.discovery.groups()

    @property
    def generation(self) -> int:
        """Changes whenever what the merged documents show of the remote servers does."""
        return self.discovery.generation
