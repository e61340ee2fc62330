"""Stand-ins for the services, so ``kapi up`` can be tested on its own.

Each fake honours the services' contract (flags with ``KAPI_*`` fallbacks, listen on
``--listen``, exit 0 on SIGTERM/SIGINT) and checks what ``kapi up`` hands it: storage
that etcd answers at ``--etcd-endpoints`` (to its ``--etcd-*`` client certificate),
authz that the token file parses, the gateway that its TLS files (serving and front
proxy) load and, for
``/readyz``, that its peers listen; each that its ``--peer-*`` files make a mutual-TLS
identity (a certificate, its key, a CA that signed it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FAKE = '''
"""A stand-in for a kapi service (tests/unit/cli/conftest.py)."""
import argparse, http.server, signal, socket, ssl, sys

from kapi import config, ports, tokens
from kapi.probes import etcd_healthy, parse_address

PEER = ["--peer-ca-file", "--peer-cert-file", "--peer-key-file"]
FLAGS = {
    "storage": ["--listen", "--etcd-endpoints", *PEER],
    "authz": ["--listen", "--storage", "--registry", "--token-file", "--client-ca-file",
              "--service-account-signing-key-file", *PEER],
    "registry": ["--listen", "--storage", "--authz", "--client-ca-file",
                 "--requestheader-client-ca-file", "--requestheader-allowed-names",
                 "--allow-loopback-endpoints", *PEER],
    "gateway": ["--listen", "--registry", "--authz", "--storage", "--tls-cert-file",
                "--tls-private-key-file", "--client-ca-file", "--proxy-client-cert-file",
                "--proxy-client-key-file", *PEER],
    "metrics": ["--listen", "--registry", "--tls-cert-file", "--tls-private-key-file",
                "--ca-bundle-file", "--requestheader-client-ca-file",
                "--requestheader-allowed-names", *PEER],
    "controllers": ["--kubeconfig", "--controllers", "--root-ca-file"],
    "scheduler": ["--kubeconfig"],
    "nodes": ["--kubeconfig", "--nodes"],
}
# The gateway's clients: no port; a kubeconfig whose credential is in the token file.
COMPONENTS = ("controllers", "scheduler", "nodes")


def build_parser(name):
    parser = argparse.ArgumentParser(prog=f"services.{name}")
    for flag in FLAGS[name]:
        config.add(parser, flag)
    if name == "storage":
        config.add_etcd_tls(parser)
    return parser


def check_peer_tls(args):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.peer_cert_file, args.peer_key_file)
    context.load_verify_locations(args.peer_ca_file)
    from cryptography import x509
    ca = x509.load_pem_x509_certificate(open(args.peer_ca_file, "rb").read())
    cert = x509.load_pem_x509_certificate(open(args.peer_cert_file, "rb").read())
    cert.verify_directly_issued_by(ca)


def serve(name):
    args = build_parser(name).parse_args()
    for flag in FLAGS[name]:
        if getattr(args, flag[2:].replace("-", "_")) is None:
            sys.exit(f"{name}: {flag} is required")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    if name in COMPONENTS:
        from kapi.kube.connection import from_kubeconfig
        conn = from_kubeconfig(args.kubeconfig)
        assert conn.cert_pem and conn.key_pem and conn.server.startswith("https://"), conn
        print(f"{name}: kubeconfig for {conn.server}", flush=True)
        signal.pause()
    host, port = parse_address(args.listen)
    check_peer_tls(args)
    etcd_tls = dict(ca_file=args.etcd_cafile or None, cert_file=args.etcd_certfile or None,
                    key_file=args.etcd_keyfile or None) if name == "storage" else {}
    if name == "storage" and not any(
        etcd_healthy(u, **etcd_tls) for u in args.etcd_endpoints.split(",")
    ):
        sys.exit(f"storage: no healthy etcd at {args.etcd_endpoints}")
    if name == "authz":
        print(f"authz: {len(tokens.read(__import__('pathlib').Path(args.token_file)))} tokens")
    if name != "gateway":
        server = socket.create_server((host, port))
        print(f"{name}: serving on {args.listen}", flush=True)
        while True:
            conn, _ = server.accept()
            conn.close()
    peers = [parse_address(getattr(args, p)) for p in ("storage", "authz", "registry")]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/readyz" and all(ports.tcp_open(h, p) for h, p in peers)
            body = b"ok" if ok else b"not ready"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    # The front-proxy client certificate loads, and is the requestheader CA's.
    front_proxy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    front_proxy.load_cert_chain(args.proxy_client_cert_file, args.proxy_client_key_file)
    httpd = http.server.HTTPServer((host, port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    print(f"gateway: serving on {args.listen}", flush=True)
    httpd.serve_forever()
'''

MAIN = """
from services._fake import build_parser as _build_parser, serve


def build_parser():
    return _build_parser({name!r})


def main():
    serve({name!r})


if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="session")
def fake_services(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory to put first on PYTHONPATH: it holds a fake ``services`` package."""
    root = tmp_path_factory.mktemp("fake-services")
    package = root / "services"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_fake.py").write_text(FAKE)
    for name in (
        "storage",
        "authz",
        "registry",
        "gateway",
        "metrics",
        "controllers",
        "scheduler",
        "nodes",
    ):
        (package / name).mkdir()
        (package / name / "__init__.py").write_text("")
        (package / name / "__main__.py").write_text(MAIN.format(name=name))
    return root


@pytest.fixture
def kapi_env(fake_services: Path) -> dict[str, str]:
    """The environment to run ``kapi`` with the fake services and no stray KAPI_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(fake_services), env.get("PYTHONPATH", "")])
    return env


def kapi_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kapi.cli", *args]
