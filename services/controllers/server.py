"""The controller manager's composition root: ``create_server(config) -> Running``.

Like kube-controller-manager: with leader election (the default) the controllers start
only once this instance holds the Lease, and if the Lease is lost the process exits
(``leaderelection lost``) to be restarted as a candidate, so two replicas never both
act. The controllers share one set of informers (listing and watching as the manager's
own user); each writes as its own ServiceAccount (``credentials``), unless
``use_service_account_credentials`` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from kapi.kube import leaderelection
from kapi.kube.client import ApiClient
from kapi.kube.connection import Connection
from kapi.kube.informer import InformerFactory
from services.controllers import catalog
from services.controllers.credentials import ServiceAccountClients
from services.controllers.framework import Context, Options

log = logging.getLogger(__name__)

USER_AGENT = "kube-controller-manager/v1.32.0 (linux/amd64) kapi"


@dataclass(frozen=True)
class LeaderElection:
    enabled: bool = True
    namespace: str = "kube-system"
    name: str = "kube-controller-manager"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass(frozen=True)
class ControllersConfig:
    connection: Connection
    controllers: tuple[str, ...] = ("*",)
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    identity: str = ""
    root_ca_pem: str = ""
    concurrent_syncs: int = 5
    min_watch_timeout: int = 300
    # kube's --use-service-account-credentials (kubeadm turns it on; so does kapi).
    use_service_account_credentials: bool = True


def default_identity() -> str:
    """kube's: the hostname and a uuid, so two instances on one host differ."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass
class Running:
    task: asyncio.Task[None]
    client: ApiClient
    context: Context
    elector: leaderelection.LeaderElector | None
    # The controllers --controllers turned on (kube's canonical names), in start order.
    controllers: tuple[str, ...] = ()

    @property
    def leading(self) -> bool:
        return self.elector is None or self.elector.leading

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.context.informers.stop()
        for recorder in self.context.recorders.values():
            await recorder.close()
        if self.context.accounts is not None:
            await self.context.accounts.close()
        await self.client.close()


async def run_controllers(context: Context, entries: tuple[str, ...]) -> None:
    """Build and run every enabled controller until one fails or all are cancelled."""
    chosen = catalog.enabled(list(entries))
    controllers = [cls(context) for cls in chosen]
    log.info("starting controllers: %s", ", ".join(c.name for c in controllers))
    context.informers.start()
    tasks = [asyncio.create_task(c.run(), name=c.name) for c in controllers]
    try:
        if not tasks:
            # None enabled (``--controllers ""``): lead and idle, as kube's manager
            # does; returning would read as lost leadership and end the process.
            await asyncio.Event().wait()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def start(
    context: Context,
    election: LeaderElection,
    identity: str,
    body: Callable[[], Coroutine[Any, Any, None]],
) -> Running:
    """Run ``body`` in the background, once this instance leads when ``election`` is on;
    ``Running.task`` ends when leadership is lost (or ``body`` fails)."""
    elector = None
    if election.enabled:
        elector = leaderelection.LeaderElector(
            context.client,
            leaderelection.Config(
                namespace=election.namespace,
                name=election.name,
                identity=identity,
                lease_duration=election.lease_duration,
                renew_deadline=election.renew_deadline,
                retry_period=election.retry_period,
            ),
        )
        task = asyncio.create_task(elector.run(body))
    else:
        task = asyncio.create_task(body())
    return Running(task, context.client, context, elector)


async def create_server(config: ControllersConfig) -> Running:
    """Start campaigning (or the controllers, without leader election) in the background."""
    client = ApiClient(config.connection, user_agent=USER_AGENT)
    identity = config.identity or default_identity()
    context = Context(
        client=client,
        informers=InformerFactory(client, min_watch_timeout=config.min_watch_timeout),
        host=identity.split("_", 1)[0],
        options=Options(concurrent_syncs=config.concurrent_syncs, root_ca_pem=config.root_ca_pem),
        accounts=ServiceAccountClients(client, config.connection, USER_AGENT)
        if config.use_service_account_credentials
        else None,
    )
    entries = tuple(catalog.parse(",".join(config.controllers)))
    running = await start(
        context, config.leader_election, identity, lambda: run_controllers(context, entries)
    )
    running.controllers = tuple(c.name for c in catalog.enabled(list(entries)))
    return running
