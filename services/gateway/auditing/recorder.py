"""One request's audit event, built as kube-apiserver builds it, and its stages sent.

kube: k8s.io/apiserver/pkg/audit/request.go (LogRequestMetadata, LogRequestObject,
LogRequestPatch, LogResponseObject), context.go (AuditContext, annotations,
LogImpersonatedUser), pkg/endpoints/filters/audit.go (WithAudit: the stages),
authn_audit.go (a failed authentication), authorization.go (the decision annotations).

The gateway's handlers call the hooks of the request's ``Recorder`` (``current()``; None
when auditing is off, so a hook costs one context-variable read) at the points kube's
filters sit:

- ``authenticated`` right after authentication, before impersonation: the policy is
  matched against the authenticated user and the request (kube's WithAudit sits there)
  and ``RequestReceived`` goes out;
- ``impersonated`` with the user the request then runs as (``impersonatedUser``);
- ``authorized`` with the authorizer's decision and reason (the annotations);
- ``request_object`` / ``request_patch`` with a write's body (``requestObject``);
- ``response_object`` / ``response_status`` with the reply (``responseObject``, and the
  Status fields kube copies into ``responseStatus``);
- ``panicked`` with a bug (the ``Panic`` stage replaces ``ResponseComplete``).

The middleware (``middleware.WithAudit``) tells it when the reply starts
(``ResponseStarted``, for long-running requests only, as kube) and ends
(``ResponseComplete``). A request that never authenticated and is answered 401 gets the
single ``ResponseStarted`` event of kube's WithFailedAuthenticationAudit, with an empty
user.

Each stage is a snapshot: a new dict in kube's field order, serialized by the backend
(off the event loop). Nested values are replaced, never mutated, once set.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any, Protocol

import orjson

from kapi import audit_id, errors
from services.gateway.auditing import encoding
from services.gateway.auditing import event_fields as fields
from services.gateway.auditing.event_fields import UserLike
from services.gateway.auditing.policy import Level, Policy, RequestAuditConfig, Stage
from services.gateway.request_info import RequestInfo, parse

API_VERSION = "audit.k8s.io/v1"
DECISION_ANNOTATION = "authorization.k8s.io/decision"
REASON_ANNOTATION = "authorization.k8s.io/reason"
DECISION_ALLOW = "allow"
DECISION_FORBID = "forbid"
REASON_ERROR = "internal error"
# Admission's annotations recorded only from level Request up (kube adds them with
# AddAnnotationWithLevel(LevelRequest): mutating/dispatcher.go's webhook patches, which
# carry request content).
REQUEST_LEVEL_ANNOTATION_PREFIXES = ("patch.webhook.admission.k8s.io/",)

# kube's BasicLongRunningRequestCheck: these get a ResponseStarted event.
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})

_STATUS_PREFIX = b'{"kind":"Status"'


class Sink(Protocol):
    """Where events go (``backend.LogBackend``)."""

    def process(self, event: dict[str, Any], weight: int) -> Awaitable[bool] | None:
        """Queue ``event`` (owned by the sink from now on); an awaitable saying whether it
        was stored when the caller is to wait for it (blocking modes), else None."""
        ...


_current: ContextVar[Recorder | None] = ContextVar("kapi_audit_recorder", default=None)


def current() -> Recorder | None:
    """The request's recorder; None when auditing is off (no policy, or no log)."""
    return _current.get()


def bind(recorder: Recorder) -> Token[Recorder | None]:
    """Make ``recorder`` this context's (the request's task and what it starts)."""
    return _current.set(recorder)


def unbind(token: Token[Recorder | None]) -> None:
    _current.reset(token)


def is_long_running(info: RequestInfo) -> bool:
    if info.verb in LONG_RUNNING_VERBS:
        return True
    return info.is_resource_request and info.subresource in LONG_RUNNING_SUBRESOURCES


class Recorder:
    """The audit event of one request (kube's AuditContext). Not thread-safe: the
    request's task alone calls it."""

    __slots__ = (
        "_annotations",
        "_head",
        "_impersonated",
        "_info",
        "_object_ref",
        "_panic",
        "_policy",
        "_received",
        "_request_object",
        "_response_object",
        "_scope",
        "_sink",
        "_source_ips",
        "_status",
        "_strict",
        "_user",
        "_user_agent",
        "_weight",
        "code",
        "config",
        "done",
        "received_ns",
    )

    def __init__(
        self, policy: Policy, sink: Sink, scope: Mapping[str, Any], *, strict: bool = False
    ) -> None:
        self._policy = policy
        self._sink = sink
        self._scope = scope
        self._strict = strict
        self.received_ns = time.time_ns()
        self.config: RequestAuditConfig | None = None  # None: the policy not matched yet
        self.done = False  # no event is sent any more (kube returned from its filter)
        self.code: int | None = None
        self._info: RequestInfo | None = None
        self._user: dict[str, Any] = {}
        self._impersonated: dict[str, Any] | None = None
        self._object_ref: dict[str, str] | None = None
        self._status: dict[str, Any] | None = None  # the Status fields kube copies
        self._request_object: encoding.Payload | None = None
        self._response_object: encoding.Payload | None = None
        self._annotations: dict[str, str] = {}
        self._panic: str | None = None
        self._head: dict[str, Any] = {}
        self._source_ips: list[str] = []
        self._user_agent = ""
        self._received = ""
        self._weight = 0

    # --- hooks ----------------------------------------------------------------------

    @property
    def level(self) -> Level:
        """The request's level; before the policy is matched, the highest: what is
        learnt then is kept until the verdict is known (kube: an unset level counts as
        enabled)."""
        return self.config.level if self.config is not None else Level.REQUEST_RESPONSE

    async def authenticated(self, user: UserLike) -> None:
        """The authenticated user is known: match the policy, send RequestReceived. In
        blocking modes, wait until it is stored; blocking-strict fails the request (500)
        when it could not be (kube's WithAudit)."""
        if self.config is not None:
            return
        pending = self._receive(user)
        if pending is not None and not await pending and self._strict:
            self.done = True
            raise errors.internal("failed to store audit event")

    def impersonated(self, user: UserLike) -> None:
        if self.level >= Level.METADATA:
            self._impersonated = fields.user_info(user)

    def authorized(self, allowed: bool, reason: str) -> None:
        """WithAuthorization's annotations: the decision and the authorizer's reason."""
        decision = DECISION_ALLOW if allowed else DECISION_FORBID
        self.annotate(DECISION_ANNOTATION, decision)
        self.annotate(REASON_ANNOTATION, reason)

    def authorization_failed(self) -> None:
        """The authorizer could not be asked (kube: an error without a decision)."""
        self.annotate(REASON_ANNOTATION, REASON_ERROR)

    def annotate(self, key: str, value: str) -> None:
        """An audit annotation; a key once set keeps its first value (as kube)."""
        self.annotate_at(Level.METADATA, key, value)

    def admission_annotation(self, key: str, value: str) -> None:
        """An annotation admission asked for, at the level its key needs."""
        level = (
            Level.REQUEST if key.startswith(REQUEST_LEVEL_ANNOTATION_PREFIXES) else Level.METADATA
        )
        self.annotate_at(level, key, value)

    def annotate_at(self, level: Level, key: str, value: str) -> None:
        """An annotation recorded only when the request's level is ``level`` or higher
        (kube's annotation levels: ``getAnnotations(maxLevel)``)."""
        if self.level >= level and key not in self._annotations:
            self._annotations = {**self._annotations, key: value}

    def request_object(self, value: Any, encoded: bytes) -> None:
        """A create's or update's body (or a delete's options), decoded: the object
        reference takes its namespace, name, uid and resourceVersion where the URL gave
        none; at Request level and above it is the ``requestObject``."""
        if self.level < Level.METADATA:
            return
        meta = value.get("metadata") if isinstance(value, dict) else None
        if isinstance(meta, dict) and self._object_ref is not None:
            ref = dict(self._object_ref)
            for key in ("namespace", "name", "uid", "resourceVersion"):
                given = meta.get(key)
                if not ref.get(key) and isinstance(given, str) and given:
                    ref[key] = given
            self._object_ref = _ordered_ref(ref)
        if self.level >= Level.REQUEST:
            omit = self.config is not None and self.config.omit_managed_fields
            self._request_object = encoding.Payload.of_value(value, encoded, omit)
            self._weight += len(encoded)

    def request_patch(self, patch: bytes) -> None:
        """A patch body as sent (kube records it as is, not the object patched)."""
        if self.level >= Level.REQUEST:
            self._request_object = encoding.Payload.of_json(patch, compact=False)
            self._weight += len(patch)

    def response_object(self, body: bytes | Callable[[], bytes], size: int) -> None:
        """A reply's JSON (or what produces it): a Status's fields go to
        ``responseStatus``; at RequestResponse level, a resource request's object (and
        any Status) is the ``responseObject``."""
        level = self.level
        if level < Level.METADATA:
            return
        is_status = isinstance(body, bytes) and body.startswith(_STATUS_PREFIX)
        if is_status:
            assert isinstance(body, bytes)
            with contextlib.suppress(orjson.JSONDecodeError):
                self.response_status(orjson.loads(body))
        if level < Level.REQUEST_RESPONSE:
            return
        if is_status or (self._info is not None and self._info.is_resource_request):
            omit = self.config is not None and self.config.omit_managed_fields
            self._response_object = encoding.Payload.of_json(body, compact=True, omit=omit)
            self._weight += size

    def response_status(self, status: Mapping[str, Any]) -> None:
        """The Status fields kube copies (status, message, reason, details, code)."""
        if self.level < Level.METADATA:
            return
        copied: dict[str, Any] = {}
        for key in ("status", "message", "reason"):
            value = status.get(key)
            if isinstance(value, str) and value:
                copied[key] = value
        if status.get("details") is not None:
            copied["details"] = status["details"]
        code = status.get("code")
        if isinstance(code, int) and code:
            copied["code"] = code
        self._status = copied

    def panicked(self, exc: BaseException) -> None:
        """An unexpected exception answered as a 500: the Panic stage, as kube's
        recover() in WithAudit."""
        if self._panic is None:
            self._panic = f"APIServer panic'd: {type(exc).__name__}: {exc}"

    # --- driven by the middleware ---------------------------------------------------

    def started(self, code: int) -> Awaitable[bool] | None:
        """The reply's status line is going out."""
        if self.code is not None or self.done:
            return None
        self.code = code
        if self.config is None:
            if code == 401:
                return self._failed_authentication()
            self._receive(None)  # answered before it was authenticated (a bug): late
        if self.level >= Level.METADATA and self._long_running():
            return self._emit(Stage.RESPONSE_STARTED)
        return None

    def finished(self) -> Awaitable[bool] | None:
        """The handler returned (or raised): ResponseComplete, or Panic."""
        if self.done or self.config is None or self.level < Level.METADATA:
            self.done = True
            return None
        pending: Awaitable[bool] | None
        if self._panic is not None:
            self._status = {
                "status": "Failure",
                "message": self._panic,
                "reason": "InternalError",
                "code": 500,
            }
            self.code = 500
            pending = self._emit(Stage.PANIC)
        else:
            if self.code is None:
                # No status line was sent (the client went away first): kube fakes one.
                self._status = {"status": "Success", "message": "Connection closed early"}
                self.code = 200
                if self._long_running():
                    self._emit(Stage.RESPONSE_STARTED)
            pending = self._emit(Stage.RESPONSE_COMPLETE)
        self.done = True
        return pending

    # --- inside -----------------------------------------------------------------------

    def _long_running(self) -> bool:
        return self._info is not None and is_long_running(self._info)

    def _receive(self, user: UserLike | None) -> Awaitable[bool] | None:
        """Match the policy; if the request is audited, RequestReceived."""
        return self._emit(Stage.REQUEST_RECEIVED) if self._match(user) else None

    def _failed_authentication(self) -> Awaitable[bool] | None:
        """authn_audit.go: one ResponseStarted event, no user, no RequestReceived."""
        self.done = True
        return self._emit(Stage.RESPONSE_STARTED) if self._match(None) else None

    def _match(self, user: UserLike | None) -> bool:
        """The policy's verdict for this request; when it is audited, the event's fixed
        fields (LogRequestMetadata)."""
        info = self._request_info()
        self._info = info
        if user is None:
            config = self._policy.evaluate(None, (), info)
        else:
            config = self._policy.evaluate(user.username, user.groups, info)
        self.config = config
        if config.level < Level.METADATA:
            return False
        scope = self._scope
        self._user = fields.user_info(user)
        self._head = {
            "kind": "Event",
            "apiVersion": API_VERSION,
            "level": config.level.wire,
            "auditID": audit_id.current(),
            "stage": "",
            "requestURI": fields.request_uri(scope),
            "verb": info.verb,
        }
        agent, forwarded, real = fields.headers(scope)
        self._source_ips = fields.source_ips_from(scope, forwarded, real)
        self._user_agent = fields.user_agent(agent)
        self._received = fields.micro_time(self.received_ns)
        if info.is_resource_request:
            self._object_ref = _ordered_ref(
                {
                    "resource": info.resource,
                    "namespace": info.namespace,
                    "name": info.name,
                    "apiGroup": info.group,
                    "apiVersion": info.version,
                    "subresource": info.subresource,
                }
            )
        return True

    def _request_info(self) -> RequestInfo:
        scope = self._scope
        watch = fields.query_value(scope.get("query_string", b""), "watch")
        return parse(scope.get("method", "GET"), scope.get("path", "/"), watch=watch)

    def _emit(self, stage: Stage) -> Awaitable[bool] | None:
        assert self.config is not None
        if stage in self.config.omit_stages:
            return None
        stamp = self.received_ns if stage is Stage.REQUEST_RECEIVED else time.time_ns()
        return self._sink.process(self._snapshot(stage, stamp), self._weight)

    def _snapshot(self, stage: Stage, stamp_ns: int) -> dict[str, Any]:
        """The event at this stage, in the field order of audit.k8s.io/v1 Event."""
        event = dict(self._head)
        event["stage"] = stage.value
        event["user"] = self._user
        if self._impersonated is not None:
            event["impersonatedUser"] = self._impersonated
        if self._source_ips:
            event["sourceIPs"] = self._source_ips
        if self._user_agent:
            event["userAgent"] = self._user_agent
        if self._object_ref is not None:
            event["objectRef"] = self._object_ref
        if self.code is not None or self._status is not None:
            status: dict[str, Any] = {"metadata": {}}
            status.update(self._status or {})
            code = status.pop("code", None)
            if self.code is not None:
                code = self.code
            if code:
                status["code"] = code
            event["responseStatus"] = status
        level = self.level
        if self._request_object is not None and level >= Level.REQUEST:
            event["requestObject"] = self._request_object
        if self._response_object is not None and level >= Level.REQUEST_RESPONSE:
            event["responseObject"] = self._response_object
        event["requestReceivedTimestamp"] = self._received
        event["stageTimestamp"] = (
            self._received if stamp_ns == self.received_ns else fields.micro_time(stamp_ns)
        )
        if self._annotations:
            event["annotations"] = dict(sorted(self._annotations.items()))
        return event


_REF_ORDER = (
    "resource",
    "namespace",
    "name",
    "uid",
    "apiGroup",
    "apiVersion",
    "resourceVersion",
    "subresource",
)


def _ordered_ref(ref: Mapping[str, str]) -> dict[str, str]:
    """audit.k8s.io/v1 ObjectReference: its fields in order, empty ones omitted."""
    return {key: ref[key] for key in _REF_ORDER if ref.get(key)}
