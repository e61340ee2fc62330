"""``python -m bench.grpc_echo [--count N]``: what one gRPC exchange costs here, a
unary call against a message on an open stream.

Starts an echo server (grpc.aio on uvloop, plaintext, generic handlers: no protobuf) in
a process of its own, then echoes 20 bytes ``count`` times one at a time, as unary calls
and as messages on one bidirectional stream, twice each, alternately: the p50 latency
and the CPU per exchange of the client and of the server.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import uvloop

from bench import cluster
from kapi import ports

PAYLOAD = b"x" * 20


def _same(data: bytes) -> bytes:
    return data


async def serve(port: int) -> None:
    async def unary(request: bytes, context: object) -> bytes:
        return request

    async def stream(requests: AsyncIterator[bytes], context: object) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    handler = grpc.method_handlers_generic_handler(
        "Echo",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary, _same, _same),
            "Stream": grpc.stream_stream_rpc_method_handler(stream, _same, _same),
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def exchanges(port: int, count: int, kind: str) -> tuple[float, float]:
    """The p50 (s) and the client's CPU (s) per exchange."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        unary = channel.unary_unary("/Echo/Unary", _same, _same)
        await unary(PAYLOAD, wait_for_ready=True, timeout=30)
        call = channel.stream_stream("/Echo/Stream", _same, _same)()
        latencies = []
        began = time.process_time()
        for _ in range(count):
            start = time.perf_counter()
            if kind == "unary":
                await unary(PAYLOAD)
            else:
                await call.write(PAYLOAD)
                await call.read()
            latencies.append(time.perf_counter() - start)
        cpu = (time.process_time() - began) / count
        call.cancel()
    return statistics.median(latencies), cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_echo", description=__doc__)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        uvloop.run(serve(args.serve))
        return
    [port] = ports.free_ports(1)
    server = subprocess.Popen([sys.executable, "-m", "bench.grpc_echo", "--serve", str(port)])
    try:
        for kind in ("unary", "stream", "unary", "stream"):
            before = cluster.cpu_seconds(server.pid)
            p50, client = uvloop.run(exchanges(port, args.count, kind))
            served = (cluster.cpu_seconds(server.pid) - before) / args.count
            print(
                f"{kind:6}: p50 {p50 * 1e3:.3f} ms; CPU per exchange: client "
                f"{client * 1e3:.3f} ms, server {served * 1e3:.3f} ms"
            )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
