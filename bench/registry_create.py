"""``python -m bench.registry_create [-n N]``: the registry's CPU per create, in process.

A ``Registry`` on the storage service's own ``Store`` over the in-memory backend, with an
admission peer that admits everything, so what is timed is the registry's domain work
(decode, defaulting, validation, managedFields) plus an in-memory store, without gRPC,
HTTP or etcd. Three cases, each body pre-encoded as the gateway would hand it over:

- a 1 KB ConfigMap (``data: {payload: 1 KB}``, namespace ``bench``) with the field
  manager ``kubectl create`` sends (``kubectl-create``);
- the same without a fieldManager: the manager is then the User-Agent's product
  (``kubectl/v1.32.4 ...`` -> ``kubectl``), as kube defaults it;
- a small Deployment, as ``kubectl create deployment web --image=nginx`` sends it.

For each: process CPU µs per create (the best of ``--rounds``, each on a fresh store),
the part spent in storage, and a breakdown by stage (a further pass with each stage
wrapped in a timer, whose own cost lands in the stages). Run it under py-spy to see more:
``.venv/bin/py-spy record -o /tmp/x.txt -f raw -- .venv/bin/python -m bench.registry_create``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from bench import measure
from services.registry import pipeline
from services.registry.catalog import Catalog
from services.registry.patching.managed_fields import FieldManager
from services.registry.ports import AdmissionTarget, StoredList, Where
from services.registry.service import Registry, Target
from services.registry.strategies import BUILTIN
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ResourceRef
from services.storage.store import Store

Obj = dict[str, Any]

USER_AGENT = "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd"
NAMESPACE = "bench"


def _ref(where: Where) -> ResourceRef:
    return ResourceRef(where.group, where.resource, where.namespaced)


class MemoryStorage:
    """The ``StoragePort`` creates need, on ``Store`` + ``MemoryBackend``; counts its time."""

    def __init__(self) -> None:
        # No compaction: past its history limit the memory backend compacts on every
        # write, over every key, which would swamp what is measured here.
        self.store = Store(MemoryBackend(history_limit=1 << 40), bookmark_interval=3600)
        self.seconds = 0.0

    async def create(
        self, where: Where, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> bytes:
        start = time.process_time()
        stored = await self.store.create(_ref(where), namespace, name, obj, dry_run=dry_run)
        self.seconds += time.process_time() - start
        return stored.object

    async def get(
        self, where: Where, namespace: str, name: str, *, resource_version: str = ""
    ) -> bytes:
        raise NotImplementedError

    async def list(self, where: Where, namespace: str, **_: Any) -> StoredList:
        raise NotImplementedError

    async def update(
        self,
        where: Where,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> bytes:
        raise NotImplementedError

    async def delete(
        self,
        where: Where,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        dry_run: bool = False,
    ) -> bytes:
        raise NotImplementedError

    def watch(self, where: Where, namespace: str, **_: Any) -> AsyncIterator[tuple[str, bytes]]:
        raise NotImplementedError


class AdmitAll:
    """An admission peer with no plugins."""

    async def admit(
        self, phase: str, target: AdmissionTarget, obj: Obj | None, old: Obj | None = None
    ) -> tuple[Obj | None, list[str]]:
        return obj, []


def configmap(name: str) -> Obj:
    obj = measure.configmap(NAMESPACE, name)
    obj["metadata"]["creationTimestamp"] = None  # as kubectl sends it
    return obj


def deployment(name: str) -> Obj:
    labels = {"app": name}
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": name, "creationTimestamp": None, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": labels},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
            },
            "strategy": {},
        },
        "status": {},
    }


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    version: str
    resource: str
    make: Callable[[str], Obj]
    field_manager: str


CASES = (
    Case("configmap 1KB, fieldManager=kubectl-create", "", "v1", "configmaps", configmap,
         "kubectl-create"),
    Case("configmap 1KB, no fieldManager (UA: kubectl)", "", "v1", "configmaps", configmap, ""),
    Case("deployment, fieldManager=kubectl-create", "apps", "v1", "deployments", deployment,
         "kubectl-create"),
)  # fmt: skip


@dataclass
class Timed:
    """CPU seconds of one wrapped stage."""

    seconds: float = 0.0


def _timed(stage: Timed, func: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            stage.seconds += time.process_time() - start

    return run


async def _creates(registry: Registry, case: Case, prefix: str, count: int) -> None:
    bodies = [orjson.dumps(case.make(f"{prefix}{i:06d}")) for i in range(count)]
    target = Target(
        case.group, case.version, case.resource, namespace=NAMESPACE, user_agent=USER_AGENT
    )
    for body in bodies:
        await registry.create(target, body, field_manager=case.field_manager)


async def _fresh(case: Case, warmup: int) -> tuple[Registry, MemoryStorage]:
    storage = MemoryStorage()
    registry = Registry(Catalog(BUILTIN), storage, AdmitAll())
    await _creates(registry, case, "w", warmup)
    storage.seconds = 0.0
    return registry, storage


async def run_case(case: Case, count: int, warmup: int, rounds: int) -> None:
    best: tuple[float, float, float] | None = None  # CPU, wall, storage CPU
    for _ in range(rounds):
        registry, storage = await _fresh(case, warmup)
        wall, cpu = time.perf_counter(), time.process_time()
        await _creates(registry, case, "c", count)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or cpu < best[0]:
            best = (cpu, wall, storage.seconds)
    assert best is not None
    cpu, wall, stored = (seconds * 1e6 / count for seconds in best)
    print(f"{case.name}: best of {rounds} x {count} creates")
    print(
        f"  {cpu:6.1f} µs CPU per create ({wall:.1f} wall): "
        f"storage {stored:.1f}, registry {cpu - stored:.1f}"
    )

    # Breakdown, on a fresh store: the stages Registry.create runs, each in a timer.
    registry, storage = await _fresh(case, warmup)
    stages = {name: Timed() for name in ("decode", "prepare", "managedFields", "validate")}
    registry_attrs = vars(registry)
    registry_attrs["_decode"] = _timed(stages["decode"], registry._decode)
    registry_attrs["_track_create"] = _timed(stages["managedFields"], registry._track_create)
    saved = pipeline.prepare_create, pipeline.validate_create
    pipeline.prepare_create = _timed(stages["prepare"], pipeline.prepare_create)
    pipeline.validate_create = _timed(stages["validate"], pipeline.validate_create)
    start = time.process_time()
    try:
        await _creates(registry, case, "c", count)
    finally:
        pipeline.prepare_create, pipeline.validate_create = saved
    total = time.process_time() - start
    parts = {name: stage.seconds for name, stage in stages.items()}
    parts["storage"] = storage.seconds
    parts["rest"] = total - sum(parts.values())
    print(
        "  µs CPU by stage: "
        + ", ".join(f"{name} {seconds * 1e6 / count:.1f}" for name, seconds in parts.items())
    )


async def main(count: int, warmup: int, rounds: int, only: str) -> None:
    for case in CASES:
        if only in case.name:
            await run_case(case, count, warmup, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=5000, help="creates per case (default 5000)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (the best counts)")
    parser.add_argument("-k", default="", help="only the cases whose name has this")
    parser.add_argument(
        "--general-managed-fields",
        action="store_true",
        help="track creates by FieldManager's general path (the one every write took "
        "before the one-walk create path), to compare in one run",
    )
    args = parser.parse_args()
    if args.general_managed_fields:
        FieldManager._update = FieldManager._update_general  # type: ignore[method-assign]
    asyncio.run(main(args.n, args.warmup, args.rounds, args.k))
