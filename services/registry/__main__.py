"""``python -m services.registry``: the type table, strategies and validation over gRPC."""

from __future__ import annotations

import argparse

from kapi import config, serving
from services.registry.server import RegistryConfig, create_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.registry", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:7003", help="gRPC address to serve on")
    config.add(parser, "--storage", default="127.0.0.1:7001", help="storage service address")
    config.add(parser, "--authz", default="127.0.0.1:7002", help="authz service address")
    config.add_peer_tls(parser)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    running = await create_server(
        RegistryConfig(
            listen=args.listen,
            storage=args.storage,
            authz=args.authz,
            tls=config.peer_tls(args),
        )
    )
    await serving.run_until_signalled(running.server, "registry", running.port, running.close)


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("registry")
    serving.run(_serve(args))


if __name__ == "__main__":
    main()
