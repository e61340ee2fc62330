"""``python -m bench [--quick] [--keep] [--json FILE]``: see ``bench/__init__.py``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from bench import cluster, measure

LIST_OBJECTS = 10_000
CONCURRENCY = 32


@dataclass(frozen=True)
class Sizes:
    creates: int
    gets: int
    list_repeat: int
    filtered_watchers: int
    unfiltered_watchers: int
    watch_seconds: float
    rate: float = 100.0


FULL = Sizes(
    creates=4000,
    gets=2000,
    list_repeat=5,
    filtered_watchers=1000,
    unfiltered_watchers=100,
    watch_seconds=10.0,
)
QUICK = Sizes(
    creates=1000,
    gets=500,
    list_repeat=3,
    filtered_watchers=200,
    unfiltered_watchers=20,
    watch_seconds=5.0,
)


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


class Row:
    def __init__(
        self, name: str, etcd: str, kapi: str, ratio: float | None, target: str, met: bool | None
    ) -> None:
        self.cells = [
            name,
            etcd,
            kapi,
            "" if ratio is None else f"{ratio:.2f}x",
            target,
            "" if met is None else ("yes" if met else "NO"),
        ]


def table(rows: list[Row]) -> str:
    head = ["figure", "raw etcd", "kapi", "kapi/etcd", "target", "met"]
    cells = [head, *(r.cells for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(c) for c in cells[1:])])


async def run(c: cluster.Cluster, sizes: Sizes) -> tuple[list[Row], dict[str, Any]]:
    raw = await measure.RawEtcd.connect(c.etcd_url, c.etcd_tls)
    api = measure.Api(c)
    rows: list[Row] = []
    details: dict[str, Any] = {"sizes": asdict(sizes)}
    try:
        # The list's 10,000 ConfigMaps, stored as kapi stores them (kube's key layout).
        await api.ensure_namespace("bench-list")
        log(f"writing {LIST_OBJECTS} ConfigMaps for the list")
        objects = [
            (
                f"/registry/configmaps/bench-list/l{i:05d}",
                orjson.dumps(measure.configmap("bench-list", f"l{i:05d}")),
            )
            for i in range(LIST_OBJECTS)
        ]
        await raw.load(objects)

        log(f"creates: {sizes.creates} at {CONCURRENCY} concurrent")
        puts = await raw.puts("/bench-raw/puts/", sizes.creates, CONCURRENCY)
        await api.ensure_namespace("bench-create")
        creates = await api.creates("bench-create", sizes.creates, CONCURRENCY)
        rows.append(
            Row(
                f"creates/s (1 KB, {CONCURRENCY} concurrent)",
                f"{puts:,.0f}",
                f"{creates:,.0f}",
                creates / puts,
                ">= 0.5x",
                creates / puts >= 0.5,
            )
        )

        # Gets twice: one at a time (latency alone) and 32 in flight (the concurrency of
        # the creates, at which the orientation figure for raw etcd was taken).
        for concurrency in (1, CONCURRENCY):
            what = "one at a time" if concurrency == 1 else f"{concurrency} concurrent"
            log(f"gets: {sizes.gets}, {what}")
            raw_gets = await raw.get_latencies("/bench-raw/puts/", sizes.gets, concurrency)
            kapi_gets = await api.get_latencies("bench-create", sizes.gets, concurrency)
            raw_p99, kapi_p99 = (measure.percentile(x, 0.99) * 1000 for x in (raw_gets, kapi_gets))
            details[f"get_p50_ms_{concurrency}"] = {
                "etcd": measure.percentile(raw_gets, 0.5) * 1000,
                "kapi": measure.percentile(kapi_gets, 0.5) * 1000,
            }
            rows.append(
                Row(
                    f"get p99 (ms, {what})",
                    f"{raw_p99:.2f}",
                    f"{kapi_p99:.2f}",
                    kapi_p99 / raw_p99,
                    "<= 3x",
                    kapi_p99 / raw_p99 <= 3,
                )
            )

        log(f"list of {LIST_OBJECTS}: resourceVersion=0 vs a raw range, {sizes.list_repeat} each")
        raw_range, count = await raw.range_seconds(
            "/registry/configmaps/bench-list/", sizes.list_repeat
        )
        # The same objects (ours, and the namespace's kube-root-ca.crt).
        kapi_list = await api.list_seconds("bench-list", count, sizes.list_repeat)
        kl, rl = measure.median(kapi_list) * 1000, measure.median(raw_range) * 1000
        rows.append(
            Row(
                f"list {LIST_OBJECTS:,} (ms, median)",
                f"{rl:.0f}",
                f"{kl:.0f}",
                kl / rl,
                "<= 1.0x",
                kl / rl <= 1.0,
            )
        )

        shapes = [
            ("filtered", sizes.filtered_watchers, sizes.filtered_watchers, True, "bench-watch-a"),
            ("unfiltered", sizes.unfiltered_watchers, 1, False, "bench-watch-b"),
        ]
        for label, watchers, nodes, filtered, namespace in shapes:
            log(
                f"watch fan-out: {watchers} {label} watchers, {sizes.rate:.0f} writes/s "
                f"for {sizes.watch_seconds:.0f} s"
            )
            cpu_before = {n: cluster.cpu_seconds(p) for n, p in c.pids.items()}
            client_before = time.process_time()
            began = time.perf_counter()
            result = await measure.fan_out(
                api,
                namespace,
                watchers=watchers,
                nodes=nodes,
                filtered=filtered,
                rate=sizes.rate,
                seconds=sizes.watch_seconds,
            )
            elapsed = time.perf_counter() - began
            details[f"fanout_{label}"] = {
                **asdict(result),
                "cpu_percent": {
                    **{
                        n: round(100 * (cluster.cpu_seconds(p) - cpu_before[n]) / elapsed)
                        for n, p in c.pids.items()
                    },
                    "bench client": round(100 * (time.process_time() - client_before) / elapsed),
                },
            }
            ok = result.lossless and result.exactly_once and result.in_order
            what = "each to 1" if filtered else "each to all"
            rows.append(
                Row(
                    f"watch {watchers} {label} ({what}): lossless, once, in order",
                    "",
                    f"{result.deliveries}/{result.expected_deliveries}",
                    None,
                    "all",
                    ok,
                )
            )
            rows.append(
                Row(
                    f"watch {watchers} {label}: delivery p99 (ms)",
                    "",
                    f"{result.p99 * 1000:.0f}",
                    None,
                    "<= 100 ms",
                    result.p99 <= 0.1,
                )
            )
            for problem in result.problems:
                log(f"  {label}: {problem}")

        log("watch cache memory")
        used, held, count = await measure.cache_memory(
            c.etcd_url, c.etcd_tls, "/registry/configmaps/bench-list/"
        )
        rows.append(
            Row(
                f"watch cache memory / JSON held ({count:,} objects)",
                "",
                f"{used / 2**20:.1f} / {held / 2**20:.1f} MiB",
                used / held,
                "<= 3x",
                used / held <= 3,
            )
        )
        details["storage_rss_mib"] = cluster.rss_bytes(c.pids.get("storage", 0)) / 2**20
        # The gateway holds the objects of what was listed with resourceVersion=0 (the
        # 10,000 ConfigMaps among them) and the pods the watchers followed.
        details["gateway_rss_mib"] = cluster.rss_bytes(c.pids.get("gateway", 0)) / 2**20
    finally:
        await api.close()
        await raw.close()
    return rows, details


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (about a minute)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    # A SIGTERM (e.g. from `timeout`) unwinds normally, so etcd and kapi are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = QUICK if args.quick else FULL
    began = time.monotonic()
    log("starting etcd and kapi")
    with cluster.started(keep=args.keep) as c:
        log(f"etcd at {c.etcd_url}, kapi at {c.server}")
        rows, details = asyncio.run(run(c, sizes))
    print()
    print(table(rows))
    print()
    for label in ("filtered", "unfiltered"):
        fan = details.get(f"fanout_{label}")
        if fan:
            print(
                f"fan-out {label}: {fan['watchers']} watchers, {fan['writes']} writes, "
                f"p50 {fan['p50'] * 1000:.0f} ms, max {fan['max'] * 1000:.0f} ms, "
                f"reconnects {fan['reconnects']}, CPU % {fan['cpu_percent']}"
            )
    for key, value in details.items():
        if key.startswith("get_p50_ms_"):
            in_flight = key.rsplit("_", 1)[1]
            print(
                f"get p50, {in_flight} in flight: etcd {value['etcd']:.2f} ms, "
                f"kapi {value['kapi']:.2f} ms"
            )
    print(
        f"process RSS at the end: storage {details.get('storage_rss_mib', 0):.0f} MiB, "
        f"gateway {details.get('gateway_rss_mib', 0):.0f} MiB"
    )
    print(f"bench: done in {time.monotonic() - began:.0f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"rows": [r.cells for r in rows], "details": details}, out, indent=2)


if __name__ == "__main__":
    main()
