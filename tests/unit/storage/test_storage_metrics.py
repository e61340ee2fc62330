"""services/storage/metrics.py on the memory backend: each etcd call of the store
counted under kube's operation and type labels (etcd3/store.go, etcd3/metrics), an
answer such as a taken name not counted as an error, and apiserver_storage_objects
from the watch cache when there is one, else counted (listWithCount)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.storage import storage_errors
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ResourceRef
from services.storage.store import Store

CONFIGMAPS = ResourceRef("", "configmaps", True)
DEPLOYMENTS = ResourceRef("apps", "deployments", True)


def configmap(name: str) -> bytes:
    return b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' + name.encode() + b'"}}'


async def scraped(store: Store) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    await store.metrics.refresh()
    text = store.metrics.registry.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.fixture
async def store() -> Store:
    return Store(MemoryBackend())


async def test_each_etcd_call_is_counted_by_operation_and_type(store: Store) -> None:
    try:
        await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        with pytest.raises(storage_errors.KeyExists):
            await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        await store.get(CONFIGMAPS, "ns", "a")
        with pytest.raises(storage_errors.KeyNotFound):
            await store.get(CONFIGMAPS, "ns", "missing")
        await store.list(CONFIGMAPS, "ns")
        await store.delete(CONFIGMAPS, "ns", "a")
        await store.create(DEPLOYMENTS, "ns", "d", b'{"metadata":{"name":"d"}}')
        samples = await scraped(store)
    finally:
        await store.close()
    requests = "etcd_requests_total"
    assert samples[(requests, labels(operation="create", type="configmaps"))] == 2
    assert samples[(requests, labels(operation="get", type="configmaps"))] == 2
    assert samples[(requests, labels(operation="list", type="configmaps"))] == 1
    assert samples[(requests, labels(operation="delete", type="configmaps"))] == 1
    assert samples[(requests, labels(operation="create", type="deployments.apps"))] == 1
    # A taken name and a missing key are etcd's answers, not failed requests.
    errors = [k for k in samples if k[0] == "etcd_request_errors_total"]
    assert all(samples[k] == 0 for k in errors)
    count = "etcd_request_duration_seconds_count"
    assert samples[(count, labels(operation="create", type="configmaps"))] == 2


async def test_object_counts_from_the_cache_or_counted(store: Store) -> None:
    try:
        for name in ("a", "b", "c"):
            await store.create(CONFIGMAPS, "ns", name, configmap(name))
        await store.create(DEPLOYMENTS, "ns", "d", b'{"metadata":{"name":"d"}}')
        await store.list(CONFIGMAPS, resource_version="0")  # configmaps get a watch cache
        samples = await scraped(store)
    finally:
        await store.close()
    objects = "apiserver_storage_objects"
    assert samples[(objects, labels(resource="configmaps"))] == 3
    assert samples[(objects, labels(resource="deployments.apps"))] == 1
    # Only deployments, which no cache holds, were counted in etcd.
    with_count = "etcd_requests_total"
    assert (with_count, labels(operation="listWithCount", type="configmaps")) not in samples
    assert samples[(with_count, labels(operation="listWithCount", type="deployments.apps"))] == 1
    cache = {"resource": "configmaps"}
    assert samples[("apiserver_watch_cache_initializations_total", labels(**cache))] == 1
    assert samples[("apiserver_watch_cache_resource_version", labels(**cache))] >= 3
