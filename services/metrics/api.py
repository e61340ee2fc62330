"""``metrics.k8s.io/v1beta1`` as metrics-server serves it, behind kapi's aggregator.

NodeMetrics (cluster-scoped) and PodMetrics (namespaced), ``get`` and ``list`` with label
selectors, their discovery (aggregated and legacy) and OpenAPI v3, Tables for ``kubectl
get``. Requests are believed only from the front proxy: a verified client certificate of
the request-header CA with an allowed name, the caller in ``X-Remote-User`` (as
metrics-server's delegated authentication reads ``extension-apiserver-authentication``);
anyone else is 401. Authorization is the gateway's, which already decided.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from kapi import errors, quantity, selectors
from services.metrics import usage

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
VERBS = ["get", "list"]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"

Obj = dict[str, Any]
Objects = Callable[[], Iterable[Obj]]


class PeerCertProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, handing the verified client certificate (or none) to
    the app in the scope's state, as Go hands ``req.TLS.PeerCertificates``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, "peercert": transport.get_extra_info("peercert")}


def _json(body: Any, status: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type)


def _status(err: errors.StatusError) -> Response:
    return _json(orjson.loads(err.to_json()), err.code)


def _rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MetricsAPI:
    """The API over the nodes and pods ``nodes()`` and ``pods()`` give now."""

    def __init__(
        self,
        nodes: Objects,
        pods: Objects,
        *,
        allowed_names: tuple[str, ...] = (),
        load: float = usage.DEFAULT_LOAD,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nodes = nodes
        self.pods = pods
        self.allowed_names = allowed_names
        self.load = load
        self.clock = clock

    # --- who asks -------------------------------------------------------------------

    def caller(self, conn: HTTPConnection) -> str | None:
        """The user the front proxy names, None for anyone else."""
        cert = (conn.scope.get("state") or {}).get("peercert") or {}
        names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        if not names or (self.allowed_names and names[0] not in self.allowed_names):
            return None
        return conn.headers.get("x-remote-user") or None

    def app(self) -> Callable[[Scope, Receive, Send], Any]:
        base = f"/apis/{GROUP}/{VERSION}"
        routes = [
            Route("/apis", self.apis),
            Route(f"/apis/{GROUP}", self.api_group),
            Route(base, self.resource_list),
            Route("/openapi/v3", self.openapi_index),
            Route(f"/openapi/v3/apis/{GROUP}/{VERSION}", self.openapi_document),
            Route(f"{base}/nodes", self.node_list),
            Route(f"{base}/nodes/{{name}}", self.node),
            Route(f"{base}/pods", self.pod_list),
            Route(f"{base}/namespaces/{{namespace}}/pods", self.pod_list),
            Route(f"{base}/namespaces/{{namespace}}/pods/{{name}}", self.pod),
        ]
        inner = Starlette(routes=routes)

        async def gated(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and self.caller(HTTPConnection(scope)) is None:
                await _status(errors.unauthorized())(scope, receive, send)
                return
            await inner(scope, receive, send)

        return gated

    # --- discovery ------------------------------------------------------------------

    async def apis(self, request: Request) -> Response:
        if "as=APIGroupDiscoveryList" in request.headers.get("accept", "").replace(" ", ""):
            resources = [
                {
                    "resource": plural,
                    "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                    "scope": scope,
                    "singularResource": plural[:-1],
                    "verbs": VERBS,
                }
                for plural, kind, scope in (
                    ("nodes", "NodeMetrics", "Cluster"),
                    ("pods", "PodMetrics", "Namespaced"),
                )
            ]
            body = {
                "kind": "APIGroupDiscoveryList",
                "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {},
                "items": [
                    {
                        "metadata": {"name": GROUP, "creationTimestamp": None},
                        "versions": [
                            {"version": VERSION, "resources": resources, "freshness": "Current"}
                        ],
                    }
                ],
            }
            return _json(body, media_type=AGGREGATED)
        return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group()]})

    async def api_group(self, request: Request) -> Response:
        return _json({"kind": "APIGroup", "apiVersion": "v1", **_group()})

    async def resource_list(self, request: Request) -> Response:
        return _json(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": API_VERSION,
                "resources": [
                    {"name": "nodes", "singularName": "", "namespaced": False,
                     "kind": "NodeMetrics", "verbs": VERBS},
                    {"name": "pods", "singularName": "", "namespaced": True,
                     "kind": "PodMetrics", "verbs": VERBS},
                ],
            }
        )  # fmt: skip

    async def openapi_index(self, request: Request) -> Response:
        path = f"apis/{GROUP}/{VERSION}"
        return _json({"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}"}}})

    async def openapi_document(self, request: Request) -> Response:
        return _json(openapi_document())

    # --- metrics --------------------------------------------------------------------

    def _window(self) -> tuple[int, str]:
        now = self.clock()
        window = int(now // usage.WINDOW_SECONDS)
        return window, _rfc3339(window * usage.WINDOW_SECONDS)

    def node_metrics(self, node: Obj, pods: list[Obj]) -> Obj:
        window, stamp = self._window()
        meta = node.get("metadata") or {}
        return {
            "kind": "NodeMetrics",
            "apiVersion": API_VERSION,
            "metadata": _metadata(meta, stamp),
            "timestamp": stamp,
            "window": f"{usage.WINDOW_SECONDS}s",
            "usage": usage.node_usage(pods, load=self.load, window=window).as_json(),
        }

    def pod_metrics(self, pod: Obj) -> Obj:
        window, stamp = self._window()
        meta = pod.get("metadata") or {}
        return {
            "kind": "PodMetrics",
            "apiVersion": API_VERSION,
            "metadata": _metadata(meta, stamp),
            "timestamp": stamp,
            "window": f"{usage.WINDOW_SECONDS}s",
            "containers": [
                {"name": name, "usage": used.as_json()}
                for name, used in usage.containers(pod, load=self.load, window=window)
            ],
        }

    def _running_by_node(self) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for pod in self.pods():
            if usage.running(pod):
                out.setdefault(pod["spec"]["nodeName"], []).append(pod)
        return out

    async def node_list(self, request: Request) -> Response:
        try:
            selected = selectors.parse_label_selector(request.query_params.get("labelSelector", ""))
        except errors.StatusError as err:
            return _status(err)
        by_node = self._running_by_node()
        items = [
            self.node_metrics(node, by_node.get(_name(node), []))
            for node in sorted(self.nodes(), key=_name)
            if selected.matches(node)
        ]
        return self._list(request, "NodeMetricsList", items)

    async def node(self, request: Request) -> Response:
        name = request.path_params["name"]
        for node in self.nodes():
            if _name(node) == name:
                pods = self._running_by_node().get(name, [])
                return self._one(request, self.node_metrics(node, pods))
        return _status(errors.not_found("nodes", GROUP, name))

    async def pod_list(self, request: Request) -> Response:
        namespace = request.path_params.get("namespace", "")
        try:
            selected = selectors.parse_label_selector(request.query_params.get("labelSelector", ""))
        except errors.StatusError as err:
            return _status(err)
        items = [
            self.pod_metrics(pod)
            for pod in sorted(self.pods(), key=_namespaced_name)
            if usage.running(pod)
            and (not namespace or (pod.get("metadata") or {}).get("namespace") == namespace)
            and selected.matches(pod)
        ]
        return self._list(request, "PodMetricsList", items)

    async def pod(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        for pod in self.pods():
            if _namespaced_name(pod) == (namespace, name) and usage.running(pod):
                return self._one(request, self.pod_metrics(pod))
        return _status(errors.not_found("pods", GROUP, name))

    def _list(self, request: Request, kind: str, items: list[Obj]) -> Response:
        if _wants_table(request):
            return _json(_table(items))
        return _json({"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": items})

    def _one(self, request: Request, item: Obj) -> Response:
        return _json(_table([item]) if _wants_table(request) else item)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespaced_name(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _metadata(meta: Obj, stamp: str) -> Obj:
    """metrics-server's: the object's name, namespace and labels, created when measured."""
    out: Obj = {"name": meta.get("name")}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    out["creationTimestamp"] = stamp
    if meta.get("labels"):
        out["labels"] = meta["labels"]
    return out


def _wants_table(request: Request) -> bool:
    return "as=Table" in request.headers.get("accept", "").replace(" ", "")


def _table(items: list[Obj]) -> Obj:
    """metrics-server's table: name, CPU, memory, window."""
    columns = [
        ("Name", "string", "name", "Name of the resource"),
        ("CPU", "string", "", "CPU consumption"),
        ("Memory", "string", "", "Memory consumption"),
        ("Window", "string", "", "Time window of the measurement"),
    ]
    rows = []
    for item in items:
        if "usage" in item:
            cpu, memory = item["usage"]["cpu"], item["usage"]["memory"]
        else:
            total = usage.ZERO
            for container in item["containers"]:
                total = total + usage.Usage(
                    quantity.parse(container["usage"]["cpu"]) or Fraction(0),
                    quantity.parse(container["usage"]["memory"]) or Fraction(0),
                )
            cpu, memory = total.as_json()["cpu"], total.as_json()["memory"]
        rows.append(
            {
                "cells": [item["metadata"]["name"], cpu, memory, item["window"]],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"],
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": d, "priority": 0}
            for n, t, f, d in columns
        ],
        "rows": rows,
    }


def _group() -> Obj:
    version = {"groupVersion": API_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [version], "preferredVersion": version}


def openapi_document() -> Obj:
    """The group-version's OpenAPI v3: NodeMetrics and PodMetrics for ``kubectl explain``."""
    usage_schema = {
        "type": "object",
        "description": "The memory and CPU usage.",
        "additionalProperties": {"type": "string"},
    }

    def kind_schema(kind: str, description: str, extra: Obj) -> Obj:
        return {
            "description": description,
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"allOf": [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}]},
                "timestamp": {"type": "string", "format": "date-time"},
                "window": {"type": "string"},
                **extra,
            },
            "x-kubernetes-group-version-kind": [{"group": GROUP, "kind": kind, "version": VERSION}],
        }

    container = {
        "type": "object",
        "description": "ContainerMetrics sets resource usage metrics of a container.",
        "properties": {"name": {"type": "string"}, "usage": usage_schema},
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "metrics-server", "version": VERSION},
        "paths": {},
        "components": {
            "schemas": {
                "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics": kind_schema(
                    "NodeMetrics",
                    "NodeMetrics sets resource usage metrics of a node.",
                    {"usage": usage_schema},
                ),
                "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics": kind_schema(
                    "PodMetrics",
                    "PodMetrics sets resource usage metrics of a pod.",
                    {"containers": {"type": "array", "items": container}},
                ),
                f"{META}.ObjectMeta": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "namespace": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            }
        },
    }
