"""Where the gateway's connections are accepted: at most ``--max-connections`` open at
once, TLS handshakes bounded, each served by ``connections.GuardedProtocol``.

uvicorn hands its listening socket to asyncio's ``create_server``, which offers neither a
cap on connections nor (through uvicorn) a handshake timeout of our choosing: asyncio's
default, 60 s, applied. ``GuardedServer`` is uvicorn's server with its own accept loop
instead (``loop.connect_accepted_socket``, public asyncio): a connection past the cap is
closed at once, never queued, and the handshake gets Go's bound (the header timeout).
kube-apiserver has no such cap; only the file-descriptor limit bounded it.
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
from typing import cast

import uvicorn

from services.gateway.connections import ConnectionLimits, GuardedProtocol

log = logging.getLogger(__name__)

# kube's tcpKeepAliveListener period (secure_serving.go, defaultKeepAlivePeriod).
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
            # The protocol is made here and waited on: uvloop hands back its SSLProtocol
            # wrapper, not the application's protocol, for a TLS connection.
            protocol = self._factory()
            try:
                await self._loop.connect_accepted_socket(
                    lambda: protocol,
                    conn,
                    ssl=self._tls,
                    ssl_handshake_timeout=(
                        (self.limits.handshake_timeout or None) if self._tls else None
                    ),
                )
            except OSError as exc:  # ssl.SSLError, a handshake timeout, a reset
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
