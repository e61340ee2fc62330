"""Composition root of the gateway: peers, health checks, the app, uvicorn with TLS,
the connection limits (services/gateway/connections.py, listener.py) and the in-flight
caps (services/gateway/inflight.py)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from kapi import pki
from services.authz.client import AuthzClient
from services.gateway import connections, health, inflight, listener
from services.gateway.app import Peers, create_app
from services.gateway.auditing.middleware import Auditor
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
    # kube-apiserver's --client-ca-file: client certificates are asked for and verified
    # against it ("": none asked for).
    client_ca_file: str = ""
    service_account_jwks_uri: str = ""
    # Mutual TLS towards the other services (None: plaintext, in-process tests only).
    peer_tls: pki.TLSFiles | None = None
    # kube-apiserver's --proxy-client-cert-file / --proxy-client-key-file: what the
    # aggregator shows extension API servers ("": nothing).
    proxy_client_cert_file: str = ""
    proxy_client_key_file: str = ""
    # Connection hygiene, kube-apiserver's values (0 disables one).
    read_header_timeout: float = connections.READ_HEADER_TIMEOUT
    idle_timeout: float = connections.IDLE_TIMEOUT
    request_body_timeout: float = connections.REQUEST_BODY_TIMEOUT
    write_stall_timeout: float = connections.WRITE_STALL_TIMEOUT
    max_connections: int = connections.MAX_CONNECTIONS
    max_header_bytes: int = connections.MAX_HEADER_BYTES
    # kube-apiserver's --max-requests-inflight / --max-mutating-requests-inflight.
    max_requests_inflight: int = inflight.MAX_REQUESTS_INFLIGHT
    max_mutating_requests_inflight: int = inflight.MAX_MUTATING_REQUESTS_INFLIGHT

    def connection_limits(self) -> connections.ConnectionLimits:
        return connections.ConnectionLimits(
            read_header_timeout=self.read_header_timeout,
            idle_timeout=self.idle_timeout,
            request_body_timeout=self.request_body_timeout,
            write_stall_timeout=self.write_stall_timeout,
            max_connections=listener.usable_connections(self.max_connections),
            max_header_bytes=self.max_header_bytes,
        )

    def inflight_limiter(self) -> inflight.Limiter:
        return inflight.Limiter(
            read_only=self.max_requests_inflight, mutating=self.max_mutating_requests_inflight
        )


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
    front_proxy = (
        pki.KeyPair(Path(config.proxy_client_cert_file), Path(config.proxy_client_key_file))
        if config.proxy_client_cert_file and config.proxy_client_key_file
        else None
    )
    return Peers(
        registry=registry,
        authz=authz,
        storage=storage,
        checks=checks,
        server_address=config.listen,
        front_proxy=front_proxy,
        jwks_uri=config.service_account_jwks_uri,
    )


async def _ok() -> None:
    return None


def build_server(
    app: Callable[..., Awaitable[None]], config: GatewayConfig
) -> listener.GuardedServer:
    """uvicorn serving ``app`` on ``config.listen`` (TLS when a certificate is given) with
    the connection limits."""
    host, port = split_host_port(config.listen)
    return listener.GuardedServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http="httptools",  # the C HTTP parser (h11, the default, is pure Python)
            ssl_certfile=config.tls_cert_file or None,
            ssl_keyfile=config.tls_private_key_file or None,
            # Ask every client for a certificate, verified against the client CA; a
            # client without one is served all the same (kube's RequestClientCert).
            ssl_cert_reqs=ssl.CERT_OPTIONAL if config.client_ca_file else ssl.CERT_NONE,
            ssl_ca_certs=config.client_ca_file or None,
            log_level="warning",
            access_log=False,
            # X-Forwarded-* are not trusted for anything (kube-apiserver takes the
            # client's address from the connection), so uvicorn need not read them.
            proxy_headers=False,
            timeout_graceful_shutdown=3,
            lifespan="off",
        ),
        config.connection_limits(),
    )


async def serve(config: GatewayConfig, audit: Auditor | None = None) -> None:
    """Serve until stopped; ``audit`` (from ``auditing.options.build``): the audit policy
    and log, whose queued events are written before this returns."""
    peers = build_peers(config)
    app = create_app(peers, inflight=config.inflight_limiter(), audit=audit)
    server = build_server(app, config)
    try:
        await server.serve()
    finally:
        await app.state.gate.close()
        await app.state.types.close()
        await app.state.aggregator.close()
        await asyncio.gather(
            peers.registry.close(),
            peers.authz.close(),
            peers.storage.close(),
            *([audit.close()] if audit is not None else []),
            return_exceptions=True,
        )
