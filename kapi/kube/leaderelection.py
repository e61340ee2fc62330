"""Leader election on a coordination.k8s.io Lease, as client-go's
``tools/leaderelection`` does it, so a component can run replicated with one active.

* A candidate tries to acquire the lease every ``retry_period`` (jittered by 1.2, as
  ``wait.JitterUntil``): a lease that does not exist is created holding it; one held by
  another is taken only once the holder has not renewed it for ``lease_duration``, timed
  by *our* clock from when we last saw the record change (client-go's ``observedTime``:
  clocks of different machines are never compared).
* Taking a lease from another holder sets ``acquireTime`` and adds one to
  ``leaseTransitions``; renewing keeps both and moves ``renewTime``.
* The leader renews every ``retry_period``; if it cannot renew within
  ``renew_deadline`` it has lost the lease and ``run`` returns (kube-controller-manager
  then exits, "leaderelection lost", and is restarted as a candidate).
* Every write is a compare-and-swap on the Lease's resourceVersion, so two candidates
  never both win.
* On a clean stop a leader releases the lease (client-go's ``ReleaseOnCancel``): holder
  emptied, ``leaseDurationSeconds`` 1, so another takes over at once.

Defaults are kube-controller-manager's: lease 15 s, renew deadline 10 s, retry 2 s.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import LEASES

log = logging.getLogger(__name__)

Obj = dict[str, Any]
JITTER = 1.2


@dataclass(frozen=True)
class Config:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        # client-go's NewLeaderElector checks the same.
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER * self.retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if not self.identity:
            raise ValueError("the leader election identity must not be empty")


def micro_time(now: datetime.datetime | None = None) -> str:
    """metav1.MicroTime as the API writes it: RFC 3339 with microseconds, UTC."""
    now = now or datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """``await run(lead)``: campaign, then run ``lead`` while leading. Returns when the
    lease is lost (``lead`` cancelled) or ``lead`` returns; releases on the way out."""

    def __init__(self, client: ApiClient, config: Config) -> None:
        self.client = client
        self.config = config
        self._observed: Obj | None = None  # the lease's spec, as last seen
        self._observed_rv = ""
        self._observed_time = 0.0  # monotonic time at which it last changed
        self.leading = False

    @property
    def holder(self) -> str:
        return str((self._observed or {}).get("holderIdentity") or "")

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await self._acquire()
        log.info(
            "%s: became leader of %s/%s",
            self.config.identity,
            self.config.namespace,
            self.config.name,
        )
        leading = asyncio.create_task(lead(), name="leading")
        renewing = asyncio.create_task(self._renew(), name="renew lease")
        try:
            done, _ = await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (leading, renewing):
                task.cancel()
            await asyncio.gather(leading, renewing, return_exceptions=True)
            await self._release()
        if leading in done and not leading.cancelled():
            leading.result()

    async def _acquire(self) -> None:
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self.config.retry_period * random.uniform(1.0, 1.0 + JITTER))

    async def _renew(self) -> None:
        """Renew every retry period; return once a renewal misses the deadline."""
        while True:
            deadline = time.monotonic() + self.config.renew_deadline
            while not await self._try_acquire_or_renew():
                if time.monotonic() + self.config.retry_period > deadline:
                    log.error(
                        "%s: failed to renew lease %s/%s: timed out",
                        self.config.identity,
                        self.config.namespace,
                        self.config.name,
                    )
                    self.leading = False
                    return
                await asyncio.sleep(self.config.retry_period)
            await asyncio.sleep(self.config.retry_period)

    def _observe(self, lease: Obj) -> None:
        spec = lease.get("spec") or {}
        rv = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        if self._observed is None or spec != self._observed:
            self._observed = dict(spec)
            self._observed_time = time.monotonic()
        self._observed_rv = rv

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now = micro_time()
        try:
            lease = await self.client.get(LEASES, cfg.namespace, cfg.name)
        except errors.StatusError as err:
            if err.code != 404:
                log.info(
                    "%s: error retrieving lease %s/%s: %s",
                    cfg.identity,
                    cfg.namespace,
                    cfg.name,
                    err.message,
                )
                return False
            record = {
                "holderIdentity": cfg.identity,
                "leaseDurationSeconds": int(cfg.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            }
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": record,
            }
            try:
                created = await self.client.create(LEASES, cfg.namespace, body)
            except errors.StatusError as err:
                log.info("%s: error initially creating lease: %s", cfg.identity, err.message)
                return False
            self._observe(created)
            self.leading = True
            return True
        self._observe(lease)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        mine = holder == cfg.identity
        if holder and not mine and self._observed_time + duration > time.monotonic():
            return False
        record = dict(spec)
        record.update(
            holderIdentity=cfg.identity,
            leaseDurationSeconds=int(cfg.lease_duration),
            renewTime=now,
        )
        if not mine:
            record["acquireTime"] = now
            record["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        lease = {**lease, "spec": record}
        try:
            updated = await self.client.update(LEASES, lease)
        except errors.StatusError as err:
            log.info(
                "%s: failed to update lease %s/%s: %s",
                cfg.identity,
                cfg.namespace,
                cfg.name,
                err.message,
            )
            return False
        self._observe(updated)
        self.leading = True
        return True

    async def _release(self) -> None:
        """Hand the lease back (holder empty, duration 1 s) if we still hold it."""
        if self._observed is None or self.holder != self.config.identity:
            return
        cfg = self.config
        now = micro_time()
        record = {
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": int(self._observed.get("leaseTransitions") or 0),
        }
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": cfg.name,
                "namespace": cfg.namespace,
                "resourceVersion": self._observed_rv,
            },
            "spec": record,
        }
        try:
            await asyncio.wait_for(self.client.update(LEASES, lease), cfg.renew_deadline)
        except (errors.StatusError, TimeoutError) as err:
            log.info("%s: failed to release lease: %r", cfg.identity, err)
        self.leading = False
