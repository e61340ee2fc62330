"""The resource endpoints: ``/api/...`` and ``/apis/...``, every verb.

Each request is a linear pipeline with one error exit: parse the path -> authenticate
-> authorize -> resolve the type -> decode -> call the registry (or the watch hub) ->
render. Handlers only raise; the caller renders a StatusError as its Status.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kapi import errors, selectors
from kapi.json_bytes import ListItems, list_body
from kapi_proto import common_pb2, registry_pb2
from services.gateway import (
    auditing,
    discovery,
    feeds,
    impersonation,
    negotiation,
    options,
    warning_headers,
    watch_hub,
)
from services.gateway.aggregator import Aggregator, websocket
from services.gateway.auth import Gatekeeper
from services.gateway.inflight import Limiter
from services.gateway.list_response import ListResponse
from services.gateway.metrics import GatewayMetrics
from services.gateway.object_state import ObjectState
from services.gateway.request_info import RequestInfo, parse
from services.gateway.responses import (
    discovery_response,
    json_response,
    method_not_allowed,
    rendered,
    status_response,
)
from services.gateway.type_cache import TypeCache
from services.registry.client import RegistryClient
from services.registry.types import ResourceType, TypeTable
from services.storage.client import StorageClient

log = logging.getLogger(__name__)

# kube-apiserver's --min-request-timeout: a watch without timeoutSeconds lasts 30-60 min.
MIN_REQUEST_TIMEOUT = 1800
# How long a consistent read waits for the hub's objects to catch up with the revision
# storage gave (kube's cacher waits as long for its watch cache), before going to etcd.
FRESH_WAIT = 3.0
# After storage could not confirm a revision (an etcd without safe progress
# notifications, a watch reconnecting), or the held objects did not catch up with one,
# a resource's consistent reads go to etcd this long.
UNCONFIRMED_SECONDS = 5.0

BODY_NOT_RECEIVED = "request did not complete within requested timeout - context deadline exceeded"

Handler = Callable[
    [Request, RequestInfo, ResourceType, registry_pb2.RequestTarget], Awaitable[Response]
]


class Resources:
    def __init__(
        self,
        registry: RegistryClient,
        storage: StorageClient,
        gate: Gatekeeper,
        hub: watch_hub.Hub,
        types: TypeCache,
        inflight: Limiter,
        metrics: GatewayMetrics,
        aggregator: Aggregator,
    ) -> None:
        self.registry = registry
        self.aggregator = aggregator
        self.inflight = inflight
        self.metrics = metrics
        self.storage = storage
        # Resources whose consistent reads storage could not confirm, and when.
        self._unconfirmed: dict[str, float] = {}
        self.gate = gate
        self.hub = hub
        self.types = types
        self.handlers: dict[str, Handler] = {
            "get": self.do_get,
            "list": self.do_list,
            "watch": self.do_watch,
            "create": self.do_create,
            "update": self.do_update,
            "patch": self.do_patch,
            "delete": self.do_delete,
        }

    async def who(self, request: Request, info: RequestInfo) -> common_pb2.UserInfo:
        """The caller, authenticated and authorized for ``info`` (401/403 otherwise)."""
        user = await self.authenticated(request)
        await self.gate.authorize(user, info, request.scope)
        return user

    async def authenticated(self, request: Request) -> common_pb2.UserInfo:
        """The caller (401 otherwise), or the user it impersonates (403 if it may not)."""
        user = await self.gate.authenticate(request.scope)
        recorder = auditing.current()  # kube's WithAudit sits here: after authentication
        if recorder is not None:
            await recorder.authenticated(user)
        headers = request.scope["headers"]
        if impersonation.wants_to_impersonate(headers):
            user = await impersonation.act_as(self.gate, user, headers)
            if recorder is not None:
                recorder.impersonated(user)
        return user

    async def upgrade(self, scope: Scope, receive: Receive, send: Send, http: ASGIApp) -> None:
        """A WebSocket handshake. For an extension server's group-version, after kube's
        authentication and authorization, the connection is spliced to its server
        (``aggregator/websocket.py``); any other is served by ``http`` as the GET request
        it also is, whose reply refuses the handshake (what a kubelet-less pod's exec
        answers, as before)."""
        as_get = {**scope, "type": "http", "method": "GET", "http_version": "1.1"}
        as_get["scheme"] = {"wss": "https", "ws": "http"}.get(scope.get("scheme", ""), "http")
        info = parse("GET", scope["path"])
        remote = (
            self.aggregator.remote(info.group, info.version)
            if info.prefix == "apis" and info.version
            else None
        )
        if remote is None:
            await http(as_get, _no_body, upgrade_refusal(send))
            return
        self.aggregator.start()
        try:
            user = await self.who(Request(as_get), info)
        except errors.StatusError as err:
            refusal = status_response(err)
            await upgrade_refusal(send)(
                {"type": "http.response.start", "status": refusal.status_code,
                 "headers": refusal.raw_headers}
            )  # fmt: skip
            await upgrade_refusal(send)({"type": "http.response.body", "body": refusal.body})
            return
        await websocket.forward(
            scope, receive, send, user=user, remote=remote, proxy=self.aggregator.proxy
        )

    async def serve(self, request: Request) -> Response:
        params = request.query_params
        info = parse(request.method, request.scope["path"], watch=params.get("watch"))
        # kube's order: authentication, impersonation, max in-flight, authorization.
        user = await self.authenticated(request)
        try:
            self.inflight.admit(request.scope, info, user)
        except errors.StatusError:
            table = self.types.table
            known = table.lookup(info.group, info.version, info.resource) if table else None
            self.metrics.dropped(request.scope, info, known)
            raise
        await self.gate.authorize(user, info, request.scope)
        self.aggregator.start()
        if info.prefix == "apis" and info.version:
            remote = self.aggregator.remote(info.group, info.version)
            if remote is not None:  # an extension API server's group-version
                return await self.aggregator.proxy.forward(request, user, remote)
        table = await self.types.get()
        if not info.is_resource_request:
            return await self.group_discovery(request, info, table)
        rt = table.lookup(info.group, info.version, info.resource)
        if rt is None:
            raise errors.not_found_path()
        sub = rt.subresource(info.subresource) if info.subresource else None
        if (info.subresource and sub is None) or (len(info.parts) > 3 and not (sub and sub.path)):
            raise errors.not_found_path()
        if sub is not None and info.verb not in sub.verbs:
            raise method_not_allowed()
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
            catalog_revision=table.revision,
        )
        handler: Handler | None = (
            self.do_connect if sub is not None and sub.connect else self.handlers.get(info.verb)
        )
        if handler is None:
            raise method_not_allowed()
        self.metrics.begin(request.scope, info, rt)
        response = await handler(request, info, rt, target)
        if rt.deprecation_warning:
            # kube adds a deprecated version's warning before the handler's own
            deprecated = [
                (b"warning", v) for v in warning_headers.headers([rt.deprecation_warning])
            ]
            first = next(
                (i for i, (k, _) in enumerate(response.raw_headers) if k == b"warning"),
                len(response.raw_headers),
            )
            response.raw_headers[first:first] = deprecated
        return response

    async def group_discovery(
        self, request: Request, info: RequestInfo, table: TypeTable[ResourceType]
    ) -> Response:
        if request.method != "GET":
            raise method_not_allowed()
        body: dict[str, Any] | None = None
        if info.prefix == "api" and info.version:
            body = discovery.api_resource_list(table, "", info.version)
        elif info.prefix == "apis" and info.group and not info.version:
            body = discovery.api_group(table, info.group, self.aggregator.remote_groups())
        elif info.prefix == "apis" and info.version:
            body = discovery.api_resource_list(table, info.group, info.version)
        if body is None:
            raise errors.not_found_path()
        return discovery_response(request, body)

    async def do_connect(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        """A connect subresource (pods/log, exec, attach, portforward, the proxies): the
        registry answers what kube-apiserver does where no kubelet serves the pod."""
        options: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            options.setdefault(key, []).append(value)
        reply = await self.registry.connect(
            registry_pb2.ConnectRequest(
                target=target,
                method=request.method,
                path="/".join(info.parts[3:]),
                options=orjson.dumps(options),
            )
        )
        return Response(
            reply.body, status_code=reply.status_code or 200, media_type=reply.content_type or None
        )

    async def do_get(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        rendering = negotiation.negotiate(request.headers.get("accept"))
        read = options.read_request(request, target, rendering)
        if feeds.get_served_by_hub(read) and "watch" in rt.verbs:
            held: tuple[bytes | None] | None = None
            if feeds.consistent(read):
                current = await self.current_objects(rt)
                if current is not None:
                    held = (current[0].get(target.namespace, target.name),)
            else:
                held = self.hub.get(
                    feeds.key(rt),
                    namespace=target.namespace,
                    name=target.name,
                    resource_version=read.resource_version,
                )
            if held is not None:
                (found,) = held
                if found is None:
                    raise errors.not_found(rt.resource, rt.group, target.name)
                return json_response(found, media_type=rendering.media_type)
        reply = await self.registry.get(read)
        return json_response(
            reply.object, media_type=rendering.media_type, warnings=list(reply.warnings)
        )

    async def do_list(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        rendering = negotiation.negotiate(request.headers.get("accept"))
        read = options.read_request(request, target, rendering)
        if feeds.served_by_hub(read, rt):
            held: tuple[list[bytes], int] | None = None
            if feeds.consistent(read):
                current = await self.current_objects(rt)
                if current is not None:
                    state, revision = current
                    labels = selectors.parse_label_selector(read.label_selector)
                    held = state.select(read.target.namespace, labels), revision
            else:
                held = self.hub.list(
                    feeds.key(rt),
                    feeds.opener(self.registry, rt),
                    feeds.lister(self.registry, rt),
                    namespace=read.target.namespace,
                    label_selector=read.label_selector,
                    resource_version=read.resource_version,
                )
            if held is not None:
                objects, revision = held
                items = (
                    objects if rt.custom else [*map(ListItems(rt.kind, rt.api_version), objects)]
                )
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
        reply = await self.registry.list(read)
        return json_response(
            reply.object, media_type=rendering.media_type, warnings=list(reply.warnings)
        )

    async def current_objects(self, rt: ResourceType) -> tuple[ObjectState, int] | None:
        """The hub's objects of ``rt`` for a consistent read, once storage has said they
        are current, and the revision they are current at (etcd's, or theirs if later);
        None when the hub does not hold them yet (it starts to, for the reads that
        follow) or storage cannot tell: the read goes to etcd."""
        key = feeds.key(rt)
        if self.hub.held(key) is None:
            self.hub.hold(key, feeds.opener(self.registry, rt), feeds.lister(self.registry, rt))
            return None
        unconfirmed = self._unconfirmed.get(key)
        if unconfirmed is not None and time.monotonic() - unconfirmed < UNCONFIRMED_SECONDS:
            return None  # storage could not tell a moment ago: not one more ask per read
        try:
            freshness = await feeds.freshness(self.storage, rt)
        except errors.StatusError as err:
            log.info("consistent reads of %s go to etcd for a while: %s", key, err.message)
            self._unconfirmed[key] = time.monotonic()
            return None
        state = await self.hub.current(key, freshness, FRESH_WAIT)
        if state is None:
            if self.hub.held(key) is not None:  # held, but did not catch up in time
                log.info("consistent reads of %s go to etcd for a while: %s", key, freshness)
                self._unconfirmed[key] = time.monotonic()
            return None
        return state, max(state.revision, freshness.revision)

    async def do_watch(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        rendering = negotiation.negotiate(request.headers.get("accept"))
        read = options.read_request(request, target, rendering)
        if not read.timeout_seconds:
            read.timeout_seconds = int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
        lines: AsyncIterator[bytes] | None = None
        if rendering.rendering == "object" and not info.name and not read.send_initial_events:
            lines = await self.hub.subscribe(
                feeds.key(rt),
                feeds.opener(self.registry, rt),
                namespace=read.target.namespace,
                label_selector=read.label_selector,
                field_selector=read.field_selector,
                resource_version=read.resource_version,
                bookmarks=read.allow_bookmarks,
                timeout=read.timeout_seconds,
            )
        if lines is None:
            lines = feeds.watch_lines(await self.registry.open_watch(read))
        return StreamingResponse(
            self.metrics.counted_events(rt, lines),
            media_type=negotiation.JSON,
            headers={"Cache-Control": "no-cache, private"},
        )

    async def do_create(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        if info.name and not info.subresource:
            raise method_not_allowed()
        return await self.write(request, rt, target, self.registry.create)

    async def do_update(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        if not info.name:
            raise method_not_allowed()
        return await self.write(request, rt, target, self.registry.update)

    async def write(
        self,
        request: Request,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
        call: Callable[[registry_pb2.WriteRequest], Awaitable[registry_pb2.RenderedObject]],
    ) -> Response:
        params = request.query_params
        rendering = negotiation.negotiate(request.headers.get("accept"), allow_table=False)
        dry_run = options.dry_run(params)
        field_validation = options.field_validation(params)
        decoded = await negotiation.decode(
            await read_body(request),
            request.headers.get("content-type"),
            kind=rt.kind,
            version=rt.api_version,
            find_duplicates=field_validation != "Ignore",
        )
        if not isinstance(decoded.value, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                "couldn't get version/kind; json parse error: expected a JSON object"
            )
        recorder = auditing.current()
        if recorder is not None:
            recorder.request_object(decoded.value, decoded.json)
        reply = await call(
            registry_pb2.WriteRequest(
                target=target,
                object=decoded.json,
                dry_run=dry_run,
                field_manager=params.get("fieldManager", ""),
                field_validation=field_validation,
                duplicate_fields=decoded.duplicates,
            )
        )
        return rendered(reply, rendering.media_type)

    async def do_patch(
        self,
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
        patch = await negotiation.decode_patch(await read_body(request), patch_type)
        recorder = auditing.current()
        if recorder is not None:
            recorder.request_patch(patch)
        reply = await self.registry.patch(
            registry_pb2.PatchRequest(
                target=target,
                patch_type=patch_type,
                patch=patch,
                dry_run=options.dry_run(params),
                field_manager=params.get("fieldManager", ""),
                force=force == "true",
                field_validation=options.field_validation(params),
            )
        )
        return rendered(reply, rendering.media_type)

    async def do_delete(
        self,
        request: Request,
        info: RequestInfo,
        rt: ResourceType,
        target: registry_pb2.RequestTarget,
    ) -> Response:
        params = request.query_params
        rendering = negotiation.negotiate(request.headers.get("accept"), allow_table=False)
        dry_run = options.dry_run(params)
        body = await read_body(request)
        delete_options: dict[str, Any] = {}
        if body.strip():
            decoded = (
                await negotiation.decode(
                    body, request.headers.get("content-type"), kind="DeleteOptions", version="v1"
                )
            ).value
            if not isinstance(decoded, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            delete_options = decoded
            if "All" in (delete_options.get("dryRun") or []):
                dry_run = True
            recorder = auditing.current()
            if recorder is not None:
                recorder.request_object(*_as_sent_delete_options(delete_options))
        else:
            delete_options = options.delete_options(params)  # kube reads them then
        reply = await self.registry.delete(
            registry_pb2.DeleteObjectRequest(
                target=target, options=orjson.dumps(delete_options), dry_run=dry_run
            )
        )
        return rendered(reply, rendering.media_type)


def _as_sent_delete_options(options: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """DeleteOptions as kube's audit encodes them: with their kind and apiVersion (the
    version sent, else meta.k8s.io/v1)."""
    value = {
        "kind": "DeleteOptions",
        "apiVersion": options.get("apiVersion") or "meta.k8s.io/v1",
        **{k: v for k, v in options.items() if k not in ("kind", "apiVersion")},
    }
    return value, orjson.dumps(value)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def upgrade_refusal(send: Send) -> Send:
    """``send`` for an HTTP reply that refuses a WebSocket handshake (ASGI's
    websocket.http.response extension)."""

    async def refuse(message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": message["status"],
                    "headers": message.get("headers", []),
                }
            )
        elif kind == "http.response.body":
            await send(
                {
                    "type": "websocket.http.response.body",
                    "body": message.get("body", b""),
                    "more_body": message.get("more_body", False),
                }
            )

    return refuse


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > negotiation.MAX_BODY_BYTES:
        raise errors.request_entity_too_large(f"limit is {negotiation.MAX_BODY_BYTES}")
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > negotiation.MAX_BODY_BYTES:
                raise errors.request_entity_too_large(f"limit is {negotiation.MAX_BODY_BYTES}")
            chunks.append(chunk)
    except ClientDisconnect:
        # Gone before its body was all sent (or cut off by the body deadline): nobody
        # reads this reply; kube's timeout filter words it so.
        raise errors.timeout(BODY_NOT_RECEIVED) from None
    return b"".join(chunks)
