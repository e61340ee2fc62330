"""The REST gateway: the Kubernetes HTTP API surface, as a FastAPI application.

Handlers are linear pipelines with one error exit: parse the path -> authenticate ->
authorize -> resolve the type -> decode -> call the registry -> render. They only
raise; two exception handlers render everything (a StatusError as its Status, any
other exception as a logged 500 InternalError).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from kapi import errors
from kapi.json_bytes import compact, list_body
from kapi_proto import common_pb2, registry_pb2
from services.authz.client import AuthzClient
from services.gateway import discovery, health, negotiation, watch_hub
from services.gateway.auth import Gatekeeper
from services.gateway.list_response import ListResponse
from services.gateway.request_info import RequestInfo, parse
from services.registry.client import RegistryClient
from services.registry.types import ResourceType, TypeTable

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

TYPES_REFRESH_SECONDS = 10.0
# Watch events from the registry do not carry previous objects yet, so the hub serves
# only watches without label or field selectors (see services/gateway/watch_hub.py).
PREV_OBJECTS = False
# Objects per page of the list that seeds the hub's objects: bounds what is decoded at
# once (10,000 1 KB objects: 500 per page took 1 s to seed, 5,000 and one page 0.2 s).
SEED_PAGE = 5000
FEED_USER = common_pb2.UserInfo(username="system:kapi-gateway", groups=["system:masters"])
# kube-apiserver's --min-request-timeout: a watch without timeoutSeconds lasts 30-60 min.
MIN_REQUEST_TIMEOUT = 1800
DRY_RUN_VALUES = ("All",)
RESOURCE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
FIELD_VALIDATION_VALUES = ("", "Ignore", "Warn", "Strict")


@dataclass
class Peers:
    registry: RegistryClient
    authz: AuthzClient
    checks: list[health.Check]
    server_address: str = "127.0.0.1:6443"


class TypeCache:
    """The registry's type table, refreshed every few seconds."""

    def __init__(self, registry: RegistryClient) -> None:
        self.registry = registry
        self.table: TypeTable | None = None
        self.fetched = 0.0
        self.hash = ""
        self._lock = asyncio.Lock()

    async def get(self) -> TypeTable:
        if self.table is not None and time.monotonic() - self.fetched < TYPES_REFRESH_SECONDS:
            return self.table
        async with self._lock:
            if self.table is None or time.monotonic() - self.fetched >= TYPES_REFRESH_SECONDS:
                try:
                    reply = await self.registry.types()
                except errors.StatusError:
                    if self.table is None:
                        raise
                    return self.table  # serve the last known table while the registry is away
                self.table = TypeTable(ResourceType.from_json(t) for t in orjson.loads(reply.types))
                self.hash = reply.hash
                self.fetched = time.monotonic()
        return self.table


class GzipUnlessWatch:
    """gzip large replies (kubectl asks for it), but never a watch stream: each event must
    reach the client when it happens, and compressing thousands of small lines a second
    costs the gateway more than it saves (kube-apiserver does not compress watches)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=4096)

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


def json_response(
    body: bytes,
    code: int = 200,
    *,
    media_type: str = negotiation.JSON,
    warnings: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    out = Response(
        content=negotiation.encode(body, media_type),
        status_code=code,
        media_type=media_type,
        headers=headers,
    )
    for warning in warnings or []:
        out.headers.append("Warning", warning_header(warning))
    return out


def warning_header(text: str) -> str:
    """RFC 7234 ``299 - "text"`` with ``\\`` and ``"`` escaped, as kube-apiserver writes it
    (kubectl unquotes it: ``Warning: unknown field "bogus"``)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def status_response(err: errors.StatusError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
    return Response(
        content=err.to_json(), status_code=err.code, media_type=negotiation.JSON, headers=headers
    )


def _bool(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "t", "")


def _int(params: Any, name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        return 0
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {value!r} is not an integer") from None
    if number < 0:
        raise errors.bad_request(f"invalid value for {name}: must be non-negative")
    return number


def _dry_run(params: Any) -> bool:
    values = params.getlist("dryRun")
    for value in values:
        if value not in DRY_RUN_VALUES:
            raise errors.bad_request(f'Invalid dryRun value: "{value}"; supported values: "All"')
    return bool(values)


def _field_validation(params: Any) -> str:
    value = params.get("fieldValidation", "")
    if value not in FIELD_VALIDATION_VALUES:
        raise errors.bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict; got {value}"
        )
    return str(value)


def method_not_allowed() -> errors.StatusError:
    return errors.StatusError(
        code=405,
        reason="MethodNotAllowed",
        message="the server does not allow this method on the requested resource",
        details={},
    )


def create_app(peers: Peers) -> ResourceFastPath:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(GzipUnlessWatch)
    gate = Gatekeeper(peers.authz)
    hub = watch_hub.Hub(prev_objects=PREV_OBJECTS)
    app.state.hub = hub
    app.state.peers = peers

    def feed_opener(rt: ResourceType) -> watch_hub.Opener:
        """The hub's one upstream watch of ``rt``: all namespaces, no selectors."""

        async def open_feed(resource_version: str) -> AsyncIterator[watch_hub.UpstreamEvent]:
            events = await peers.registry.open_watch(
                registry_pb2.ReadRequest(
                    target=_feed_target(rt),
                    rendering=registry_pb2.OBJECT,
                    resource_version=resource_version,
                    allow_bookmarks=True,
                )
            )
            return _upstream_events(events)

        return open_feed

    def feed_lister(rt: ResourceType) -> watch_hub.Lister:
        """What seeds the hub's objects of ``rt``: a list across all namespaces, read in
        pages so that only one page is ever decoded at once, each object kept as bytes
        of its own size."""

        async def list_all(resource_version: str) -> tuple[list[bytes], int]:
            items: list[bytes] = []
            revision, token = 0, ""
            while True:
                reply = await peers.registry.list(
                    registry_pb2.ReadRequest(
                        target=_feed_target(rt),
                        rendering=registry_pb2.OBJECT,
                        resource_version="" if token else resource_version,
                        # Not older than the feed's start: pages from the cache when it
                        # has caught up (limit alone would ask etcd for that exact one).
                        resource_version_match=(
                            "NotOlderThan" if not token and resource_version != "0" else ""
                        ),
                        limit=SEED_PAGE,
                        continue_token=token,
                    )
                )
                page = orjson.loads(reply.object)
                items += [compact(orjson.dumps(item)) for item in page.get("items") or []]
                metadata = page.get("metadata") or {}
                revision = revision or int(metadata["resourceVersion"])
                token = metadata.get("continue") or ""
                if not token:
                    return items, revision

        return list_all

    types = TypeCache(peers.registry)
    app.state.types = types

    @app.exception_handler(errors.StatusError)
    async def on_status_error(request: Request, exc: errors.StatusError) -> Response:
        return status_response(exc)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error serving %s %s", request.method, request.url.path)
        return status_response(errors.internal(repr(exc)))

    async def who(request: Request, info: RequestInfo) -> common_pb2.UserInfo:
        user = await gate.authenticate(request.headers.get("authorization"), request.url.path)
        await gate.authorize(user, info)
        return user

    # --- non-resource endpoints ---------------------------------------------------

    @app.get("/version")
    @app.get("/version/")  # the official Python client asks with the slash
    async def version(request: Request) -> Response:
        await who(request, parse("GET", "/version"))
        return json_response(orjson.dumps(VERSION_INFO, option=orjson.OPT_INDENT_2))

    async def _health(request: Request, endpoint: str, only: str = "") -> Response:
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
                return await _health(request, ep)

            async def single(request: Request, check: str) -> Response:
                return await _health(request, ep, check)

            app.add_api_route(f"/{ep}", whole, methods=["GET"])
            app.add_api_route(f"/{ep}/{{check:path}}", single, methods=["GET"])

        bind(endpoint)

    def _discovery(request: Request, body: dict[str, Any], aggregated_type: str = "") -> Response:
        data = orjson.dumps(body)
        etag = '"' + hashlib.sha256(data).hexdigest().upper() + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        out = json_response(data, headers={"ETag": etag})
        if aggregated_type:
            out.headers["Content-Type"] = aggregated_type
        out.headers["Vary"] = "Accept"
        return out

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

    @app.get("/api")
    async def api_root(request: Request) -> Response:
        await who(request, parse("GET", "/api"))
        table = await types.get()
        aggregated = _wants_aggregated(request)
        if aggregated:
            body = discovery.aggregated(table, legacy=True)
            body["apiVersion"] = (
                aggregated.split("v=")[1].split(";")[0].join(("apidiscovery.k8s.io/", ""))
            )
            return _discovery(request, body, aggregated)
        return _discovery(request, discovery.api_versions(peers.server_address))

    @app.get("/apis")
    async def apis_root(request: Request) -> Response:
        await who(request, parse("GET", "/apis"))
        table = await types.get()
        aggregated = _wants_aggregated(request)
        if aggregated:
            body = discovery.aggregated(table, legacy=False)
            body["apiVersion"] = (
                aggregated.split("v=")[1].split(";")[0].join(("apidiscovery.k8s.io/", ""))
            )
            return _discovery(request, body, aggregated)
        return _discovery(request, discovery.api_group_list(table))

    @app.get("/openapi/v2")
    async def openapi_v2(request: Request) -> Response:
        """Swagger 2.0 in JSON. kubectl asks for the Protobuf form only: it gets 406, which
        it takes as "no v2" (a JSON reply to that request breaks it)."""
        await who(request, parse("GET", "/openapi/v2"))
        if not negotiation.accepts_json(request.headers.get("accept")):
            raise errors.not_acceptable(
                "only application/json is served for /openapi/v2; "
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf is not"
            )
        reply = await peers.registry.openapi_v2()
        etag = f'"{reply.hash}"'
        headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "no-cache, private"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return json_response(reply.document, headers=headers)

    @app.get("/openapi/v3")
    async def openapi_index(request: Request) -> Response:
        await who(request, parse("GET", "/openapi/v3"))
        reply = await peers.registry.openapi("")
        return json_response(
            reply.document, headers={"Cache-Control": "no-cache, private", "Vary": "Accept"}
        )

    @app.get("/openapi/v3/{path:path}")
    async def openapi_document(request: Request, path: str) -> Response:
        await who(request, parse("GET", f"/openapi/v3/{path}"))
        accept = request.headers.get("accept", "")
        if "protobuf" in accept and "json" not in accept and "*/*" not in accept:
            raise errors.not_acceptable("only application/json is served for OpenAPI v3")
        reply = await peers.registry.openapi(path)
        wanted = request.query_params.get("hash")
        etag = f'"{reply.hash}"'
        if wanted and wanted != reply.hash:
            return Response(
                status_code=301,
                headers={
                    "Location": f"/openapi/v3/{path}?hash={reply.hash}",
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
        return json_response(reply.document, headers=headers)

    # --- resources ------------------------------------------------------------------

    async def serve(request: Request) -> Response:
        params = request.query_params
        info = parse(request.method, request.url.path, watch=params.get("watch"))
        user = await who(request, info)
        table = await types.get()
        if not info.is_resource_request:
            return await group_discovery(request, info, table)
        rt = table.lookup(info.group, info.version, info.resource)
        if rt is None or len(info.parts) > 3:
            raise errors.not_found_path()
        if info.subresource and info.subresource not in rt.subresources:
            raise errors.not_found_path()
        if rt.namespaced is False and info.namespace and info.resource != "namespaces":
            raise errors.not_found_path()
        target = registry_pb2.RequestTarget(
            group=rt.group,
            version=rt.version,
            resource=rt.resource,
            subresource=info.subresource,
            namespace=info.namespace if rt.namespaced else "",
            name=info.name,
            user=user,
            user_agent=request.headers.get("user-agent", ""),
        )
        handler = HANDLERS.get(info.verb)
        if handler is None:
            raise method_not_allowed()
        return await handler(request, info, rt, target)

    async def group_discovery(request: Request, info: RequestInfo, table: TypeTable) -> Response:
        if request.method != "GET":
            raise method_not_allowed()
        body: dict[str, Any] | None = None
        if info.prefix == "api" and info.version:
            body = discovery.api_resource_list(table, "", info.version)
        elif info.prefix == "apis" and info.group and not info.version:
            body = discovery.api_group(table, info.group)
        elif info.prefix == "apis" and info.version:
            body = discovery.api_resource_list(table, info.group, info.version)
        if body is None:
            raise errors.not_found_path()
        return _discovery(request, body)

    def read_request(
        request: Request, target: registry_pb2.RequestTarget, rendering: negotiation.Rendering
    ) -> registry_pb2.ReadRequest:
        params = request.query_params
        include = {
            "None": registry_pb2.INCLUDE_NONE,
            "Object": registry_pb2.INCLUDE_OBJECT,
            "Metadata": registry_pb2.INCLUDE_METADATA,
            "": registry_pb2.INCLUDE_METADATA,
        }
        include_object = params.get("includeObject", "")
        if include_object not in include:
            raise errors.bad_request(
                f'includeObject: Unsupported value: "{include_object}": supported values: '
                '"None", "Metadata", "Object"'
            )
        renderings = {
            "object": registry_pb2.OBJECT,
            "table": registry_pb2.TABLE,
            "table-v1beta1": registry_pb2.TABLE_V1BETA1,
            "metadata": registry_pb2.METADATA,
        }
        match = params.get("resourceVersionMatch", "")
        if match not in ("", "NotOlderThan", "Exact"):
            raise errors.bad_request(
                f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
                '"Exact", "NotOlderThan"'
            )
        return registry_pb2.ReadRequest(
            target=target,
            rendering=renderings[rendering.rendering],
            include_object=include[include_object],
            label_selector=params.get("labelSelector", ""),
            field_selector=params.get("fieldSelector", ""),
            limit=_int(params, "limit"),
            continue_token=params.get("continue", ""),
            resource_version=params.get("resourceVersion", ""),
            resource_version_match=match,
            allow_bookmarks=_bool(params.get("allowWatchBookmarks")),
            timeout_seconds=_int(params, "timeoutSeconds"),
            send_initial_events=_bool(params.get("sendInitialEvents")),
        )

    async def do_get(
        request: Request, info: RequestInfo, rt: ResourceType, target: registry_pb2.RequestTarget
    ) -> Response:
        rendering = negotiation.negotiate(request.headers.get("accept"))
        reply = await peers.registry.get(read_request(request, target, rendering))
        return json_response(reply.object, media_type=rendering.media_type)

    async def do_list(
        request: Request, info: RequestInfo, rt: ResourceType, target: registry_pb2.RequestTarget
    ) -> Response:
        rendering = negotiation.negotiate(request.headers.get("accept"))
        read = read_request(request, target, rendering)
        if _served_by_hub(read, rt):
            held = hub.list(
                f"{rt.group}/{rt.version}/{rt.resource}",
                feed_opener(rt),
                feed_lister(rt),
                namespace=read.target.namespace,
                label_selector=read.label_selector,
                resource_version=read.resource_version,
            )
            if held is not None:
                items, revision = held
                head = orjson.dumps(
                    {
                        "kind": rt.list_kind,
                        "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(revision)},
                    }
                )
                if rendering.media_type == negotiation.JSON:
                    return ListResponse(head, items, media_type=negotiation.JSON)
                return json_response(list_body(head, items), media_type=rendering.media_type)
        reply = await peers.registry.list(read)
        return json_response(reply.object, media_type=rendering.media_type)

    async def do_watch(
        request: Request, info: RequestInfo, rt: ResourceType, target: registry_pb2.RequestTarget
    ) -> Response:
        rendering = negotiation.negotiate(request.headers.get("accept"))
        read = read_request(request, target, rendering)
        if not read.timeout_seconds:
            read.timeout_seconds = int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
        lines: AsyncIterator[bytes] | None = None
        if rendering.rendering == "object" and not info.name and not read.send_initial_events:
            lines = await hub.subscribe(
                f"{rt.group}/{rt.version}/{rt.resource}",
                feed_opener(rt),
                namespace=read.target.namespace,
                label_selector=read.label_selector,
                field_selector=read.field_selector,
                resource_version=read.resource_version,
                bookmarks=read.allow_bookmarks,
                timeout=read.timeout_seconds,
            )
        if lines is None:
            lines = watch_lines(await peers.registry.open_watch(read))
        return StreamingResponse(
            lines,
            media_type=negotiation.JSON,
            headers={"Cache-Control": "no-cache, private"},
        )

    async def do_create(
        request: Request, info: RequestInfo, rt: ResourceType, target: registry_pb2.RequestTarget
    ) -> Response:
        if info.name and not info.subresource:
            raise method_not_allowed()
        return await write(request, rt, target, peers.registry.create)

    async def do_update(
        request: Request, info: RequestInfo, rt: ResourceType, target: registry_pb2.RequestTarget
    ) -> Response:
        if not info.name:
            raise method_not_allowed()
        return await write(request, rt, target, peers.registry.update)

    async def write(
        request: Request,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
        call: Callable[[registry_pb2.WriteRequest], Awaitable[registry_pb2.RenderedObject]],
    ) -> Response:
        params = request.query_params
        rendering = negotiation.negotiate(request.headers.get("accept"), allow_table=False)
        dry_run = _dry_run(params)
        field_validation = _field_validation(params)
        body = await read_body(request)
        obj = negotiation.decode_body(
            body, request.headers.get("content-type"), kind=rt.kind, version=rt.api_version
        )
        if not isinstance(obj, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                "couldn't get version/kind; json parse error: expected a JSON object"
            )
        forwarded = orjson.dumps(obj)
        duplicates: list[str] = []
        if field_validation != "Ignore" and negotiation.is_json(
            request.headers.get("content-type")
        ):
            duplicates = negotiation.duplicate_fields(body, forwarded)
        reply = await call(
            registry_pb2.WriteRequest(
                target=target,
                object=forwarded,
                dry_run=dry_run,
                field_manager=params.get("fieldManager", ""),
                field_validation=field_validation,
                duplicate_fields=duplicates,
            )
        )
        return json_response(
            reply.object,
            reply.status_code or 200,
            media_type=rendering.media_type,
            warnings=list(reply.warnings),
        )

    async def do_patch(
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        if not info.name:
            raise method_not_allowed()
        params = request.query_params
        rendering = negotiation.negotiate(request.headers.get("accept"), allow_table=False)
        patch_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if patch_type not in negotiation.PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type)
        force = params.get("force", "")
        if force not in ("", "true", "false"):
            raise errors.bad_request(f"invalid value for force: {force!r}")
        if "force" in params and patch_type != "application/apply-patch+yaml":
            raise errors.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [errors.forbidden_field("force", "may not be specified for non-apply patch")],
            )
        reply = await peers.registry.patch(
            registry_pb2.PatchRequest(
                target=target,
                patch_type=patch_type,
                patch=await read_body(request),
                dry_run=_dry_run(params),
                field_manager=params.get("fieldManager", ""),
                force=force == "true",
                field_validation=_field_validation(params),
            )
        )
        return json_response(
            reply.object,
            reply.status_code or 200,
            media_type=rendering.media_type,
            warnings=list(reply.warnings),
        )

    async def do_delete(
        request: Request, info: RequestInfo, rt: ResourceType, target: registry_pb2.RequestTarget
    ) -> Response:
        params = request.query_params
        rendering = negotiation.negotiate(request.headers.get("accept"), allow_table=False)
        dry_run = _dry_run(params)
        body = await read_body(request)
        options: dict[str, Any] = {}
        if body.strip():
            decoded = negotiation.decode_body(
                body, request.headers.get("content-type"), kind="DeleteOptions", version="v1"
            )
            if not isinstance(decoded, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            options = decoded
            if "All" in (options.get("dryRun") or []):
                dry_run = True
        reply = await peers.registry.delete(
            registry_pb2.DeleteObjectRequest(
                target=target, options=orjson.dumps(options), dry_run=dry_run
            )
        )
        return json_response(
            reply.object,
            reply.status_code or 200,
            media_type=rendering.media_type,
            warnings=list(reply.warnings),
        )

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > negotiation.MAX_BODY_BYTES:
            raise errors.request_entity_too_large(f"limit is {negotiation.MAX_BODY_BYTES}")
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > negotiation.MAX_BODY_BYTES:
                raise errors.request_entity_too_large(f"limit is {negotiation.MAX_BODY_BYTES}")
            chunks.append(chunk)
        return b"".join(chunks)

    HANDLERS: dict[
        str,
        Callable[
            [Request, RequestInfo, ResourceType, registry_pb2.RequestTarget], Awaitable[Response]
        ],
    ] = {
        "get": do_get,
        "list": do_list,
        "watch": do_watch,
        "create": do_create,
        "update": do_update,
        "patch": do_patch,
        "delete": do_delete,
    }

    async def serve_or_status(request: Request) -> Response:
        """``serve`` with the app's two exception handlers, for the direct path."""
        try:
            return await serve(request)
        except errors.StatusError as exc:
            return status_response(exc)
        except Exception as exc:
            return await on_bug(request, exc)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def not_served(request: Request, rest: str) -> Response:
        await gate.authenticate(request.headers.get("authorization"), request.url.path)
        raise errors.not_found_path()

    return ResourceFastPath(app, GzipUnlessWatch(request_response(serve_or_status)))


class ResourceFastPath:
    """The gateway's ASGI app: resource requests (``/api/...``, ``/apis/...``) go straight
    to their handler, past FastAPI's middleware stack and router (gateway CPU per GET
    at 32 in flight 0.34 -> 0.25 ms, per create 0.44 -> 0.36 ms); everything else
    (discovery roots, OpenAPI, health, version) goes through FastAPI. The handler gets
    the same two exception renderings as FastAPI's handlers give."""

    def __init__(self, app: FastAPI, resources: ASGIApp) -> None:
        self.app = app
        self.resources = resources
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(("/api/", "/apis/"))
            and scope["method"] in RESOURCE_METHODS
        ):
            await self.resources(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _feed_target(rt: ResourceType) -> registry_pb2.RequestTarget:
    """What the hub reads: all of ``rt`` in every namespace, as the gateway itself."""
    return registry_pb2.RequestTarget(
        group=rt.group, version=rt.version, resource=rt.resource, user=FEED_USER
    )


def _served_by_hub(read: registry_pb2.ReadRequest, rt: ResourceType) -> bool:
    """Whether a list may come from the hub's objects: as kube's cacher serves lists,
    any revision not older than the one asked for ("0": any), whole (no limit, no
    continue), objects as stored (no table), selected by namespace and labels only."""
    return (
        read.rendering == registry_pb2.OBJECT
        and read.resource_version != ""
        and read.resource_version_match in ("", "NotOlderThan")
        and not read.limit
        and not read.continue_token
        and not read.field_selector
        and not read.target.subresource
        and "watch" in rt.verbs
    )


async def _upstream_events(
    events: AsyncIterator[common_pb2.WatchEvent],
) -> AsyncIterator[watch_hub.UpstreamEvent]:
    async for event in events:
        yield watch_hub.UpstreamEvent(event.type, event.object)


async def watch_lines(events: AsyncIterator[common_pb2.WatchEvent]) -> AsyncIterator[bytes]:
    """One JSON event per line; a failure mid-stream becomes an in-band ERROR event."""
    try:
        async for event in events:
            yield b'{"type":"' + event.type.encode() + b'","object":' + event.object + b"}\n"
    except errors.StatusError as err:
        yield b'{"type":"ERROR","object":' + err.to_json() + b"}\n"
