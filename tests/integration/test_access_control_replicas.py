"""RBAC changes reach every replica: a RoleBinding written through one gateway (and its
authz) takes effect on a second gateway with its own authz, whose in-memory index and
the gateway's decision cache follow the same watch (issue 12: "everywhere")."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn

from kapi import pki
from services.authz.server import AuthzConfig
from services.authz.server import create_server as create_authz
from services.gateway.app import create_app
from services.gateway.server import GatewayConfig, build_peers
from tests.integration.conftest import ADMIN_TOKEN, ControlPlane, free_port
from tests.integration.test_access_control import RBAC, as_user, until


@contextlib.asynccontextmanager
async def second_replica(cp: ControlPlane, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Another authz on the same storage, and another gateway that asks it."""
    tokens = tmp_path / "tokens-2.csv"
    tokens.write_text(f'{ADMIN_TOKEN},kapi-admin,kapi-admin,"system:masters"\n')
    signing = pki.ensure_service_account_key(tmp_path / "sa-2")
    authz = await create_authz(
        AuthzConfig(
            listen="127.0.0.1:0",
            storage=cp.addresses["storage"],
            token_file=str(tokens),
            tls=cp.pki.service("authz"),
            service_account_signing_key_file=str(signing.key_path),
        )
    )
    port = free_port()
    config = GatewayConfig(
        listen=f"127.0.0.1:{port}",
        registry=cp.addresses["registry"],
        authz=f"127.0.0.1:{authz.port}",
        storage=cp.addresses["storage"],
        tls_cert_file="",
        tls_private_key_file="",
        peer_tls=cp.pki.service("gateway"),
    )
    peers = build_peers(config)
    app = create_app(peers)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=20,
        ) as api:
            yield api
    finally:
        server.should_exit = True
        await serving
        await app.state.hub.close()
        await app.state.gate.close()
        await app.state.types.close()
        await app.state.aggregator.close()
        await asyncio.gather(peers.registry.close(), peers.authz.close(), peers.storage.close())
        await authz.server.stop(None)
        await authz.close()


async def test_a_binding_made_on_one_replica_takes_effect_on_another(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    cp = control_plane
    name = f"reader-{uuid.uuid4().hex[:6]}"
    listing = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    async with second_replica(cp, tmp_path) as other:
        # Asked first, so the other gateway holds a cached refusal that must be dropped.
        assert (await other.get(listing, **as_user(name))).status_code == 403
        made = await cp.api.post(
            f"{RBAC}/namespaces/{cp.namespace}/rolebindings",
            json={
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "view",
                },
                "subjects": [
                    {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        )
        assert made.status_code == 201, made.text
        allowed = await until(
            lambda: other.get(listing, **as_user(name)), lambda r: r.status_code == 200
        )
        assert allowed.status_code == 200, allowed.text
        removed = await cp.api.delete(f"{RBAC}/namespaces/{cp.namespace}/rolebindings/{name}")
        assert removed.status_code == 200, removed.text
        refused = await until(
            lambda: other.get(listing, **as_user(name)), lambda r: r.status_code == 403
        )
        assert refused.status_code == 403
        assert refused.json()["message"] == (
            f'configmaps is forbidden: User "{name}" cannot list resource "configmaps" in API '
            f'group "" in the namespace "{cp.namespace}"'
        )
