"""The REST gateway: the Kubernetes HTTP API surface, as an ASGI application.

Resource requests (``/api/...``, ``/apis/...``: services/gateway/resources.py) go
straight to their handler; the rest — discovery roots, OpenAPI, health, version — are
FastAPI routes here. Handlers only raise: a StatusError is rendered as its Status, any
other exception as a 500 InternalError naming the request's audit ID, its details logged
once (services/gateway/audit.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from kapi import errors, pki
from kapi import metrics as exposition
from services.authz.client import AuthzClient
from services.gateway import discovery, feeds, health, negotiation, oidc, watch_hub
from services.gateway.aggregator import Aggregator
from services.gateway.audit import WithAuditId, answer_bug
from services.gateway.auditing.middleware import Auditor, WithAudit
from services.gateway.codec import openapi_v2_protobuf
from services.gateway.inflight import Limiter
from services.gateway.metrics import GatewayMetrics, MeteredGatekeeper
from services.gateway.request_info import parse
from services.gateway.resources import Resources
from services.gateway.responses import (
    discovery_document,
    discovery_response,
    json_response,
    method_not_allowed,
    status_response,
)
from services.gateway.type_cache import TypeCache
from services.registry.client import RegistryClient
from services.storage.client import StorageClient

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kapi",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass
class Peers:
    registry: RegistryClient
    authz: AuthzClient
    storage: StorageClient  # health, and the revision a consistent read needs
    checks: list[health.Check]
    server_address: str = "127.0.0.1:6443"
    # The front-proxy client certificate shown to extension API servers (None: none).
    front_proxy: pki.KeyPair | None = None
    # --service-account-jwks-uri: where the discovery document says the keys are
    # (default: https://<server address>/openid/v1/jwks, as kube derives it).
    jwks_uri: str = ""


# kube-apiserver gzips a reply whose first write is over 128 KiB, at level 1, when the
# client accepts it (responsewriters: defaultGzipThresholdBytes, ...ContentEncodingLevel).
GZIP_MINIMUM_BYTES = 128 * 1024
GZIP_LEVEL = 1


class GzipUnlessWatch:
    """gzip large replies (kubectl asks for it), but never a watch stream: each event must
    reach the client when it happens, and compressing thousands of small lines a second
    costs the gateway more than it saves (kube-apiserver does not compress watches)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_watch(scope):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)


def _is_watch(scope: Scope) -> bool:
    if "/watch/" in scope.get("path", ""):
        return True
    for key, value in parse_qsl(
        scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
    ):
        if key == "watch" and value.lower() not in ("0", "false"):
            return True
    return False


def create_app(
    peers: Peers, *, inflight: Limiter | None = None, audit: Auditor | None = None
) -> WithAuditId:
    """The gateway's ASGI app; ``inflight`` caps the resource requests served at once
    (kube-apiserver's defaults when not given); ``audit``: the audit policy and log
    (none: nothing is audited, and no request pays for it)."""
    inflight = inflight if inflight is not None else Limiter()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(GzipUnlessWatch)
    metrics = GatewayMetrics(inflight)
    app.state.metrics = metrics
    gate = MeteredGatekeeper(peers.authz, metrics)
    app.state.gate = gate
    hub = watch_hub.Hub(prev_objects=feeds.PREV_OBJECTS)
    app.state.hub = hub
    app.state.peers = peers

    types = TypeCache(peers.registry)
    app.state.types = types
    aggregator = Aggregator(peers.registry, front_proxy=peers.front_proxy)
    app.state.aggregator = aggregator

    @app.exception_handler(errors.StatusError)
    async def on_status_error(request: Request, exc: errors.StatusError) -> Response:
        return status_response(exc)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        return answer_bug(request, exc)

    resources = Resources(
        peers.registry, peers.storage, gate, hub, types, inflight, metrics, aggregator
    )
    who = resources.who

    @app.exception_handler(StarletteHTTPException)
    async def on_unrouted(request: Request, exc: StarletteHTTPException) -> Response:
        """What the router refused itself (a method a route lacks, a path no route
        matches) is answered as kube answers it: a Status, after authentication and
        authorization (an anonymous caller's is a 403)."""
        try:
            await resources.who(request, parse(request.method, request.scope["path"]))
        except errors.StatusError as err:
            return status_response(err)
        if exc.status_code == 405:
            return status_response(method_not_allowed())
        if exc.status_code == 404:
            return status_response(errors.not_found_path())
        return status_response(errors.bad_request(str(exc.detail)))

    # --- non-resource endpoints ---------------------------------------------------

    @app.get("/version")
    @app.get("/version/")  # the official Python client asks with the slash
    async def version(request: Request) -> Response:
        await who(request, parse("GET", "/version"))
        return json_response(orjson.dumps(VERSION_INFO, option=orjson.OPT_INDENT_2))

    async def _health(request: Request, endpoint: str, only: str = "") -> Response:
        # The first request an app sees is a probe (kapi up's, compose's): the aggregator's
        # controllers start with it rather than with the first client's.
        aggregator.start()
        await who(request, parse("GET", request.url.path))
        params = request.query_params
        code, body = await health.report(
            endpoint,
            peers.checks,
            verbose="verbose" in params,
            only=only,
            exclude=params.getlist("exclude"),
        )
        return Response(
            content=body,
            status_code=code,
            media_type="text/plain; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    for endpoint in ("healthz", "livez", "readyz"):

        def bind(ep: str) -> None:
            async def whole(request: Request) -> Response:
                start = time.perf_counter()
                reply = await _health(request, ep)
                metrics.health(
                    f"/{ep}", reply.status_code, len(reply.body), time.perf_counter() - start
                )
                return reply

            async def single(request: Request, check: str) -> Response:
                return await _health(request, ep, check)

            app.add_api_route(f"/{ep}", whole, methods=["GET"])
            app.add_api_route(f"/{ep}/{{check:path}}", single, methods=["GET"])

        bind(endpoint)

    def _wants_aggregated(request: Request) -> str:
        for media in negotiation.parse_accept(request.headers.get("accept")):
            if (
                media.params.get("as") == "APIGroupDiscoveryList"
                and media.params.get("g") == "apidiscovery.k8s.io"
            ):
                if media.params.get("v") == "v2":
                    return discovery.AGGREGATED_V2
                if media.params.get("v") == "v2beta1":
                    return discovery.AGGREGATED_V2BETA1
        return ""

    async def root(request: Request, legacy: bool) -> Response:
        """``/api`` or ``/apis``: aggregated discovery when asked for, else the legacy list."""
        await who(request, parse("GET", request.url.path))
        aggregator.start()
        table = await types.get()
        remote = aggregator.remote_groups()
        generation = aggregator.generation
        aggregated = _wants_aggregated(request)
        if aggregated:

            def build() -> tuple[bytes, str]:
                body = discovery.aggregated(table, legacy=legacy, remote=remote)
                body["apiVersion"] = (
                    aggregated.split("v=")[1].split(";")[0].join(("apidiscovery.k8s.io/", ""))
                )
                return discovery_document(body)

            document = discovery.cached(table, (aggregated, legacy), build, generation)
            return discovery_response(request, document, aggregated)
        if legacy:
            return discovery_response(request, discovery.api_versions(peers.server_address))
        groups = discovery.cached(
            table,
            "groups",
            lambda: discovery_document(discovery.api_group_list(table, remote)),
            generation,
        )
        return discovery_response(request, groups)

    @app.get("/api")
    @app.get("/api/")  # as kube answers it; a popular client library asks with the slash
    async def api_root(request: Request) -> Response:
        return await root(request, legacy=True)

    @app.get("/apis")
    @app.get("/apis/")
    async def apis_root(request: Request) -> Response:
        return await root(request, legacy=False)

    @app.get("/metrics")
    async def served_metrics(request: Request) -> Response:
        """The gateway's metrics and every service's, merged; read access to the
        non-resource URL ``/metrics`` is authorized like any other, as kube's."""
        await who(request, parse("GET", "/metrics"))
        scraped = await asyncio.gather(
            peers.storage.metrics(),
            peers.authz.metrics(),
            peers.registry.metrics(),
            return_exceptions=True,
        )
        texts = [metrics.registry.exposition()]
        for peer, text in zip(("storage", "authz", "registry"), scraped, strict=True):
            if isinstance(text, bytes):
                texts.append(text)
            elif isinstance(text, errors.StatusError):
                log.warning("/metrics without the %s service's: %s", peer, text.message)
            else:
                raise text
        return Response(exposition.merge(texts), media_type=exposition.CONTENT_TYPE)

    v2_protobuf: dict[str, bytes] = {}  # the document's Protobuf form, by its hash

    @app.get("/openapi/v2")
    async def openapi_v2(request: Request) -> Response:
        """Swagger 2.0 in JSON, or as gnostic's Protobuf message for those who ask for it
        (kubectl does, to validate a ``kind: List`` it applies), as kube serves both."""
        await who(request, parse("GET", "/openapi/v2"))
        form = negotiation.openapi_v2_format(request.headers.get("accept"))
        if form is None:
            raise errors.not_acceptable(
                "only application/json and "
                f"{negotiation.OPENAPI_V2_PROTOBUF[1]} are served for /openapi/v2"
            )
        reply = await peers.registry.openapi_v2()
        etag = f'"{reply.hash}"'
        headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "no-cache, private"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if form == "json":
            return json_response(reply.document, headers=headers)
        body = v2_protobuf.get(reply.hash)
        if body is None:
            spec = orjson.loads(reply.document)
            body = await asyncio.to_thread(openapi_v2_protobuf.encode, spec)
            v2_protobuf.clear()
            v2_protobuf[reply.hash] = body
        return Response(body, media_type=negotiation.OPENAPI_V2_PROTOBUF[1], headers=headers)

    @app.get("/openapi/v3")
    async def openapi_index(request: Request) -> Response:
        await who(request, parse("GET", "/openapi/v3"))
        aggregator.start()
        reply = await peers.registry.openapi("")
        document = reply.document
        remote = aggregator.openapi.index_entries()
        if remote:  # the extension servers' group-versions, as kube's aggregator lists them
            index = orjson.loads(document)
            paths = index.setdefault("paths", {})
            paths.update(remote)
            index["paths"] = dict(sorted(paths.items()))
            document = orjson.dumps(index)
        return json_response(
            document, headers={"Cache-Control": "no-cache, private", "Vary": "Accept"}
        )

    @app.get("/openapi/v3/{path:path}")
    async def openapi_document(request: Request, path: str) -> Response:
        await who(request, parse("GET", f"/openapi/v3/{path}"))
        accept = request.headers.get("accept", "")
        if "protobuf" in accept and "json" not in accept and "*/*" not in accept:
            raise errors.not_acceptable("only application/json is served for OpenAPI v3")
        served = aggregator.openapi.documents.get(path.strip("/"))
        if served is not None:  # an extension server's group-version
            content, digest = served
        else:
            reply = await peers.registry.openapi(path)
            content, digest = reply.document, reply.hash
        wanted = request.query_params.get("hash")
        etag = f'"{digest}"'
        if wanted and wanted != digest:
            return Response(
                status_code=301,
                headers={
                    "Location": f"/openapi/v3/{path}?hash={digest}",
                    "Cache-Control": "no-cache, private",
                },
            )
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        headers = {"ETag": etag, "Vary": "Accept"}
        if wanted:
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = "Fri, 01 Jan 2100 00:00:00 GMT"
        else:
            headers["Cache-Control"] = "no-cache, private"
        return json_response(content, headers=headers)

    oidc_documents: dict[str, bytes] = {}

    async def service_account_issuer() -> dict[str, bytes]:
        """The discovery document and the JWKS, as authz's key makes them (once: the key
        does not change while authz runs)."""
        if not oidc_documents:
            reply = await peers.authz.service_account_issuer()
            if not reply.issuer:
                raise errors.not_found_path()
            oidc_documents["jwks"] = reply.jwks
            oidc_documents["configuration"] = oidc.configuration(
                reply.issuer,
                peers.jwks_uri or oidc.default_jwks_uri(peers.server_address),
                list(reply.signing_algorithms),
            )
        return oidc_documents

    @app.get(oidc.CONFIGURATION_PATH)
    async def openid_configuration(request: Request) -> Response:
        await who(request, parse("GET", oidc.CONFIGURATION_PATH))
        documents = await service_account_issuer()
        return Response(
            documents["configuration"],
            media_type="application/json",
            headers={"Cache-Control": oidc.CACHE_CONTROL},
        )

    @app.get(oidc.JWKS_PATH)
    async def openid_jwks(request: Request) -> Response:
        await who(request, parse("GET", oidc.JWKS_PATH))
        documents = await service_account_issuer()
        return Response(
            documents["jwks"],
            media_type=oidc.JWKS_MEDIA_TYPE,
            headers={"Cache-Control": oidc.CACHE_CONTROL},
        )

    async def serve_or_status(request: Request) -> Response:
        """``Resources.serve`` with the app's two exception renderings."""
        try:
            return await resources.serve(request)
        except errors.StatusError as exc:
            return status_response(exc)
        except Exception as exc:
            return await on_bug(request, exc)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def not_served(request: Request, rest: str) -> Response:
        await resources.who(request, parse(request.method, request.scope["path"]))
        raise errors.not_found_path()

    served: ASGIApp = ResourceFastPath(
        app,
        inflight.wrap(request_response(serve_or_status)),
        measure=metrics.instrumented,
        upgrade=resources.upgrade,
    )
    if audit is not None:
        served = WithAudit(served, audit)
    return WithAuditId(served, app.state)


class ResourceFastPath:
    """The gateway's ASGI app: resource requests (``/api/...``, ``/apis/...``) go straight
    to their handler, past FastAPI's middleware stack and router (gateway CPU per GET
    at 32 in flight 0.34 -> 0.25 ms, per create 0.44 -> 0.36 ms); everything else
    (discovery roots, OpenAPI, health, version) goes through FastAPI. The handler gets
    the same two exception renderings as FastAPI's handlers give."""

    def __init__(
        self,
        app: FastAPI,
        resources: ASGIApp,
        *,
        measure: Callable[[ASGIApp], ASGIApp],
        upgrade: Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        # Measured outside the compression, so a reply's size is the bytes sent, as kube's.
        self.resources = measure(resources)
        # Only a client that accepts gzip pays for the middleware that may compress.
        self.compressing = measure(GzipUnlessWatch(resources))
        self.upgrade = upgrade
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.upgrade is not None:
            # A WebSocket handshake (kubectl exec, attach, port-forward): an extension
            # server's is proxied; any other is served as the GET it also is.
            await self.upgrade(scope, receive, send, self.resources)
            return
        # Every method: one the resource does not take is a 405 Status from its handler.
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith(("/api/", "/apis/")) and path not in _ROOTS:
            if _accepts_gzip(scope):
                await self.compressing(scope, receive, send)
            else:
                await self.resources(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# The discovery roots with a trailing slash are FastAPI routes like /api and /apis.
_ROOTS = ("/api/", "/apis/")


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False
