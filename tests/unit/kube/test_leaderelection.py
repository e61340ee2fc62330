"""kapi.kube.leaderelection against client-go's leaderelection semantics
(leaderelection_test.go: acquire, renew, take over an expired lease, transitions,
release on cancel, lose on a missed renew deadline), on an in-memory Lease API with
compare-and-swap."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kapi import errors
from kapi.kube import leaderelection
from kapi.kube.leaderelection import Config, LeaderElector

Obj = dict[str, Any]
FAST = {"lease_duration": 0.6, "renew_deadline": 0.4, "retry_period": 0.1}


class Leases:
    """One Lease, written with resourceVersion checks; ``down`` fails every call."""

    def __init__(self) -> None:
        self.lease: Obj | None = None
        self.rv = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise errors.service_unavailable("down")

    async def get(self, res: Any, namespace: str, name: str) -> Obj:
        self._check()
        if self.lease is None:
            raise errors.not_found("leases", "coordination.k8s.io", name)
        return copy.deepcopy(self.lease)

    async def create(self, res: Any, namespace: str, obj: Obj) -> Obj:
        self._check()
        if self.lease is not None:
            raise errors.already_exists("leases", "coordination.k8s.io", "x")
        self.rv += 1
        self.lease = {
            **copy.deepcopy(obj),
            "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)},
        }
        return copy.deepcopy(self.lease)

    async def update(self, res: Any, obj: Obj) -> Obj:
        self._check()
        assert self.lease is not None
        if obj["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise errors.conflict("leases", "coordination.k8s.io", "x")
        self.rv += 1
        self.lease = {
            **copy.deepcopy(obj),
            "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)},
        }
        return copy.deepcopy(self.lease)


def elector(api: Leases, identity: str) -> LeaderElector:
    return LeaderElector(api, Config("kube-system", "x", identity, **FAST))  # type: ignore[arg-type]


async def _leading_forever() -> None:
    await asyncio.Event().wait()


async def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_first_candidate_creates_the_lease() -> None:
    api = Leases()
    a = elector(api, "a")
    task = asyncio.create_task(a.run(_leading_forever))
    await _wait(lambda: a.leading)
    assert api.lease is not None
    spec = api.lease["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseTransitions"] == 0
    assert spec["leaseDurationSeconds"] == int(FAST["lease_duration"]) and spec["acquireTime"]
    renewed = spec["renewTime"]
    await _wait(lambda: api.lease is not None and api.lease["spec"]["renewTime"] != renewed)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_standby_takes_over_an_expired_lease_only() -> None:
    api = Leases()
    a, b = elector(api, "a"), elector(api, "b")
    leader = asyncio.create_task(a.run(_leading_forever))
    await _wait(lambda: a.leading)
    standby = asyncio.create_task(b.run(_leading_forever))
    await asyncio.sleep(1.0)  # > lease duration: a renews, so b waits
    assert not b.leading and api.lease is not None and api.lease["spec"]["holderIdentity"] == "a"
    first_acquire = api.lease["spec"]["acquireTime"]
    api_a_renews = a._try_acquire_or_renew

    async def crashed() -> bool:  # a stops renewing without releasing (killed)
        await asyncio.Event().wait()
        return await api_a_renews()

    a._try_acquire_or_renew = crashed  # type: ignore[method-assign]
    await _wait(lambda: b.leading)
    spec = api.lease["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert spec["acquireTime"] != first_acquire
    for task in (leader, standby):
        task.cancel()
    await asyncio.gather(leader, standby, return_exceptions=True)


async def test_a_clean_stop_releases_the_lease() -> None:
    api = Leases()
    a = elector(api, "a")
    task = asyncio.create_task(a.run(_leading_forever))
    await _wait(lambda: a.leading)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert api.lease is not None
    spec = api.lease["spec"]
    assert "holderIdentity" not in spec and spec["leaseDurationSeconds"] == 1
    b = elector(api, "b")
    other = asyncio.create_task(b.run(_leading_forever))
    await _wait(lambda: b.leading, timeout=1.0)  # no wait for the old lease to expire
    other.cancel()
    await asyncio.gather(other, return_exceptions=True)


async def test_missing_the_renew_deadline_loses_leadership() -> None:
    api = Leases()
    a = elector(api, "a")
    stopped = asyncio.Event()

    async def lead() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    task = asyncio.create_task(a.run(lead))
    await _wait(lambda: a.leading)
    api.down = True
    await asyncio.wait_for(task, 3.0)  # run returns: leadership lost
    assert stopped.is_set() and not a.leading


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease_duration": 10, "renew_deadline": 10}, "leaseDuration must be greater"),
        ({"renew_deadline": 2, "retry_period": 2}, "renewDeadline must be greater"),
        ({"identity": ""}, "identity must not be empty"),
    ],
)
def test_config_is_checked(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"namespace": "n", "name": "x", "identity": "a"}
    with pytest.raises(ValueError, match=message):
        Config(**{**base, **kwargs})


def test_micro_time() -> None:
    import datetime

    at = datetime.datetime(2026, 1, 2, 3, 4, 5, 6007, tzinfo=datetime.UTC)
    assert leaderelection.micro_time(at) == "2026-01-02T03:04:05.006007Z"
