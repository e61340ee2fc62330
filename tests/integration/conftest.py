"""An in-process control plane on the session's real etcd.

storage, authz and registry run as gRPC servers on port 0 in the test's event loop,
speaking mutual TLS with the certificates ``kapi up`` would give them (from the etcd
fixture's ``kapi.pki`` layout, whose etcd client certificate storage uses); the gateway
app is served by uvicorn on a free port (plain HTTP: the gateway's HTTPS is the e2e
suite's business). ``api`` is an httpx client with the admin token.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kapi import pki
from services.authz.server import AuthzConfig
from services.authz.server import create_server as create_authz
from services.gateway.app import create_app
from services.gateway.server import GatewayConfig, build_peers
from services.registry.authentication_trust import AuthenticationTrust
from services.registry.server import RegistryConfig
from services.registry.server import create_server as create_registry
from services.storage.server import StorageConfig
from services.storage.server import create_server as create_storage
from tests.conftest import EtcdProcess

ADMIN_TOKEN = "integration-admin-token"
# The components' own users (kube-controller-manager's, kube-scheduler's, the node
# simulator's), no groups: what RBAC gives them is all they may do.
COMPONENT_TOKENS = {
    "system:kube-controller-manager": "integration-controller-manager-token",
    "system:kube-scheduler": "integration-scheduler-token",
    "system:kapi-node-simulator": "integration-node-simulator-token",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ControlPlane:
    base_url: str
    api: httpx.AsyncClient
    namespace: str
    app: Any
    # The gRPC services' HOST:PORT by name, and the certificates they were given.
    addresses: dict[str, str]
    pki: pki.InternalPKI


@pytest.fixture
async def storage_addr(etcd: EtcdProcess) -> AsyncIterator[str]:
    """The storage service the control plane uses (a test module may bring its own)."""
    storage, storage_port = await create_storage(
        StorageConfig(
            listen="127.0.0.1:0",
            etcd_endpoints=[etcd.endpoint],
            etcd_tls=etcd.tls,
            bookmark_interval=0.2,
            tls=etcd.pki.service("storage"),
        )
    )
    await storage.start()
    yield f"127.0.0.1:{storage_port}"
    await storage.stop(None)


@pytest.fixture
def authz_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """More ``AuthzConfig`` fields for the control plane's authz (a test parametrizes it
    indirectly, e.g. with an admission configuration file)."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def control_plane(
    etcd: EtcdProcess, storage_addr: str, tmp_path: Path, authz_options: dict[str, Any]
) -> AsyncIterator[ControlPlane]:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        f'{ADMIN_TOKEN},kapi-admin,kapi-admin,"system:masters"\n'
        + "".join(f"{token},{user},{user}\n" for user, token in COMPONENT_TOKENS.items())
    )
    signing = pki.ensure_service_account_key(tmp_path / "sa")
    authz = await create_authz(
        AuthzConfig(
            listen="127.0.0.1:0",
            storage=storage_addr,
            token_file=str(tokens),
            tls=etcd.pki.service("authz"),
            service_account_signing_key_file=str(signing.key_path),
            **authz_options,
        )
    )
    authz_addr = f"127.0.0.1:{authz.port}"
    registry = await create_registry(
        RegistryConfig(
            listen="127.0.0.1:0",
            storage=storage_addr,
            authz=authz_addr,
            tls=etcd.pki.service("registry"),
            # As kapi up: extension API servers on loopback, told to trust the gateway.
            authentication_trust=AuthenticationTrust(
                client_ca=pki.ensure_ca(etcd.pki.pki_dir).cert_pem.decode(),
                requestheader_ca=etcd.pki.front_proxy_ca.cert_pem.decode(),
                allowed_names=(pki.FRONT_PROXY_CLIENT_NAME,),
            ),
            allow_loopback_endpoints=True,
        )
    )
    await asyncio.wait_for(registry.bootstrap, 20)
    assert authz.conversion is not None
    authz.conversion.target = f"127.0.0.1:{registry.port}"  # known only now (port 0)
    port = free_port()
    config = GatewayConfig(
        listen=f"127.0.0.1:{port}",
        registry=f"127.0.0.1:{registry.port}",
        authz=authz_addr,
        storage=storage_addr,
        tls_cert_file="",
        tls_private_key_file="",
        peer_tls=etcd.pki.service("gateway"),
        proxy_client_cert_file=str(etcd.pki.front_proxy_client.cert_path),
        proxy_client_key_file=str(etcd.pki.front_proxy_client.key_path),
    )
    peers = build_peers(config)
    app = create_app(peers)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    namespace = f"it-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=20
    ) as api:
        created = await api.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        assert created.status_code == 201, created.text
        addresses = {
            "storage": storage_addr,
            "authz": authz_addr,
            "registry": f"127.0.0.1:{registry.port}",
        }
        yield ControlPlane(base, api, namespace, app, addresses, etcd.pki)
    server.should_exit = True
    await serving
    await app.state.hub.close()
    await app.state.gate.close()
    await app.state.types.close()
    await app.state.aggregator.close()
    await asyncio.gather(peers.registry.close(), peers.authz.close(), peers.storage.close())
    await registry.server.stop(None)
    await registry.close()
    await authz.server.stop(None)
    await authz.close()
