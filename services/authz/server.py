"""Composition root of authz: authenticators, authorizer, admission chain, gRPC server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc.aio
import orjson

from kapi import errors, rpc
from kapi_proto import authz_pb2_grpc
from services.authz import admission, authentication, authorization
from services.authz.admission.namespace_lifecycle import NamespaceLifecycle
from services.authz.admission.service_account import ServiceAccount
from services.authz.grpc.servicer import AuthzServicer
from services.storage.client import StorageClient
from services.storage.model import ResourceRef

NAMESPACES = ResourceRef(
    group="", resource="namespaces", key_prefix="/registry/namespaces", namespaced=False
)


@dataclass(frozen=True)
class AuthzConfig:
    listen: str
    storage: str
    token_file: str


class StoredNamespaces:
    """Namespace lookups through the storage service: from its watch cache, and on a
    miss a live (quorum) read, as kube's plugin falls back to a live lookup, so a
    namespace created a moment ago is never reported missing."""

    def __init__(self, storage: StorageClient) -> None:
        self.storage = storage

    async def get(self, name: str) -> dict[str, Any] | None:
        try:
            stored = await self.storage.get(NAMESPACES, "", name, resource_version="0")
        except errors.StatusError as err:
            if err.code != 404:
                raise
            try:
                stored = await self.storage.get(NAMESPACES, "", name)
            except errors.StatusError as live_err:
                if live_err.code == 404:
                    return None
                raise
        found = orjson.loads(stored.object)
        return found if isinstance(found, dict) else None


@dataclass
class AuthzServer:
    server: grpc.aio.Server
    port: int
    storage: StorageClient

    async def close(self) -> None:
        await self.storage.close()


async def create_server(config: AuthzConfig) -> AuthzServer:
    storage = StorageClient(config.storage)
    authenticators: list[authentication.Authenticator] = [authentication.ClientCertificate()]
    if config.token_file:
        authenticators.insert(0, authentication.TokenFile(Path(config.token_file)))
    servicer = AuthzServicer(
        authenticator=authentication.Union(*authenticators),
        authorizer=authorization.AlwaysAllow(),
        admission_chain=admission.Chain(
            mutating=[NamespaceLifecycle(StoredNamespaces(storage)), ServiceAccount()],
            validating=[],
        ),
    )
    server = rpc.server()
    authz_pb2_grpc.add_AuthzServicer_to_server(servicer, server)
    port = server.add_insecure_port(config.listen)
    await server.start()
    return AuthzServer(server, port, storage)
