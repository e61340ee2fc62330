"""The availability controller: each APIService's ``Available`` condition, as kube sets it.

kube-aggregator's local and remote AvailableConditionControllers
(``pkg/controllers/status/local``, ``.../remote``), with their reasons and messages:

- no ``spec.service``: True ``Local`` "Local APIServices are always available";
- the Service missing: False ``ServiceNotFound`` ``service/NAME in "NS" is not present``;
- a ClusterIP Service without the APIService's port: False ``ServicePortError``; with no
  EndpointSlice: False ``EndpointsNotFound``; with none ready on the port's name: False
  ``MissingEndpoints`` (kube's EndpointSlice-based controller's words);
- then the discovery check: ``GET /apis/GROUP/VERSION`` on a resolved endpoint as
  ``system:kube-aggregator`` (``system:masters``) with the front-proxy certificate, TLS
  unverified, 5 s, five attempts at once, one success enough; all failing is False
  ``FailedDiscoveryCheck`` with the last error (``failing or missing response from
  URL: ...``), else True ``Passed`` "all checks passed".

The status is written (through the registry's ``/status``) only when it changed; the
condition's lastTransitionTime moves only when its status does. Every APIService is
checked again every ``RESYNC`` seconds (kube: 30 s), whenever it, its Service or the
Service's EndpointSlices change, after a failed check with kube's backoff, and (kapi's
addition) as soon as the proxy fails to reach it. Each gateway replica runs it, as each
kube-apiserver does; writes are compare-and-swap, and a replica that lost a race looks
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from kapi import errors, informer
from kapi import service_resolution as resolution
from kapi_proto import common_pb2, registry_pb2
from services.gateway.aggregator import transport
from services.gateway.aggregator.state import Remote, State, remote_of
from services.gateway.aggregator.transport import Transports
from services.registry import aggregation as reg
from services.registry.client import RegistryClient

log = logging.getLogger(__name__)

RESYNC = 30.0
RETRY_INITIAL = 0.005
RETRY_MAX = 30.0
ATTEMPTS = 5
ATTEMPT_TIMEOUT = 6.0  # kube's "insurance" beyond the client's 5 s
WORKERS = 5
# Who checks and who writes: kube's aggregator identity, and the gateway's own.
CHECKER = ("system:kube-aggregator", ("system:masters",))
WRITER = common_pb2.UserInfo(username="system:kube-aggregator", groups=["system:masters"])

Obj = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(status: str, reason: str, message: str) -> Obj:
    return {
        "type": "Available",
        "status": status,
        "lastTransitionTime": now_rfc3339(),
        "reason": reason,
        "message": message,
    }


class Availability:
    def __init__(
        self,
        state: State,
        transports: Transports,
        registry: RegistryClient,
        *,
        resync: float = RESYNC,
    ) -> None:
        self.state = state
        self.transports = transports
        self.registry = registry
        self.resync = resync
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._failures: dict[str, int] = {}  # failed discovery checks in a row, by name
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        informer.on_each_object(self.state.apiservices, self._apiservice_changed)
        informer.on_each_object(self.state.services, self._service_changed)
        informer.on_each_object(self.state.endpoint_slices, self._slice_changed)
        self._tasks.append(asyncio.create_task(self._resync(), name="availability resync"))
        self._tasks += [
            asyncio.create_task(self._work(), name=f"availability worker {i}")
            for i in range(WORKERS)
        ]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- what to look at ------------------------------------------------------------

    def enqueue(self, name: str) -> None:
        if name and name not in self._queued:
            self._queued.add(name)
            self._queue.put_nowait(name)

    def _retry(self, name: str) -> None:
        """A failed discovery check is tried again soon, then less and less often (kube's
        per-item exponential backoff: 5 ms doubling, at most 30 s)."""
        failures = self._failures.get(name, 0)
        self._failures[name] = failures + 1
        delay = min(RETRY_INITIAL * 2**failures, RETRY_MAX)
        asyncio.get_running_loop().call_later(delay, self.enqueue, name)

    def _apiservice_changed(self, kind: str, obj: Obj) -> None:
        self.enqueue(str((obj.get("metadata") or {}).get("name") or ""))

    def _for_service(self, namespace: str, name: str) -> None:
        for remote in self.state.remotes():
            if (remote.namespace, remote.service) == (namespace, name):
                self.enqueue(remote.name)

    def _service_changed(self, kind: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self._for_service(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def _slice_changed(self, kind: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        service = (meta.get("labels") or {}).get(resolution.SERVICE_NAME_LABEL)
        if service:
            self._for_service(str(meta.get("namespace") or ""), str(service))

    async def _resync(self) -> None:
        informers = (self.state.apiservices, self.state.services, self.state.endpoint_slices)
        await asyncio.gather(*(each.wait_synced() for each in informers))
        while True:
            for obj in self.state.apiservices.items():
                self.enqueue(str((obj.get("metadata") or {}).get("name") or ""))
            await asyncio.sleep(self.resync)

    async def _work(self) -> None:
        while True:
            name = await self._queue.get()
            self._queued.discard(name)
            try:
                await self.sync(name)
            except errors.StatusError as err:
                log.info("apiservice %s: %s", name, err.message)
                if err.reason == "Conflict":
                    self.enqueue(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("apiservice %s: availability check failed", name)

    # --- the check ------------------------------------------------------------------

    async def sync(self, name: str) -> None:
        obj = self.state.apiservices.get("", name)
        if obj is None:
            return
        remote = remote_of(obj)
        if remote is None:
            found = condition("True", reg.LOCAL_REASON, reg.LOCAL_MESSAGE)
        else:
            found = await self.judge(remote)
        if found["reason"] == "FailedDiscoveryCheck":
            self._retry(name)
        else:
            self._failures.pop(name, None)
        updated = copy.deepcopy(obj)
        reg.set_condition(updated.setdefault("status", {}), found)
        if updated.get("status") == obj.get("status"):
            return
        before = reg.available(obj) or {}
        if before.get("status") != found["status"]:
            log.info(
                "changing APIService %s availability to %s: %s %s",
                name,
                found["status"],
                found["reason"],
                found["message"],
            )
        await self.registry.update(
            registry_pb2.WriteRequest(
                target=registry_pb2.RequestTarget(
                    group=reg.GROUP,
                    version="v1",
                    resource="apiservices",
                    subresource="status",
                    name=name,
                    user=WRITER,
                ),
                object=orjson.dumps(updated),
            )
        )

    async def judge(self, remote: Remote) -> Obj:
        """The Available condition ``remote`` earns now."""
        where = f'service/{remote.service} in "{remote.namespace}"'
        svc = self.state.service_of(remote)
        if svc is None:
            return condition("False", "ServiceNotFound", f"{where} is not present")
        if ((svc.get("spec") or {}).get("type") or "ClusterIP") == "ClusterIP":
            port = self.state.service_port(remote)
            if port is None:
                return condition(
                    "False", "ServicePortError", f"{where} is not listening on port {remote.port}"
                )
            slices = self.state.slices_of(remote)
            if not slices:
                return condition(
                    "False", "EndpointsNotFound", f"cannot find endpointslices for {where}"
                )
            port_name = str(port.get("name") or "")
            if not any(_serves(s, port_name) for s in slices):
                return condition(
                    "False",
                    "MissingEndpoints",
                    f'endpointslices for {where} have no addresses with port name "{port_name}"',
                )
        problems = await asyncio.gather(*(self._attempt(remote) for _ in range(ATTEMPTS)))
        if all(problems):
            return condition("False", "FailedDiscoveryCheck", str(problems[-1]))
        return condition("True", "Passed", "all checks passed")

    async def _attempt(self, remote: Remote) -> str:
        """One discovery check: "" when it passed, else why not."""
        try:
            endpoint = self.state.resolve(remote)
        except errors.StatusError as err:
            return err.message
        host, port = endpoint.address, endpoint.port
        url = endpoint.url(remote.discovery_path)
        headers = [("X-Remote-User", CHECKER[0])] + [("X-Remote-Group", g) for g in CHECKER[1]]
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                reply = await self.transports.check_client().get(url, headers=headers)
        except TimeoutError:
            return f"timed out waiting for {url}"
        except httpx.TimeoutException:
            return (
                f'failing or missing response from {url}: Get "{url}": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)"
            )
        except httpx.HTTPError as exc:
            text = transport.errors_text(exc, host, port)
            return f'failing or missing response from {url}: Get "{url}": {text}'
        if not 200 <= reply.status_code < 300:
            bad = f"bad status from {url}: {reply.status_code}"
            return f"failing or missing response from {url}: {bad}"
        return ""


def _serves(slice_: resolution.Obj, port_name: str) -> bool:
    """kube's hasAvailableEndpoint: a ready (or not unready) endpoint, and a port of the
    Service port's name."""
    return bool(resolution.ready_addresses(slice_)) and (
        resolution.slice_port(slice_, port_name) is not None
    )
