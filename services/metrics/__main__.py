"""``python -m services.metrics``: the metrics.k8s.io API (``kubectl top``), as metrics-server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from kapi import config, serving
from services.metrics import usage
from services.metrics.server import MetricsConfig, create_server

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.metrics", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:4443", help="HTTPS address to serve on")
    config.add(parser, "--registry", default="127.0.0.1:7003", help="registry service address")
    config.add(parser, "--tls-cert-file", required=True, help="serving certificate (PEM)")
    config.add(parser, "--tls-private-key-file", required=True, help="serving key (PEM)")
    config.add(
        parser,
        "--ca-bundle-file",
        required=True,
        help="CA (PEM) of the serving certificate, given to the aggregator in the APIService",
    )
    config.add(
        parser,
        "--requestheader-client-ca-file",
        required=True,
        help="CA (PEM) of the front proxy's client certificate",
    )
    config.add(
        parser,
        "--requestheader-allowed-names",
        default="front-proxy-client",
        help="comma-separated common names the front-proxy certificate may have",
    )
    config.add(
        parser,
        "--advertise-address",
        default="",
        help="the address its EndpointSlice names (default: the listen host, or this host's)",
    )
    config.add(
        parser,
        "--load",
        type=float,
        default=usage.DEFAULT_LOAD,
        help="the fraction of its requests a running container uses (a pod's "
        f"{usage.LOAD_ANNOTATION} annotation overrides it)",
    )
    config.add_peer_tls(parser)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    running = await create_server(
        MetricsConfig(
            listen=args.listen,
            registry=args.registry,
            tls_cert_file=args.tls_cert_file,
            tls_private_key_file=args.tls_private_key_file,
            ca_bundle_file=args.ca_bundle_file,
            requestheader_client_ca_file=args.requestheader_client_ca_file,
            requestheader_allowed_names=tuple(
                n for n in args.requestheader_allowed_names.split(",") if n
            ),
            advertise_address=args.advertise_address,
            load=args.load,
            peer_tls=config.peer_tls(args),
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("metrics serving on port %d (advertised as %s)", running.port, running.address)
    await stop.wait()
    await running.close()


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("metrics")
    serving.run(_serve(args))


if __name__ == "__main__":
    main()
