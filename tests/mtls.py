"""Knocking on the inside's doors: does a port answer, and to which credentials?

Shared by the integration, end-to-end and compose tests that prove the inside closed:
a plaintext client, a TLS client without a certificate, and one with a certificate of
another CA must all be refused by every service and by etcd, while the holder of the
right certificate is answered (so a refusal is the credentials', not a dead port).

Synchronous on purpose (blocking gRPC, urllib): an in-process test runs them in a
thread, so the servers in its event loop can answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from kapi import pki, probes

# A method no kapi service has: a server that let us in says UNIMPLEMENTED.
NO_SUCH_METHOD = "/kapi.mtls.Probe/Knock"
TIMEOUT = 5.0


@dataclass(frozen=True)
class Attempt:
    """One way of knocking: ``tls`` None is plaintext; a ``TLSFiles`` without a
    certificate is TLS without a client certificate."""

    name: str
    tls: pki.TLSFiles | None


def refused_attempts(ca_file: Path, foreign: pki.TLSFiles) -> Iterator[Attempt]:
    """Plaintext; TLS trusting the server but with no certificate; TLS with ``foreign``'s
    certificate (from a CA the server does not trust) — each must be refused."""
    yield Attempt("plaintext", None)
    yield Attempt("tls without a client certificate", pki.TLSFiles(ca_file=ca_file))
    yield Attempt(
        "tls with another CA's certificate",
        pki.TLSFiles(ca_file=ca_file, cert_file=foreign.cert_file, key_file=foreign.key_file),
    )


def grpc_answers(address: str, tls: pki.TLSFiles | None) -> bool:
    """Whether the gRPC server at ``HOST:PORT`` answers a call at all over ``tls``.

    Any status but UNAVAILABLE came from the server's application (here UNIMPLEMENTED):
    the connection was accepted. UNAVAILABLE: the transport was refused.
    """
    if tls is None:
        channel = grpc.insecure_channel(address)
    else:
        ca, key, cert = tls.read()
        credentials = grpc.ssl_channel_credentials(ca, key, cert)
        channel = grpc.secure_channel(address, credentials)
    with channel:
        knock = channel.unary_unary(NO_SUCH_METHOD)
        try:
            knock(b"", timeout=TIMEOUT)
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNIMPLEMENTED), exc
            return bool(code == grpc.StatusCode.UNIMPLEMENTED)
    return True


def http_answers(host: str, port: int, tls: pki.TLSFiles | None, path: str = "/health") -> bool:
    """Whether an HTTP(S) server (etcd's client or peer port) answers ``GET path`` with
    200 over ``tls`` (None: plain http)."""
    if tls is None:
        url = f"http://{host}:{port}{path}"
        kwargs = {}
    else:
        url = f"https://{host}:{port}{path}"
        kwargs = {"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}
    try:
        status, _ = probes.http_get(url, timeout=TIMEOUT, **kwargs)
    except OSError:
        return False
    return status == 200
