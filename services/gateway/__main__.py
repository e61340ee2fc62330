"""``python -m services.gateway``: serve the Kubernetes API over HTTPS."""

from __future__ import annotations

import argparse

from kapi import config, serving
from services.gateway import connections, inflight, listener
from services.gateway.auditing import options as audit_options
from services.gateway.server import GatewayConfig, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:6443", help="HTTPS address to serve on")
    config.add(parser, "--registry", default="127.0.0.1:7003", help="registry service address")
    config.add(parser, "--authz", default="127.0.0.1:7002", help="authz service address")
    config.add(parser, "--storage", default="127.0.0.1:7001", help="storage service address")
    config.add(parser, "--tls-cert-file", help="serving certificate (PEM)")
    config.add(parser, "--tls-private-key-file", help="serving key (PEM)")
    config.add(
        parser,
        "--proxy-client-cert-file",
        default="",
        help="front-proxy client certificate (PEM) shown to extension API servers",
    )
    config.add(parser, "--proxy-client-key-file", default="", help="its private key (PEM)")
    config.add(
        parser,
        "--client-ca-file",
        default="",
        help="CA (PEM) of client certificates: asked of every client, verified against it",
    )
    config.add(
        parser,
        "--service-account-jwks-uri",
        default="",
        help="the jwks_uri of /.well-known/openid-configuration (default: this server's)",
    )
    config.add(
        parser,
        "--read-header-timeout",
        type=float,
        default=connections.READ_HEADER_TIMEOUT,
        help="seconds a client has to send a request's headers (and the TLS handshake); 0: none",
    )
    config.add(
        parser,
        "--idle-timeout",
        type=float,
        default=connections.IDLE_TIMEOUT,
        help="seconds a keep-alive connection may wait for its next request; 0: no limit",
    )
    config.add(
        parser,
        "--request-body-timeout",
        type=float,
        default=connections.REQUEST_BODY_TIMEOUT,
        help="seconds a request's body may take to arrive after its headers; 0: no limit",
    )
    config.add(
        parser,
        "--write-stall-timeout",
        type=float,
        default=connections.WRITE_STALL_TIMEOUT,
        help="seconds a client may leave its reply unread before it is dropped; 0: no limit",
    )
    config.add(
        parser,
        "--max-connections",
        type=int,
        default=connections.MAX_CONNECTIONS,
        help="client connections open at once (more are closed at once); 0: the fd limit",
    )
    config.add(
        parser,
        "--max-header-bytes",
        type=int,
        default=connections.MAX_HEADER_BYTES,
        help="bytes of request line and headers a request may send (431 beyond); 0: no limit",
    )
    config.add(
        parser,
        "--max-requests-inflight",
        type=int,
        default=inflight.MAX_REQUESTS_INFLIGHT,
        help="read-only requests served at once, watches aside (429 beyond); 0: no limit",
    )
    config.add(
        parser,
        "--max-mutating-requests-inflight",
        type=int,
        default=inflight.MAX_MUTATING_REQUESTS_INFLIGHT,
        help="mutating requests served at once (429 beyond); 0: no limit",
    )
    audit_options.add_flags(parser)
    config.add_peer_tls(parser)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if not args.tls_cert_file or not args.tls_private_key_file:
        raise SystemExit("gateway: --tls-cert-file and --tls-private-key-file are required")
    config.setup_logging("gateway")
    try:
        audit = audit_options.build(audit_options.from_args(args))
    except audit_options.AuditConfigError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    listener.raise_open_files_limit()
    serving.run(
        serve(
            GatewayConfig(
                listen=args.listen,
                registry=args.registry,
                authz=args.authz,
                storage=args.storage,
                tls_cert_file=args.tls_cert_file,
                tls_private_key_file=args.tls_private_key_file,
                proxy_client_cert_file=args.proxy_client_cert_file,
                proxy_client_key_file=args.proxy_client_key_file,
                client_ca_file=args.client_ca_file,
                service_account_jwks_uri=args.service_account_jwks_uri,
                read_header_timeout=args.read_header_timeout,
                idle_timeout=args.idle_timeout,
                request_body_timeout=args.request_body_timeout,
                write_stall_timeout=args.write_stall_timeout,
                max_connections=args.max_connections,
                max_header_bytes=args.max_header_bytes,
                max_requests_inflight=args.max_requests_inflight,
                max_mutating_requests_inflight=args.max_mutating_requests_inflight,
                peer_tls=config.peer_tls(args),
            ),
            audit,
        )
    )


if __name__ == "__main__":
    main()
