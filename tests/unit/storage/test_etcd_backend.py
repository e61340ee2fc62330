"""The etcd backend's writes say whether etcd may have got them (no etcd needed here)."""

from __future__ import annotations

import pytest

from services.storage import storage_errors
from services.storage.etcd_backend import EtcdBackend
from tests.unit.test_clients_raise_status_errors import closed_port


async def test_a_write_never_sent_to_etcd_says_so() -> None:
    """etcd not connected: the write is not sent, so storage may answer 503 + Retry-After
    (a write that was sent and lost is an unknown outcome: 504, services/storage/grpc)."""
    backend = EtcdBackend([f"http://{closed_port()}"], timeout=2)
    try:
        for write in (
            backend.create("/registry/configmaps/ns/c", b"{}"),
            backend.update("/registry/configmaps/ns/c", b"{}", 3),
            backend.delete("/registry/configmaps/ns/c", 3),
        ):
            with pytest.raises(storage_errors.Unavailable) as caught:
                await write
            assert caught.value.sent is False
    finally:
        await backend.close()
