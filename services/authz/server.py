"""Composition root of authz: authenticators, authorizer, admission chain, gRPC server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc.aio

from kapi import metrics_service, pki, rpc
from kapi_proto import authz_pb2_grpc
from services.authz import admission, authentication, authorization
from services.authz.admission.namespace_lifecycle import NamespaceLifecycle
from services.authz.admission.service_account import ServiceAccount
from services.authz.grpc.servicer import AuthzServicer
from services.authz.metrics import AuthzMetrics
from services.authz.namespace_informer import NamespaceInformer
from services.storage.client import StorageClient


@dataclass(frozen=True)
class AuthzConfig:
    listen: str
    storage: str
    token_file: str
    # Mutual TLS with the peers (None: plaintext, in-process tests only).
    tls: pki.TLSFiles | None = None


@dataclass
class AuthzServer:
    server: grpc.aio.Server
    port: int
    storage: StorageClient
    namespaces: NamespaceInformer

    async def close(self) -> None:
        await self.namespaces.close()
        await self.storage.close()


async def create_server(config: AuthzConfig) -> AuthzServer:
    storage = StorageClient(config.storage, tls=config.tls)
    namespaces = NamespaceInformer(storage)
    authenticators: list[authentication.Authenticator] = [authentication.ClientCertificate()]
    if config.token_file:
        authenticators.insert(0, authentication.TokenFile(Path(config.token_file)))
    metrics = AuthzMetrics()
    servicer = AuthzServicer(
        authenticator=authentication.Union(*authenticators),
        authorizer=metrics.authorizer("AlwaysAllow", authorization.AlwaysAllow()),
        admission_chain=admission.Chain(
            mutating=[
                metrics.plugin("NamespaceLifecycle", "admit", NamespaceLifecycle(namespaces)),
                metrics.plugin("ServiceAccount", "admit", ServiceAccount()),
            ],
            validating=[],
        ),
    )
    server, port = rpc.server(config.listen, tls=config.tls)
    authz_pb2_grpc.add_AuthzServicer_to_server(servicer, server)
    metrics_service.serve(server, metrics.registry)
    await server.start()
    # In the background: authz serves at once (storage may be down), and NamespaceLifecycle
    # reads namespaces live until the informer has listed them.
    namespaces.start()
    return AuthzServer(server, port, storage, namespaces)
