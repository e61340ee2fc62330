"""``python -m bench.hostile_decode [--rounds N]``: readiness while hostile bodies decode.

Starts etcd and kapi as ``python -m bench`` does, then measures ``/readyz`` latency
(one probe at a time, as a kubelet probes) twice in one run: with no load, and while
three 2.9 MiB YAML bodies and a 3 MiB Protobuf body (one map value in 786k pieces, the
issue's shape) are sent at once and decoded. Prints the worst and median latency of
each; the target is a worst ``/readyz`` under 1 s under that load.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench import cluster, measure

NAMESPACE = "hostile-decode"
PROBE_GAP = 0.05


YAML_PATHS = {
    "list": f"/apis/apps/v1/namespaces/{NAMESPACE}/controllerrevisions",
    "map": f"/api/v1/namespaces/{NAMESPACE}/configmaps",
}


def yaml_body(shape: str, size: int = 2_900_000) -> bytes:
    """2.9 MiB of YAML: a ControllerRevision whose data is a long list of small flow maps
    (``list``, the most expensive shape per byte to decode), or a ConfigMap of many keys."""
    if shape == "list":
        head = (
            "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata:\n  name: big\n"
            "revision: 1\ndata:\n  items:\n"
        )
        item = "  - {name: n, value: 1, on: yes}\n"
        return (head + item * ((size - len(head)) // len(item))).encode()
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: big", "data:"]
    total = sum(len(line) + 1 for line in lines)
    while total < size:
        lines.append(f"  key{len(lines)}: value-{len(lines)}-abcdefghijklmnopqrstuvwxyz")
        total += len(lines[-1]) + 1
    return ("\n".join(lines) + "\n").encode()


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def protobuf_body(pieces: int = 786_000) -> bytes:
    """A ResourceQuota whose ``spec.hard["cpu"]`` Quantity comes in ``pieces`` pieces."""
    entry = field(1, b"cpu") + field(2, field(1, b"")) * pieces
    raw = field(1, field(1, b"q")) + field(2, field(1, entry))
    envelope = field(1, field(1, b"v1") + field(2, b"ResourceQuota")) + field(2, raw)
    return b"k8s\x00" + envelope


async def probe_latencies(
    api: measure.Api, stop: asyncio.Event, path: str = "/readyz"
) -> list[float]:
    latencies = []
    while not stop.is_set():
        began = time.perf_counter()
        async with api.session.get(api.base + path) as response:
            await response.read()
            assert response.status == 200, response.status
        latencies.append(time.perf_counter() - began)
        await asyncio.sleep(PROBE_GAP)
    return latencies


async def send(api: measure.Api, path: str, body: bytes, content_type: str) -> int:
    async with api.session.post(
        api.base + path, data=body, headers={"Content-Type": content_type}
    ) as response:
        await response.read()
        return response.status


PROBES = ("/readyz", "/readyz/ping")  # all peers' checks; the gateway's own loop alone


async def probing(api: measure.Api, stop: asyncio.Event) -> list[list[float]]:
    return list(await asyncio.gather(*(probe_latencies(api, stop, path) for path in PROBES)))


async def run(c: cluster.Cluster, rounds: int, shape: str) -> None:
    api = measure.Api(c)
    try:
        await api.ensure_namespace(NAMESPACE)
        stop = asyncio.Event()
        idle = asyncio.create_task(probing(api, stop))
        await asyncio.sleep(3)
        stop.set()
        idle_latencies = await idle
        yaml, protobuf = yaml_body(shape), protobuf_body()
        loaded_latencies: list[list[float]] = [[] for _ in PROBES]
        statuses: list[int] = []
        busy = 0.0
        for _ in range(rounds):
            stop = asyncio.Event()
            probes = asyncio.create_task(probing(api, stop))
            began = time.perf_counter()
            statuses = await asyncio.gather(
                *(send(api, YAML_PATHS[shape], yaml, "application/yaml") for _ in range(3)),
                send(
                    api,
                    f"/api/v1/namespaces/{NAMESPACE}/resourcequotas",
                    protobuf,
                    "application/vnd.kubernetes.protobuf",
                ),
            )
            busy = time.perf_counter() - began
            stop.set()
            for kept, got in zip(loaded_latencies, await probes, strict=True):
                kept += got
        for name, phase in (("no load", idle_latencies), ("hostile", loaded_latencies)):
            for path, values in zip(PROBES, phase, strict=True):
                print(
                    f"{path:13} {name:8}: {len(values):4} probes, median "
                    f"{measure.median(values) * 1000:7.1f} ms, worst {max(values) * 1000:7.1f} ms"
                )
        print(f"hostile bodies answered {statuses} in {busy:.1f} s (last round)")
    finally:
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--shape", choices=sorted(YAML_PATHS), default="list")
    args = parser.parse_args()
    with cluster.started() as c:
        asyncio.run(run(c, args.rounds, args.shape))


if __name__ == "__main__":
    main()
