"""One request's audit event (services/gateway/auditing/recorder.py, middleware.py,
encoding.py): the stages kube's WithAudit sends and the fields of each, as JSON lines,
with a stand-in handler calling the hooks the gateway's handlers call.

kube: k8s.io/apiserver/pkg/endpoints/filters/audit.go, authn_audit.go, authorization.go;
pkg/audit/request.go, context.go; plugin/pkg/audit/log/backend.go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from kapi import errors
from kapi_proto import common_pb2
from services.gateway import auditing
from services.gateway.audit import WithAuditId
from services.gateway.auditing import encoding
from services.gateway.auditing.event_fields import micro_time, source_ips
from services.gateway.auditing.middleware import Auditor, WithAudit
from services.gateway.auditing.policy import GroupResources, Level, Policy, Rule, Stage
from services.gateway.list_response import ListResponse
from services.gateway.responses import json_response, status_response

ADMIN = common_pb2.UserInfo(
    username="admin", uid="u-1", groups=["system:masters", "system:authenticated"]
)
BOB = common_pb2.UserInfo(
    username="bob",
    groups=["devs", "system:authenticated"],
    extra={"scopes": common_pb2.StringList(values=["a", "b"])},
)
CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "c",
        "namespace": "demo",
        "uid": "u-c",
        "resourceVersion": "7",
        "managedFields": [{"manager": "kubectl"}],
    },
    "data": {"a": "<&>"},
}


class Backend:
    """Stands in for LogBackend: encodes each event as the writer thread would."""

    def __init__(self, *, blocking: bool = False, stored: bool = True) -> None:
        self.lines: list[bytes] = []
        self.blocking = blocking
        self.stored = stored
        self.mode = None

    def process(self, event: dict[str, Any], weight: int) -> Awaitable[bool] | None:
        self.lines.append(encoding.encode(event))
        if not self.blocking:
            return None
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        done.set_result(self.stored)
        return done

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            assert line.endswith(b"\n") and line.count(b"\n") == 1
            event = orjson.loads(line)
            assert event.pop("requestReceivedTimestamp").endswith("Z")
            assert event.pop("stageTimestamp").endswith("Z")
            out.append(event)
        return out


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def serve(
    handler: Handler,
    rules: tuple[Rule, ...],
    *,
    method: str = "GET",
    path: str = "/api/v1/namespaces/demo/configmaps/c",
    headers: dict[str, str] | None = None,
    backend: Backend | None = None,
    omit_stages: frozenset[Stage] = frozenset(),
    omit_managed_fields: bool = False,
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    backend = backend or Backend()
    policy = Policy(rules=rules, omit_stages=omit_stages, omit_managed_fields=omit_managed_fields)
    auditor = Auditor(policy, backend)  # type: ignore[arg-type]
    app = WithAuditId(WithAudit(handler, auditor), State())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        reply = await client.request(
            method,
            path,
            headers={"Audit-ID": "id-1", "User-Agent": "kubectl/v1.32.0", **(headers or {})},
        )
    return reply, backend.events()


def recorder() -> auditing.Recorder:
    found = auditing.current()
    assert found is not None
    return found


ALL = (Rule(Level.REQUEST_RESPONSE),)
USER = {"username": "admin", "uid": "u-1", "groups": ["system:masters", "system:authenticated"]}
OBJECT_REF = {"resource": "configmaps", "namespace": "demo", "name": "c", "apiVersion": "v1"}


async def test_a_get_at_request_response_level() -> None:
    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        recorder().authorized(True, "")
        await json_response(orjson.dumps(CONFIGMAP))(scope, receive, send)

    reply, events = await serve(get, ALL)
    assert reply.status_code == 200 and reply.headers["audit-id"] == "id-1"
    common = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "id-1",
        "requestURI": "/api/v1/namespaces/demo/configmaps/c",
        "verb": "get",
        "user": USER,
        "sourceIPs": ["127.0.0.1"],
        "userAgent": "kubectl/v1.32.0",
        "objectRef": OBJECT_REF,
    }
    assert events == [
        {**common, "stage": "RequestReceived"},
        {
            **common,
            "stage": "ResponseComplete",
            "responseStatus": {"metadata": {}, "code": 200},
            "responseObject": CONFIGMAP,
            "annotations": {
                "authorization.k8s.io/decision": "allow",
                "authorization.k8s.io/reason": "",
            },
        },
    ]
    assert list(events[1]) == [  # audit.k8s.io/v1 Event's field order
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "responseObject",
        "annotations",
    ]


async def test_a_create_records_its_body_and_fills_the_object_reference() -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}, "data": {}}

    async def create(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        recorder().request_object(body, orjson.dumps(body))
        await json_response(orjson.dumps(CONFIGMAP), 201)(scope, receive, send)

    rules = (Rule(Level.REQUEST, verbs=frozenset({"create"})),)
    _, events = await serve(
        create, rules, method="POST", path="/api/v1/namespaces/demo/configmaps?fieldManager=x"
    )
    assert [e["stage"] for e in events] == ["RequestReceived", "ResponseComplete"]
    complete = events[1]
    assert complete["requestURI"] == "/api/v1/namespaces/demo/configmaps?fieldManager=x"
    assert complete["objectRef"] == {
        "resource": "configmaps",
        "namespace": "demo",
        "name": "new",
        "apiVersion": "v1",
    }
    assert complete["requestObject"] == body
    assert "responseObject" not in complete  # Request level
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}


async def test_an_update_takes_uid_and_resource_version_from_the_body() -> None:
    async def update(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        recorder().request_object(CONFIGMAP, orjson.dumps(CONFIGMAP))
        await json_response(orjson.dumps(CONFIGMAP))(scope, receive, send)

    _, events = await serve(update, (Rule(Level.METADATA),), method="PUT")
    assert events[1]["objectRef"] == {**OBJECT_REF, "uid": "u-c", "resourceVersion": "7"}
    assert list(events[1]["objectRef"]) == [
        "resource",
        "namespace",
        "name",
        "uid",
        "apiVersion",
        "resourceVersion",
    ]
    assert "requestObject" not in events[1]


async def test_managed_fields_are_omitted_when_the_policy_says_so() -> None:
    async def update(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        recorder().request_object(CONFIGMAP, orjson.dumps(CONFIGMAP))
        await json_response(orjson.dumps(CONFIGMAP))(scope, receive, send)

    _, events = await serve(update, ALL, method="PUT", omit_managed_fields=True)
    stripped = {
        **CONFIGMAP,
        "metadata": {k: v for k, v in CONFIGMAP["metadata"].items() if k != "managedFields"},
    }
    assert events[1]["requestObject"] == stripped
    assert events[1]["responseObject"] == stripped


async def test_a_list_reply_is_recorded_whole() -> None:
    items = [orjson.dumps(CONFIGMAP), orjson.dumps(CONFIGMAP)]

    async def list_(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        head = orjson.dumps({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}})
        await ListResponse(head, items, media_type="application/json")(scope, receive, send)

    _, events = await serve(list_, ALL, path="/api/v1/namespaces/demo/configmaps")
    assert events[1]["responseObject"]["items"] == [CONFIGMAP, CONFIGMAP]
    assert events[1]["verb"] == "list"
    assert events[1]["objectRef"] == {
        "resource": "configmaps",
        "namespace": "demo",
        "apiVersion": "v1",
    }


async def test_a_denied_request_records_the_status_and_the_decision() -> None:
    reason = "no RBAC policy matched"

    async def denied(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(BOB)
        recorder().authorized(False, reason)
        err = errors.forbidden("configmaps", "", "c", 'User "bob" cannot get ...')
        await status_response(err)(scope, receive, send)

    _, events = await serve(denied, (Rule(Level.METADATA),))
    complete = events[1]
    assert complete["user"] == {
        "username": "bob",
        "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["a", "b"]},
    }
    assert complete["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "c" is forbidden: User "bob" cannot get ...',
        "reason": "Forbidden",
        "details": {"name": "c", "kind": "configmaps"},
        "code": 403,
    }
    assert complete["annotations"] == {
        "authorization.k8s.io/decision": "forbid",
        "authorization.k8s.io/reason": reason,
    }


async def test_a_failed_authentication_is_one_response_started_event_without_a_user() -> None:
    async def unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
        await status_response(errors.unauthorized())(scope, receive, send)

    reply, events = await serve(unauthorized, ALL)
    assert reply.status_code == 401
    [event] = events
    assert event["stage"] == "ResponseStarted"
    assert event["user"] == {}
    assert event["objectRef"] == OBJECT_REF
    assert event["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert event["responseObject"]["kind"] == "Status"


async def test_a_rule_for_users_does_not_match_an_unauthenticated_request() -> None:
    async def unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
        await status_response(errors.unauthorized())(scope, receive, send)

    rules = (Rule(Level.METADATA, users=frozenset({"admin"})),)
    _, events = await serve(unauthorized, rules)
    assert events == []


async def test_a_watch_gets_response_started_and_complete() -> None:
    async def watch(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"type":"ADDED"}\n'})

    _, events = await serve(watch, ALL, path="/api/v1/namespaces/demo/configmaps?watch=1")
    assert [(e["stage"], e["verb"], e.get("responseStatus")) for e in events] == [
        ("RequestReceived", "watch", None),
        ("ResponseStarted", "watch", {"metadata": {}, "code": 200}),
        ("ResponseComplete", "watch", {"metadata": {}, "code": 200}),
    ]
    assert "responseObject" not in events[2]


async def test_a_short_request_gets_no_response_started() -> None:
    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        await json_response(b"{}")(scope, receive, send)

    _, events = await serve(get, ALL)
    assert [e["stage"] for e in events] == ["RequestReceived", "ResponseComplete"]


@pytest.mark.parametrize(
    ("policy_stages", "rule_stages", "expected"),
    [
        (frozenset({Stage.REQUEST_RECEIVED}), frozenset(), ["ResponseComplete"]),
        (frozenset(), frozenset({Stage.RESPONSE_COMPLETE}), ["RequestReceived"]),
        (frozenset({Stage.REQUEST_RECEIVED}), frozenset({Stage.RESPONSE_COMPLETE}), []),
    ],
)
async def test_omitted_stages_are_not_sent(
    policy_stages: frozenset[Stage], rule_stages: frozenset[Stage], expected: list[str]
) -> None:
    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        await json_response(b"{}")(scope, receive, send)

    rules = (Rule(Level.METADATA, omit_stages=rule_stages),)
    _, events = await serve(get, rules, omit_stages=policy_stages)
    assert [e["stage"] for e in events] == expected


async def test_level_none_sends_nothing() -> None:
    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        recorder().authorized(True, "")
        await json_response(b"{}")(scope, receive, send)

    rules = (
        Rule(Level.NONE, resources=(GroupResources("", ("configmaps",)),)),
        Rule(Level.METADATA),
    )
    _, events = await serve(get, rules)
    assert events == []


async def test_an_impersonated_request_records_both_users() -> None:
    async def impersonated(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        recorder().impersonated(BOB)
        recorder().authorized(True, "")
        await json_response(b"{}")(scope, receive, send)

    rules = (Rule(Level.METADATA, users=frozenset({"admin"})),)  # the requester matches
    _, events = await serve(impersonated, rules)
    assert "impersonatedUser" not in events[0]  # RequestReceived precedes impersonation
    assert events[1]["user"] == USER
    assert events[1]["impersonatedUser"] == {
        "username": "bob",
        "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["a", "b"]},
    }


async def test_a_bug_is_a_panic_event_instead_of_response_complete() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        raise KeyError("spec")

    reply, events = await serve(broken, (Rule(Level.METADATA),))
    assert reply.status_code == 500
    assert [e["stage"] for e in events] == ["RequestReceived", "Panic"]
    assert events[1]["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "APIServer panic'd: KeyError: 'spec'",
        "reason": "InternalError",
        "code": 500,
    }


async def test_blocking_strict_fails_a_request_whose_first_event_is_not_stored() -> None:
    served = []

    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await recorder().authenticated(ADMIN)
        except errors.StatusError as err:
            await status_response(err)(scope, receive, send)
            return
        served.append(True)
        await json_response(b"{}")(scope, receive, send)

    backend = Backend(blocking=True, stored=False)
    policy = Policy(rules=(Rule(Level.METADATA),))
    auditor = Auditor(policy, backend)  # type: ignore[arg-type]
    auditor.strict = True
    app = WithAuditId(WithAudit(get, auditor), State())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        reply = await client.get("/api/v1/namespaces/demo/configmaps/c")
    assert reply.status_code == 500 and not served
    assert reply.json()["message"] == "Internal error occurred: failed to store audit event"
    assert len(backend.lines) == 1  # only the RequestReceived that was not stored


async def test_a_non_resource_request_has_no_object_reference() -> None:
    async def version(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        await json_response(b'{"major":"1"}')(scope, receive, send)

    _, events = await serve(version, ALL, path="/version")
    assert events[1]["verb"] == "get" and "objectRef" not in events[1]
    assert "responseObject" not in events[1]  # kube records objects of resource requests


def test_go_escapes_html_characters_and_line_separators() -> None:
    line = encoding.encode({"requestURI": "/api?a=1&b=<2>\u2028\u2029"})
    assert line == b'{"requestURI":"/api?a=1\\u0026b=\\u003c2\\u003e\\u2028\\u2029"}\n'


@pytest.mark.parametrize(
    ("headers", "client", "expected"),
    [
        ({}, "10.0.0.9", ["10.0.0.9"]),
        (
            {"x-forwarded-for": "1.1.1.1, bad, 2.2.2.2"},
            "10.0.0.9",
            ["1.1.1.1", "2.2.2.2", "10.0.0.9"],
        ),
        ({"x-forwarded-for": "10.0.0.9"}, "10.0.0.9", ["10.0.0.9"]),
        ({"x-real-ip": "3.3.3.3"}, "10.0.0.9", ["3.3.3.3", "10.0.0.9"]),
        ({"x-forwarded-for": "3.3.3.3", "x-real-ip": "3.3.3.3"}, "::1", ["3.3.3.3", "::1"]),
        ({"x-forwarded-for": "010.001.0.1"}, "::ffff:10.1.0.1", ["10.1.0.1"]),
        ({"x-forwarded-for": "fe80::1%eth0, 2001:DB8:0:0:0:0:0:1"}, None, ["2001:db8::1"]),
    ],
)
def test_source_ips_as_kube_lists_them(
    headers: dict[str, str], client: str | None, expected: list[str]
) -> None:
    scope = {
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": (client, 5000) if client else None,
    }
    assert source_ips(scope) == expected


async def test_a_long_user_agent_is_truncated() -> None:
    async def get(scope: Scope, receive: Receive, send: Send) -> None:
        await recorder().authenticated(ADMIN)
        await json_response(b"{}")(scope, receive, send)

    _, events = await serve(get, ALL, headers={"User-Agent": "x" * 2000})
    assert events[0]["userAgent"] == "x" * 1024 + "...TRUNCATED"


def test_micro_time_is_rfc3339_with_microseconds_in_utc() -> None:
    assert micro_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"
    assert micro_time(1_700_000_000_000_000_000) == "2023-11-14T22:13:20.000000Z"
