"""The gateway's audit IDs and its last resort for an exception nothing answered."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from kapi import audit_id, errors
from services.gateway.audit import WithAuditId

SECRET = "boom at 10.9.8.7:2379"


async def fails_before_replying(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError(SECRET)


async def fails_mid_reply(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"type":"ADDED"}\n', "more_body": True})
    raise RuntimeError(SECRET)


async def echoes_its_audit_id(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": audit_id.current().encode()})


def client(app: object) -> httpx.AsyncClient:
    wrapped = WithAuditId(app, State())  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://gw")


async def test_the_request_is_served_under_its_audit_id() -> None:
    async with client(echoes_its_audit_id) as api:
        reply = await api.get("/x", headers={"Audit-ID": "abc-1"})
        assert reply.headers["audit-id"] == reply.text == "abc-1"
        fresh = await api.get("/x")
        assert fresh.headers["audit-id"] == fresh.text and len(fresh.text) == 36


async def test_an_exception_nothing_answered_is_a_500_status_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with client(fails_before_replying) as api:
        reply = await api.get("/x", headers={"Audit-ID": "abc-2"})
    assert reply.status_code == 500
    assert reply.json() == errors.unexpected("abc-2").status()
    assert reply.headers["audit-id"] == "abc-2"
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "abc-2" in record.getMessage() and record.exc_info is not None


async def test_an_exception_mid_reply_is_logged_once_and_ends_the_reply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reply cannot become a Status any more: the server ends the connection."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    await WithAuditId(fails_mid_reply, State())(scope, receive, send)  # nothing escapes
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert SECRET.encode() not in sent[1]["body"]
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert dict(sent[0]["headers"])[b"audit-id"].decode() in record.getMessage()
