"""HTTPS to extension API servers: the TLS an APIService asks for, and the front-proxy
client certificate.

As kube-aggregator's ``remote.BuildTransportConfig``: the server's certificate is
checked against ``spec.caBundle`` (the system's roots without one) and the name
``<service>.<namespace>.svc``, or not at all with ``insecureSkipTLSVerify``; the
gateway presents its front-proxy client certificate (kube-apiserver's
``--proxy-client-cert-file``), which is what lets the extension server believe the
``X-Remote-*`` headers. One pooled client per TLS configuration.

``errors_text`` words a failure as Go's transport would (kube's proxy answers a failed
round trip with its text: ``dial tcp 10.0.0.1:443: connect: connection refused``).
"""

from __future__ import annotations

import errno
import logging
import ssl
from dataclasses import dataclass

import httpx

from kapi import pki
from services.gateway.aggregator.state import Remote

# Each proxied request would be an INFO line of httpx's.
logging.getLogger("httpx").setLevel(logging.WARNING)

# kube's dialer gives up after 30 s; a request has no other deadline here (a watch may
# last as long as it likes: the extension server ends it).
CONNECT_TIMEOUT = 30.0
TIMEOUT = httpx.Timeout(connect=CONNECT_TIMEOUT, read=None, write=60.0, pool=CONNECT_TIMEOUT)
# The availability controller's discovery check: kube's 5 s client timeout.
CHECK_TIMEOUT = httpx.Timeout(5.0)


class TransportError(Exception):
    """A transport that cannot be built (kube: transportBuildingError, a 500)."""


@dataclass(frozen=True)
class _TLSKey:
    ca_bundle: bytes
    insecure: bool


class Transports:
    """Pooled HTTPS clients towards extension servers, by TLS configuration."""

    def __init__(self, front_proxy: pki.KeyPair | None) -> None:
        self.front_proxy = front_proxy
        self._clients: dict[_TLSKey, httpx.AsyncClient] = {}
        self._contexts: dict[_TLSKey, ssl.SSLContext] = {}
        self._check: httpx.AsyncClient | None = None

    def _context(self, key: _TLSKey) -> ssl.SSLContext:
        if key.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif key.ca_bundle:
            try:
                context = ssl.create_default_context(cadata=key.ca_bundle.decode("latin-1"))
            except (ssl.SSLError, ValueError) as exc:
                raise TransportError(
                    "unable to load root certificates: unable to parse bytes as PEM block"
                ) from exc
        else:
            context = ssl.create_default_context()
        if self.front_proxy is not None:
            context.load_cert_chain(self.front_proxy.cert_path, self.front_proxy.key_path)
        return context

    def client(self, remote: Remote) -> httpx.AsyncClient:
        """The client for ``remote``'s TLS configuration (TransportError if it has none)."""
        key = _TLSKey(remote.ca_bundle, remote.insecure)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = httpx.AsyncClient(
                verify=self.context(remote), timeout=TIMEOUT, follow_redirects=False
            )
        return found

    def context(self, remote: Remote) -> ssl.SSLContext:
        """``remote``'s TLS configuration as a context (for an upgraded connection)."""
        key = _TLSKey(remote.ca_bundle, remote.insecure)
        found = self._contexts.get(key)
        if found is None:
            found = self._contexts[key] = self._context(key)
        return found

    def check_client(self) -> httpx.AsyncClient:
        """kube's availability check: TLS not verified ("if someone owns the network and
        messes with your status that's not so bad"), the front-proxy certificate shown,
        5 s, no redirects."""
        if self._check is None:
            self._check = httpx.AsyncClient(
                verify=self._context(_TLSKey(b"", True)),
                timeout=CHECK_TIMEOUT,
                follow_redirects=False,
            )
        return self._check

    async def close(self) -> None:
        clients = list(self._clients.values())
        if self._check is not None:
            clients.append(self._check)
        self._clients.clear()
        self._check = None
        for client in clients:
            await client.aclose()


def request_extensions(remote: Remote) -> dict[str, str]:
    """What makes the TLS handshake name the Service (the certificate is checked so)."""
    return {"sni_hostname": remote.server_name}


def errors_text(exc: BaseException, host: str, port: int) -> str:
    """A transport failure in Go's words, as kube's proxy sends them on."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"tls: failed to verify certificate: x509: {cause.verify_message}"
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return f"dial tcp {address}: connect: connection refused"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return f"dial tcp {address}: i/o timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "net/http: timeout awaiting response headers"
    if isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
        return f"dial tcp {address}: connect: connection refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "EOF"
    return str(exc) or type(exc).__name__
