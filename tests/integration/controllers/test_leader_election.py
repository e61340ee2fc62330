"""Two controller managers, one Lease: the standby acts only once the leader is killed
(SIGKILL: no release), after the lease expires, as client-go's leader election has it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import LEASES, NAMESPACES, SERVICEACCOUNTS
from tests.integration.conftest import COMPONENT_TOKENS, ControlPlane
from tests.integration.controllers.conftest import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _kubeconfig(cp: ControlPlane, path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": cp.base_url}}],
                "users": [
                    {
                        "name": "u",
                        "user": {"token": COMPONENT_TOKENS["system:kube-controller-manager"]},
                    }
                ],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def _manager(kubeconfig: Path, identity: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPI_")}
    env["PYTHONPATH"] = str(ROOT)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.controllers",
                "--kubeconfig",
                str(kubeconfig),
                "--identity",
                identity,
                "--controllers",
                "serviceaccount",
                "--leader-elect-lease-duration",
                "3s",
                "--leader-elect-renew-deadline",
                "2s",
                "--leader-elect-retry-period",
                "500ms",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )


async def _lease(client: ApiClient) -> dict[str, Any] | None:
    try:
        return await client.get(LEASES, "kube-system", "kube-controller-manager")
    except errors.StatusError:
        return None


async def _has_default_sa(client: ApiClient, namespace: str) -> bool:
    try:
        await client.get(SERVICEACCOUNTS, namespace, "default")
    except errors.StatusError:
        return False
    return True


async def test_the_standby_takes_over_when_the_leader_is_killed(
    control_plane: ControlPlane, client: ApiClient, tmp_path: Path
) -> None:
    kubeconfig = _kubeconfig(control_plane, tmp_path / "kubeconfig")
    with contextlib.suppress(errors.StatusError):  # another test's, on the session's etcd
        await client.delete(LEASES, "kube-system", "kube-controller-manager")
    managers = {
        name: _manager(kubeconfig, name, tmp_path / f"{name}.log") for name in ("one", "two")
    }
    try:

        async def held() -> Any:
            lease = await _lease(client)
            return lease if lease and lease["spec"].get("holderIdentity") else None

        lease = await eventually(held)
        leader = lease["spec"]["holderIdentity"]
        standby = "two" if leader == "one" else "one"
        assert lease["spec"]["leaseTransitions"] == 0
        assert lease["spec"]["leaseDurationSeconds"] == 3
        await eventually(lambda: _has_default_sa(client, control_plane.namespace))

        managers[leader].send_signal(signal.SIGKILL)
        await asyncio.to_thread(managers[leader].wait)
        killed_at = asyncio.get_running_loop().time()

        async def taken() -> Any:
            lease = await _lease(client)
            return lease if lease and lease["spec"]["holderIdentity"] == standby else None

        lease = await eventually(taken, timeout=30)
        # Not before the killed leader's lease ran out (3 s from its last renewal).
        assert asyncio.get_running_loop().time() - killed_at >= 1.0
        assert lease["spec"]["leaseTransitions"] == 1
        # ... and the new leader's controllers act.
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "after-failover"}}
        await client.create(NAMESPACES, "", body)
        await eventually(lambda: _has_default_sa(client, "after-failover"))
    finally:
        for process in managers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:  # off the loop: the in-process gateway must answer the release
                    await asyncio.to_thread(process.wait, 10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    await asyncio.to_thread(process.wait)
    # The standby stopped cleanly and handed the lease back (ReleaseOnCancel).
    lease = await _lease(client)
    assert lease is not None and not lease["spec"].get("holderIdentity")
