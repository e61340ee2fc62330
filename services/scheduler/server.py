"""The scheduler's composition root: ``create_server(config) -> Running``."""

from __future__ import annotations

from dataclasses import dataclass, field

from kapi.kube.client import ApiClient
from kapi.kube.connection import Connection
from kapi.kube.informer import InformerFactory
from services.controllers import server as manager
from services.controllers.framework import Context, Options
from services.controllers.server import LeaderElection, Running
from services.scheduler.scheduler import Scheduler

USER_AGENT = "kube-scheduler/v1.32.0 (linux/amd64) kapi"


@dataclass(frozen=True)
class SchedulerConfig:
    connection: Connection
    leader_election: LeaderElection = field(
        default_factory=lambda: LeaderElection(name="kube-scheduler")
    )
    identity: str = ""
    parallelism: int = 16


async def create_server(config: SchedulerConfig) -> Running:
    client = ApiClient(config.connection, user_agent=USER_AGENT, max_in_flight=64)
    identity = config.identity or manager.default_identity()
    context = Context(
        client=client,
        informers=InformerFactory(client),
        host=identity.split("_", 1)[0],
        options=Options(concurrent_syncs=config.parallelism),
    )

    async def schedule() -> None:
        context.informers.start()
        await Scheduler(context).run()

    return await manager.start(context, config.leader_election, identity, schedule)
