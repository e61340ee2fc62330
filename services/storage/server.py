"""Composition root of the storage service: backend → store → servicer → gRPC server."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field

import grpc.aio

from kapi import rpc
from kapi_proto import storage_pb2_grpc
from services.storage.backend import Backend
from services.storage.etcd_backend import EtcdBackend
from services.storage.grpc.servicer import StorageServicer
from services.storage.memory_backend import MemoryBackend
from services.storage.store import DEFAULT_BOOKMARK_INTERVAL, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StorageConfig:
    listen: str = "0.0.0.0:7001"
    etcd_endpoints: list[str] = field(default_factory=lambda: ["http://127.0.0.1:2379"])
    backend: str = "etcd"  # or "memory"
    bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL


def create_backend(config: StorageConfig) -> Backend:
    if config.backend == "memory":
        return MemoryBackend()
    if config.backend == "etcd":
        return EtcdBackend(config.etcd_endpoints)
    raise ValueError(f"unknown storage backend {config.backend!r} (etcd, memory)")


async def create_server(
    config: StorageConfig, *, backend: Backend | None = None
) -> tuple[grpc.aio.Server, int]:
    """A storage gRPC server bound to ``config.listen`` (port 0: any), not yet started.

    Serves ``backend`` when given (the caller closes it), else one built from
    ``config``. Returns the server and the bound port.
    """
    store = Store(backend or create_backend(config), bookmark_interval=config.bookmark_interval)
    server = rpc.server()
    storage_pb2_grpc.add_StorageServicer_to_server(StorageServicer(store), server)
    port = server.add_insecure_port(config.listen)
    if port == 0:
        raise OSError(f"cannot listen on {config.listen}")
    return server, port


async def serve(config: StorageConfig) -> None:
    """Serve until SIGTERM or SIGINT, then drain and close the backend."""
    backend = create_backend(config)
    server, port = await create_server(config, backend=backend)
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
        await backend.close()
