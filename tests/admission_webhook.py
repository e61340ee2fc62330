"""An admission webhook for the tests: AdmissionReview v1 over HTTPS with a CA of its own.

Served by uvicorn on a thread of its own (the end-to-end tests are synchronous), on
127.0.0.1 with a certificate for ``127.0.0.1`` and ``localhost``. Paths:

- ``/validate``: refuses an object labelled ``deny`` with a 403 Status naming it, warns
  ``validated NAME`` otherwise; annotates the audit event (``checked: NAME``);
- ``/mutate``: a JSONPatch adding the label ``mutated-by: webhook`` (and the labels map
  when missing);
- ``/slow``: answers allowed after ``slow_seconds``;
- ``/allow``: answers allowed, without a patch.

Every review received is kept in ``reviews`` (path, request), unless ``keep_reviews``
is off; the webhook's own time per call (its application, from the request reaching it
to its reply sent) in ``own_seconds``.

``python -m tests.admission_webhook DIR`` serves it in a process of its own (the
benchmarks: its CPU apart from theirs), printing ``{"base_url", "ca_bundle"}`` as one
JSON line; ``GET /own-seconds`` answers the own times so far and forgets them.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kapi import pki

Obj = dict[str, Any]


@dataclass
class Webhook:
    base_url: str
    ca_bundle: bytes
    port: int = 0
    reviews: list[tuple[str, Obj]] = field(default_factory=list)
    slow_seconds: float = 3.0
    keep_reviews: bool = True
    own_seconds: list[float] = field(default_factory=list)

    @property
    def ca_bundle_b64(self) -> str:
        return base64.b64encode(self.ca_bundle).decode()

    def requests(self, path: str) -> list[Obj]:
        return [r for p, r in list(self.reviews) if p == path]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _labels(obj: Obj | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _answer(hook: Webhook, path: str, body: Obj) -> Obj:
    request = body["request"]
    if hook.keep_reviews:
        hook.reviews.append((path, request))
    obj = request.get("object")
    name = ((obj or {}).get("metadata") or {}).get("name") or request.get("name") or ""
    response: Obj = {"uid": request["uid"], "allowed": True}
    if path == "/validate":
        if "deny" in _labels(obj):
            response["allowed"] = False
            response["status"] = {
                "code": 403,
                "reason": "Forbidden",
                "message": f"{name} is not welcome here",
            }
        else:
            response["warnings"] = [f"validated {name}"]
            response["auditAnnotations"] = {"checked": name}
    elif path == "/mutate" and obj is not None:
        ops: list[Obj] = []
        if not (obj.get("metadata") or {}).get("labels"):
            ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
        ops.append({"op": "add", "path": "/metadata/labels/mutated-by", "value": "webhook"})
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(ops)).decode()
    return {"apiVersion": body["apiVersion"], "kind": "AdmissionReview", "response": response}


def _timed(app: ASGIApp, hook: Webhook) -> ASGIApp:
    """``app``, each call's time from its start to its last body chunk sent recorded."""

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        began = time.perf_counter()

        async def sending(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                hook.own_seconds.append(time.perf_counter() - began)

        await app(scope, receive, sending)

    return timed


@contextmanager
def serve(
    tmp: Path, *, names: tuple[str, ...] = (), keep_reviews: bool = True
) -> Iterator[Webhook]:
    """Run the webhook until the block ends; ``names``: more names its certificate
    carries (``svc.ns.svc`` when it is reached through a Service)."""
    ca = pki.ensure_ca(tmp / "admission-webhook-pki", common_name="admission-webhook-ca")
    serving = pki.ensure_serving_cert(
        tmp / "admission-webhook-pki", ca, hosts=["127.0.0.1", "localhost", *names]
    )
    port = _free_port()
    hook = Webhook(f"https://127.0.0.1:{port}", ca.cert_pem, port, keep_reviews=keep_reviews)

    async def handle(request: Request) -> Response:
        body = orjson.loads(await request.body())
        if request.url.path == "/slow":
            await asyncio.sleep(hook.slow_seconds)
        answer = _answer(hook, request.url.path, body)
        return Response(orjson.dumps(answer), media_type="application/json")

    async def own_seconds(request: Request) -> Response:
        taken, hook.own_seconds = hook.own_seconds, []
        return Response(orjson.dumps(taken), media_type="application/json")

    app = Starlette(
        routes=[
            *(
                Route(p, handle, methods=["POST"])
                for p in ("/validate", "/mutate", "/slow", "/allow")
            ),
            Route("/own-seconds", own_seconds, methods=["GET"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(
            _timed(app, hook),
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(serving.cert_path),
            ssl_keyfile=str(serving.key_path),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, name="admission-webhook", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test webhook did not start"
        time.sleep(0.02)
    try:
        yield hook
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    """Serve until stdin closes (the parent went) or a signal ends the process."""
    with serve(Path(sys.argv[1]), keep_reviews=False) as hook:
        print(
            orjson.dumps({"base_url": hook.base_url, "ca_bundle": hook.ca_bundle_b64}).decode(),
            flush=True,
        )
        sys.stdin.read()


if __name__ == "__main__":
    main()
