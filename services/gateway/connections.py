"""Connection hygiene: no client holds a connection, or the memory its request head
takes, for longer or larger than kube-apiserver would allow.

kube-apiserver serves with Go's net/http (k8s.io/apiserver/pkg/server/secure_serving.go):
``ReadHeaderTimeout`` 32 s (a request's head — request line and headers — must arrive
within 32 s of its first byte, the first request's within 32 s of the connection),
``IdleTimeout`` 90 s (a keep-alive connection with no request is closed), a TLS handshake
bounded by the smaller of those timeouts (Go's tlsHandshakeTimeout), ``MaxHeaderBytes``
1 MiB (431 beyond), and TCP keep-alive every 3 minutes. uvicorn's httptools protocol
only closes a connection left idle after a response, so a client trickling its headers, or
connecting and sending nothing, was never dropped; and it puts no bound on a head's size.

``GuardedProtocol`` arms the header deadline when the connection is made and again at
the first byte of each next request, disarms it when the head is complete, then gives the
body its own deadline, keeps the idle deadline between requests, drops a client that
stops reading its reply, and refuses heads over the byte or field limits.
``GuardedServer`` accepts connections itself so that it can bound the TLS handshake and
cap the connections open at once (kube has no such cap; only the file-descriptor limit
bounded it): past the cap a new connection is closed at once, never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

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
MAX_CONNECTIONS = 2048
TCP_KEEPALIVE_SECONDS = 180
# File descriptors kept for everything but client connections (gRPC channels, logs).
RESERVED_FDS = 128
# After the process ran out of file descriptors, accept again this much later (asyncio's
# own servers wait as long).
ACCEPT_RETRY_SECONDS = 1.0
# uvicorn's exit status when it cannot start.
STARTUP_FAILURE = 3
# Warn about refused connections at most this often.
REFUSAL_LOG_SECONDS = 60.0

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


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header deadline, the idle deadline and the
    head limits of ``ConnectionLimits``."""

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
        self._header_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None
        self._reading_head = True  # the bytes that arrive start or continue a request head
        self._head_bytes = 0
        self._head_fields = 0
        self._refused = False  # a head over the limits was refused: the connection ends

    # --- the connection -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        self._disarm_body_deadline()
        self._disarm_write_deadline()
        super().connection_lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head:
            if self._header_deadline is None:
                self._arm_header_deadline()  # the first byte of the next request
            self._head_bytes += len(data)
            if self.limits.max_header_bytes and self._head_bytes > self.limits.max_header_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    # --- parser callbacks (what follows a refused head in the same read is ignored) ---

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
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
        self._reading_head = False
        self._head_bytes = 0
        self._disarm_header_deadline()
        if self._refused:
            return
        if self._too_many_fields():
            self._refuse_head()
            return
        if self.limits.request_body_timeout:
            self._body_deadline = self.loop.call_later(
                self.limits.request_body_timeout, self._body_deadline_passed
            )
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm_body_deadline()
        super().on_message_complete()
        self._reading_head = True  # what comes next is the next request's head

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer if the connection is now idle: make it ours.
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
            if self.limits.idle_timeout:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.limits.idle_timeout, self.timeout_keep_alive_handler
                )

    def pause_writing(self) -> None:
        """The transport's buffer is full: the client must read within the deadline."""
        super().pause_writing()
        if self.limits.write_stall_timeout and self._write_deadline is None:
            self._write_deadline = self.loop.call_later(
                self.limits.write_stall_timeout, self._write_deadline_passed
            )

    def resume_writing(self) -> None:
        self._disarm_write_deadline()
        super().resume_writing()

    # --- deadlines and refusals -----------------------------------------------------

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        if self.limits.read_header_timeout:
            self._header_deadline = self.loop.call_later(
                self.limits.read_header_timeout, self._header_deadline_passed
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        """Go closes the connection without a reply when a head is late."""
        self._header_deadline = None
        if not self.transport.is_closing():
            log.debug("closing a connection whose request head did not arrive in time")
            self.transport.close()

    def _too_many_fields(self) -> bool:
        return bool(self.limits.max_header_fields) and (
            self._head_fields > self.limits.max_header_fields
        )

    def _disarm_body_deadline(self) -> None:
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _body_deadline_passed(self) -> None:
        """Hang up: the handler sees the client gone (its body read ends), and gives its
        in-flight place back."""
        self._body_deadline = None
        if not self.transport.is_closing():
            log.debug("closing a connection whose request body did not arrive in time")
            self.transport.close()

    def _disarm_write_deadline(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _write_deadline_passed(self) -> None:
        """Drop the connection: closing would wait for buffers that never drain."""
        self._write_deadline = None
        log.debug("dropping a connection whose client stopped reading its reply")
        self.transport.abort()

    def _refuse_head(self) -> None:
        """Go's 431 for a head over MaxHeaderBytes, then hang up."""
        self._refused = True
        self._disarm_header_deadline()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_HEAD_TOO_LARGE)  # not in the middle of another reply
        self.transport.close()


class Listener:
    """Accepts connections, at most ``limits.max_connections`` open at once (counted from
    accept to close, TLS handshake included), and hands each to a new protocol. uvicorn's
    shutdown sees it as its asyncio server: ``close()`` and ``wait_closed()``."""

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], GuardedProtocol],
        *,
        tls: ssl.SSLContext | None,
        limits: ConnectionLimits,
    ) -> None:
        self.sockets = [sock]
        self.limits = limits
        self.open = 0
        self._sock = sock
        self._factory = protocol_factory
        self._tls = tls
        self._connections: set[asyncio.Task[None]] = set()
        self._refused = 0
        self._refusal_logged = 0.0
        self._loop = asyncio.get_running_loop()
        self._accepting = self._loop.create_task(self._accept_forever())

    def close(self) -> None:
        self._accepting.cancel()
        self._sock.close()

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._accepting
        # uvicorn has closed its connections (or given up on them) by now; what is left
        # is handshakes in progress and connections it never saw.
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=1.0)

    async def _accept_forever(self) -> None:
        while True:
            try:
                conn, _ = await self._loop.sock_accept(self._sock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("cannot accept connections for now: %s", exc)
                    await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                    continue
                if self._sock.fileno() == -1:
                    return  # closed
                log.warning("accept failed: %s", exc)
                continue
            cap = self.limits.max_connections
            if cap and self.open >= cap:
                conn.close()
                self._note_refusal(cap)
                continue
            self.open += 1
            task = self._loop.create_task(self._serve(conn))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            _tune(conn)
            try:
                _, protocol = await self._loop.connect_accepted_socket(
                    self._factory,
                    conn,
                    ssl=self._tls,
                    ssl_handshake_timeout=(
                        (self.limits.handshake_timeout or None) if self._tls else None
                    ),
                )
            except (OSError, ssl.SSLError, TimeoutError, ValueError) as exc:
                log.debug("connection closed before its TLS handshake completed: %s", exc)
                conn.close()
                return
            await protocol.closed
        finally:
            self.open -= 1

    def _note_refusal(self, cap: int) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= REFUSAL_LOG_SECONDS:
            log.warning(
                "%d connection(s) refused: %d are open, the most allowed (--max-connections)",
                self._refused,
                cap,
            )
            self._refused = 0
            self._refusal_logged = now


class GuardedServer(uvicorn.Server):
    """uvicorn's server, accepting through ``Listener`` with ``GuardedProtocol``."""

    def __init__(self, config: uvicorn.Config, limits: ConnectionLimits) -> None:
        super().__init__(config)
        self.limits = limits
        self.listener: Listener | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the system chose for port 0)."""
        assert self.listener is not None, "not started"
        return int(self.listener.sockets[0].getsockname()[1])

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """As uvicorn's startup for a host and port, with our listener and protocol."""
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config
        loop = asyncio.get_running_loop()

        def create_protocol() -> GuardedProtocol:
            return GuardedProtocol(
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
                limits=self.limits,
            )

        try:
            sock = _listening_socket(config.host, config.port, config.backlog)
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.listener = Listener(sock, create_protocol, tls=config.ssl, limits=self.limits)
        # uvicorn's shutdown calls only close() and wait_closed() on its servers.
        self.servers = [cast(asyncio.base_events.Server, self.listener)]
        self._log_started_message([sock])
        self.started = True


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.setblocking(False)
    return sock


def _tune(conn: socket.socket) -> None:
    """No Nagle delay (asyncio sets TCP_NODELAY only on sockets it accepts itself), and
    TCP keep-alive probes every 3 minutes, as kube's tcpKeepAliveListener sets, so a peer
    that vanished (a laptop closed mid-watch) is noticed."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, TCP_KEEPALIVE_SECONDS)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, TCP_KEEPALIVE_SECONDS)


def raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard one, as Go's runtime does at start
    (Go 1.19+), so the connection cap, not the default soft limit, bounds clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def usable_connections(requested: int) -> int:
    """``requested``, lowered to what the open-files limit leaves for clients (0: the most
    the limit allows)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return requested
    most = max(soft - RESERVED_FDS, 1)
    if requested == 0 or requested > most:
        if requested:
            log.warning(
                "--max-connections %d is over what the open-files limit (%d) allows: %d",
                requested,
                soft,
                most,
            )
        return most
    return requested
