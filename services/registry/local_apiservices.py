"""The local APIServices: one per group-version the registry serves, as kube creates them.

kube-apiserver's aggregator registers an APIService without a service (``Local``) for
every built-in group-version it has a priority for (``v1.``, ``v1.apps``, ...; labelled
``kube-aggregator.kubernetes.io/automanaged: onstart``) and, through its CRD registration
controller, for every served version of every CRD (``automanaged: "true"``, priorities
1000/100). Its autoregister controller (``kube-aggregator/pkg/controllers/autoregister``)
keeps them so:

- missing and wanted: created (an ``onstart`` one only until it has synced once);
- ``"true"``: its spec kept equal to the wanted one, deleted when no longer wanted;
- ``onstart``, present when the controller started: updated, or deleted, once;
- an APIService without the label is never touched.

Why here and not in the gateway: the registry owns the catalog (built-in definitions and
the CRDs' served versions) this follows, already runs the CRD controllers that write with
the system identity, and sees a CRD's group-version served in the same catalog revision
that the controller reacts to. The gateway only reads APIServices (routing, discovery,
availability). Every registry replica runs it; writes are compare-and-swap or idempotent
(AlreadyExists and NotFound are what another replica did first), and it resyncs every
``RESYNC`` seconds, so an APIService deleted by hand is back within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from kapi import errors
from services.registry import aggregation as reg
from services.registry.definition import Definition
from services.registry.ports import Where
from services.registry.service import Registry, Target
from services.registry.types import TypeTable

log = logging.getLogger(__name__)

APISERVICES = Where(group=reg.GROUP, resource="apiservices", namespaced=False)
RESYNC = 30.0
RETRY = 2.0

Obj = dict[str, Any]


def wanted(table: TypeTable[Definition]) -> dict[str, Obj]:
    """The local APIServices ``table`` calls for, by name."""
    out: dict[str, Obj] = {}
    for group, version in table.group_versions():
        defs = table.in_group_version(group, version)
        if any(d.crd for d in defs):
            priorities = (reg.CRD_GROUP_PRIORITY, reg.CRD_VERSION_PRIORITY)
            managed = reg.MANAGE_CONTINUOUSLY
        elif (group, version) in reg.PRIORITIES and group != reg.GROUP:
            priorities = reg.PRIORITIES[(group, version)]
            managed = reg.MANAGE_ON_START
        else:
            continue  # kube: "Skipping APIService creation" (no priority known)
        name = reg.apiservice_name(group, version)
        spec: Obj = {"version": version, "groupPriorityMinimum": priorities[0]}
        if group:
            spec["group"] = group
        spec["versionPriority"] = priorities[1]
        out[name] = {
            "apiVersion": f"{reg.GROUP}/v1",
            "kind": "APIService",
            "metadata": {"name": name, "labels": {reg.AUTOMANAGED_LABEL: managed}},
            "spec": spec,
        }
    return out


def _managed(obj: Obj | None) -> str:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    value = labels.get(reg.AUTOMANAGED_LABEL, "")
    return value if value in (reg.MANAGE_ON_START, reg.MANAGE_CONTINUOUSLY) else ""


def _same_spec(current: Obj, desired: Obj) -> bool:
    """kube compares the whole spec (DeepEqual)."""
    return bool(current.get("spec") == desired["spec"])


class LocalAPIServices:
    """``start()`` follows the catalog once ``ready`` (the CRDs listed) is set."""

    def __init__(
        self,
        registry: Registry,
        *,
        user: Any,
        ready: Callable[[], Awaitable[Any]],
        resync: float = RESYNC,
    ) -> None:
        self.registry = registry
        self.user = user
        self._ready = ready
        self._resync = resync
        self._task: asyncio.Task[None] | None = None
        self._at_start: set[str] | None = None  # names present when it began
        self._synced: set[str] = set()  # names synced once (onstart's "once")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="local apiservices")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        # As kube: the CRDs are processed first, so the first sync deletes no APIService
        # of a CRD that still exists.
        await self._ready()
        table: TypeTable[Definition] | None = None
        while True:
            table = await self.registry.catalog.next_table(table, self._resync)
            try:
                await self.sync(table)
            except errors.StatusError as err:
                log.info("local apiservices: %s; retrying", err.message)
                await asyncio.sleep(RETRY)
                table = None
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("local apiservices failed; retrying")
                await asyncio.sleep(RETRY)
                table = None

    async def sync(self, table: TypeTable[Definition]) -> None:
        """One pass of kube's checkAPIService over every name, wanted or present."""
        current = await self._list()
        if self._at_start is None:
            self._at_start = set(current)
        desired = wanted(table)
        for name in sorted(set(desired) | set(current)):
            if await self._check(name, desired.get(name), current.get(name)):
                self._synced.add(name)

    async def _list(self) -> dict[str, Obj]:
        found: dict[str, Obj] = {}
        token = ""
        while True:
            page = await self.registry.storage.list(
                APISERVICES, "", limit=500, continue_token=token
            )
            for raw in page.items:
                obj = orjson.loads(raw)
                found[str(obj["metadata"]["name"])] = obj
            token = page.continue_token
            if not token:
                return found

    async def _check(self, name: str, desired: Obj | None, current: Obj | None) -> bool:
        """kube's checkAPIService table; whether the name counts as synced."""
        synced = name in self._synced
        if current is None:
            if desired is None or (_managed(desired) == reg.MANAGE_ON_START and synced):
                return True
            return await self._write(self._create, desired)
        kind = _managed(current)
        if not kind:
            return True  # not ours to manage
        if kind == reg.MANAGE_ON_START and (synced or name not in (self._at_start or set())):
            return True
        if desired is None:
            return await self._write(self._delete, current)
        if _same_spec(current, desired):
            return True
        updated = {**current, "spec": desired["spec"]}
        return await self._write(self._update, updated)

    async def _write(self, action: Callable[[Obj], Awaitable[None]], obj: Obj) -> bool:
        try:
            await action(obj)
        except errors.StatusError as err:
            if err.reason in ("AlreadyExists", "NotFound"):
                return True  # another replica did it first
            if err.reason == "Conflict":
                return False  # changed meanwhile: the next pass sees it
            raise
        return True

    def _target(self, name: str = "") -> Target:
        return Target(reg.GROUP, "v1", "apiservices", name=name, user=self.user)

    async def _create(self, obj: Obj) -> None:
        log.info("creating APIService %s", obj["metadata"]["name"])
        await self.registry.create(self._target(), orjson.dumps(obj))

    async def _update(self, obj: Obj) -> None:
        log.info("updating APIService %s", obj["metadata"]["name"])
        await self.registry.update(self._target(obj["metadata"]["name"]), orjson.dumps(obj))

    async def _delete(self, obj: Obj) -> None:
        log.info("deleting APIService %s", obj["metadata"]["name"])
        await self.registry.delete(self._target(obj["metadata"]["name"]), {})
