"""``python -m services.registry``: the type table, strategies and validation over gRPC."""

from __future__ import annotations

import argparse

from kapi import config, serving
from services.registry.authentication_trust import AuthenticationTrust
from services.registry.server import RegistryConfig, create_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.registry", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:7003", help="gRPC address to serve on")
    config.add(parser, "--storage", default="127.0.0.1:7001", help="storage service address")
    config.add(parser, "--authz", default="127.0.0.1:7002", help="authz service address")
    config.add(
        parser,
        "--client-ca-file",
        default="",
        help="CA (PEM) of client certificates, published in "
        "kube-system/extension-apiserver-authentication (client-ca-file)",
    )
    config.add(
        parser,
        "--requestheader-client-ca-file",
        default="",
        help="CA (PEM) of the gateway's front-proxy client certificate, published for "
        "extension API servers (requestheader-client-ca-file)",
    )
    config.add(
        parser,
        "--requestheader-allowed-names",
        default="",
        help="comma-separated common names the front-proxy certificate may have",
    )
    config.add(
        parser,
        "--allow-loopback-endpoints",
        type=config.boolean,
        default=False,
        help="accept loopback addresses in EndpointSlices (kube refuses them; kapi up "
        "accepts them so that extension API servers can run beside it)",
    )
    config.add_peer_tls(parser)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    running = await create_server(
        RegistryConfig(
            listen=args.listen,
            storage=args.storage,
            authz=args.authz,
            tls=config.peer_tls(args),
            authentication_trust=_trust(args),
            allow_loopback_endpoints=args.allow_loopback_endpoints,
        )
    )
    await serving.run_until_signalled(running.server, "registry", running.port, running.close)


def _trust(args: argparse.Namespace) -> AuthenticationTrust | None:
    if not (args.client_ca_file or args.requestheader_client_ca_file):
        return None
    return AuthenticationTrust(
        client_ca=config.read_text(args.client_ca_file),
        requestheader_ca=config.read_text(args.requestheader_client_ca_file),
        allowed_names=tuple(n for n in args.requestheader_allowed_names.split(",") if n),
    )


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("registry")
    serving.run(_serve(args))


if __name__ == "__main__":
    main()
