"""``python -m bench.hostile [--seconds S] [--json FILE]`` (``make bench-hostile``): does
kapi stay ready while hostile bodies are being decoded?

Starts etcd and kapi as ``python -m bench`` does, then probes ``GET /readyz`` one probe
at a time, every ``INTERVAL`` seconds: first for ``--seconds`` with no other load, then
while four hostile bodies arrive together and until each has its reply:

- three 2.9 MiB YAML ConfigMaps of ~150,000 short ``data`` entries (PyYAML needs about
  ten seconds of CPU for each);
- one 3 MiB Protobuf body whose one map value comes in 786,000 pieces. The pieces of a
  scalar value (a ConfigMap's ``data``) simply replace each other, so the body is a
  ResourceQuota whose ``spec.hard["cpu"]`` Quantity (a message) is split: its pieces are
  joined one at a time by the decoder (services/gateway/codec/k8s_protobuf.py,
  ``_map_entry``), quadratic in their number.

It prints the ``/readyz`` latency (p50, p99, worst) with no load beside the same under
load, against the target (worst under 1 s under load), how each hostile request was
answered, and each process's resident memory before, at its peak during, and after.
The bodies are bounded by kube's 3 MiB request limit; the unbounded exploits of issue 10
(YAML aliases, JSON patch copies) are never sent here: unit tests with limits cover them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench import cluster, measure

NAMESPACE = "bench-hostile"
INTERVAL = 0.1  # between one probe's reply and the next probe
MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's --max-request-body-bytes
YAML_BYTES = int(2.9 * 1024 * 1024)
YAML_BODIES = 3
PROTOBUF_PIECES = 786_000
DEADLINE = 600.0  # the load phase gives up after this many seconds
TARGET_WORST = 1.0


def log(message: str) -> None:
    print(f"bench.hostile: {message}", flush=True)


# --- the bodies -----------------------------------------------------------------------


def yaml_configmap(size: int = YAML_BYTES) -> bytes:
    """A ConfigMap in YAML of ``size`` bytes: one short ``data`` entry a line."""
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  generateName: {NAMESPACE}-",
        "data:",
    ]
    total = sum(len(line) + 1 for line in lines)
    i = 0
    while True:
        line = f"  k{i:06d}: vvvvvvvv"
        if total + len(line) + 1 > size:
            break
        lines.append(line)
        total += len(line) + 1
        i += 1
    return ("\n".join(lines) + "\n").encode()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def protobuf_resource_quota(pieces: int = PROTOBUF_PIECES) -> bytes:
    """kube's Protobuf envelope around a ResourceQuota whose ``spec.hard["cpu"]`` value
    (a resource.Quantity message) is sent as ``pieces`` fragments, each ``{string: ""}``:
    a decoder joins them into one message, which finally fails the quantity syntax."""
    piece = _field(2, _field(1, b""))  # the map entry's value (2): Quantity.string (1) = ""
    entry = _field(1, b"cpu") + piece * pieces  # the map entry's key (1), then its value
    spec = _field(1, entry)  # ResourceQuotaSpec.hard (1)
    meta = _field(2, f"{NAMESPACE}-".encode())  # ObjectMeta.generateName (2)
    quota = _field(1, meta) + _field(2, spec)  # ResourceQuota.metadata (1), .spec (2)
    type_meta = _field(1, b"v1") + _field(2, b"ResourceQuota")
    return b"k8s\x00" + _field(1, type_meta) + _field(2, quota)  # runtime.Unknown


# --- probing and the load ------------------------------------------------------------------


@dataclass
class Sent:
    name: str
    path: str
    content_type: str
    body: bytes
    status: int = 0
    seconds: float = 0.0
    reply: str = ""


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0  # probes answered other than 200, or not at all
    peak_rss: dict[str, int] = field(default_factory=dict)

    def figure(self, q: float | None) -> float:
        if not self.latencies:
            return float("nan")
        return max(self.latencies) if q is None else measure.percentile(self.latencies, q)


def rss(pids: dict[str, int]) -> dict[str, int]:
    return {name: cluster.rss_bytes(pid) for name, pid in pids.items()}


async def probe(session: aiohttp.ClientSession, server: str, phase: Phase) -> None:
    began = time.perf_counter()
    try:
        async with session.get(f"{server}/readyz") as response:
            await response.read()
            ok = response.status == 200
    except (TimeoutError, aiohttp.ClientError):
        ok = False
    phase.latencies.append(time.perf_counter() - began)
    if not ok:
        phase.failures += 1


async def probe_until(
    session: aiohttp.ClientSession, server: str, phase: Phase, done: Callable[[], bool]
) -> None:
    while not done():
        await probe(session, server, phase)
        await asyncio.sleep(INTERVAL)


async def sample_rss(pids: dict[str, int], phase: Phase, done: Callable[[], bool]) -> None:
    """Each process's peak resident memory, sampled apart from the probes (which wait)."""
    while not done():
        for name, size in rss(pids).items():
            phase.peak_rss[name] = max(phase.peak_rss.get(name, 0), size)
        await asyncio.sleep(0.2)


async def send(session: aiohttp.ClientSession, server: str, sent: Sent) -> None:
    began = time.perf_counter()
    try:
        async with session.post(
            server + sent.path, data=sent.body, headers={"Content-Type": sent.content_type}
        ) as response:
            sent.status = response.status
            text = (await response.read()).decode("utf-8", "replace")
    except (TimeoutError, aiohttp.ClientError) as exc:
        text = f"no reply: {exc!r}"
    sent.seconds = time.perf_counter() - began
    try:
        sent.reply = str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        sent.reply = text
    sent.reply = sent.reply[:160]


async def run(c: cluster.Cluster, seconds: float) -> dict[str, Any]:
    api = measure.Api(c)
    session = api.session
    pids = {**c.pids, "etcd": c.etcd_pid}
    try:
        await api.ensure_namespace(NAMESPACE)
        yaml_body = yaml_configmap()
        protobuf_body = protobuf_resource_quota()
        assert len(yaml_body) <= MAX_BODY_BYTES and len(protobuf_body) <= MAX_BODY_BYTES
        loads = [
            Sent(
                f"YAML ConfigMap {i + 1} ({len(yaml_body) / 2**20:.1f} MiB)",
                f"/api/v1/namespaces/{NAMESPACE}/configmaps",
                "application/yaml",
                yaml_body,
            )
            for i in range(YAML_BODIES)
        ]
        loads.append(
            Sent(
                f"Protobuf ResourceQuota ({len(protobuf_body) / 2**20:.2f} MiB, "
                f"{PROTOBUF_PIECES:,} pieces)",
                f"/api/v1/namespaces/{NAMESPACE}/resourcequotas",
                "application/vnd.kubernetes.protobuf",
                protobuf_body,
            )
        )

        for _ in range(10):  # warm up: connections, the gateway's first readiness checks
            await probe(session, c.server, Phase())
        log(f"/readyz with no load, {seconds:.0f} s")
        quiet = Phase()
        stop_at = time.monotonic() + seconds
        await probe_until(session, c.server, quiet, lambda: time.monotonic() > stop_at)
        before = rss(pids)

        log(f"/readyz while {len(loads)} hostile bodies arrive together")
        loaded = Phase()
        tasks = [asyncio.create_task(send(session, c.server, sent)) for sent in loads]
        give_up = time.monotonic() + DEADLINE

        def done() -> bool:
            return all(t.done() for t in tasks) or time.monotonic() > give_up

        sampler = asyncio.create_task(sample_rss(pids, loaded, done))
        await probe_until(session, c.server, loaded, done)
        await sampler
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(2)
        after = rss(pids)
        return {
            "quiet": quiet,
            "loaded": loaded,
            "loads": loads,
            "rss": {"before": before, "peak": loaded.peak_rss, "after": after},
        }
    finally:
        await api.close()


# --- the report -------------------------------------------------------------------------


def table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(r) for r in rows)])


def report(result: dict[str, Any]) -> tuple[str, bool]:
    quiet: Phase = result["quiet"]
    loaded: Phase = result["loaded"]
    rows = []
    for label, q in (("p50", 0.5), ("p99", 0.99), ("worst", None)):
        met = ""
        target = ""
        if q is None:
            target = f"< {TARGET_WORST * 1000:.0f} ms under load"
            met = "yes" if loaded.figure(None) < TARGET_WORST and not loaded.failures else "NO"
        rows.append(
            [
                f"/readyz {label} (ms)",
                f"{quiet.figure(q) * 1000:.1f}",
                f"{loaded.figure(q) * 1000:.1f}",
                target,
                met,
            ]
        )
    rows.append(
        [
            "/readyz probes (not 200)",
            f"{len(quiet.latencies)} ({quiet.failures})",
            f"{len(loaded.latencies)} ({loaded.failures})",
            "all 200",
            "yes" if not loaded.failures else "NO",
        ]
    )
    out = [table(["figure", "no load", "under load", "target", "met"], rows), ""]
    for sent in result["loads"]:
        out.append(f"{sent.name}: {sent.status or '-'} in {sent.seconds:.1f} s: {sent.reply}")
    out.append("")
    memory = result["rss"]
    rss_rows = [
        [
            name,
            *(f"{memory[when].get(name, 0) / 2**20:.0f}" for when in ("before", "peak", "after")),
        ]
        for name in sorted(memory["before"])
    ]
    out.append(table(["RSS (MiB)", "before", "peak during", "after"], rss_rows))
    return "\n".join(out), rows[2][-1] == "yes" and rows[3][-1] == "yes"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="probing with no load")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    log("starting etcd and kapi")
    with cluster.started(keep=args.keep) as c:
        log(f"etcd at {c.etcd_url}, kapi at {c.server}")
        result = asyncio.run(run(c, args.seconds))
    text, met = report(result)
    print()
    print(text)
    print(
        f"\nbench.hostile: target {'met' if met else 'NOT met'}; done in "
        f"{time.monotonic() - began:.0f} s"
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "readyz_seconds": {
                        "no_load": result["quiet"].latencies,
                        "under_load": result["loaded"].latencies,
                    },
                    "loads": [
                        {"name": s.name, "status": s.status, "seconds": s.seconds, "reply": s.reply}
                        for s in result["loads"]
                    ],
                    "rss_bytes": result["rss"],
                    "met": met,
                },
                out,
                indent=2,
            )


if __name__ == "__main__":
    main()
