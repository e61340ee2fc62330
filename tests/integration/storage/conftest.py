"""Fixtures of the storage suites: each test on the memory backend and on a real etcd.

Through the domain ``Store``, so the two backends cannot drift (conventions §8). The
etcd is the session's (``tests/conftest.py``); every test gets a fresh key prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.storage.backend import Backend
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ResourceRef
from services.storage.store import Store

StoreFactory = Callable[..., Store]
CONNECT_WAIT = 60.0  # seconds: a bound for a loaded machine, not a latency budget


@pytest.fixture(params=["memory", pytest.param("etcd", marks=pytest.mark.integration)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    impl: Backend
    if request.param == "memory":
        impl = MemoryBackend()
    else:
        etcd_backend = request.getfixturevalue("etcd").backend()
        # Connected before the test starts: a write waits only the backend's few seconds
        # for a connection, which a machine under heavy load can take to make.
        await etcd_backend.ready(CONNECT_WAIT)
        impl = etcd_backend
    try:
        yield impl
    finally:
        await impl.close()


@pytest.fixture
async def make_store(backend: Backend, prefix: str) -> AsyncIterator[StoreFactory]:
    """Stores on the test's backend (closed at the end): ``make_store(**Store kwargs)``.

    ``make_store(backend=...)`` puts a store on another backend (e.g. a wrapper).
    Reads of a revision not reached yet wait ``future_wait`` — 0.3 s here, 3 s by
    default — before giving up; bookmarks come every 50 ms.
    """
    made: list[Store] = []

    def factory(**kwargs: Any) -> Store:
        on = kwargs.pop("backend", backend)
        kwargs.setdefault("bookmark_interval", 0.05)
        kwargs.setdefault("future_wait", 0.3)
        kwargs.setdefault("etcd_prefix", prefix)
        made.append(Store(on, **kwargs))
        return made[-1]

    try:
        yield factory
    finally:
        for made_store in made:
            await made_store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()


@pytest.fixture
def prefix() -> str:
    """A fresh key space per test (the stores' ``etcd_prefix``): tests share one etcd."""
    return f"/registry-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pods(prefix: str) -> ResourceRef:
    return ResourceRef("", "pods", namespaced=True)


@pytest.fixture
def nodes(prefix: str) -> ResourceRef:
    return ResourceRef("", "nodes", namespaced=False)
