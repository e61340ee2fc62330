"""Connection hygiene: no client holds a connection, or the memory its request head
takes, for longer or larger than kube-apiserver would allow.

kube-apiserver serves with Go's net/http (k8s.io/apiserver/pkg/server/secure_serving.go):
``ReadHeaderTimeout`` 32 s (a request's head — request line and headers — must arrive
within 32 s of its first byte, the first request's within 32 s of the connection),
``IdleTimeout`` 90 s (a keep-alive connection with no request is closed), a TLS handshake
bounded by the smaller of those timeouts (Go's tlsHandshakeTimeout), ``MaxHeaderBytes``
1 MiB (431 beyond). uvicorn's httptools protocol only closes a connection left idle after
a response, so a client trickling its headers, or connecting and sending nothing, was
never dropped; and it puts no bound on a head's size.

``GuardedProtocol`` arms the header deadline when the connection is made and again at
the first byte of each next request, disarms it when the head is complete, then gives the
body its own deadline, keeps the idle deadline between requests, drops a client that
stops reading its reply, and refuses heads over the byte or field limits. The TLS
handshake and the number of connections are bounded where connections are accepted
(services/gateway/listener.py).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from cryptography import x509
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from services.gateway.write_coalescing import CoalescingTransport

log = logging.getLogger(__name__)

# kube-apiserver's values (secure_serving.go; Go's net/http for the handshake).
READ_HEADER_TIMEOUT = 32.0
IDLE_TIMEOUT = 90.0
# kube-apiserver's --request-timeout (60 s), here for the body: a request whose body has
# not all arrived this long after its head is cut off (Go's server has no such deadline
# in kube, and a trickled body holds its handler, and its in-flight place, for good).
REQUEST_BODY_TIMEOUT = 60.0
# A client that leaves its reply unread this long, with every buffer full, is dropped:
# otherwise its handler waits to write for good (kube's cacher drops a watcher as
# unresponsive for the same reason).
WRITE_STALL_TIMEOUT = 60.0
MAX_HEADER_BYTES = 1 << 20
# Not a kube limit: each header costs the Python parser ~150 bytes beyond its own, so a
# 1 MiB head of tiny headers would take ~30 MiB. Real clients send a few dozen.
MAX_HEADER_FIELDS = 1000
# kube has no cap on connections (only the file-descriptor limit bounded them).
MAX_CONNECTIONS = 2048

# What Go answers a head over MaxHeaderBytes (net/http server.go), then it hangs up.
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"431 Request Header Fields Too Large"
)


@dataclass(frozen=True)
class ConnectionLimits:
    """The limits on each connection and on how many are open. 0 disables one."""

    read_header_timeout: float = READ_HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    request_body_timeout: float = REQUEST_BODY_TIMEOUT
    write_stall_timeout: float = WRITE_STALL_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    max_header_bytes: int = MAX_HEADER_BYTES
    max_header_fields: int = MAX_HEADER_FIELDS

    @property
    def handshake_timeout(self) -> float:
        """Go bounds the TLS handshake by the smallest of its read/write timeouts."""
        return self.read_header_timeout


class Deadline:
    """One timer of a connection: armed, disarmed, and what happens when it passes.
    Never armed when its limit is 0."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, seconds: float, passed: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._seconds = seconds
        self._passed = passed
        self._timer: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def arm(self) -> None:
        """(Re)start the timer."""
        self.disarm()
        if self._seconds:
            self._timer = self._loop.call_later(self._seconds, self._fire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        self._passed()


_TLS_VERSIONS = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303, "TLSv1.1": 0x0302, "TLSv1": 0x0301}


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension (asgiref's "TLS Extension") of a connection: the client
    certificate chain (PEM, the leaf only: Python's ssl keeps no more of it) that the
    handshake verified against ``--client-ca-file``, its subject, and the TLS version;
    None for a plain connection. Made once per connection, shared by its requests.

    uvicorn gives the app no peer certificate; the gateway's authentication
    (services/gateway/auth.py) reads it from here."""
    tls = transport.get_extra_info("ssl_object")
    if not isinstance(tls, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = tls.getpeercert(binary_form=True)
    chain: list[str] = []
    name: str | None = None
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:
            name = None
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(tls.version() or ""),
        "cipher_suite": None,
    }


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and head limits of
    ``ConnectionLimits``."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self._head_deadline = Deadline(self.loop, limits.read_header_timeout, self._head_late)
        self._body_deadline = Deadline(self.loop, limits.request_body_timeout, self._body_late)
        self._write_deadline = Deadline(self.loop, limits.write_stall_timeout, self._unread)
        self._reading_head = True  # the bytes that arrive start or continue a request head
        self._head_started = False  # bytes of a head not yet complete have arrived
        self._awaiting_body = False  # a head is complete, its body is not
        self._head_bytes = 0
        self._head_fields = 0
        self._refused = False  # a head over the limits was refused: the connection ends
        self._tls: dict[str, Any] | None = None  # the ASGI TLS extension of this connection

    # --- the connection -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))
        self._tls = tls_extension(transport)
        self._head_deadline.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        for deadline in (self._head_deadline, self._body_deadline, self._write_deadline):
            deadline.disarm()
        super().connection_lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head:
            self._head_started = True
            self._head_bytes += len(data)
            if self.limits.max_header_bytes and self._head_bytes > self.limits.max_header_bytes:
                self._refuse_head()
                return
        super().data_received(data)
        # Deadlines for what this read left unfinished (a request that arrived whole in
        # one read, the common case, needs no timer).
        if self._head_started and not self._head_deadline.armed and not self._refused:
            self._head_deadline.arm()
        if self._awaiting_body and not self._body_deadline.armed:
            self._body_deadline.arm()

    def pause_writing(self) -> None:
        """The transport's buffer is full: the client must read within the deadline."""
        super().pause_writing()
        if not self._write_deadline.armed:
            self._write_deadline.arm()

    def resume_writing(self) -> None:
        self._write_deadline.disarm()
        super().resume_writing()

    # --- parser callbacks (what follows a refused head in the same read is ignored) ---

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}  # type: ignore[dict-item]
        self._head_started = True
        self._head_fields = 0

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._refused or self._too_many_fields():
            return  # refused when the head is complete; keep no more of it
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = self._head_started = False
        self._head_bytes = 0
        self._head_deadline.disarm()
        if self._refused:
            return
        if self._too_many_fields():
            self._refuse_head()
            return
        self._awaiting_body = True
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_body = False
        self._body_deadline.disarm()
        super().on_message_complete()
        self._reading_head = True  # what comes next is the next request's head

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer if the connection is now idle (its
        # data_received disarms it): make it ours.
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
            if self.limits.idle_timeout:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.limits.idle_timeout, self.timeout_keep_alive_handler
                )

    # --- deadlines passed, heads refused ----------------------------------------------

    def _head_late(self) -> None:
        """Go closes the connection without a reply when a head is late."""
        if not self.transport.is_closing():
            log.debug("closing a connection whose request head did not arrive in time")
            self.transport.close()

    def _body_late(self) -> None:
        """Hang up: the handler sees the client gone (its body read ends), and gives its
        in-flight place back."""
        if not self.transport.is_closing():
            log.debug("closing a connection whose request body did not arrive in time")
            self.transport.close()

    def _unread(self) -> None:
        """Drop the connection: closing would wait for buffers that never drain."""
        log.debug("dropping a connection whose client stopped reading its reply")
        self.transport.abort()

    def _too_many_fields(self) -> bool:
        return bool(self.limits.max_header_fields) and (
            self._head_fields > self.limits.max_header_fields
        )

    def _refuse_head(self) -> None:
        """Go's 431 for a head over MaxHeaderBytes, then hang up."""
        self._refused = True
        self._head_deadline.disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_HEAD_TOO_LARGE)  # not in the middle of another reply
        self.transport.close()
