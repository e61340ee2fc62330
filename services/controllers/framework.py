"""What every controller is made of: a context of shared parts, a queue of keys, workers.

A controller is a class with a ``name`` (kube's canonical controller name, e.g.
``deployment-controller``) and ``aliases`` (the older short names ``--controllers``
also takes, e.g. ``deployment``), built from a ``Context`` and run with ``run()``.
Most are ``QueueController``s: event handlers on shared informers turn changes into
keys on a rate-limited queue, and workers call ``sync(key)`` for each, which reads the
informers' stores and writes through the client. A sync that raises is retried with the
queue's backoff, up to ``max_retries`` times (client-go controllers' ``handleErr``); one
that succeeds ``forget``s the key's backoff. Adding a controller is one such class and a
line in ``catalog.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.events import Recorder
from kapi.kube.informer import Handler, Informer, InformerFactory, key_of
from kapi.kube.workqueue import RateLimitingQueue
from services.controllers.credentials import ServiceAccountClients

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class Options:
    """Per-controller knobs, kube-controller-manager's flags where it has them."""

    concurrent_syncs: int = 5
    # --namespace-sync-period in kube is 5 minutes; a relist of namespaces is cheap here.
    namespace_sync_period: float = 300.0
    root_ca_pem: str = ""
    # Seconds a deleted-but-finalized namespace's content is retried after.
    namespace_retry: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """The shared parts: one client (the manager's own credential; the informers list
    and watch with it), one informer factory, a recorder per component, and — with
    ServiceAccount credentials — a client per controller."""

    client: ApiClient
    informers: InformerFactory
    host: str = ""
    options: Options = field(default_factory=Options)
    recorders: dict[str, Recorder] = field(default_factory=dict)
    accounts: ServiceAccountClients | None = None

    def client_for(self, service_account: str) -> ApiClient:
        """The client a controller writes with: its ServiceAccount's, or the shared one."""
        if self.accounts is None or not service_account:
            return self.client
        return self.accounts.client(service_account)

    def recorder(self, component: str, client: ApiClient | None = None) -> Recorder:
        found = self.recorders.get(component)
        if found is None:
            found = Recorder(client or self.client, component, self.host)
            self.recorders[component] = found
        return found


class Controller:
    """Base of every controller: ``run()`` until cancelled."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    # kube's ServiceAccount for it (kube-system/NAME, role system:controller:NAME).
    service_account: ClassVar[str] = ""
    # kube's disabled-by-default controllers (bootstrap-signer, token-cleaner) need "foo".
    disabled_by_default: ClassVar[bool] = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.client_for(self.service_account)

    async def run(self) -> None:
        raise NotImplementedError


class QueueController(Controller):
    """Informers feed keys into one queue; ``workers`` call ``sync`` for each key."""

    max_retries: ClassVar[int] = 15
    workers: int = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(name=self.name)
        self.workers = ctx.options.concurrent_syncs
        self._watched: list[Informer] = []

    def watch(self, informer: Informer, handler: Handler) -> Informer:
        """Register ``handler`` on ``informer``; ``run`` waits for it to sync."""
        informer.add_handler(handler)
        self._watched.append(informer)
        return informer

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    def enqueue_handler(
        self, *, key: Callable[[Obj], Iterable[str]] | None = None, resync: float = 0.0
    ) -> Handler:
        """A handler that enqueues the object's key (or ``key(obj)``'s) on every change."""

        def put(obj: Obj) -> None:
            for k in key(obj) if key is not None else (key_of(obj),):
                self.queue.add(k)

        return Handler(
            on_add=put, on_update=lambda _old, new: put(new), on_delete=put, resync=resync
        )

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        self.ctx.informers.start()
        await self.ctx.informers.wait_for_cache_sync(self._watched)
        log.info("%s: caches synced, %d workers", self.name, self.workers)
        workers = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            self.queue.shut_down()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._handle_error(key, exc)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    def _handle_error(self, key: str, exc: Exception) -> None:
        if self.queue.num_requeues(key) < self.max_retries:
            if isinstance(exc, errors.StatusError):
                log.info("%s: syncing %s: %s", self.name, key, exc.message)
            else:
                log.exception("%s: syncing %s failed", self.name, key)
            self.queue.add_rate_limited(key)
            return
        log.warning("%s: dropping %s out of the queue: %s", self.name, key, exc)
        self.queue.forget(key)
