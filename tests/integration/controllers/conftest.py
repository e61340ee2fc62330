"""The controller manager (and, where a test asks, the scheduler and simulated nodes)
against the in-process control plane, as clients of its gateway, each with its own
user's token (``COMPONENT_TOKENS``): under RBAC, with only the roles kube gives them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kapi.kube.client import ApiClient
from kapi.kube.connection import Connection
from services.controllers.server import ControllersConfig, LeaderElection, create_server
from tests.integration.conftest import ADMIN_TOKEN, COMPONENT_TOKENS, ControlPlane

CA_PEM = "-----BEGIN CERTIFICATE-----\nkapi-test\n-----END CERTIFICATE-----\n"


def connection(cp: ControlPlane, user: str = "") -> Connection:
    """The admin's connection, or ``user``'s (one of COMPONENT_TOKENS)."""
    return Connection(server=cp.base_url, token=COMPONENT_TOKENS[user] if user else ADMIN_TOKEN)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns a truthy value (the test's own waiting, not the
    controllers': they are driven by watches)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not within {timeout}s; last: {last!r}")


@pytest.fixture
async def client(control_plane: ControlPlane) -> AsyncIterator[ApiClient]:
    api = ApiClient(connection(control_plane))
    yield api
    await api.close()


@pytest.fixture
async def controllers(control_plane: ControlPlane) -> AsyncIterator[Any]:
    running = await create_server(
        ControllersConfig(
            connection=connection(control_plane, "system:kube-controller-manager"),
            leader_election=LeaderElection(enabled=False),
            root_ca_pem=CA_PEM,
            identity="test",
        )
    )
    yield running
    await running.close()


@pytest.fixture
async def scheduler(control_plane: ControlPlane) -> AsyncIterator[Any]:
    from services.scheduler.server import SchedulerConfig
    from services.scheduler.server import create_server as create_scheduler

    running = await create_scheduler(
        SchedulerConfig(
            connection=connection(control_plane, "system:kube-scheduler"),
            leader_election=LeaderElection(enabled=False),
            identity="test",
        )
    )
    yield running
    await running.close()


@pytest.fixture
async def nodes(control_plane: ControlPlane) -> AsyncIterator[Any]:
    from services.nodes.server import NodesConfig
    from services.nodes.server import create_server as create_nodes

    running = await create_nodes(
        NodesConfig(
            connection=connection(control_plane, "system:kapi-node-simulator"),
            count=2,
            prefix="sim-",
        )
    )
    yield running
    await running.close()
