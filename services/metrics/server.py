"""Composition root of kapi's metrics server: informers, the API, HTTPS, registration.

It follows Nodes and Pods through the registry (mutual TLS, like every kapi service),
serves ``metrics.k8s.io`` over HTTPS with a certificate for
``metrics-server.kube-system.svc`` (the name the aggregator checks), believing only the
front proxy (``--requestheader-client-ca-file``), and registers itself: Service,
EndpointSlice (its advertised address) and APIService (the CA of its certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from kapi import errors, pki
from kapi.informer import Informer
from services.metrics import registration, usage
from services.metrics.api import MetricsAPI, PeerCertProtocol
from services.registry.client import RegistryClient
from services.registry.informer_client import registry_informer
from services.registry.types import ResourceType

log = logging.getLogger(__name__)

REGISTER_EVERY = 60.0
NODES = ResourceType(
    group="", version="v1", resource="nodes", kind="Node", singular="node",
    namespaced=False, schema="",
)  # fmt: skip
PODS = ResourceType(
    group="", version="v1", resource="pods", kind="Pod", singular="pod",
    namespaced=True, schema="",
)  # fmt: skip


@dataclass(frozen=True)
class MetricsConfig:
    listen: str
    registry: str
    tls_cert_file: str
    tls_private_key_file: str
    # The CA that signed the serving certificate: the APIService's caBundle.
    ca_bundle_file: str
    requestheader_client_ca_file: str
    requestheader_allowed_names: tuple[str, ...] = ()
    # The address the EndpointSlice names ("": this host's own, for a wildcard listen).
    advertise_address: str = ""
    load: float = usage.DEFAULT_LOAD
    peer_tls: pki.TLSFiles | None = None


@dataclass
class MetricsServer:
    port: int
    address: str
    server: uvicorn.Server
    registry: RegistryClient
    informers: tuple[Informer, ...]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        self.server.should_exit = True
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for informer in self.informers:
            await informer.close()
        await self.registry.close()


def advertised(config: MetricsConfig, host: str) -> str:
    """The address extension clients reach: the configured one, the listen host when it
    is one, else this host's own (a container's)."""
    if config.advertise_address:
        return config.advertise_address
    if host not in ("", "0.0.0.0", "::"):
        return host
    return socket.gethostbyname(socket.gethostname())


async def create_server(config: MetricsConfig) -> MetricsServer:
    registry = RegistryClient(config.registry, tls=config.peer_tls)
    nodes = registry_informer(registry, NODES, registration.USER)
    pods = registry_informer(registry, PODS, registration.USER)
    api = MetricsAPI(
        nodes.items,
        pods.items,
        allowed_names=config.requestheader_allowed_names,
        load=config.load,
    )
    host, _, port_text = config.listen.rpartition(":")
    host = host.strip("[]")
    server = uvicorn.Server(
        uvicorn.Config(
            api.app(),
            host=host or "0.0.0.0",
            port=int(port_text),
            http=PeerCertProtocol,
            ssl_certfile=config.tls_cert_file,
            ssl_keyfile=config.tls_private_key_file,
            ssl_ca_certs=config.requestheader_client_ca_file,
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    serving = asyncio.create_task(server.serve(), name="metrics https")
    while not server.started:
        if serving.done():
            await serving  # raises what stopped it
            raise RuntimeError("the metrics server stopped before it started")
        await asyncio.sleep(0.02)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    nodes.start()
    pods.start()
    address = advertised(config, host)
    ca_bundle = Path(config.ca_bundle_file).read_bytes()
    running = MetricsServer(port, address, server, registry, (nodes, pods), [serving])
    running.tasks.append(
        asyncio.create_task(_keep_registered(registry, address, port, ca_bundle), name="register")
    )
    return running


async def _keep_registered(
    registry: RegistryClient, address: str, port: int, ca_bundle: bytes
) -> None:
    delay = 0.2
    while True:
        try:
            await registration.register(registry, address=address, port=port, ca_bundle=ca_bundle)
            delay = REGISTER_EVERY
        except errors.StatusError as err:
            log.info("registering the metrics API: %s; retrying", err.message)
            delay = min(max(delay * 2, 0.2), 5.0)
        await asyncio.sleep(delay)
