"""Upgraded connections to extension API servers: WebSockets, message for message.

kube's aggregator hands an upgrade request (``kubectl exec``, ``attach``,
``port-forward`` on an extension's resources) to apimachinery's UpgradeAwareHandler,
which dials the extension server with the front-proxy certificate and the caller's
``X-Remote-*`` headers, then splices the two connections. An ASGI server gives the
gateway WebSockets rather than raw sockets, so the splice is at the message level: the
handshake goes on with the client's subprotocols (``v5.channel.k8s.io``, ...), the
extension server's choice is the one accepted, and every message, text or binary, and
the close code, passes through unchanged. A handshake the extension server refuses
comes back to the client as the HTTP reply it gave; one that cannot be made is kube's
503. SPDY upgrades are not proxied (ASGI has no raw upgrade): kubectl 1.32 speaks
WebSockets first for exec, attach, cp and port-forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import astuple
from typing import Any

import websockets
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

from kapi import errors
from kapi_proto import common_pb2
from services.gateway.aggregator import proxy as proxying
from services.gateway.aggregator import transport
from services.gateway.aggregator.state import Remote

log = logging.getLogger(__name__)

# The handshake's own fields, which the client library sets again towards the server.
HANDSHAKE = frozenset(
    (
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    )
)
OPEN_TIMEOUT = transport.CONNECT_TIMEOUT


async def deny(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    """Refuse the handshake with an HTTP reply (ASGI's websocket.http.response)."""
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    user: common_pb2.UserInfo,
    remote: Remote,
    proxy: proxying.Proxy,
) -> None:
    """Splice the client's WebSocket to one with ``remote``'s server, as ``user``."""
    text = b"text/plain; charset=utf-8"
    if not remote.available:
        await deny(send, 503, proxying.SERVICE_UNAVAILABLE.encode() + b"\n", text)
        return
    try:
        context = proxy.transports.context(remote)
        host, port = astuple(proxy.state.resolve(remote))
    except transport.TransportError as exc:
        await deny(send, 500, str(exc).encode() + b"\n", text)
        return
    except errors.StatusError as err:
        log.info("error resolving %s/%s: %s", remote.namespace, remote.service, err.message)
        await deny(send, 503, proxying.SERVICE_UNAVAILABLE.encode() + b"\n", text)
        return
    query = scope.get("query_string", b"").decode("latin-1")
    address = f"[{host}]" if ":" in host else host
    uri = f"wss://{address}:{port}{scope['path']}" + (f"?{query}" if query else "")
    peer = scope.get("client")
    headers = [
        (name, value)
        for name, value in proxying.outgoing_headers(
            scope["headers"], user, peer[0] if peer else ""
        )
        if name.lower() not in HANDSHAKE
    ]
    subprotocols = [
        token.strip()
        for name, value in scope["headers"]
        if name.lower() == b"sec-websocket-protocol"
        for token in value.decode("latin-1").split(",")
        if token.strip()
    ]
    try:
        backend = await connect(
            uri,
            ssl=context,
            server_hostname=remote.server_name,
            additional_headers=headers,
            subprotocols=subprotocols or None,
            open_timeout=OPEN_TIMEOUT,
            max_size=None,
            compression=None,
            ping_interval=None,
            user_agent_header=None,
        )
    except websockets.InvalidStatus as exc:  # the extension server said no: its reply
        reply = exc.response
        content_type = (reply.headers.get("Content-Type") or "text/plain").encode("latin-1")
        await deny(send, reply.status_code, bytes(reply.body or b""), content_type)
        return
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        message = transport.errors_text(exc, host, port)
        log.info("upgrading to %s (%s:%d): %s", remote.name, host, port, message)
        await deny(send, 503, message.encode() + b"\n", text)
        return
    async with backend:
        await send({"type": "websocket.accept", "subprotocol": backend.subprotocol})
        await _splice(receive, send, backend)


async def _splice(receive: Receive, send: Send, backend: ClientConnection) -> None:
    async def upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                await backend.send(data if data is not None else message.get("text") or "")
            elif message["type"] == "websocket.disconnect":
                await backend.close(message.get("code", 1000))
                return

    async def downstream() -> None:
        try:
            async for data in backend:
                key = "bytes" if isinstance(data, bytes) else "text"
                await send({"type": "websocket.send", key: data})
        except websockets.ConnectionClosed:
            pass
        closed: Any = backend.close_code
        with contextlib.suppress(Exception):  # the client may be gone already
            await send({"type": "websocket.close", "code": closed or 1000})

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
