"""A small extension API server for the tests, in the shape of Kubernetes' sample-apiserver.

One group (``wardle.example.com``), one version (``v1alpha1``), one namespaced resource
(``flunders``, kind ``Flunder``), kept in memory; its own discovery (aggregated and
legacy), its own OpenAPI v3 (with the PATCH operation's ``fieldValidation`` parameter
and the kind's ``x-kubernetes-group-version-kind``, which kubectl looks for), Tables for
``kubectl get``, watches as chunked JSON lines.

It authenticates as k8s.io/apiserver's request-header authenticator does: over HTTPS
with its own serving certificate (for ``<service>.<namespace>.svc``), it believes the
``X-Remote-User`` / ``X-Remote-Group`` / ``X-Remote-Extra-*`` headers only on a connection
whose client certificate the request-header CA signed, for one of the allowed names
(both read from ``kube-system/extension-apiserver-authentication``); any other caller is
401 Unauthorized (it delegates nothing to a TokenReview). ``seen`` records who each
request said it came from. It runs on a thread of its own, so that synchronous tests
(kubectl) and asynchronous ones can start, stop and start it again on the same port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from kapi import pki

GROUP = "wardle.example.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Flunder"
RESOURCE = "flunders"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SCHEMA = "com.example.wardle.v1alpha1.Flunder"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"

Obj = dict[str, Any]


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it: who it came from, per the front proxy."""

    method: str
    path: str
    user: str
    groups: tuple[str, ...]
    extra: dict[str, tuple[str, ...]]


class _PeerCertProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, handing the verified client certificate (or none) to
    the app through the scope's state, as Go hands ``req.TLS.PeerCertificates``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, "peercert": transport.get_extra_info("peercert")}


def _status(code: int, reason: str, message: str, **details: Any) -> JSONResponse:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=code)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Watcher:
    namespace: str
    queue: asyncio.Queue[tuple[str, Obj] | None] = field(default_factory=asyncio.Queue)


class SampleAPIServer:
    """``start()`` serves on ``port`` (127.0.0.1); ``stop()`` ends it; objects survive."""

    def __init__(
        self,
        tmp: Path,
        *,
        requestheader_ca: str,
        allowed_names: list[str],
        service: str = "api",
        namespace: str = "wardle",
    ) -> None:
        self.port = _free_port()
        ca = pki.ensure_ca(tmp / "sample-apiserver-pki", common_name="wardle-ca")
        self.ca_bundle = ca.cert_pem
        self._serving = pki.ensure_serving_cert(
            tmp / "sample-apiserver-pki",
            ca,
            hosts=[f"{service}.{namespace}.svc", "localhost", "127.0.0.1"],
        )
        self._client_ca = tmp / "sample-apiserver-pki" / "requestheader-ca.crt"
        self._client_ca.write_text(requestheader_ca)
        self.allowed_names = allowed_names
        self.seen: list[Seen] = []
        self.objects: dict[tuple[str, str], Obj] = {}
        self._revision = 0
        self._history: list[tuple[int, str, Obj]] = []
        self._watchers: list[_Watcher] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- running ----------------------------------------------------------------------

    def start(self) -> None:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self.port,
            http=_PeerCertProtocol,
            ssl_certfile=str(self._serving.cert_path),
            ssl_keyfile=str(self._serving.key_path),
            ssl_ca_certs=str(self._client_ca),
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                assert self._server is not None
                task = asyncio.create_task(self._server.serve())
                while not self._server.started and not task.done():
                    await asyncio.sleep(0.02)
                ready.set()
                await task

            asyncio.run(main())

        self._thread = threading.Thread(target=run, name="sample-apiserver", daemon=True)
        self._thread.start()
        if not ready.wait(20) or not self._server.started:
            raise RuntimeError("the sample API server did not start")

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        loop = self._loop
        if loop is not None:
            for watcher in list(self._watchers):
                loop.call_soon_threadsafe(watcher.queue.put_nowait, None)
        self._server.should_exit = True
        self._thread.join(20)
        self._server, self._thread, self._loop = None, None, None
        self._watchers.clear()

    def __enter__(self) -> SampleAPIServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- the API ----------------------------------------------------------------------

    def app(self) -> Starlette:
        base = f"/apis/{GROUP}/{VERSION}"
        routes = [
            Route("/apis", self.apis),
            Route(f"/apis/{GROUP}", self.api_group),
            Route(base, self.resource_list),
            Route("/openapi/v3", self.openapi_index),
            Route(f"/openapi/v3/apis/{GROUP}/{VERSION}", self.openapi_document),
            Route(f"{base}/{RESOURCE}", self.collection, methods=["GET"]),
            Route(
                f"{base}/namespaces/{{namespace}}/{RESOURCE}",
                self.collection,
                methods=["GET", "POST"],
            ),
            Route(
                f"{base}/namespaces/{{namespace}}/{RESOURCE}/{{name}}",
                self.item,
                methods=["GET", "PUT", "DELETE"],
            ),
            WebSocketRoute(f"{base}/namespaces/{{namespace}}/{RESOURCE}/{{name}}/echo", self.echo),
        ]
        app = Starlette(routes=routes)

        async def authenticated(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                who = self._authenticate(HTTPConnection(scope, receive))
                if who is None:
                    refusal = _status(401, "Unauthorized", "Unauthorized")
                    if scope["type"] == "websocket":
                        await WebSocket(scope, receive, send).send_denial_response(refusal)
                    else:
                        await refusal(scope, receive, send)
                    return
                self.seen.append(who)
            await app(scope, receive, send)

        return authenticated  # type: ignore[return-value]

    async def echo(self, socket: WebSocket) -> None:
        """An upgraded connection (as exec or attach would be): the first message names
        who asked, then every message comes back as it was sent."""
        offered = socket.scope.get("subprotocols") or []
        await socket.accept(subprotocol=offered[0] if offered else None)
        await socket.send_text(f"hello {self.seen[-1].user}")
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    await socket.send_bytes(message["bytes"])
                else:
                    await socket.send_text(message.get("text") or "")
        except WebSocketDisconnect:
            return

    def _authenticate(self, request: HTTPConnection) -> Seen | None:
        """k8s.io/apiserver's request-header authenticator: a verified front-proxy client
        certificate of an allowed name, then the user the headers name."""
        cert = (request.scope.get("state") or {}).get("peercert") or {}
        names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        if not names or (self.allowed_names and names[0] not in self.allowed_names):
            return None
        headers = request.headers
        user = headers.get("x-remote-user")
        if not user:
            return None
        extra: dict[str, tuple[str, ...]] = {}
        for key, value in headers.items():
            if key.startswith("x-remote-extra-"):
                name = unquote(key[len("x-remote-extra-") :])
                extra[name] = (*extra.get(name, ()), value)
        return Seen(
            request.scope.get("method", "GET"),
            request.url.path,
            user,
            tuple(headers.getlist("x-remote-group")),
            extra,
        )

    async def apis(self, request: Request) -> Response:
        if "as=APIGroupDiscoveryList" in request.headers.get("accept", "").replace(" ", ""):
            body = {
                "kind": "APIGroupDiscoveryList",
                "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {},
                "items": [
                    {
                        "metadata": {"name": GROUP, "creationTimestamp": None},
                        "versions": [
                            {
                                "version": VERSION,
                                "resources": [
                                    {
                                        "resource": RESOURCE,
                                        "responseKind": {
                                            "group": GROUP,
                                            "version": VERSION,
                                            "kind": KIND,
                                        },
                                        "scope": "Namespaced",
                                        "singularResource": "flunder",
                                        "verbs": VERBS,
                                    }
                                ],
                                "freshness": "Current",
                            }
                        ],
                    }
                ],
            }
            return Response(json.dumps(body), media_type=AGGREGATED)
        return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group()]})

    async def api_group(self, request: Request) -> Response:
        return JSONResponse({"kind": "APIGroup", "apiVersion": "v1", **_group()})

    async def resource_list(self, request: Request) -> Response:
        return JSONResponse(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": API_VERSION,
                "resources": [
                    {
                        "name": RESOURCE,
                        "singularName": "flunder",
                        "namespaced": True,
                        "kind": KIND,
                        "verbs": VERBS,
                    }
                ],
            }
        )

    async def openapi_index(self, request: Request) -> Response:
        path = f"apis/{GROUP}/{VERSION}"
        return JSONResponse(
            {"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash=0123456789"}}}
        )

    async def openapi_document(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def collection(self, request: Request) -> Response:
        namespace = request.path_params.get("namespace", "")
        if request.method == "POST":
            return await self._create(request, namespace)
        params = request.query_params
        if params.get("watch") in ("true", "1"):
            return self._watch(namespace, int(params.get("resourceVersion") or 0))
        items = [
            obj for (ns, _), obj in sorted(self.objects.items()) if not namespace or ns == namespace
        ]
        if "as=Table" in request.headers.get("accept", "").replace(" ", ""):
            return JSONResponse(_table(items, self._revision))
        return JSONResponse(
            {
                "kind": f"{KIND}List",
                "apiVersion": API_VERSION,
                "metadata": {"resourceVersion": str(self._revision)},
                "items": items,
            }
        )

    async def item(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        found = self.objects.get((namespace, name))
        if found is None:
            return _status(
                404,
                "NotFound",
                f'{RESOURCE}.{GROUP} "{name}" not found',
                name=name,
                group=GROUP,
                kind=RESOURCE,
            )
        if request.method == "DELETE":
            del self.objects[(namespace, name)]
            self._event("DELETED", found)
            return JSONResponse(found)
        if request.method == "PUT":
            body = await request.json()
            body["metadata"]["resourceVersion"] = self._next()
            self.objects[(namespace, name)] = body
            self._event("MODIFIED", body)
            return JSONResponse(body)
        if "as=Table" in request.headers.get("accept", "").replace(" ", ""):
            return JSONResponse(_table([found], self._revision))
        return JSONResponse(found)

    async def _create(self, request: Request, namespace: str) -> Response:
        body = await request.json()
        if body.get("apiVersion") != API_VERSION or body.get("kind") != KIND:
            return _status(400, "BadRequest", f"not a {KIND} of {API_VERSION}")
        unknown = set(body.get("spec") or {}) - {"reference", "referenceType"}
        if unknown and request.query_params.get("fieldValidation") == "Strict":
            field_name = sorted(unknown)[0]
            return _status(
                400,
                "BadRequest",
                f'{KIND} in version "{VERSION}" cannot be handled as a {KIND}: strict '
                f'decoding error: unknown field "spec.{field_name}"',
            )
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if (namespace, name) in self.objects:
            return _status(
                409,
                "AlreadyExists",
                f'{RESOURCE}.{GROUP} "{name}" already exists',
                name=name,
                group=GROUP,
                kind=RESOURCE,
            )
        meta.update(
            namespace=namespace,
            uid=str(uuid.uuid4()),
            creationTimestamp=_now(),
            resourceVersion=self._next(),
        )
        self.objects[(namespace, name)] = body
        self._event("ADDED", body)
        return JSONResponse(body, status_code=201)

    def _next(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _event(self, kind: str, obj: Obj) -> None:
        self._history.append((self._revision, kind, obj))
        for watcher in self._watchers:
            if not watcher.namespace or watcher.namespace == obj["metadata"]["namespace"]:
                watcher.queue.put_nowait((kind, obj))

    def _watch(self, namespace: str, since: int) -> Response:
        watcher = _Watcher(namespace)
        for revision, kind, obj in self._history:
            if revision > since and (not namespace or obj["metadata"]["namespace"] == namespace):
                watcher.queue.put_nowait((kind, obj))
        self._watchers.append(watcher)

        async def lines() -> AsyncIterator[bytes]:
            try:
                while True:
                    item = await watcher.queue.get()
                    if item is None:
                        return
                    kind, obj = item
                    yield json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            finally:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return StreamingResponse(lines(), media_type="application/json")


def _group() -> Obj:
    version = {"groupVersion": API_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [version], "preferredVersion": version}


def _table(items: list[Obj], revision: int) -> Obj:
    """k8s.io/apiserver's default table: Name and Created At."""
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(revision)},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": "", "priority": 0},
        ],
        "rows": [
            {
                "cells": [o["metadata"]["name"], o["metadata"]["creationTimestamp"]],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                },
            }
            for o in items
        ],
    }


def openapi_document() -> Obj:
    """The group-version's OpenAPI v3: paths with the kind's GVK, the PATCH operation with
    ``fieldValidation``, and the schemas ``kubectl explain`` reads."""
    gvk = {"group": GROUP, "kind": KIND, "version": VERSION}
    ref = {"$ref": f"#/components/schemas/{SCHEMA}"}
    body = {"content": {"application/json": {"schema": ref}}}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    query = [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation")
    ]
    namespace = {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{RESOURCE}"

    def op(action: str, **extra: Any) -> Obj:
        return {
            "operationId": f"{action}WardleV1alpha1NamespacedFlunder",
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "responses": ok,
            **extra,
        }

    patch_body = {
        "content": {
            media: {"schema": {"type": "object"}}
            for media in ("application/json-patch+json", "application/merge-patch+json",
                          "application/apply-patch+yaml")
        }
    }  # fmt: skip
    return {
        "openapi": "3.0.0",
        "info": {"title": "Wardle", "version": "v0.1.0"},
        "paths": {
            base: {
                "parameters": [namespace],
                "get": op("list"),
                "post": op("post", requestBody=body, parameters=query),
            },
            f"{base}/{{name}}": {
                "parameters": [namespace, name],
                "get": op("get"),
                "put": op("put", requestBody=body, parameters=query),
                "patch": op(
                    "patch",
                    requestBody=patch_body,
                    parameters=[
                        *query,
                        {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                    ],
                ),
                "delete": op("delete"),
            },
        },
        "components": {
            "schemas": {
                SCHEMA: {
                    "description": "A Flunder, the sample API server's one kind.",
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string", "description": "APIVersion of it."},
                        "kind": {"type": "string", "description": "Kind of it."},
                        "metadata": {
                            "allOf": [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}],
                            "default": {},
                        },
                        "spec": {
                            "description": "What the flunder refers to.",
                            "type": "object",
                            "properties": {
                                "reference": {
                                    "type": "string",
                                    "description": "A name of another flunder or fischer.",
                                },
                                "referenceType": {
                                    "type": "string",
                                    "description": "Flunder or Fischer.",
                                },
                            },
                        },
                    },
                    "x-kubernetes-group-version-kind": [gvk],
                },
                f"{META}.ObjectMeta": {
                    "description": "Standard object metadata.",
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "Name of the object."},
                        "namespace": {"type": "string", "description": "Its namespace."},
                        "labels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "Labels.",
                        },
                    },
                },
            }
        },
    }


def wait_until(predicate: Any, timeout: float = 30.0, step: float = 0.2) -> None:
    """Poll ``predicate`` until true (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"not true within {timeout} s: {predicate}")
