"""Every request's audit ID, and the one log line of a bug.

As kube-apiserver's ``WithAuditInit`` filter does, each request gets an audit ID (the
client's ``Audit-ID`` header when it is a plain short token, else a new UUID: see
``kapi.audit_id``) and every reply carries it in the ``Audit-Id`` header. The id is
bound to the request's context, so the calls the gateway makes for it pass it on to
the services behind.

A bug (any exception but a ``StatusError``) is logged once, with the audit ID, by the
app's exception handler (``answer_bug``), and the client gets a 500 InternalError that
names only the id (and the audit log, when there is one, its Panic event:
services/gateway/auditing/). Starlette's outermost handler re-raises what it answered "so that
servers can log it": that second log (uvicorn's traceback) is what ``WithAuditId``
stops.
"""

from __future__ import annotations

import logging

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kapi import audit_id, errors
from services.gateway import auditing
from services.gateway.responses import status_response

log = logging.getLogger(__name__)

_HEADER = audit_id.HEADER.encode()
_ANSWERED = "kapi.bug_answered"  # scope key: the bug was logged and answered


def _log_bug(method: str, path: str, exc: BaseException) -> None:
    log.error(
        "unhandled error serving %s %s (audit ID %s)",
        method,
        path,
        audit_id.current() or "-",
        exc_info=exc,
    )


def answer_bug(request: Request, exc: Exception) -> Response:
    """Log a bug once, with its request's audit ID; the client's 500."""
    _log_bug(request.method, request.url.path, exc)
    request.scope[_ANSWERED] = True
    recorder = auditing.current()
    if recorder is not None:
        recorder.panicked(exc)
    return status_response(errors.unexpected(audit_id.current()))


class WithAuditId:
    """ASGI wrapper: binds the request's audit ID and adds the ``Audit-Id`` reply header;
    the last resort for an exception nothing answered (logged once; a 500 Status when
    no reply has started, else the connection ends as the server ends it)."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state  # the app's (tests reach the hub through it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                given = value.decode("latin-1")
                break
        request_id = audit_id.accept(given)
        audit_id.bind((request_id,))  # each request runs in its own task and context
        header = (_HEADER, request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if scope.get(_ANSWERED):
                return  # logged and answered by the app's handler; Starlette re-raised it
            _log_bug(scope.get("method", ""), scope.get("path", ""), exc)
            if not started:
                reply = status_response(errors.unexpected(request_id))
                await reply(scope, receive, send_with_id)
