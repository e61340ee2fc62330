"""The ``Metrics`` gRPC service every internal service serves beside its own, and the
call the gateway makes to read it (``protos/kapi_proto/metrics.proto`` says why gRPC).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc.aio

from kapi import metrics, rpc
from kapi_proto import metrics_pb2, metrics_pb2_grpc

SCRAPE_TIMEOUT = 5.0

Refresh = Callable[[], Awaitable[None]]


class MetricsServicer(metrics_pb2_grpc.MetricsServicer):
    """Serves ``registry``; ``refresh`` (when given) runs first, for the values that are
    read rather than counted (e.g. storage's object counts)."""

    def __init__(self, registry: metrics.Registry, refresh: Refresh | None = None) -> None:
        self.registry = registry
        self.refresh = refresh

    @rpc.unary_errors
    async def Scrape(
        self, request: metrics_pb2.ScrapeRequest, context: rpc.Context
    ) -> metrics_pb2.ScrapeResponse:
        if self.refresh is not None:
            await self.refresh()
        return metrics_pb2.ScrapeResponse(text=self.registry.exposition())


def serve(
    server: grpc.aio.Server, registry: metrics.Registry, refresh: Refresh | None = None
) -> None:
    """Add the Metrics service of ``registry`` to a service's gRPC ``server``."""
    metrics_pb2_grpc.add_MetricsServicer_to_server(MetricsServicer(registry, refresh), server)


async def scrape(channel: grpc.aio.Channel, peer: str) -> bytes:
    """``peer``'s metrics, read over ``channel``; a StatusError (503) if it cannot."""
    stub = metrics_pb2_grpc.MetricsStub(channel)
    reply = await rpc.unary(
        channel, peer, stub.Scrape, metrics_pb2.ScrapeRequest(), timeout=SCRAPE_TIMEOUT
    )
    return bytes(reply.text)
