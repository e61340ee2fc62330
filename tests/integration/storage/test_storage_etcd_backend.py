"""The etcd backend's translation of etcd's refusals (services/storage/etcd_backend.py), on a
real etcd with its default limits: what etcd says of a request too large becomes
``TooLarge`` (a 413 at the API), never a ``StorageError`` (a 500 with etcd's words).

These call the backend directly, below the store's own check of a value's size.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.storage import storage_errors
from services.storage.etcd_backend import EtcdBackend
from tests.conftest import EtcdProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def backend(etcd: EtcdProcess) -> AsyncIterator[EtcdBackend]:
    impl = etcd.backend()
    try:
        yield impl
    finally:
        await impl.close()


@pytest.fixture
def key() -> str:
    return f"/registry/limits-{uuid.uuid4().hex[:8]}/ns/big"


@pytest.mark.parametrize(
    "size",
    [
        # Within the store's limit, but key and request around it pass etcd's:
        # "etcdserver: request is too large".
        storage_errors.MAX_VALUE_BYTES - 16,
        # Past etcd's gRPC server's own limit (1.5 MiB + 512 KiB):
        # "grpc: received message larger than max".
        int(2.9 * 1024 * 1024),
    ],
)
async def test_etcd_refusing_a_large_write_is_too_large(
    backend: EtcdBackend, key: str, size: int
) -> None:
    with pytest.raises(storage_errors.TooLarge):
        await backend.create(key, b"x" * size)
    with pytest.raises(storage_errors.KeyNotFound):
        await backend.get(key)
    revision = await backend.create(key, b"small")
    with pytest.raises(storage_errors.TooLarge):
        await backend.update(key, b"x" * size, revision)
    assert (await backend.get(key)).value == b"small"
