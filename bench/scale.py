"""``python -m bench.scale [--nodes 100] [--deployments 100] [--replicas 100] [--json F]``:
a control plane that runs pods, at scale (issue 14's benchmark, not a timed test).

Starts etcd and ``kapi up --nodes N`` as ``python -m bench`` does (the controller
manager, the scheduler and N simulated nodes as their own processes), measures kapi's
create rate for bare 1 KB ConfigMaps in the same run, then creates D Deployments of R
replicas each and waits until every Deployment reports all its replicas available, i.e.
every pod was created by the replicaset controller, bound by the scheduler, started by
its simulated node and counted back up through the ReplicaSet and the Deployment. It
prints the time, pods/s, and the CPU seconds each process spent per pod (gateway,
registry, storage, authz, etcd, controllers, scheduler, nodes).

The issue's size is 100 nodes and 10,000 pods from 100 Deployments; ``--quick`` runs 10
nodes and 1,000 pods from 10 Deployments. Controllers act on watch events; the wait here
polls the Deployments once a second (the benchmark's own loop, not a controller's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import orjson

from bench import cluster, measure

NAMESPACE = "scale"


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "nginx",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        },
    }


def cpu(c: cluster.Cluster) -> dict[str, float]:
    seconds = {name: cluster.cpu_seconds(pid) for name, pid in c.pids.items()}
    seconds["etcd"] = cluster.cpu_seconds(c.etcd_pid)
    return seconds


async def run(args: argparse.Namespace) -> dict[str, Any]:
    up = ("--nodes", str(args.nodes), "--ready-timeout", "120")
    with cluster.started(up_args=up) as c:
        api = measure.Api(c)
        try:
            await api.ensure_namespace("bare")
            creates_per_s = await api.creates("bare", args.bare_creates, 32)
            await api.ensure_namespace(NAMESPACE)
            path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
            total = args.deployments * args.replicas
            before, began = cpu(c), time.perf_counter()

            async def create(i: int) -> None:
                await api.request("POST", path, deployment(f"d{i:03d}", args.replicas), expect=201)

            await measure.run_concurrently(args.deployments, 16, create)
            created = time.perf_counter() - began
            available = 0
            deadline = began + args.timeout
            while True:
                listed = orjson.loads(await api.request("GET", path, resourceVersion="0"))
                available = sum(
                    int((d.get("status") or {}).get("availableReplicas") or 0)
                    for d in listed["items"]
                )
                if available >= total or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(1.0)
            elapsed = time.perf_counter() - began
            after = cpu(c)
        finally:
            await api.close()
    per_pod = {
        name: (after[name] - before.get(name, 0.0)) * 1000 / max(available, 1)
        for name in sorted(after)
    }
    return {
        "nodes": args.nodes,
        "deployments": args.deployments,
        "replicas": args.replicas,
        "pods_available": available,
        "pods_wanted": total,
        "seconds": round(elapsed, 1),
        "deployments_created_in_seconds": round(created, 1),
        "pods_per_second": round(available / elapsed, 1),
        "bare_creates_per_second": round(creates_per_s, 1),
        "cpu_ms_per_pod": {k: round(v, 2) for k, v in per_pod.items()},
        "cpu_ms_per_pod_total": round(sum(per_pod.values()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--bare-creates", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--quick", action="store_true", help="10 nodes, 10 x 100 pods")
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.deployments, args.replicas, args.bare_creates = 10, 10, 100, 1000
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    if result["pods_available"] < result["pods_wanted"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
