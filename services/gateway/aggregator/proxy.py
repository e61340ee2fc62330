"""The proxy: a request for a remote APIService's group-version, sent on to its server.

As kube-aggregator's ``proxyHandler`` (``handler_proxy.go``): once the gateway has
authenticated and authorized the caller, the request goes to one endpoint of the
APIService's Service over HTTPS, unchanged but for who it says the caller is: the
``Authorization`` and ``Impersonate-*`` headers are dropped (kube's authentication and
impersonation filters remove them) and the user travels as ``X-Remote-User``,
``X-Remote-Group`` (one per group) and ``X-Remote-Extra-<key>`` (client-go's
``SetAuthProxyHeaders``), believed by the extension server because the connection
presents the front-proxy client certificate. The reply streams back as it comes, watch
events included.

Failures are kube's plain-text ``http.Error`` replies, not Status objects: an APIService
not Available, or one whose Service has no endpoint, is ``503 service unavailable``
(client-go: "the server is currently unable to handle the request"); a round trip that
fails is 503 with the transport's error; a TLS configuration that cannot be built 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import astuple

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from kapi import errors
from kapi_proto import common_pb2
from services.gateway.aggregator import transport
from services.gateway.aggregator.state import Remote, State
from services.gateway.aggregator.transport import Transports

log = logging.getLogger(__name__)

SERVICE_UNAVAILABLE = "service unavailable"
# kube's discovery manager wraps its fetch in a 5 s TimeoutHandler.
FETCH_TIMEOUT = 5.0
# Never passed on (RFC 9110's hop-by-hop fields, and the host, which is the target's).
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    )
)
USER_HEADER = "X-Remote-User"
GROUP_HEADER = "X-Remote-Group"
EXTRA_PREFIX = "X-Remote-Extra-"
# Characters an HTTP field name may hold as they are (RFC 9110 tchar); others in an
# extra's key are percent-encoded, as client-go's headerKeyEscape does.
_TOKEN = frozenset(b"!#$&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def plain_error(text: str, code: int) -> Response:
    """Go's ``http.Error``: the text and a newline, as text/plain."""
    return Response(
        text + "\n",
        status_code=code,
        media_type="text/plain; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def escape_extra_key(key: str) -> str:
    return "".join(chr(b) if b in _TOKEN else f"%{b:02X}" for b in key.encode())


def auth_proxy_headers(user: common_pb2.UserInfo) -> list[tuple[str, str]]:
    """The caller as request headers (client-go ``transport.SetAuthProxyHeaders``)."""
    out = [(USER_HEADER, user.username)]
    out += [(GROUP_HEADER, group) for group in user.groups]
    for key in sorted(user.extra):
        out += [(EXTRA_PREFIX + escape_extra_key(key), v) for v in user.extra[key].values]
    return out


def _dropped(name: str, listed: set[str]) -> bool:
    return (
        name in HOP_BY_HOP
        or name in listed
        or name == "authorization"
        or name.startswith(("impersonate-", "x-remote-"))
    )


def outgoing_headers(
    raw: Iterable[tuple[bytes, bytes]], user: common_pb2.UserInfo, client: str
) -> list[tuple[str, str]]:
    """The request's headers as the extension server gets them."""
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
    listed = {
        token.strip().lower()
        for name, value in headers
        if name == "connection"
        for token in value.split(",")
    }
    out = [(name, value) for name, value in headers if not _dropped(name, listed)]
    forwarded = [value for name, value in out if name == "x-forwarded-for"]
    out = [(name, value) for name, value in out if name != "x-forwarded-for"]
    if client:  # as Go's ReverseProxy: the client's address appended
        out.append(("x-forwarded-for", ", ".join([*forwarded, client])))
    return out + auth_proxy_headers(user)


def incoming_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The reply's headers as the client gets them (the gateway sends its own Audit-Id)."""
    out = []
    for name, value in raw:
        lower = name.lower()
        if lower.decode("latin-1") in HOP_BY_HOP or lower == b"audit-id":
            continue
        out.append((lower, value))
    return out


class Proxy:
    """``unreachable``: told the name of an Available APIService whose server could not be
    reached (the availability controller looks at it at once)."""

    def __init__(
        self,
        state: State,
        transports: Transports,
        unreachable: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.state = state
        self.transports = transports
        self.unreachable = unreachable

    async def forward(
        self, request: Request, user: common_pb2.UserInfo, remote: Remote
    ) -> Response:
        if not remote.available:
            return plain_error(SERVICE_UNAVAILABLE, 503)
        try:
            client = self.transports.client(remote)
        except transport.TransportError as exc:
            return plain_error(str(exc), 500)
        try:
            host, port = astuple(self.state.resolve(remote))
        except errors.StatusError as err:
            log.info("error resolving %s/%s: %s", remote.namespace, remote.service, err.message)
            return plain_error(SERVICE_UNAVAILABLE, 503)
        scope = request.scope
        query = scope.get("query_string", b"")
        url = httpx.URL(
            scheme="https",
            host=host,
            port=port,
            path=scope["path"],
            **({"query": query} if query else {}),
        )
        peer = scope.get("client")
        sent = client.build_request(
            request.method,
            url,
            headers=outgoing_headers(scope["headers"], user, peer[0] if peer else ""),
            content=_body(request) if _has_body(request) else None,
            extensions=transport.request_extensions(remote),
        )
        try:
            reply = await client.send(sent, stream=True)
        except httpx.HTTPError as exc:
            text = transport.errors_text(exc, host, port)
            log.info("proxying to %s (%s:%d): %s", remote.name, host, port, text)
            if isinstance(exc, httpx.TransportError):
                self.unreachable(remote.name)
            return plain_error(text, 503)
        return _streamed(reply)


def _streamed(reply: httpx.Response) -> Response:
    response = StreamingResponse(_relay(reply), status_code=reply.status_code)
    response.raw_headers = incoming_headers(reply.headers.raw)
    return response


async def _relay(reply: httpx.Response) -> AsyncIterator[bytes]:
    """The reply's bytes as they arrive (compressed or not, as sent), then closed, also
    when the client goes first."""
    try:
        async for chunk in reply.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        log.info("reply from %s cut short: %s", reply.request.url.host, exc)
    finally:
        await reply.aclose()


def _has_body(request: Request) -> bool:
    headers = request.headers
    return "content-length" in headers or "transfer-encoding" in headers


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        return


class FetchError(Exception):
    """A request the aggregator made itself that got no usable reply."""


AGGREGATOR = common_pb2.UserInfo(username="system:kube-aggregator", groups=["system:masters"])


async def fetch(
    proxy: Proxy, remote: Remote, path: str, headers: Iterable[tuple[str, str]] = ()
) -> httpx.Response:
    """GET ``path`` of ``remote`` as kube's aggregator asks for discovery and OpenAPI: as
    ``system:kube-aggregator``, through the same gate as a client's request (an
    unavailable APIService answers 503 without a round trip)."""
    if not remote.available:
        raise FetchError(SERVICE_UNAVAILABLE)
    try:
        client = proxy.transports.client(remote)
        host, port = astuple(proxy.state.resolve(remote))
    except transport.TransportError as exc:
        raise FetchError(str(exc)) from None
    except errors.StatusError as err:
        raise FetchError(err.message) from None
    url = httpx.URL(scheme="https", host=host, port=port, path=path)
    sent = [*headers, *auth_proxy_headers(AGGREGATOR)]
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            return await client.get(
                url, headers=sent, extensions=transport.request_extensions(remote)
            )
    except TimeoutError:
        raise FetchError("request timed out") from None
    except httpx.HTTPError as exc:
        raise FetchError(transport.errors_text(exc, host, port)) from None
