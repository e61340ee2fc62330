"""``python -m services.authz``: authentication, authorization and admission over gRPC."""

from __future__ import annotations

import argparse

from kapi import config, serving
from services.authz.authentication.service_accounts import DEFAULT_ISSUER
from services.authz.server import AUTHORIZATION_MODES, AuthzConfig, create_server


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.authz", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:7002", help="gRPC address to serve on")
    config.add(parser, "--storage", default="127.0.0.1:7001", help="storage service address")
    config.add(
        parser,
        "--registry",
        default="",
        help="registry service address: it converts objects for admission webhooks and "
        "policies registered for another version of a resource (matchPolicy Equivalent)",
    )
    config.add(
        parser,
        "--token-file",
        default="",
        help="static bearer tokens, kube-apiserver's --token-auth-file format (CSV)",
    )
    config.add(
        parser,
        "--client-ca-file",
        default="",
        help="CA (PEM) of client certificates: CN is the user, O the groups",
    )
    config.add(
        parser,
        "--service-account-signing-key-file",
        default="",
        help="private key (PEM, RSA or ECDSA) that signs ServiceAccount tokens",
    )
    config.add(
        parser,
        "--service-account-key-file",
        default="",
        help="comma-separated PEM files of more keys verifying ServiceAccount tokens",
    )
    config.add(
        parser,
        "--service-account-issuer",
        default=DEFAULT_ISSUER,
        help="the iss of ServiceAccount tokens",
    )
    config.add(
        parser,
        "--api-audiences",
        default="",
        help="comma-separated audiences of the API (default: the issuer)",
    )
    config.add(
        parser,
        "--authorization-mode",
        default="RBAC",
        help=f"one of {', '.join(AUTHORIZATION_MODES)}",
    )
    config.add(
        parser,
        "--anonymous-auth",
        default="true",
        help="whether requests without credentials are the anonymous user (else 401)",
    )
    config.add(
        parser,
        "--admission-control-config-file",
        default="",
        help="an AdmissionConfiguration (apiserver.config.k8s.io/v1) with the admission "
        "plugins' configuration (PodSecurity's PodSecurityConfiguration)",
    )
    config.add_peer_tls(parser)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    running = await create_server(
        AuthzConfig(
            listen=args.listen,
            storage=args.storage,
            registry=args.registry,
            token_file=args.token_file,
            tls=config.peer_tls(args),
            client_ca_file=args.client_ca_file,
            service_account_signing_key_file=args.service_account_signing_key_file,
            service_account_key_files=_list(args.service_account_key_file),
            service_account_issuer=args.service_account_issuer,
            api_audiences=_list(args.api_audiences),
            authorization_mode=args.authorization_mode,
            anonymous_auth=args.anonymous_auth.lower() not in ("false", "0", "no"),
            admission_control_config_file=args.admission_control_config_file,
        )
    )
    await serving.run_until_signalled(running.server, "authz", running.port, running.close)


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("authz")
    serving.run(_serve(args))


if __name__ == "__main__":
    main()
