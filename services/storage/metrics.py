"""The storage service's metrics: kube-apiserver's etcd, storage and watch cache
metrics, with the names, labels and buckets of kube 1.32.

Sources (kubernetes/kubernetes, staging/src/k8s.io/apiserver/pkg/storage/):
``etcd3/metrics/metrics.go`` — ``etcd_request_duration_seconds``,
``etcd_requests_total``, ``etcd_request_errors_total`` (labels ``operation`` and
``type``, the resource as ``GroupResource.String()``: ``configmaps``,
``deployments.apps``), ``apiserver_storage_objects`` (label ``resource``),
``apiserver_storage_events_received_total``, ``etcd_bookmark_counts``;
``cacher/metrics/metrics.go`` — ``apiserver_watch_cache_events_received_total``,
``apiserver_watch_cache_events_dispatched_total``,
``apiserver_watch_cache_initializations_total``,
``apiserver_watch_cache_resource_version``, ``apiserver_terminated_watchers_total``.
The operations are ``etcd3/store.go``'s: get, create, update, delete, list, and
listWithCount for a count.

An etcd call is one call of the backend by the store (a ``get`` the backend batches
with others is still one); a missing key, a taken name or a lost compare-and-swap is an
answer, not an error (etcd's transaction did not fail), as in kube. The watch caches
count their own events as plain ints and are read when scraped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from kapi import metrics
from services.storage import keys, storage_errors
from services.storage.backend import Backend
from services.storage.cache import CacheSet, WatchCache
from services.storage.model import ResourceRef

T = TypeVar("T")

# Answers, not failures, of an etcd call.
_ANSWERS = (storage_errors.KeyNotFound, storage_errors.KeyExists, storage_errors.Conflict)


def type_label(ref: ResourceRef) -> str:
    """``GroupResource.String()``: ``configmaps``, ``deployments.apps``."""
    return f"{ref.resource}.{ref.group}" if ref.group else ref.resource


class _Cells:
    __slots__ = ("count", "duration", "failed")

    def __init__(self, owner: StorageMetrics, labels: tuple[str, str]) -> None:
        self.duration = owner.durations.labels(*labels)
        self.count = owner.requests.labels(*labels)
        self.failed = owner.errors.labels(*labels)


class StorageMetrics:
    """Owns the storage service's registry; the store reports each etcd call through
    ``etcd``, and ``bind`` gives it what to read when scraped."""

    def __init__(self, registry: metrics.Registry | None = None) -> None:
        self.registry = registry if registry is not None else metrics.Registry("storage")
        r = self.registry
        self.durations = r.histogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ("operation", "type"),
            buckets=metrics.REQUEST_DURATION_BUCKETS,
        )
        self.requests = r.counter(
            "etcd_requests_total",
            "Etcd request counts for each operation and object type.",
            ("operation", "type"),
        )
        self.errors = r.counter(
            "etcd_request_errors_total",
            "Etcd failed request counts for each operation and object type.",
            ("operation", "type"),
        )
        self.objects = r.gauge(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            ("resource",),
        )
        self._cells: dict[tuple[str, str], _Cells] = {}
        self._caches: CacheSet | None = None
        self._backend: Backend | None = None
        self._refs: Mapping[str, ResourceRef] = {}
        self._keys = keys.KeyLayout()

    def bind(
        self,
        caches: CacheSet,
        backend: Backend,
        refs: Mapping[str, ResourceRef],
        layout: keys.KeyLayout,
    ) -> None:
        """Read ``caches`` when scraped, and count the objects of ``refs`` (by type
        label: the resources this store has been asked about, their keys as ``layout``
        places them) on ``refresh``."""
        self._caches, self._backend, self._refs = caches, backend, refs
        self._keys = layout
        r = self.registry
        for name, documentation, kind, read in (
            (
                "apiserver_watch_cache_events_received_total",
                "Counter of events received in watch cache broken by resource type.",
                metrics.CounterFunc,
                lambda c: c.events_received,
            ),
            (
                "apiserver_storage_events_received_total",
                "Number of etcd events received split by kind.",
                metrics.CounterFunc,
                lambda c: c.events_received,
            ),
            (
                "apiserver_watch_cache_events_dispatched_total",
                "Counter of events dispatched in watch cache broken by resource type.",
                metrics.CounterFunc,
                lambda c: c.events_dispatched,
            ),
            (
                "apiserver_watch_cache_initializations_total",
                "Counter of watch cache initializations broken by resource type.",
                metrics.CounterFunc,
                lambda c: c.initializations,
            ),
            (
                "apiserver_terminated_watchers_total",
                "Counter of watchers closed due to unresponsiveness broken by resource type.",
                metrics.CounterFunc,
                lambda c: c.terminated_watchers,
            ),
            (
                "apiserver_watch_cache_resource_version",
                "Current resource version of watch cache broken by resource type.",
                metrics.GaugeFunc,
                lambda c: c.revision,
            ),
            (
                "etcd_bookmark_counts",
                "Number of etcd bookmarks (progress notify events) split by kind.",
                metrics.GaugeFunc,
                lambda c: c.progress_notifications,
            ),
        ):
            r.add(kind(name, documentation, ("resource",), self._per_cache(read)))

    def _per_cache(
        self, read: Callable[[WatchCache], float]
    ) -> Callable[[], Iterable[tuple[tuple[str, ...], float]]]:
        def values() -> Iterable[tuple[tuple[str, ...], float]]:
            caches = self._caches.all() if self._caches is not None else []
            return [((c.resource,), read(c)) for c in caches if c.resource]

        return values

    def cells(self, operation: str, type_: str) -> _Cells:
        key = (operation, type_)
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = _Cells(self, key)
        return cells

    async def etcd(self, operation: str, type_: str, call: Awaitable[T]) -> T:
        """Await one etcd call of the store, timed and counted."""
        cells = self.cells(operation, type_)
        start = time.perf_counter()
        try:
            return await call
        except _ANSWERS:
            raise
        except Exception:
            cells.failed.inc()
            raise
        finally:
            cells.duration.observe(time.perf_counter() - start)
            cells.count.inc()

    async def refresh(self) -> None:
        """``apiserver_storage_objects`` now: from a resource's watch cache when it has
        one (no etcd call), else counted in etcd (``listWithCount``); -1 when it cannot
        be counted, as kube reports a failed count."""
        if self._backend is None:
            return
        for label, ref in list(self._refs.items()):
            root = self._keys.root(ref) + "/"
            cache = self._caches.peek(root) if self._caches is not None else None
            if cache is not None and cache.ready:
                self.objects.labels(label).set(len(cache))
                continue
            try:
                page = await self.etcd("listWithCount", label, self._backend.list(root, limit=1))
            except storage_errors.StorageError:
                self.objects.labels(label).set(-1)
                continue
            self.objects.labels(label).set(page.count)
