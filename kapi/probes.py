"""Readiness probes: is a port open, does an HTTP(S) endpoint answer 200.

``kapi up`` uses them to know when each child is ready; docker-compose.yml runs them
as health checks (``python -m kapi.probes tcp 127.0.0.1:7001``,
``python -m kapi.probes https://127.0.0.1:6443/readyz --ca-file ca.crt``), because the
slim image has neither curl nor grpc_health_probe. Only the standard library is used,
so a probe works wherever the project's code does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from kapi import ports


def http_get(
    url: str,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    timeout: float = 2.0,
) -> tuple[int, bytes]:
    """Status and body of ``GET url``; HTTPS is verified against ``ca_file`` if given,
    and presents the client certificate ``cert_file`` (with ``key_file``) if given.

    Raises ``OSError`` when nothing answers.
    """
    context = None
    if ca_file or cert_file:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
    except (urllib.error.URLError, http.client.HTTPException) as exc:
        raise OSError(str(exc)) from exc


def http_ok(url: str, *, ca_file: Path | None = None, timeout: float = 2.0) -> bool:
    """Whether ``GET url`` answers 200."""
    try:
        status, _ = http_get(url, ca_file=ca_file, timeout=timeout)
    except (OSError, ValueError):
        return False
    return status == 200


def etcd_healthy(
    client_url: str,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    timeout: float = 2.0,
) -> bool:
    """Whether etcd at ``client_url`` answers ``GET /health`` with ``{"health":"true"}``.

    An etcd that requires client certificates is asked with ``cert_file``/``key_file``.
    """
    try:
        status, body = http_get(
            client_url.rstrip("/") + "/health",
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            timeout=timeout,
        )
        return status == 200 and json.loads(body).get("health") == "true"
    except (OSError, ValueError, AttributeError):
        return False


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"not HOST:PORT: {address!r}")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    """``tcp HOST:PORT`` | ``etcd URL`` | ``URL [--ca-file F]``; exit 0 when healthy."""
    parser = argparse.ArgumentParser(prog="python -m kapi.probes", description=main.__doc__)
    parser.add_argument("target", help="tcp | etcd | an http(s) URL")
    parser.add_argument("address", nargs="?", help="HOST:PORT for tcp, URL for etcd")
    parser.add_argument("--ca-file", type=Path, help="CA bundle to verify HTTPS with")
    parser.add_argument("--cert-file", type=Path, help="client certificate to present")
    parser.add_argument("--key-file", type=Path, help="its private key")
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.target == "tcp":
        if not args.address:
            parser.error("tcp needs HOST:PORT")
        host, port = parse_address(args.address)
        ok = ports.tcp_open(host, port, timeout=args.timeout)
    elif args.target == "etcd":
        if not args.address:
            parser.error("etcd needs a client URL")
        ok = etcd_healthy(
            args.address,
            ca_file=args.ca_file,
            cert_file=args.cert_file,
            key_file=args.key_file,
            timeout=args.timeout,
        )
    else:
        ok = http_ok(args.target, ca_file=args.ca_file, timeout=args.timeout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
