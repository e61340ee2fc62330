"""``python -m services.gateway``: serve the Kubernetes API over HTTPS."""

from __future__ import annotations

import argparse

from kapi import config, serving
from services.gateway.server import GatewayConfig, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:6443", help="HTTPS address to serve on")
    config.add(parser, "--registry", default="127.0.0.1:7003", help="registry service address")
    config.add(parser, "--authz", default="127.0.0.1:7002", help="authz service address")
    config.add(parser, "--storage", default="127.0.0.1:7001", help="storage service address")
    config.add(parser, "--tls-cert-file", help="serving certificate (PEM)")
    config.add(parser, "--tls-private-key-file", help="serving key (PEM)")
    config.add_peer_tls(parser)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if not args.tls_cert_file or not args.tls_private_key_file:
        raise SystemExit("gateway: --tls-cert-file and --tls-private-key-file are required")
    config.setup_logging("gateway")
    serving.run(
        serve(
            GatewayConfig(
                listen=args.listen,
                registry=args.registry,
                authz=args.authz,
                storage=args.storage,
                tls_cert_file=args.tls_cert_file,
                tls_private_key_file=args.tls_private_key_file,
                peer_tls=config.peer_tls(args),
            )
        )
    )


if __name__ == "__main__":
    main()
