"""The measurements: raw etcd (aetcd) and kapi through its HTTPS gateway (aiohttp).

Each kapi figure has its raw etcd counterpart measured in the same run, on the same
etcd, with the same client concurrency. Neither side decodes the objects' JSON: a list
is done when its bytes are in (etcd's values; kapi's response body).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aetcd
import aetcd.watcher
import aiohttp
import grpc
import orjson

from bench.cluster import Cluster
from kapi import pki

MAX_MESSAGE = 1024 * 1024 * 1024
ETCD_OPTIONS = {
    "grpc.max_receive_message_length": MAX_MESSAGE,
    "grpc.max_send_message_length": MAX_MESSAGE,
}


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def payload(size: int = 1024) -> str:
    """About ``size`` bytes of ConfigMap data."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def configmap(namespace: str, name: str, size: int = 1024) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"payload": payload(size)},
    }


async def run_concurrently(
    count: int, concurrency: int, op: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run ``op(0..count-1)`` with ``concurrency`` in flight; (seconds, latencies)."""
    latencies: list[float] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            i = next_index
            next_index += 1
            start = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


# --- raw etcd -----------------------------------------------------------------------


class _TLSClient(aetcd.Client):  # type: ignore[misc]
    """aetcd's client over TLS with a client certificate, as storage reaches etcd.

    aetcd 1.0's ``Client.connect`` dials plaintext only (``rpc.insecure_channel``, no
    TLS parameters), so only its connect is redone here; every call still goes through
    aetcd's own code, as the raw baseline always has.
    """

    def __init__(self, host: str, port: int, *, tls: pki.TLSFiles) -> None:
        super().__init__(host, port, options=ETCD_OPTIONS)
        ca, key, cert = tls.read()
        self._credentials = grpc.ssl_channel_credentials(ca, key, cert)

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        target = f"{self._host}:{self._port}"
        self.channel = aetcd.rpc.secure_channel(
            target, self._credentials, options=list(self._options.items())
        )
        self.kvstub = aetcd.rpc.KVStub(self.channel)
        self.clusterstub = aetcd.rpc.ClusterStub(self.channel)
        self.leasestub = aetcd.rpc.LeaseStub(self.channel)
        self.maintenancestub = aetcd.rpc.MaintenanceStub(self.channel)
        self._watcher = aetcd.watcher.Watcher(
            aetcd.rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata
        )
        self._connected.set()


@dataclass
class RawEtcd:
    client: aetcd.Client

    @classmethod
    async def connect(cls, url: str, tls: pki.TLSFiles) -> RawEtcd:
        parts = urlsplit(url)
        client = _TLSClient(parts.hostname or "127.0.0.1", parts.port or 2379, tls=tls)
        await client.connect()
        return cls(client)

    async def close(self) -> None:
        await self.client.close()

    async def puts(self, prefix: str, count: int, concurrency: int) -> float:
        value = orjson.dumps(configmap("raw", "x"))

        async def put(i: int) -> None:
            await self.client.put(f"{prefix}{i:06d}".encode(), value)

        await run_concurrently(min(200, count), concurrency, put)  # warm up
        seconds, _ = await run_concurrently(count, concurrency, put)
        return count / seconds

    async def get_latencies(self, prefix: str, count: int, concurrency: int = 1) -> list[float]:
        async def get(i: int) -> None:
            result = await self.client.get(f"{prefix}{i % 100:06d}".encode())
            assert result is not None and result.value

        await run_concurrently(min(100, count), concurrency, get)
        return (await run_concurrently(count, concurrency, get))[1]

    async def range_seconds(self, prefix: str, repeat: int) -> tuple[list[float], int]:
        """Times of ``repeat`` ranges over the keys under ``prefix``, and their count."""
        times, count = [], 0
        for _ in range(repeat + 1):
            start = time.perf_counter()
            result = await self.client.get_prefix(prefix.encode())
            values = [kv.value for kv in result]
            times.append(time.perf_counter() - start)
            count = len(values)
        return times[1:], count  # the first warms up

    async def load(self, keys: list[tuple[str, bytes]], concurrency: int = 64) -> None:
        async def put(i: int) -> None:
            key, value = keys[i]
            await self.client.put(key.encode(), value)

        await run_concurrently(len(keys), concurrency, put)


# --- kapi over HTTPS ------------------------------------------------------------------


class Api:
    """A client of kapi's gateway: HTTPS, bearer token, connections as needed."""

    def __init__(self, cluster: Cluster) -> None:
        self.base = cluster.server
        connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), limit=0)
        self.session = aiohttp.ClientSession(
            connector=connector,
            # No gzip: raw etcd is not compressed either, and on loopback compression
            # only costs CPU (the gateway gzips what a client accepts, watches included).
            headers={"Authorization": f"Bearer {cluster.token}", "Accept-Encoding": "identity"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
        )

    async def close(self) -> None:
        await self.session.close()

    async def request(
        self, method: str, path: str, body: Any = None, expect: int = 200, **params: str
    ) -> bytes:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        async with self.session.request(
            method, self.base + path, data=data, headers=headers, params=params or None
        ) as response:
            content = await response.read()
            if response.status != expect:
                raise RuntimeError(f"{method} {path}: {response.status} {content[:300]!r}")
            return content

    async def ensure_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            await self.request("POST", "/api/v1/namespaces", body, expect=201)
        except RuntimeError as exc:
            if " 409 " not in str(exc):
                raise

    async def creates(self, namespace: str, count: int, concurrency: int) -> float:
        path = f"/api/v1/namespaces/{namespace}/configmaps"

        async def create(i: int) -> None:
            await self.request("POST", path, configmap(namespace, f"c{i:06d}"), expect=201)

        warm = f"/api/v1/namespaces/{namespace}-warm/configmaps"
        await self.ensure_namespace(f"{namespace}-warm")

        async def warm_up(i: int) -> None:
            await self.request("POST", warm, configmap(f"{namespace}-warm", f"w{i}"), expect=201)

        await run_concurrently(min(200, count), concurrency, warm_up)
        seconds, _ = await run_concurrently(count, concurrency, create)
        return count / seconds

    async def get_latencies(self, namespace: str, count: int, concurrency: int = 1) -> list[float]:
        async def get(i: int) -> None:
            await self.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/c{i % 100:06d}")

        await run_concurrently(min(100, count), concurrency, get)
        return (await run_concurrently(count, concurrency, get))[1]

    async def list_seconds(
        self, namespace: str, expected: int, repeat: int, settle: float = 2.0
    ) -> list[float]:
        """Times of ``repeat`` lists, after one untimed list and ``settle`` seconds: the
        first ``resourceVersion=0`` list of a resource starts the gateway holding its
        objects (a list of them, in the background), as kube-apiserver's watch cache
        holds them from its start; the timed lists measure the steady state."""
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        times = []
        for i in range(repeat + 1):
            if i == 1:
                await asyncio.sleep(settle)
            start = time.perf_counter()
            body = await self.request("GET", path, resourceVersion="0")
            times.append(time.perf_counter() - start)
            # Items carry no kind (as kube-apiserver writes list items); their namespace.
            found = body.count(b'"namespace":"' + namespace.encode() + b'"')
            if found != expected:
                raise RuntimeError(f"listed {found} of {expected}: {body[:300]!r}")
        return times[1:]

    async def resource_version(self, path: str) -> str:
        listed = orjson.loads(await self.request("GET", path, limit="1"))
        return str(listed["metadata"]["resourceVersion"])


# --- watch fan-out ----------------------------------------------------------------------


@dataclass
class Watcher:
    """One client watch: what it got, checked against what it should get."""

    params: dict[str, str]
    received: list[tuple[int, str]] = field(default_factory=list)  # (rv, name)
    latencies: list[float] = field(default_factory=list)
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    last_rv: str = ""
    ready: asyncio.Event | None = None  # set once the warm-up event arrived


@dataclass
class FanOutResult:
    watchers: int
    writes: int
    deliveries: int
    expected_deliveries: int
    lossless: bool
    exactly_once: bool
    in_order: bool
    reconnects: int
    p50: float
    p99: float
    max: float
    problems: list[str]


def pod(namespace: str, name: str, node: str, sent: float) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"bench/sent": repr(sent)},
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }


async def _follow(api: Api, path: str, watcher: Watcher, stop: asyncio.Event) -> None:
    """Watch as client-go's reflector does: on a stream end, resume from the last rv."""
    while not stop.is_set():
        params = {
            **watcher.params,
            "watch": "1",
            "resourceVersion": watcher.last_rv,
            "timeoutSeconds": "900",
        }
        try:
            async with api.session.get(api.base + path, params=params) as response:
                if response.status != 200:
                    watcher.errors.append(f"HTTP {response.status}")
                    return
                async for line in response.content:
                    now = time.perf_counter()
                    event = orjson.loads(line)
                    kind, obj = event["type"], event["object"]
                    if kind == "ERROR":
                        watcher.errors.append(str(obj.get("message")))
                        return
                    metadata = obj["metadata"]
                    watcher.last_rv = metadata["resourceVersion"]
                    if kind == "BOOKMARK":
                        continue
                    name = metadata["name"]
                    watcher.received.append((int(metadata["resourceVersion"]), name))
                    if watcher.ready is not None and name.startswith(WARM_UP):
                        watcher.ready.set()
                    else:
                        sent = float(metadata["annotations"]["bench/sent"])
                        watcher.latencies.append(now - sent)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if stop.is_set():
                return
            watcher.errors.append(repr(exc))
        if not stop.is_set():
            watcher.reconnects += 1


WARM_UP = "warm-"


async def fan_out(
    api: Api,
    namespace: str,
    *,
    watchers: int,
    nodes: int,
    filtered: bool,
    rate: float,
    seconds: float,
    settle: float = 60.0,
) -> FanOutResult:
    """``watchers`` watches (each on its own node's pods when ``filtered``, else all
    pods), then ``rate`` pod creations per second for ``seconds``; each watcher's events
    checked: all it should see, once each, resourceVersions increasing.

    Every watch starts from the resourceVersion before any write, so none can miss one;
    the measured writes begin once every watcher has received a warm-up pod (a watch
    response starts with its first event), so latencies are those of live delivery.
    """
    await api.ensure_namespace(namespace)
    path = f"/api/v1/namespaces/{namespace}/pods"
    start_rv = await api.resource_version(path)
    stop = asyncio.Event()
    clients = []
    for i in range(watchers):
        params = {"fieldSelector": f"spec.nodeName=node-{i % nodes}"} if filtered else {}
        clients.append(Watcher(params, last_rv=start_rv, ready=asyncio.Event()))
    tasks = [asyncio.create_task(_follow(api, path, w, stop)) for w in clients]

    async def warm_up(i: int) -> None:
        name = f"{WARM_UP}{i:06d}"
        await api.request("POST", path, pod(namespace, name, f"node-{i}", 0.0), expect=201)

    await run_concurrently(nodes, 16, warm_up)
    await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in clients if w.ready)), 300)
    for w in clients:
        w.ready = None

    count = int(rate * seconds)
    written: dict[str, int] = {}
    write_errors: list[str] = []

    async def write(i: int) -> None:
        name = f"p{i:06d}"
        body = pod(namespace, name, f"node-{i % nodes}", time.perf_counter())
        try:
            await api.request("POST", path, body, expect=201)
            written[name] = i % nodes
        except RuntimeError as exc:
            write_errors.append(str(exc))

    began = time.perf_counter()
    writes = []
    for i in range(count):  # open loop: a write every 1/rate s, whatever the latency
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        writes.append(asyncio.create_task(write(i)))
    await asyncio.gather(*writes)

    def expected_for(index: int) -> set[str]:
        if not filtered:
            return set(written)
        return {name for name, node in written.items() if node == index % nodes}

    def measured(w: Watcher) -> list[str]:
        return [name for _, name in w.received if not name.startswith(WARM_UP)]

    deadline = time.perf_counter() + settle
    while time.perf_counter() < deadline:
        if all(len(measured(w)) >= len(expected_for(i)) for i, w in enumerate(clients)):
            break
        await asyncio.sleep(0.1)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    problems = [f"write: {e}" for e in write_errors[:3]]
    lossless = exactly_once = in_order = True
    deliveries = expected_total = 0
    latencies: list[float] = []
    for i, w in enumerate(clients):
        names = measured(w)
        expected = expected_for(i)
        expected_total += len(expected)
        deliveries += len(names)
        latencies += w.latencies
        if set(names) != expected:
            lossless = False
            if len(problems) < 5:
                problems.append(f"watcher {i}: {len(set(names))}/{len(expected)} events")
        every = [name for _, name in w.received]
        if len(every) != len(set(every)):
            exactly_once = False
        revisions = [rv for rv, _ in w.received]
        if any(b <= a for a, b in itertools.pairwise(revisions)):
            in_order = False
        if w.errors and len(problems) < 5:
            problems.append(f"watcher {i}: {w.errors[0]}")
    return FanOutResult(
        watchers=watchers,
        writes=len(written),
        deliveries=deliveries,
        expected_deliveries=expected_total,
        lossless=lossless and not write_errors,
        exactly_once=exactly_once,
        in_order=in_order,
        reconnects=sum(w.reconnects for w in clients),
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        max=max(latencies, default=float("nan")),
        problems=problems,
    )


# --- the watch cache's memory -----------------------------------------------------------


async def cache_memory(etcd_url: str, tls: pki.TLSFiles, root: str) -> tuple[int, int, int]:
    """(bytes the cache allocated, JSON bytes it holds, objects) for a watch cache of
    the keys under ``root``, as the storage service builds it (traced in this process)."""
    from services.storage.cache import CacheConfig, CacheSet
    from services.storage.etcd_backend import EtcdBackend

    backend = EtcdBackend([etcd_url], tls=tls)
    caches = CacheSet(backend, CacheConfig())
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        cache = await caches.get(root, namespaced=True)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        held = sum(len(obj.data) for obj in cache.objects_under(root))
        return used, held, len(cache)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        await caches.close()
        await backend.close()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
