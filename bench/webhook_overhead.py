"""What an admission webhook call costs kapi beyond the webhook's own time.

Used by ``python -m bench.cpu_per_op create --webhook``. The webhook (the tests'
``tests/admission_webhook.py``, allowing everything) runs in a process of its own, so
its CPU is not kapi's nor the client's, and times itself: ``own`` is the time its
application takes per call, from the request reaching it to its reply sent. One
validating webhook is configured on ConfigMaps labelled ``bench-hooked``; the benchmark
then creates 1 KB ConfigMaps alternately without that label (the webhook matches the
rule but not the object selector: not called) and with it (called), ``rounds`` times
each, ``count`` per slice, so a busy neighbour slows both sides alike. Reported:

- latency: with minus without, and that minus the webhook's own time (mean and p50):
  what kapi adds around a call (the AdmissionReview, TLS on a kept connection, the
  answer's checks, the extra awaits);
- where that time goes: authz's ValidatingAdmissionWebhook plugin time per create
  (kube's ``apiserver_admission_controller_admission_duration_seconds``, read from
  ``/metrics``), with minus without: the call as authz sees it; the rest is the
  machine's (a busy shared machine wakes the extra processes late);
- CPU per create of each kapi process and etcd, with minus without (authz makes the
  call), each slice's CPU less what the process burns idle over as long (measured
  before the rounds: background work would otherwise be charged to the slower side);
  the webhook's own CPU per call apart.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from bench import cluster, measure

NAMESPACE = "webhook-overhead"
LABEL = "bench-hooked"
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


@dataclass(frozen=True)
class Served:
    base_url: str
    ca_bundle: str  # base64
    pid: int


@contextlib.contextmanager
def webhook_process() -> Iterator[Served]:
    """The tests' webhook in a child process, until the block ends."""
    directory = tempfile.mkdtemp(prefix="kapi-bench-hook-")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.admission_webhook", directory],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert child.stdout is not None
        started = json.loads(child.stdout.readline())
        yield Served(started["base_url"], started["ca_bundle"], child.pid)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@dataclass
class Side:
    """One side's measurements over its slices."""

    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, per process
    creates: int = 0
    plugin_seconds: float = 0.0  # authz's webhook plugin, summed
    own: list[float] = field(default_factory=list)
    webhook_cpu: float = 0.0


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


PLUGIN_SUM = "apiserver_admission_controller_admission_duration_seconds_sum{"


async def _plugin_seconds(api: measure.Api) -> float:
    """authz's ValidatingAdmissionWebhook time on allowed creates so far (seconds)."""
    text = (await api.request("GET", "/metrics")).decode()
    for line in text.splitlines():
        if (
            line.startswith(PLUGIN_SUM)
            and 'name="ValidatingAdmissionWebhook"' in line
            and 'operation="CREATE"' in line
            and 'rejected="false"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _idle_rates(c: cluster.Cluster, seconds: float = 5.0) -> dict[str, float]:
    """CPU seconds per second each process burns with no request in flight."""
    before, began = _cpu(c), time.perf_counter()
    await asyncio.sleep(seconds)
    after, elapsed = _cpu(c), time.perf_counter() - began
    return {name: (after[name] - before[name]) / elapsed for name in after}


async def _own_seconds(session: aiohttp.ClientSession, served: Served) -> list[float]:
    async with session.get(f"{served.base_url}/own-seconds") as reply:
        return list(orjson.loads(await reply.read()))


async def measure_overhead(
    c: cluster.Cluster, served: Served, *, in_flight: int, count: int, rounds: int = 3
) -> str:
    api = measure.Api(c)
    context = ssl.create_default_context(cadata=base64.b64decode(served.ca_bundle).decode())
    hook_client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    try:
        await api.ensure_namespace(NAMESPACE)
        body = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "bench-overhead"},
            "webhooks": [
                {
                    "name": "bench.kapi.test",
                    "clientConfig": {
                        "url": f"{served.base_url}/validate",
                        "caBundle": served.ca_bundle,
                    },
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "objectSelector": {"matchLabels": {LABEL: "1"}},
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                }
            ],
        }
        await api.request("POST", f"{ADMISSION}/validatingwebhookconfigurations", body, expect=201)
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"

        def configmap(name: str, hooked: bool) -> dict[str, object]:
            obj = measure.configmap(NAMESPACE, name)
            if hooked:
                obj["metadata"] = {**obj["metadata"], "labels": {LABEL: "1"}}  # type: ignore[dict-item]
            return obj

        # Until the configuration reached authz: a labelled create calls the webhook.
        deadline = time.monotonic() + 15
        for attempt in range(10_000):
            await api.request("POST", path, configmap(f"probe-{attempt}", True), expect=201)
            if await _own_seconds(hook_client, served):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the webhook configuration did not take effect")
            await asyncio.sleep(0.1)
        # Warm-up: connections, caches, both sides.
        for hooked in (False, True):

            async def warm(i: int, hooked: bool = hooked) -> None:
                name = f"w{int(hooked)}-{i:06d}"
                await api.request("POST", path, configmap(name, hooked), expect=201)

            await measure.run_concurrently(min(300, count), in_flight, warm)
        await _own_seconds(hook_client, served)
        idle = await _idle_rates(c)

        sides = {False: Side(), True: Side()}
        for round_ in range(rounds):
            for hooked in (False, True):
                side = sides[hooked]

                async def create(i: int, hooked: bool = hooked, round_: int = round_) -> None:
                    name = f"r{round_}-{int(hooked)}-{i:06d}"
                    await api.request("POST", path, configmap(name, hooked), expect=201)

                plugin_before = await _plugin_seconds(api)
                before = _cpu(c)
                hook_before = cluster.cpu_seconds(served.pid)
                elapsed, latencies = await measure.run_concurrently(count, in_flight, create)
                after = _cpu(c)
                side.plugin_seconds += await _plugin_seconds(api) - plugin_before
                side.webhook_cpu += cluster.cpu_seconds(served.pid) - hook_before
                side.latencies += latencies
                side.creates += count
                for name in after:
                    busy = after[name] - before[name] - idle.get(name, 0.0) * elapsed
                    side.cpu[name] = side.cpu.get(name, 0.0) + busy
                side.own += await _own_seconds(hook_client, served)
        return _report(sides, in_flight, count, rounds)
    finally:
        with contextlib.suppress(Exception):
            await api.request(
                "DELETE", f"{ADMISSION}/validatingwebhookconfigurations/bench-overhead"
            )
        await hook_client.close()
        await api.close()


def _cpu(c: cluster.Cluster) -> dict[str, float]:
    seconds = {name: cluster.cpu_seconds(pid) for name, pid in c.pids.items()}
    seconds["etcd"] = cluster.cpu_seconds(c.etcd_pid)
    return seconds


def _report(sides: dict[bool, Side], in_flight: int, count: int, rounds: int) -> str:
    without, with_ = sides[False], sides[True]
    calls = len(with_.own)
    own_mean = statistics.fmean(with_.own) if with_.own else 0.0
    own_p50 = measure.percentile(with_.own, 0.5) if with_.own else 0.0
    mean_delta = statistics.fmean(with_.latencies) - statistics.fmean(without.latencies)
    p50_delta = measure.percentile(with_.latencies, 0.5) - measure.percentile(
        without.latencies, 0.5
    )
    plugin = with_.plugin_seconds / with_.creates - without.plugin_seconds / without.creates
    lines = [
        f"webhook overhead, creates of 1 KB ConfigMaps, {in_flight} in flight, "
        f"{rounds} rounds of {count} without and {count} with the webhook "
        f"({calls} calls answered):",
        f"latency without: mean {_ms(statistics.fmean(without.latencies))}, "
        f"p50 {_ms(measure.percentile(without.latencies, 0.5))}; with: mean "
        f"{_ms(statistics.fmean(with_.latencies))}, "
        f"p50 {_ms(measure.percentile(with_.latencies, 0.5))}",
        f"the webhook's own time per call: mean {_ms(own_mean)}, p50 {_ms(own_p50)}",
        f"kapi's latency beyond it per call: mean {_ms(mean_delta - own_mean)}, "
        f"p50 {_ms(p50_delta - own_p50)}",
        f"of which authz's webhook plugin (with minus without, mean per create): "
        f"{_ms(plugin)}, less the webhook's own: {_ms(plugin - own_mean)}",
    ]
    per = {
        name: (with_.cpu[name] / with_.creates - without.cpu[name] / without.creates) * 1e3
        for name in sorted(with_.cpu)
    }
    lines.append(
        "kapi's CPU per call (with minus without, ms per create): "
        + ", ".join(f"{name} {ms:+.3f}" for name, ms in per.items())
        + f"; sum {sum(v for k, v in per.items() if k != 'etcd'):+.3f} (etcd apart; "
        "each process's idle burn taken off)"
    )
    lines.append(
        f"the webhook's own CPU per call: {with_.webhook_cpu * 1e3 / max(calls, 1):.3f} ms "
        f"(its process; {without.webhook_cpu * 1e3 / without.creates:.3f} ms per create "
        "while not called)"
    )
    return "\n".join(lines)
