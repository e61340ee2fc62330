"""Event recorders: what kube's components write for ``kubectl get events`` and
``kubectl describe``.

``Recorder`` writes core v1 Events as client-go's ``tools/record`` does (the controller
manager's and kubelet's): the event is named ``<object name>.<unix nanoseconds in hex>``
in the object's namespace (``default`` for a cluster-scoped one), with ``source`` and
``reportingComponent``/``reportingInstance`` set from the component and host; a repeat
of the same event (same object, type, reason, message and source) within the cache is
not a new object but a patch of the first one's ``count`` and ``lastTimestamp`` (the
``EventCorrelator``'s de-duplication).

``EventsV1Recorder`` writes events.k8s.io/v1 Events as ``tools/events`` does (the
scheduler's): ``regarding``, ``note``, ``action``, ``reportingController``,
``reportingInstance`` and a microsecond ``eventTime``.

Writes leave from a background task, in order, and never block or fail the caller (an
event is best effort, as in client-go).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import logging
import time
from typing import Any

from kapi import errors
from kapi.kube.client import STRATEGIC_MERGE_PATCH, ApiClient
from kapi.kube.leaderelection import micro_time
from kapi.kube.resources import EVENTS, EVENTS_V1

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NORMAL = "Normal"
WARNING = "Warning"
CACHE_SIZE = 4096  # client-go's maxLruCacheEntries
QUEUE_LIMIT = 1000  # client-go's broadcaster queue; beyond it events are dropped


def rfc3339(now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def reference(obj: Obj) -> Obj:
    """An ObjectReference to ``obj`` (client-go's ``ref.GetReference``)."""
    meta = obj.get("metadata") or {}
    out: Obj = {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in out.items() if v}


def _event_name(name: str) -> str:
    return f"{name}.{time.time_ns():x}"


class _Writer:
    """One background task writing queued events in order."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None

    def submit(self, kind: str, payload: Any) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event writer")
        try:
            self._queue.put_nowait((kind, payload))
        except asyncio.QueueFull:
            log.warning("event queue full: dropping an event")

    async def flush(self) -> None:
        """Wait until every event queued so far is written (tests, shutdown)."""
        if self._task is not None:
            await self._queue.join()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            kind, payload = await self._queue.get()
            try:
                await self._write(kind, payload)
            except errors.StatusError as err:
                log.info("event not written: %s", err.message)
            except Exception:
                log.exception("event not written")
            finally:
                self._queue.task_done()

    async def _write(self, kind: str, payload: Any) -> None:
        if kind == "create":
            resource, namespace, body = payload
            await self.client.create(resource, namespace, body)
        else:
            namespace, name, patch = payload
            await self.client.patch(
                EVENTS, namespace, name, patch, content_type=STRATEGIC_MERGE_PATCH
            )


class Recorder:
    """core v1 Events from one component (``deployment-controller``) on one host."""

    def __init__(self, client: ApiClient, component: str, host: str = "") -> None:
        self.component = component
        self.host = host
        self._writer = _Writer(client)
        self._seen: collections.OrderedDict[tuple[str, ...], tuple[str, str, int, str]] = (
            collections.OrderedDict()
        )

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        ref = reference(obj)
        namespace = ref.get("namespace") or "default"
        key = (
            self.component,
            self.host,
            ref.get("kind", ""),
            namespace,
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            type_,
            reason,
            message,
        )
        now = rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            name, ns, count, first = seen
            self._seen[key] = (name, ns, count + 1, first)
            self._seen.move_to_end(key)
            patch = {"count": count + 1, "lastTimestamp": now, "message": message}
            self._writer.submit("patch", (ns, name, patch))
            return
        name = _event_name(ref.get("name", "event"))
        source: Obj = {"component": self.component}
        if self.host:
            source["host"] = self.host
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        self._seen[key] = (name, namespace, 1, now)
        if len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)
        self._writer.submit("create", (EVENTS, namespace, body))

    def normal(self, obj: Obj, reason: str, message: str) -> None:
        self.event(obj, NORMAL, reason, message)

    def warning(self, obj: Obj, reason: str, message: str) -> None:
        self.event(obj, WARNING, reason, message)

    async def flush(self) -> None:
        await self._writer.flush()

    async def close(self) -> None:
        await self._writer.close()


class EventsV1Recorder:
    """events.k8s.io/v1 Events (``tools/events``): the scheduler's."""

    def __init__(self, client: ApiClient, controller: str, instance: str) -> None:
        self.controller = controller
        self.instance = instance
        self._writer = _Writer(client)

    def event(self, regarding: Obj, type_: str, reason: str, action: str, note: str) -> None:
        ref = reference(regarding)
        namespace = ref.get("namespace") or "default"
        body: Obj = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": _event_name(ref.get("name", "event")), "namespace": namespace},
            "eventTime": micro_time(),
            "reportingController": self.controller,
            "reportingInstance": self.instance,
            "action": action,
            "reason": reason,
            "regarding": ref,
            "note": note[:1024],
            "type": type_,
        }
        self._writer.submit("create", (EVENTS_V1, namespace, body))

    async def flush(self) -> None:
        await self._writer.flush()

    async def close(self) -> None:
        await self._writer.close()
