"""Connection hygiene of the gateway's HTTP server (services/gateway/connections.py,
listener.py), on real sockets with a trivial app and short limits: kube-apiserver's Go
server closes a connection whose request head is late (ReadHeaderTimeout), one idle
between requests (IdleTimeout) and one stuck in its TLS handshake, and answers 431 to a
head over MaxHeaderBytes (k8s.io/apiserver/pkg/server/secure_serving.go; net/http).
A body that stops arriving and a reply left unread are cut off too (kapi's own
deadlines), and connections past the cap are closed at once. Every wait is bounded
generously: the tests assert what happens, never how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.gateway.listener import GuardedServer
from services.gateway.server import GatewayConfig, build_server

SHORT = 0.3  # seconds: the timeouts under test
PATIENCE = 15.0  # seconds a test waits for what must happen
REQUEST = b"GET / HTTP/1.1\r\nHost: kapi\r\n\r\n"

CONFIG = GatewayConfig(
    listen="127.0.0.1:0",
    registry="",
    authz="",
    storage="",
    tls_cert_file="",
    tls_private_key_file="",
    read_header_timeout=SHORT,
    idle_timeout=SHORT,
    request_body_timeout=SHORT,
    max_connections=4,
    max_header_bytes=4096,
)


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@contextlib.asynccontextmanager
async def serving(config: GatewayConfig, app: Any = ok_app) -> AsyncIterator[GuardedServer]:
    server = build_server(app, config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, PATIENCE)


@pytest.fixture
async def server() -> AsyncIterator[GuardedServer]:
    async with serving(CONFIG) as running:
        yield running


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(server: GuardedServer, tls: ssl.SSLContext | None = None) -> Streams:
    return await asyncio.open_connection("127.0.0.1", server.port, ssl=tls)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it hangs up (a reset counts as hanging up)."""
    chunks = []
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), PATIENCE):
            chunks.append(chunk)
    return b"".join(chunks)


async def eventually(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(PATIENCE):
        while not check():
            await asyncio.sleep(0.02)


# --- deadlines ------------------------------------------------------------------------------


async def test_a_request_is_served_and_its_connection_kept_for_the_next(
    server: GuardedServer,
) -> None:
    reader, writer = await connect(server)
    for _ in range(2):
        writer.write(REQUEST)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert await reader.readexactly(2) == b"ok"
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(server: GuardedServer) -> None:
    reader, writer = await connect(server)
    assert await read_until_closed(reader) == b""
    writer.close()


async def test_a_request_head_trickled_byte_by_byte_is_cut_off(server: GuardedServer) -> None:
    """Each byte arrives well within the deadline; the head as a whole does not."""
    reader, writer = await connect(server)
    trickle = b"GET / HTTP/1.1\r\nHost: kapi\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(PATIENCE):
            for byte in trickle:
                if writer.transport.is_closing() or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(SHORT / 4)
    assert await read_until_closed(reader) == b""  # never answered: cut off
    writer.close()


async def test_blank_lines_do_not_keep_a_connection_open(server: GuardedServer) -> None:
    """The parser skips empty lines between requests; they do not count as a request."""
    reader, writer = await connect(server)
    writer.write(REQUEST)
    await asyncio.wait_for(reader.readuntil(b"ok"), PATIENCE)
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(PATIENCE):
            while not (reader.at_eof() or writer.transport.is_closing()):
                writer.write(b"\r\n")
                await writer.drain()
                await asyncio.sleep(SHORT / 4)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1), 0.001)
    assert reader.at_eof() or writer.transport.is_closing()
    writer.close()


async def test_a_connection_idle_after_a_response_is_closed(server: GuardedServer) -> None:
    reader, writer = await connect(server)
    writer.write(REQUEST)
    answer = await read_until_closed(reader)
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"ok")
    writer.close()


async def test_the_next_request_head_gets_its_own_deadline(server: GuardedServer) -> None:
    """After a response, the first byte of the next request arms the header deadline."""
    reader, writer = await connect(server)
    writer.write(REQUEST)
    await asyncio.wait_for(reader.readuntil(b"ok"), PATIENCE)
    writer.write(b"GET / HT")  # and nothing more
    assert await read_until_closed(reader) == b""
    writer.close()


async def test_a_request_body_that_stops_arriving_is_cut_off() -> None:
    """The head arrived in time; the body never ends. The handler sees the client gone."""
    seen: list[str] = []

    async def body_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        if seen[-1] == "http.request":
            await ok_app(scope, receive, send)

    async with serving(CONFIG, body_app) as server:
        reader, writer = await connect(server)
        writer.write(b"POST / HTTP/1.1\r\nHost: kapi\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        assert await read_until_closed(reader) == b""
        writer.close()
        await eventually(lambda: "http.disconnect" in seen)

        reader, writer = await connect(server)  # a whole body in time is served
        writer.write(b"POST / HTTP/1.1\r\nHost: kapi\r\nContent-Length: 3\r\n\r\nabc")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
        assert head.startswith(b"HTTP/1.1 200 OK")
        writer.close()


async def test_a_client_that_stops_reading_its_reply_is_dropped() -> None:
    """The reply outgrows every buffer; the handler, stuck writing, is set free."""
    finished = asyncio.Event()
    chunk = b"r" * (1 << 20)

    async def big_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(256):  # up to 256 MiB: far more than the socket buffers hold
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        finished.set()

    async with serving(replace(CONFIG, write_stall_timeout=SHORT), big_app) as server:
        _, writer = await connect(server)
        writer.write(REQUEST)  # and never read
        await asyncio.wait_for(finished.wait(), PATIENCE)
        await eventually(lambda: server.listener is not None and server.listener.open == 0)
        writer.close()


# --- request heads --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: kapi\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
        b"GET /" + b"p" * 5000 + b" HTTP/1.1\r\nHost: kapi\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"a:b\r\n" * 1001 + b"\r\n",  # small, but 1,001 fields
    ],
    ids=["header", "url", "fields"],
)
async def test_a_head_over_the_limits_gets_431_and_a_hang_up(
    server: GuardedServer, head: bytes
) -> None:
    reader, writer = await connect(server)
    writer.write(head)
    answer = await read_until_closed(reader)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert answer.endswith(b"\r\n\r\n431 Request Header Fields Too Large")
    writer.close()


async def test_an_unfinished_head_is_refused_once_over_the_limit() -> None:
    """The bytes are counted as they arrive, not once the head is complete (no header
    deadline here: only the byte limit can end this connection)."""
    async with serving(replace(CONFIG, read_header_timeout=0)) as server:
        reader, writer = await connect(server)
        writer.write(b"GET / HTTP/1.1\r\nX-Endless: " + b"e" * 5000)  # never ends
        answer = await read_until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        writer.close()


async def test_accepted_connections_send_without_delay_and_keep_alive(
    server: GuardedServer,
) -> None:
    """TCP_NODELAY (asyncio sets it only on sockets it accepts itself: without it each
    small reply waited for the client's delayed ACK) and kube's TCP keep-alive."""
    reader, writer = await connect(server)
    writer.write(REQUEST)
    await asyncio.wait_for(reader.readuntil(b"ok"), PATIENCE)
    (protocol,) = server.server_state.connections
    sock = protocol.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    writer.close()


# --- the connection cap ---------------------------------------------------------------------


async def test_connections_past_the_cap_are_closed_at_once(server: GuardedServer) -> None:
    assert server.listener is not None
    held = [await connect(server) for _ in range(CONFIG.max_connections)]
    await eventually(lambda: server.listener is not None and server.listener.open == 4)
    reader, writer = await connect(server)
    writer.write(REQUEST)
    assert await read_until_closed(reader) == b""  # refused, not served
    writer.close()
    for _, held_writer in held:
        held_writer.close()
    await eventually(lambda: server.listener is not None and server.listener.open == 0)
    reader, writer = await connect(server)
    writer.write(REQUEST)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    assert head.startswith(b"HTTP/1.1 200 OK")
    writer.close()


async def test_closed_connections_give_their_places_back(server: GuardedServer) -> None:
    """Served, timed out and refused connections all leave the count."""
    for _ in range(3):
        reader, writer = await connect(server)
        writer.write(REQUEST)
        await asyncio.wait_for(reader.readuntil(b"ok"), PATIENCE)
        writer.close()
    _, silent = await connect(server)
    await eventually(lambda: server.listener is not None and server.listener.open == 0)
    silent.close()


# --- TLS ------------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[GuardedServer, ssl.SSLContext]]:
    cert_file, key_file = self_signed(tmp_path)
    config = replace(CONFIG, tls_cert_file=str(cert_file), tls_private_key_file=str(key_file))
    client = ssl.create_default_context(cafile=str(cert_file))
    async with serving(config) as running:
        yield running, client


async def test_tls_request_is_served(tls_server: tuple[GuardedServer, ssl.SSLContext]) -> None:
    server, client = tls_server
    reader, writer = await connect(server, client)
    writer.write(REQUEST)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    assert head.startswith(b"HTTP/1.1 200 OK")
    writer.close()


async def test_a_tls_connection_that_sends_nothing_after_its_handshake_is_closed(
    tls_server: tuple[GuardedServer, ssl.SSLContext],
) -> None:
    server, client = tls_server
    reader, writer = await connect(server, client)
    assert await read_until_closed(reader) == b""
    writer.close()


async def test_a_tcp_connection_that_never_starts_its_tls_handshake_is_closed(
    tls_server: tuple[GuardedServer, ssl.SSLContext],
) -> None:
    server, _ = tls_server
    reader, writer = await connect(server)  # plain TCP: no ClientHello
    assert await read_until_closed(reader) == b""
    await eventually(lambda: server.listener is not None and server.listener.open == 0)
    writer.close()


def test_an_open_tls_connection_counts_on_uvloop(tmp_path: Path) -> None:
    """The gateway runs on uvloop, whose connect_accepted_socket hands back its own TLS
    protocol: an open TLS connection must still count against --max-connections until it
    closes (it once left the count at once, with a traceback)."""
    import uvloop

    async def scenario() -> tuple[int, int]:
        cert_file, key_file = self_signed(tmp_path)
        config = replace(CONFIG, tls_cert_file=str(cert_file), tls_private_key_file=str(key_file))
        client = ssl.create_default_context(cafile=str(cert_file))
        async with serving(config) as server:
            reader, writer = await connect(server, client)
            writer.write(REQUEST)
            await asyncio.wait_for(reader.readuntil(b"ok"), PATIENCE)
            assert server.listener is not None
            while_open = server.listener.open
            writer.close()
            await eventually(lambda: server.listener is not None and server.listener.open == 0)
            return while_open, server.listener.open

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == (1, 0)
