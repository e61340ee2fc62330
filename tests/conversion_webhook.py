"""A CRD conversion webhook for the tests: ConversionReview v1 over HTTPS.

It converts ``Widget`` objects between ``v1beta1`` (``spec.size`` a string like "3") and
``v1`` (``spec.replicas`` an integer), as a real project's webhook converts between
schema versions, and counts the reviews it answered. ``fail`` makes it answer Failure.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kapi import pki

Obj = dict[str, Any]


def convert(obj: Obj, to: str) -> Obj:
    out = {**obj, "apiVersion": to, "spec": dict(obj.get("spec") or {})}
    spec = out["spec"]
    if to.endswith("/v1") and "size" in spec:
        spec["replicas"] = int(spec.pop("size"))
    elif to.endswith("/v1beta1") and "replicas" in spec:
        spec["size"] = str(spec.pop("replicas"))
    return out


def widget_crd(group: str, *, webhook: Obj | None = None) -> Obj:
    """Widgets: v1beta1 (deprecated, ``spec.size`` a string) and v1 (stored,
    ``spec.replicas``); converted by ``webhook`` when given, else by None."""
    beta = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"size": {"type": "string"}, "color": {"type": "string"}},
            }
        },
    }
    ga = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"replicas": {"type": "integer"}, "color": {"type": "string"}},
            }
        },
    }
    spec: Obj = {
        "group": group,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "deprecated": True,
                "schema": {"openAPIV3Schema": beta if webhook else ga},
            },
            {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": ga}},
        ],
    }
    if webhook is not None:
        spec["conversion"] = {"strategy": "Webhook", "webhook": webhook}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": spec,
    }


@dataclass
class Webhook:
    url: str
    ca_bundle: bytes
    port: int
    reviews: list[Obj] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # each call's Host header, path and query
    fail: bool = False
    # ``answer``: sent instead of a review's right answer ("{uid}" becomes the request's
    # uid, "{group}" the objects' group); ``metadata``: merged into converted objects'.
    answer: Obj | None = None
    metadata: Obj = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve(tmp: Path, *, hosts: tuple[str, ...] = ()) -> AsyncIterator[Webhook]:
    """Run the webhook on 127.0.0.1 with a certificate of its own CA (its ``ca_bundle``)
    for 127.0.0.1, localhost and ``hosts`` (e.g. the Service name it is reached by)."""
    ca = pki.ensure_ca(tmp / "webhook-pki", common_name="webhook-ca")
    serving = pki.ensure_serving_cert(
        tmp / "webhook-pki", ca, hosts=["127.0.0.1", "localhost", *hosts]
    )
    port = _free_port()
    hook = Webhook(f"https://127.0.0.1:{port}/convert", ca.cert_pem, port)

    async def review(request: Request) -> Response:
        body = orjson.loads(await request.body())
        hook.reviews.append(body)
        hook.calls.append(f"{request.headers.get('host')}{request.url.path}?{request.url.query}")
        request_part = body["request"]
        response: Obj = {"uid": request_part["uid"]}
        if hook.answer is not None:
            group = request_part["desiredAPIVersion"].partition("/")[0]
            text = orjson.dumps(hook.answer).decode()
            text = text.replace("{uid}", request_part["uid"]).replace("{group}", group)
            return Response(text.encode(), media_type="application/json")
        if hook.fail:
            response["result"] = {"status": "Failure", "message": "the webhook says no"}
        else:
            response["convertedObjects"] = [
                convert(o, request_part["desiredAPIVersion"]) for o in request_part["objects"]
            ]
            for converted in response["convertedObjects"]:
                converted["metadata"] = {**converted.get("metadata", {}), **hook.metadata}
            response["result"] = {"status": "Success"}
        answer = {
            "apiVersion": body["apiVersion"],
            "kind": "ConversionReview",
            "response": response,
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    app = Starlette(routes=[Route("/convert", review, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(serving.cert_path),
            ssl_keyfile=str(serving.key_path),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield hook
    finally:
        server.should_exit = True
        await task


@contextmanager
def running(tmp: Path, *, hosts: tuple[str, ...] = ()) -> Iterator[Webhook]:
    """``serve`` in a thread of its own, for synchronous tests (end to end)."""
    started: list[Webhook] = []
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop = asyncio.new_event_loop()

    async def run() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with serve(tmp, hosts=hosts) as hook:
            started.append(hook)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the conversion webhook did not start")
        yield started[0]
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
