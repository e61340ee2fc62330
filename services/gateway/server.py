"""Composition root of the gateway: peers, health checks, the app, uvicorn with TLS."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import uvicorn

from kapi import pki
from services.authz.client import AuthzClient
from services.gateway import health
from services.gateway.app import Peers, create_app
from services.registry.client import RegistryClient
from services.storage.client import StorageClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayConfig:
    listen: str
    registry: str
    authz: str
    storage: str
    tls_cert_file: str
    tls_private_key_file: str
    # Mutual TLS towards the other services (None: plaintext, in-process tests only).
    peer_tls: pki.TLSFiles | None = None


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_peers(config: GatewayConfig) -> Peers:
    registry = RegistryClient(config.registry, tls=config.peer_tls)
    authz = AuthzClient(config.authz, tls=config.peer_tls)
    storage = StorageClient(config.storage, tls=config.peer_tls)

    async def etcd() -> None:
        await storage.health()

    async def system_namespaces() -> None:
        if not (await registry.types()).bootstrapped:
            raise RuntimeError("the registry has not created the system namespaces yet")

    checks = [
        health.Check("ping", _ok),
        health.Check("etcd", etcd),
        health.Check("storage", storage.ready),
        health.Check("authz", authz.ready),
        health.Check("registry", registry.ready),
        health.Check("poststarthook/system-namespaces", system_namespaces),
    ]
    return Peers(
        registry=registry,
        authz=authz,
        storage=storage,
        checks=checks,
        server_address=config.listen,
    )


async def _ok() -> None:
    return None


async def serve(config: GatewayConfig) -> None:
    peers = build_peers(config)
    app = create_app(peers)
    host, port = split_host_port(config.listen)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http="httptools",  # the C HTTP parser (h11, the default, is pure Python)
            ssl_certfile=config.tls_cert_file,
            ssl_keyfile=config.tls_private_key_file,
            log_level="warning",
            access_log=False,
            # X-Forwarded-* are not trusted for anything (kube-apiserver takes the
            # client's address from the connection), so uvicorn need not read them.
            proxy_headers=False,
            timeout_graceful_shutdown=3,
            lifespan="off",
        )
    )
    try:
        await server.serve()
    finally:
        await asyncio.gather(
            peers.registry.close(),
            peers.authz.close(),
            peers.storage.close(),
            return_exceptions=True,
        )
