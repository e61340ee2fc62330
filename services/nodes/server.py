"""The node simulator's composition root: ``create_server(config) -> Running``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kapi.kube.client import ApiClient
from kapi.kube.connection import Connection
from kapi.kube.informer import InformerFactory
from services.controllers.framework import Context, Options
from services.controllers.server import Running
from services.nodes.simulator import NodeShape, NodeSimulator

USER_AGENT = "kubelet/v1.32.0 (linux/amd64) kapi-node-simulator"


@dataclass(frozen=True)
class NodesConfig:
    connection: Connection
    count: int = 1
    prefix: str = "kapi-node-"
    shape: NodeShape = field(default_factory=NodeShape)
    lease_renew_seconds: float = 10.0
    events: bool = True
    workers: int = 16


async def create_server(config: NodesConfig) -> Running:
    client = ApiClient(config.connection, user_agent=USER_AGENT, max_in_flight=64)
    context = Context(
        client=client,
        informers=InformerFactory(client),
        options=Options(concurrent_syncs=config.workers),
    )
    simulator = NodeSimulator(
        context,
        names=[f"{config.prefix}{i}" for i in range(config.count)],
        shape=config.shape,
        lease_renew_seconds=config.lease_renew_seconds,
        events=config.events,
    )
    task = asyncio.create_task(simulator.run(), name="node simulator")
    return Running(task, client, context, None)
