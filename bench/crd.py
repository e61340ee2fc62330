"""``python -m bench.crd create|discovery``: the cost of custom resources, against the issue's
budget.

``create [--count N] [--in-flight N] [--rounds R]``: one cluster, one CRD (a ``Note`` whose
schema holds a map of strings, as a ConfigMap's ``data``); then, alternately, ``count``
ConfigMap creates and ``count`` Note creates of the same 1 KB payload, ``rounds`` times
each. Prints each round's rate and the CPU per create of every process, and the Note's
total CPU per create over the ConfigMap's (budget: at most 1.10).

``discovery [--crds N]``: kubectl's discovery (aggregated ``/api`` and ``/apis``, then
every group-version's legacy resource list, as client libraries read it) and the RSS of
every process, before and after ``N`` CRDs (kube's CronTab, each in its own group) are
installed and Established, and the OpenAPI v3 index read (budget for 200: under 1 s more
for discovery, under 200 MiB more across the services).

``huge [--copies N]``: a CRD the size of prometheus-operator's Prometheus
(tests/huge_crd.py; ``--copies`` adds PodSpecs), applied server-side as kubectl does: the
apply until Established, an object's create and get, discovery, the group's OpenAPI v3
and v2 documents (time and size, first and again), and every process's RSS before and
after.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson

from bench import cluster, measure

NAMESPACE = "crd-bench"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
Obj = dict[str, Any]


def note_crd(group: str) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"notes.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "notes", "singular": "note", "kind": "Note"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "data": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def crontab_crd(group: str) -> Obj:
    """kube's CronTab example, with printer columns, status and scale."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "cronSpec": {"type": "string"},
                                        "image": {"type": "string"},
                                        "replicas": {"type": "integer", "default": 1},
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {"replicas": {"type": "integer"}},
                                },
                            },
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


async def established(api: measure.Api, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = orjson.loads(await api.request("GET", f"{CRDS}/{name}"))
        for condition in (crd.get("status") or {}).get("conditions") or []:
            if condition["type"] == "Established" and condition["status"] == "True":
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} not Established within {timeout}s")


def cpu_seconds(c: cluster.Cluster) -> dict[str, float]:
    seconds = {name: cluster.cpu_seconds(pid) for name, pid in c.pids.items()}
    seconds["etcd"] = cluster.cpu_seconds(c.etcd_pid)
    return seconds


async def creates(
    api: measure.Api, c: cluster.Cluster, path: str, body: Any, count: int, in_flight: int
) -> tuple[float, dict[str, float]]:
    """``count`` creates of ``body(i)`` at ``path``: (rate, CPU ms per create by process)."""
    before, client_before = cpu_seconds(c), time.process_time()

    async def create(i: int) -> None:
        await api.request("POST", path, body(i), expect=201)

    seconds, _ = await measure.run_concurrently(count, in_flight, create)
    after = cpu_seconds(c)
    per_op = {name: (after[name] - before[name]) * 1e3 / count for name in after}
    per_op["client"] = (time.process_time() - client_before) * 1e3 / count
    return count / seconds, per_op


async def create_budget(c: cluster.Cluster, count: int, in_flight: int, rounds: int) -> str:
    api = measure.Api(c)
    lines: list[str] = []
    try:
        await api.ensure_namespace(NAMESPACE)
        group = "bench.example.com"
        try:
            await api.request("POST", CRDS, note_crd(group), expect=201)
        except RuntimeError as exc:
            if " 409 " not in str(exc):
                raise
        await established(api, f"notes.{group}")
        payload = measure.payload(1024)
        cm_path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        note_path = f"/apis/{group}/v1/namespaces/{NAMESPACE}/notes"

        def configmap(prefix: str) -> Any:
            return lambda i: {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{prefix}{i:06d}"},
                "data": {"p": payload},
            }

        def note(prefix: str) -> Any:
            return lambda i: {
                "apiVersion": f"{group}/v1",
                "kind": "Note",
                "metadata": {"name": f"{prefix}{i:06d}"},
                "data": {"p": payload},
            }

        # warm-up: both paths compiled, connections open, caches started
        await creates(api, c, cm_path, configmap("w"), min(300, count), in_flight)
        await creates(api, c, note_path, note("w"), min(300, count), in_flight)
        totals: dict[str, list[float]] = {"configmap": [], "note": []}
        for r in range(rounds):
            for what, path, body in (
                ("configmap", cm_path, configmap(f"r{r}-")),
                ("note", note_path, note(f"r{r}-")),
            ):
                rate, per_op = await creates(api, c, path, body, count, in_flight)
                total = sum(per_op.values())
                totals[what].append(total)
                cpu = ", ".join(f"{n} {ms:.3f}" for n, ms in sorted(per_op.items()))
                lines.append(f"round {r + 1} {what}: {rate:,.0f}/s; CPU ms: {cpu}; sum {total:.3f}")
        cm = sum(totals["configmap"]) / rounds
        cr = sum(totals["note"]) / rounds
        verdict = "met" if cr / cm <= 1.10 else "NOT met"
        lines.append(
            f"CPU per create, mean of {rounds} rounds: ConfigMap {cm:.3f} ms, custom resource "
            f"{cr:.3f} ms: {cr / cm:.3f}x (budget <= 1.10x: {verdict})"
        )
        return "\n".join(lines)
    finally:
        await api.close()


async def discover(api: measure.Api) -> tuple[float, int]:
    """kubectl's discovery, then every group-version's resource list: (seconds, bytes)."""
    began = time.perf_counter()
    size = 0
    for root in ("/api", "/apis"):
        async with api.session.get(api.base + root, headers={"Accept": AGGREGATED}) as reply:
            size += len(await reply.read())
    groups = orjson.loads(await api.request("GET", "/apis"))["groups"]
    paths = ["/api/v1"] + [f"/apis/{v['groupVersion']}" for g in groups for v in g["versions"]]
    bodies = await asyncio.gather(*(api.request("GET", p) for p in paths))
    size += sum(len(b) for b in bodies)
    return time.perf_counter() - began, size


def rss(c: cluster.Cluster) -> dict[str, float]:
    out = {name: cluster.rss_bytes(pid) / 2**20 for name, pid in c.pids.items()}
    out["etcd"] = cluster.rss_bytes(c.etcd_pid) / 2**20
    return out


async def discovery_budget(c: cluster.Cluster, crds: int) -> str:
    api = measure.Api(c)
    try:
        await discover(api)  # warm
        before = [await discover(api) for _ in range(5)]
        memory_before = rss(c)
        began = time.perf_counter()
        sem = asyncio.Semaphore(8)

        async def install(i: int) -> None:
            async with sem:
                await api.request(
                    "POST", CRDS, crontab_crd(f"g{i:04d}.bench.example.com"), expect=201
                )

        await asyncio.gather(*(install(i) for i in range(crds)))
        for i in range(crds):
            await established(api, f"crontabs.g{i:04d}.bench.example.com")
        installed = time.perf_counter() - began
        await asyncio.sleep(3)  # let every layer settle on the last catalog
        await discover(api)  # warm again (new tables' documents are built once)
        after = [await discover(api) for _ in range(5)]
        # what kubectl apply reads too: the OpenAPI v3 index (every group-version's
        # document built, to hash it) and one custom group's document
        index = orjson.loads(await api.request("GET", "/openapi/v3"))["paths"]
        await api.request("GET", index["apis/g0000.bench.example.com/v1"]["serverRelativeURL"])
        memory_after = rss(c)
        t_before = sorted(s for s, _ in before)[2]
        t_after = sorted(s for s, _ in after)[2]
        services = [n for n in memory_after if n != "etcd"]
        grown = sum(memory_after[n] - memory_before[n] for n in services)
        memory = ", ".join(
            f"{n} {memory_before[n]:.0f} -> {memory_after[n]:.0f} MiB" for n in sorted(memory_after)
        )
        return (
            f"{crds} CRDs installed and Established in {installed:.1f} s\n"
            f"discovery (median of 5): {t_before * 1e3:.0f} ms ({before[0][1] / 1024:.0f} KiB) -> "
            f"{t_after * 1e3:.0f} ms ({after[0][1] / 1024:.0f} KiB): "
            f"+{(t_after - t_before) * 1e3:.0f} ms (budget < 1000 ms: "
            f"{'met' if t_after - t_before < 1.0 else 'NOT met'})\n"
            f"RSS: {memory}\n"
            f"the services grew {grown:.0f} MiB (budget < 200 MiB: "
            f"{'met' if grown < 200 else 'NOT met'})"
        )
    finally:
        await api.close()


async def timed(api: measure.Api, method: str, path: str, **kwargs: Any) -> tuple[float, bytes]:
    began = time.perf_counter()
    body = await api.request(method, path, **kwargs)
    return time.perf_counter() - began, body


async def huge_crd(c: cluster.Cluster, copies: int) -> str:
    from tests.huge_crd import GROUP, example, prometheus_like

    api = measure.Api(c)
    try:
        await api.ensure_namespace(NAMESPACE)
        await discover(api)
        discovery_before = sorted(s for s, _ in [await discover(api) for _ in range(5)])[2]
        memory_before = rss(c)
        crd = prometheus_like(copies=copies)
        body = orjson.dumps(crd)
        name = crd["metadata"]["name"]
        began = time.perf_counter()
        async with api.session.patch(
            f"{api.base}{CRDS}/{name}",
            data=body,
            params={"fieldManager": "kubectl", "force": "true"},
            headers={"Content-Type": "application/apply-patch+yaml"},
        ) as reply:
            await reply.read()
            assert reply.status == 201, reply.status
        applied = time.perf_counter() - began
        await established(api, name)
        ready = time.perf_counter() - began
        path = f"/apis/{GROUP}/v1/namespaces/{NAMESPACE}/prometheuses"
        create, _ = await timed(api, "POST", path, body=example("p0"), expect=201)
        for i in range(1, 21):
            await api.request("POST", path, example(f"p{i}"), expect=201)
        get, _ = await timed(api, "GET", f"{path}/p0")
        one_at_a_time = []
        for i in range(21, 41):
            seconds, _ = await timed(api, "POST", path, body=example(f"p{i}"), expect=201)
            one_at_a_time.append(seconds)
        _, cpu_cr = await creates(api, c, path, lambda i: example(f"q{i}"), 200, 8)
        size = len(orjson.dumps(example("q0")))
        cms = f"/api/v1/namespaces/{NAMESPACE}/configmaps"

        def configmap(i: int) -> Obj:
            data = {"blob": "x" * size}
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"h{i}"},
                    "data": data}  # fmt: skip

        _, cpu_cm = await creates(api, c, cms, configmap, 200, 8)
        cpu = ", ".join(
            f"{n} {cpu_cr[n]:.2f}/{cpu_cm[n]:.2f}" for n in sorted(cpu_cr) if cpu_cr[n] > 0.05
        )
        await asyncio.sleep(2)
        await discover(api)
        discovery_after = sorted(s for s, _ in [await discover(api) for _ in range(5)])[2]
        index = orjson.loads(await api.request("GET", "/openapi/v3"))["paths"]
        v3_path = index[f"apis/{GROUP}/v1"]["serverRelativeURL"]
        v3_first, v3 = await timed(api, "GET", v3_path)
        v3_again, _ = await timed(api, "GET", v3_path)
        v2_first, v2 = await timed(api, "GET", "/openapi/v2")
        v2_again, _ = await timed(api, "GET", "/openapi/v2")
        memory_after = rss(c)
        memory = ", ".join(
            f"{n} {memory_before[n]:.0f} -> {memory_after[n]:.0f} MiB" for n in sorted(memory_after)
        )
        one_at_a_time.sort()
        return (
            f"CRD {name}: {len(body) / 1024:.0f} KiB of JSON "
            f"({len(body) / 1024 / 1024:.2f} MiB)\n"
            f"server-side apply answered in {applied * 1e3:.0f} ms, Established after "
            f"{ready * 1e3:.0f} ms\n"
            f"first create {create * 1e3:.1f} ms; 20 more one at a time: median "
            f"{one_at_a_time[10] * 1e3:.1f} ms, worst {one_at_a_time[-1] * 1e3:.1f} ms; "
            f"get {get * 1e3:.1f} ms\n"
            f"CPU ms per create (200, 8 in flight), Prometheus/ConfigMap of {size} B: {cpu}\n"
            f"discovery (median of 5): {discovery_before * 1e3:.0f} -> "
            f"{discovery_after * 1e3:.0f} ms\n"
            f"OpenAPI v3 {GROUP}/v1: {len(v3) / 1024:.0f} KiB, {v3_first * 1e3:.0f} ms first, "
            f"{v3_again * 1e3:.0f} ms again\n"
            f"OpenAPI v2 (everything): {len(v2) / 1024:.0f} KiB, {v2_first * 1e3:.0f} ms first, "
            f"{v2_again * 1e3:.0f} ms again\n"
            f"RSS: {memory}"
        )
    finally:
        await api.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crd", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    create = sub.add_parser("create")
    create.add_argument("--count", type=int, default=2000)
    create.add_argument("--in-flight", type=int, default=32)
    create.add_argument("--rounds", type=int, default=3)
    discovery = sub.add_parser("discovery")
    discovery.add_argument("--crds", type=int, default=200)
    huge = sub.add_parser("huge")
    huge.add_argument("--copies", type=int, default=1)
    args = parser.parse_args(argv)
    with cluster.started() as c:
        if args.what == "create":
            print(asyncio.run(create_budget(c, args.count, args.in_flight, args.rounds)))
        elif args.what == "huge":
            print(asyncio.run(huge_crd(c, args.copies)))
        else:
            print(asyncio.run(discovery_budget(c, args.crds)))


if __name__ == "__main__":
    main()
