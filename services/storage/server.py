"""Composition root of the storage service: backend → store → servicer → gRPC server."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field

import grpc.aio

from kapi import metrics_service, pki, rpc
from kapi_proto import storage_pb2_grpc
from services.storage.backend import Backend
from services.storage.cache import DEFAULT_BOOKMARK_INTERVAL, DEFAULT_WATCHER_BUFFER, CacheConfig
from services.storage.compactor import DEFAULT_INTERVAL as DEFAULT_COMPACTION_INTERVAL
from services.storage.etcd_backend import EtcdBackend
from services.storage.grpc.servicer import StorageServicer
from services.storage.keys import DEFAULT_PREFIX
from services.storage.memory_backend import MemoryBackend
from services.storage.store import DEFAULT_FUTURE_WAIT, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StorageConfig:
    listen: str = "0.0.0.0:7001"
    etcd_endpoints: list[str] = field(default_factory=lambda: ["http://127.0.0.1:2379"])
    # Where every key begins (kube-apiserver's --etcd-prefix): services/storage/keys.py.
    etcd_prefix: str = DEFAULT_PREFIX
    backend: str = "etcd"  # or "memory"
    bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL
    # Seconds between compactions of etcd's history (kube-apiserver: 5 minutes); 0: never.
    compaction_interval: float = DEFAULT_COMPACTION_INTERVAL
    # How long a read waits for a resourceVersion not reached yet before 504.
    future_wait: float = DEFAULT_FUTURE_WAIT
    # Events a watcher may fall behind before it is closed.
    watcher_buffer: int = DEFAULT_WATCHER_BUFFER
    # Mutual TLS with the peers (None: plaintext, in-process tests only).
    tls: pki.TLSFiles | None = None
    # How to reach https:// etcd endpoints: its CA, our client certificate.
    etcd_tls: pki.TLSFiles | None = None


def create_backend(config: StorageConfig) -> Backend:
    if config.backend == "memory":
        return MemoryBackend()
    if config.backend == "etcd":
        return EtcdBackend(config.etcd_endpoints, tls=config.etcd_tls)
    raise ValueError(f"unknown storage backend {config.backend!r} (etcd, memory)")


def create_store(config: StorageConfig, backend: Backend) -> Store:
    """The domain store on ``backend``, its compaction started (needs a running loop)."""
    cache = CacheConfig(
        bookmark_interval=config.bookmark_interval, watcher_buffer=config.watcher_buffer
    )
    store = Store(
        backend,
        cache=cache,
        future_wait=config.future_wait,
        compaction_interval=config.compaction_interval,
        etcd_prefix=config.etcd_prefix,
    )
    store.start()
    return store


async def create_server(
    config: StorageConfig, *, backend: Backend | None = None, store: Store | None = None
) -> tuple[grpc.aio.Server, int]:
    """A storage gRPC server bound to ``config.listen`` (port 0: any), not yet started.

    Serves ``store`` when given, else a store on ``backend`` when given (the caller
    closes either), else on one built from ``config``. Returns the server and the port.
    """
    store = store or create_store(config, backend or create_backend(config))
    server, port = rpc.server(config.listen, tls=config.tls)
    storage_pb2_grpc.add_StorageServicer_to_server(StorageServicer(store), server)
    metrics_service.serve(server, store.metrics.registry, store.metrics.refresh)
    return server, port


async def serve(config: StorageConfig) -> None:
    """Serve until SIGTERM or SIGINT, then drain and close the store and backend."""
    backend = create_backend(config)
    store = create_store(config, backend)
    server, port = await create_server(config, store=store)
    await server.start()
    log.info("storage listening on port %d (backend %s)", port, config.backend)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("storage shutting down")
        await server.stop(grace=5)
    finally:
        await store.close()
        await backend.close()
