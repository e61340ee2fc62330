"""``python -m services.authz``: authentication, authorization and admission over gRPC."""

from __future__ import annotations

import argparse

from kapi import config, serving
from services.authz.server import AuthzConfig, create_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.authz", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:7002", help="gRPC address to serve on")
    config.add(parser, "--storage", default="127.0.0.1:7001", help="storage service address")
    config.add(parser, "--token-file", default="", help="static token file (CSV)")
    config.add_peer_tls(parser)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    running = await create_server(
        AuthzConfig(
            listen=args.listen,
            storage=args.storage,
            token_file=args.token_file,
            tls=config.peer_tls(args),
        )
    )
    await serving.run_until_signalled(running.server, "authz", running.port, running.close)


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("authz")
    serving.run(_serve(args))


if __name__ == "__main__":
    main()
