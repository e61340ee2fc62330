"""Composition root of the registry: catalog, peers, CRD serving, servicer, gRPC server."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import grpc.aio
import orjson

from kapi import errors, metrics_service, pki, rpc
from kapi.user import UserInfo
from kapi_proto import registry_pb2_grpc
from services.authz.client import AuthzClient
from services.registry import authentication_trust, rbac_bootstrap
from services.registry.authentication_trust import AuthenticationTrust
from services.registry.catalog import Catalog
from services.registry.crd.serving import CustomResources
from services.registry.definition import Definition
from services.registry.grpc.servicer import RegistryServicer
from services.registry.local_apiservices import LocalAPIServices
from services.registry.metrics import MeteredAdmission, RegistryMetrics
from services.registry.openapi import OpenAPIV3
from services.registry.peers import AuthzAccess, AuthzAdmission, StorageAdapter
from services.registry.ports import Where
from services.registry.service import Registry, Target
from services.registry.strategies import BUILTIN
from services.registry.strategies.discovery import EndpointSliceStrategy
from services.storage.client import StorageClient

log = logging.getLogger(__name__)

SYSTEM_USER = UserInfo("system:apiserver", groups=("system:masters",))
TRUST_RESYNC = 60.0


@dataclass(frozen=True)
class RegistryConfig:
    listen: str
    storage: str
    authz: str
    # Mutual TLS with the peers (None: plaintext, in-process tests only).
    tls: pki.TLSFiles | None = None
    # What kube-system/extension-apiserver-authentication publishes (None: nothing).
    authentication_trust: AuthenticationTrust | None = None
    # EndpointSlices may name loopback addresses (kapi up: extension servers beside it).
    allow_loopback_endpoints: bool = False


@dataclass
class RegistryServer:
    server: grpc.aio.Server
    port: int
    registry: Registry
    storage: StorageClient
    authz: AuthzClient
    bootstrap: asyncio.Task[None]
    custom_resources: CustomResources
    local_apiservices: LocalAPIServices
    background: list[asyncio.Task[None]]
    aggregation: rbac_bootstrap.ClusterRoleAggregation | None = None

    async def close(self) -> None:
        self.bootstrap.cancel()
        for task in self.background:
            task.cancel()
        await self.local_apiservices.close()
        await self.custom_resources.close()
        if self.aggregation is not None:
            await self.aggregation.close()
        await asyncio.gather(self.storage.close(), self.authz.close(), return_exceptions=True)


async def bootstrap(registry: Registry, trust: AuthenticationTrust | None = None) -> None:
    """Create the system namespaces, reconcile the bootstrap RBAC policy and write
    extension-apiserver-authentication, retrying
    while storage or authz are not up yet."""
    delay = 0.2
    while True:
        try:
            await registry.ensure_system_namespaces(SYSTEM_USER)
            await rbac_bootstrap.reconcile_policy(registry, SYSTEM_USER)
            registry.bootstrapped = True
            log.info("system namespaces present")
            if trust is not None and await authentication_trust.publish(
                registry, trust, SYSTEM_USER
            ):
                log.info("%s written", authentication_trust.NAME)
            return
        except errors.StatusError as err:
            log.info("bootstrap waiting for peers: %s", err.message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def keep_trust(registry: Registry, trust: AuthenticationTrust) -> None:
    """extension-apiserver-authentication kept as configured: kube looks every minute."""
    while True:
        await asyncio.sleep(TRUST_RESYNC)
        try:
            if await authentication_trust.publish(registry, trust, SYSTEM_USER):
                log.info("%s written again", authentication_trust.NAME)
        except errors.StatusError as err:
            log.info("%s: %s", authentication_trust.NAME, err.message)


def builtin(*, allow_loopback_endpoints: bool) -> tuple[Definition, ...]:
    """The built-in definitions, EndpointSlices' loopback rule as configured."""
    if not allow_loopback_endpoints:
        return BUILTIN
    return tuple(
        dataclasses.replace(d, strategy=EndpointSliceStrategy(allow_loopback=True))
        if isinstance(d.strategy, EndpointSliceStrategy)
        else d
        for d in BUILTIN
    )


async def create_server(config: RegistryConfig) -> RegistryServer:
    catalog = Catalog(builtin(allow_loopback_endpoints=config.allow_loopback_endpoints))
    storage = StorageClient(config.storage, tls=config.tls)
    authz = AuthzClient(config.authz, tls=config.tls)
    metrics = RegistryMetrics()
    registry = Registry(
        catalog,
        StorageAdapter(storage),
        MeteredAdmission(AuthzAdmission(authz), metrics),
        AuthzAccess(authz),
    )
    openapi = OpenAPIV3(lambda: catalog.table)
    server, port = rpc.server(config.listen, tls=config.tls)
    registry_pb2_grpc.add_RegistryServicer_to_server(RegistryServicer(registry, openapi), server)
    metrics_service.serve(server, metrics.registry)
    await server.start()
    custom_resources = CustomResources(registry, user=SYSTEM_USER)
    custom_resources.start()
    local_apiservices = LocalAPIServices(
        registry, user=SYSTEM_USER, ready=custom_resources.informer.wait_synced
    )
    local_apiservices.start()
    trust = config.authentication_trust
    task = asyncio.create_task(bootstrap(registry, trust))
    tasks = [asyncio.create_task(keep_trust(registry, trust))] if trust is not None else []
    aggregation = aggregation_controller(registry)
    aggregation.start()
    return RegistryServer(
        server,
        port,
        registry,
        storage,
        authz,
        task,
        custom_resources,
        local_apiservices,
        tasks,
        aggregation,
    )


def aggregation_controller(registry: Registry) -> rbac_bootstrap.ClusterRoleAggregation:
    """ClusterRole aggregation, writing through the registry as the apiserver."""
    rt = registry.catalog.table.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
    assert rt is not None
    where = Where(group=rt.group, resource=rt.resource, namespaced=False)

    async def write(role: dict[str, Any]) -> None:
        name = str(role["metadata"]["name"])
        await registry.update(
            Target(
                rt.group,
                rt.version,
                rt.resource,
                name=name,
                user=SYSTEM_USER,
                user_agent=rbac_bootstrap.AGGREGATION_MANAGER,
            ),
            orjson.dumps(role),
        )

    roles = rbac_bootstrap.cluster_role_informer(registry.storage, where)
    return rbac_bootstrap.ClusterRoleAggregation(roles, write)
