"""The CRD controllers kube's apiextensions-apiserver runs, run in the registry.

- **names** (``NamingConditionController``): the names a CRD asks for are accepted unless
  another CRD of its group holds them already (``"crontabs" is already in use``):
  ``status.acceptedNames``, ``NamesAccepted`` (True ``NoConflicts`` "no conflicts
  found", or False ``PluralConflict`` / ``SingularConflict`` / ``ShortNamesConflict`` /
  ``KindConflict`` / ``ListKindConflict``);
- **establishing** (``EstablishingController``): once its names are accepted a CRD is
  ``Established`` (True ``InitialNamesAccepted`` "the initial names have been
  accepted"), in the same status write (kube waits for its handler to see the names
  first; here the catalog serves them as soon as the write is seen);
- **finalizer** (``CRDFinalizer``): a CRD being deleted (``deletionTimestamp`` and the
  ``customresourcecleanup.apiextensions.k8s.io`` finalizer) is ``Terminating``
  (``InstanceDeletionInProgress``), every custom resource of it is deleted through the
  registry (their own finalizers honoured), then, once none is left, the condition
  says ``InstanceDeletionCompleted`` "removed all instances" and the finalizer goes —
  and with it the CRD.

Each registry replica runs them; their writes are compare-and-swap on the CRD's
revision, so replicas racing write the same status once and the loser sees the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from kapi import errors
from services.registry import pipeline
from services.registry.crd.definitions import CLEANUP_FINALIZER, condition, condition_true
from services.registry.crd.informer import CRDS
from services.registry.ports import Where

if TYPE_CHECKING:
    from services.registry.service import Registry

log = logging.getLogger(__name__)

Obj = dict[str, Any]

INSTANCE_DELETION_WAIT = 60.0  # kube polls one minute for the instances to go
INSTANCE_POLL = 0.5


def set_condition(crd: Obj, new: Obj) -> None:
    """apiextensions' SetCRDCondition: replace the condition of that type, keeping its
    lastTransitionTime when the status did not change."""
    conditions = crd.setdefault("status", {}).setdefault("conditions", [])
    for existing in conditions:
        if isinstance(existing, dict) and existing.get("type") == new["type"]:
            moved = existing.get("status") != new["status"]
            stamp = pipeline.now_rfc3339() if moved else existing.get("lastTransitionTime")
            existing.clear()
            existing.update(new)
            existing["lastTransitionTime"] = stamp or pipeline.now_rfc3339()
            return
    conditions.append({**new, "lastTransitionTime": pipeline.now_rfc3339()})


def _condition(kind: str, status: str, reason: str, message: str) -> Obj:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def _in_use(requested: Any, accepted: Any, used: set[str]) -> str:
    """kube's equalToAcceptedOrFresh: why ``requested`` cannot be had ("" if it can)."""
    if requested == accepted or requested not in used:
        return ""
    return f'"{requested}" is already in use'


def accepted_names(crd: Obj, others: list[Obj]) -> tuple[Obj, Obj]:
    """kube's calculateNamesAndConditions: the names ``crd`` gets among the accepted names
    of ``others`` (the other CRDs of its group) and its NamesAccepted condition."""
    spec = crd.get("spec") or {}
    requested = spec.get("names") or {}
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in others:
        names = (other.get("status") or {}).get("acceptedNames") or {}
        resources.update(
            n for n in (names.get("plural"), names.get("singular")) if isinstance(n, str) and n
        )
        resources.update(n for n in names.get("shortNames") or () if isinstance(n, str))
        kinds.update(
            n for n in (names.get("kind"), names.get("listKind")) if isinstance(n, str) and n
        )
    new = dict(accepted)
    reason, message = "", ""

    def take(key: str, used: set[str], conflict: str) -> None:
        nonlocal reason, message
        problem = _in_use(requested.get(key), accepted.get(key), used)
        if problem:
            reason, message = conflict, problem
        elif requested.get(key) is not None:
            new[key] = requested.get(key)

    take("plural", resources, "PluralConflict")
    take("singular", resources, "SingularConflict")
    short = list(requested.get("shortNames") or [])
    if short != list(accepted.get("shortNames") or []):
        problems = []
        mine = set(accepted.get("shortNames") or ())
        for name in short:
            if name in mine or name in (accepted.get("plural"), accepted.get("singular")):
                continue
            problem = _in_use(name, "", resources)
            if problem:
                problems.append(problem)
        if problems:
            reason = "ShortNamesConflict"
            message = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        elif short:
            new["shortNames"] = short
        else:
            new.pop("shortNames", None)
    take("kind", kinds, "KindConflict")
    take("listKind", kinds, "ListKindConflict")
    if requested.get("categories"):
        new["categories"] = list(requested["categories"])
    else:
        new.pop("categories", None)
    if reason:
        return new, _condition("NamesAccepted", "False", reason, message)
    return new, _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found")


class Controllers:
    """The CRD controllers over the informer's CRDs (``crds``: by name, kept current)."""

    def __init__(
        self, registry: Registry, crds: Callable[[], Mapping[str, Obj]], *, user: Any = None
    ) -> None:
        self.registry = registry
        self.crds = crds
        self.user = user  # who deletes the instances of a CRD being deleted
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._worker: asyncio.Task[None] | None = None
        self._finalizing: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="crd controllers")

    async def close(self) -> None:
        tasks = [t for t in (self._worker, *self._finalizing.values()) if t is not None]
        self._worker = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def enqueue(self, name: str) -> None:
        if name not in self._queued:
            self._queued.add(name)
            self._queue.put_nowait(name)

    def enqueue_group(self, group: str, but: str = "") -> None:
        """Names freed in ``group``: look at its other CRDs again (kube's requeue)."""
        for name, crd in self.crds().items():
            if name != but and (crd.get("spec") or {}).get("group") == group:
                self.enqueue(name)

    async def _work(self) -> None:
        while True:
            name = await self._queue.get()
            self._queued.discard(name)
            try:
                await self.sync(name)
            except errors.StatusError as err:
                if err.code not in (404, 409):
                    log.warning("crd %s: %s; retrying", name, err.message)
                    asyncio.get_running_loop().call_later(1.0, self.enqueue, name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("crd %s: controller failed; retrying", name)
                asyncio.get_running_loop().call_later(1.0, self.enqueue, name)

    async def sync(self, name: str) -> None:
        crd = self.crds().get(name)
        if crd is None:
            return
        meta = crd.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            if CLEANUP_FINALIZER in (meta.get("finalizers") or ()) and name not in self._finalizing:
                task = asyncio.create_task(self._finalize(name), name=f"crd finalizer {name}")
                self._finalizing[name] = task
                task.add_done_callback(lambda _t: self._finalizing.pop(name, None))
            return
        await self._names(crd)

    # --- names and establishing ----------------------------------------------------

    async def _names(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        status = crd.get("status") or {}
        requested = spec.get("names") or {}
        accepted = status.get("acceptedNames") or {}
        established = condition_true(crd, "Established")
        if _same_names(requested, accepted) and established:
            return
        name = crd["metadata"]["name"]
        others = [
            other
            for other_name, other in self.crds().items()
            if other_name != name and (other.get("spec") or {}).get("group") == spec.get("group")
        ]
        names, naming = accepted_names(crd, others)
        updated = copy.deepcopy(crd)
        updated_status = updated.setdefault("status", {})
        updated_status["acceptedNames"] = names
        set_condition(updated, naming)
        if naming["status"] == "True" and not established:
            set_condition(
                updated,
                _condition(
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                ),
            )
        elif naming["status"] != "True" and condition(updated, "Established") is None:
            set_condition(
                updated,
                _condition("Established", "False", "NotAccepted", "not all names are accepted"),
            )
        if updated_status != status:
            await self._write(crd, updated)
            self.enqueue_group(str(spec.get("group")), but=name)

    async def _write(self, current: Obj, updated: Obj) -> Obj:
        meta = updated["metadata"]
        revision = int(current["metadata"]["resourceVersion"])
        body = {**updated, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
        stored = await self.registry.storage.update(
            CRDS, "", meta["name"], orjson.dumps(body), expected_revision=revision
        )
        written: Obj = orjson.loads(stored)
        return written

    # --- deletion ------------------------------------------------------------------

    async def _finalize(self, name: str) -> None:
        """Terminating, then every instance deleted, then the finalizer removed."""
        delay = 0.5
        while True:
            try:
                await self._finalize_once(name)
                return
            except errors.StatusError as err:
                if err.code == 404:
                    return
                if err.code != 409:
                    log.warning("crd %s: deleting instances: %s", name, err.message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _current(self, name: str) -> Obj:
        current: Obj = orjson.loads(await self.registry.storage.get(CRDS, "", name))
        return current

    async def _finalize_once(self, name: str) -> None:
        crd = await self._current(name)
        if CLEANUP_FINALIZER not in ((crd.get("metadata") or {}).get("finalizers") or ()):
            return
        updated = copy.deepcopy(crd)
        set_condition(
            updated,
            _condition(
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            ),
        )
        if updated != crd:
            crd = await self._write(crd, updated)
        spec = crd.get("spec") or {}
        plural = ((crd.get("status") or {}).get("acceptedNames") or {}).get("plural")
        if condition_true(crd, "Established") and plural:
            outcome = await self._delete_instances(
                str(spec.get("group")), str(plural), spec.get("scope") == "Namespaced"
            )
        else:
            outcome = _condition(
                "Terminating", "False", "NeverEstablished", "resource was never established"
            )
        crd = await self._current(name)
        updated = copy.deepcopy(crd)
        set_condition(updated, outcome)
        if outcome["status"] == "True":  # instances left: try again
            if updated != crd:
                await self._write(crd, updated)
            raise errors.conflict("customresourcedefinitions", "apiextensions.k8s.io", name)
        meta = updated["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != CLEANUP_FINALIZER]
        if not meta["finalizers"]:
            meta.pop("finalizers")
            if meta.get("deletionTimestamp"):
                await self.registry.storage.delete(
                    CRDS, "", name, expected_revision=int(crd["metadata"]["resourceVersion"])
                )
                return
        await self._write(crd, updated)

    async def _delete_instances(self, group: str, plural: str, namespaced: bool) -> Obj:
        """Every instance deleted through the registry, then waited for (kube polls a
        minute): the Terminating condition that says how it went."""
        where = Where(group=group, resource=plural, namespaced=namespaced)
        table = self.registry.table
        definition = next(
            (d for d in table.types if d.group == group and d.resource == plural), None
        )
        try:
            listed = await self.registry.storage.list(where, "")
        except errors.StatusError as err:
            return _condition(
                "Terminating",
                "True",
                "InstanceDeletionFailed",
                f"could not list instances: {err.message}",
            )
        problems: list[str] = []
        for item in listed.items:
            meta = orjson.loads(item).get("metadata") or {}
            try:
                await self._delete_one(where, definition, meta)
            except errors.StatusError as err:
                if err.code != 404:
                    problems.append(err.message)
        if problems:
            return _condition(
                "Terminating",
                "True",
                "InstanceDeletionFailed",
                f"could not issue all deletes: {problems[0]}",
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INSTANCE_DELETION_WAIT
        while (await self.registry.storage.list(where, "", limit=1)).items:
            if loop.time() > deadline:
                return _condition(
                    "Terminating",
                    "True",
                    "InstanceDeletionCheck",
                    "could not confirm zero CustomResources remaining: timed out waiting for "
                    "the condition",
                )
            await asyncio.sleep(INSTANCE_POLL)
        return _condition(
            "Terminating", "False", "InstanceDeletionCompleted", "removed all instances"
        )

    async def _delete_one(self, where: Where, definition: Any, meta: Obj) -> None:
        from services.registry.service import Target

        name = str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "")
        if definition is not None:
            target = Target(
                definition.group,
                definition.version,
                definition.resource,
                namespace=namespace,
                name=name,
                user=self.user,
            )
            await self.registry.delete(target, {})
            return
        await self.registry.storage.delete(where, namespace, name)


def _same_names(requested: Obj, accepted: Obj) -> bool:
    keys = ("plural", "singular", "shortNames", "kind", "listKind", "categories")
    return all((requested.get(k) or None) == (accepted.get(k) or None) for k in keys)
