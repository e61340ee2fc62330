"""The gateway's metrics: kube-apiserver's request, in-flight, watch and authentication
metrics, with its names, labels and buckets.

Sources (kubernetes/kubernetes, staging/src/k8s.io/apiserver/pkg/):
``endpoints/metrics/metrics.go`` (``apiserver_request_total``,
``apiserver_request_duration_seconds``, ``apiserver_response_sizes``,
``apiserver_longrunning_requests``, ``apiserver_current_inflight_requests``,
``apiserver_request_terminations_total``, ``apiserver_watch_events_total`` and
``_sizes``; the verb and scope rules: ``CanonicalVerb``, ``CleanVerb``,
``cleanDryRun``), ``endpoints/installer.go`` (a route's scope) and
``endpoints/filters/metrics.go`` (``authentication_attempts``,
``authenticated_user_requests``, ``authentication_duration_seconds``,
``authorization_attempts_total``, ``authorization_duration_seconds``).

What kube counts, this counts: a resource request once it reaches its handler (after
authentication, the in-flight cap, authorization and the route: a 401, a 403 or a path
no route serves is not in ``apiserver_request_total``, as there), a request the
in-flight cap refuses (code 429), and ``/healthz`` ``/livez`` ``/readyz`` under their
path. Label values come only from the type table and fixed sets, so a client cannot
grow the series without bound.

Per request: one lookup of the series of its labels (cached), one perf_counter pair,
and two or three cell updates (``kapi.metrics`` says why cells).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kapi import errors, metrics
from kapi_proto import common_pb2
from services.authz.client import AuthzClient, Verdict
from services.gateway.auth import Gatekeeper
from services.gateway.inflight import Limiter, is_long_running
from services.gateway.request_info import RequestInfo
from services.registry.types import ResourceType

COMPONENT = "apiserver"
# The verbs kube reports; any other is "other" (metrics.go validRequestMethods).
REPORTED_VERBS = frozenset(
    {
        "APPLY",
        "CONNECT",
        "CREATE",
        "DELETE",
        "DELETECOLLECTION",
        "GET",
        "LIST",
        "PATCH",
        "POST",
        "PROXY",
        "PUT",
        "UPDATE",
        "WATCH",
        "WATCHLIST",
    }
)
CONNECT_SUBRESOURCES = frozenset({"log", "exec", "portforward", "attach", "proxy"})
APPLY_PATCH = "application/apply-patch+yaml"
# /healthz, /livez and /readyz are counted as kube counts them (their root paths only).
HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})

RESPONSE_SIZE_BUCKETS = metrics.exponential_buckets(1000, 10.0, 7)  # 1 KB .. 1 GB
WATCH_EVENT_SIZE_BUCKETS = metrics.exponential_buckets(1024, 2.0, 8)  # 1 KiB .. 128 KiB
AUTH_DURATION_BUCKETS = metrics.exponential_buckets(0.001, 2, 15)

_REQUEST = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")
_NO_DRY_RUN = ("verb", "group", "version", "resource", "subresource", "scope", "component")
_SCOPE_KEY = "kapi.metrics"


# --- labels ---------------------------------------------------------------------------


def scope_of(method: str, info: RequestInfo, namespaced: bool) -> str:
    """The scope label of the route that serves the request (installer.go): a request
    across all namespaces is "cluster"; one naming an object, or a create, "resource";
    else "namespace" or "cluster" by the resource's scope. Non-resource paths: ""."""
    if not info.is_resource_request:
        return ""
    if namespaced and not info.namespace:
        return "cluster"
    if info.name or method == "POST":
        return "resource"
    return "namespace" if namespaced else "cluster"


def reported_verb(method: str, info: RequestInfo, scope: str, content_type: str = "") -> str:
    """The verb label: the HTTP method made canonical (GET of a collection: LIST), a
    watch WATCH, a server-side apply APPLY, a connect subresource CONNECT, anything
    else kube does not know "other"."""
    method = method.upper()
    if info.is_resource_request and info.subresource in CONNECT_SUBRESOURCES:
        return "CONNECT"
    if info.verb == "watch":
        return "WATCH"
    if method in ("GET", "HEAD"):
        return "GET" if scope in ("resource", "") else "LIST"
    if method == "PATCH" and content_type == APPLY_PATCH:
        return "APPLY"
    return method if method in REPORTED_VERBS else "other"


def dry_run_label(query_string: bytes) -> str:
    """``cleanDryRun``: "" without ``dryRun``; its values sorted and deduplicated when
    every one is valid ("All"), else "invalid"."""
    if b"dryRun" not in query_string:
        return ""
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("dryRun", [])
    if any(value != "All" for value in values):
        return "invalid"
    return ",".join(sorted(set(values)))


def compress_username(username: str) -> str:
    """``authenticated_user_requests``' username: a few known names, "email_id" for
    what looks like an address, else "other" (filters/metrics.go compressUsername)."""
    if username in (
        "admin",
        "client",
        "kube_proxy",
        "kubelet",
        "system:serviceaccount:kube-system:default",
    ):
        return username
    if "@" in username:
        return "email_id"
    return "other"


# --- one kind of request ----------------------------------------------------------------


class Series:
    """The cells of one label set: what a request of this kind records when it ends."""

    __slots__ = ("_codes", "_counter", "_labels", "duration", "longrunning", "sizes")

    def __init__(
        self,
        owner: GatewayMetrics,
        labels: tuple[str, ...],
        *,
        sized: bool,
        long_running: bool,
    ) -> None:
        self._labels = labels
        self._counter = owner.requests
        self._codes: dict[int, metrics.Cell] = {}
        self.duration = owner.durations.labels(*labels)
        plain = (labels[0], *labels[2:])  # without dry_run
        self.sizes = owner.sizes.labels(*plain) if sized else None
        self.longrunning = owner.longrunning.labels(*plain) if long_running else None

    def done(self, code: int, size: int, seconds: float) -> None:
        cell = self._codes.get(code)
        if cell is None:
            cell = self._codes[code] = self._counter.labels(*self._labels, str(code))
        cell.inc()
        self.duration.observe(seconds)
        if self.sizes is not None:
            self.sizes.observe(size)


class GatewayMetrics:
    def __init__(self, inflight: Limiter) -> None:
        self.registry = metrics.Registry("gateway")
        r = self.registry
        self.requests = r.counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            (*_REQUEST, "code"),
        )
        self.durations = r.histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            _REQUEST,
            buckets=metrics.REQUEST_DURATION_BUCKETS,
        )
        self.sizes = r.histogram(
            "apiserver_response_sizes",
            "Response size distribution in bytes for each group, version, verb, resource, "
            "subresource, scope and component.",
            _NO_DRY_RUN,
            buckets=RESPONSE_SIZE_BUCKETS,
        )
        self.longrunning = r.gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component. Not all requests are tracked this way.",
            _NO_DRY_RUN,
        )
        self.terminations = r.counter(
            "apiserver_request_terminations_total",
            "Number of requests which apiserver terminated in self-defense.",
            (*_NO_DRY_RUN, "code"),
        )
        r.add(
            metrics.GaugeFunc(
                "apiserver_current_inflight_requests",
                "Maximal number of currently used inflight request limit of this apiserver "
                "per request kind in last second.",
                ("request_kind",),
                lambda: _in_flight(inflight),
            )
        )
        self.watch_events = r.counter(
            "apiserver_watch_events_total",
            "Number of events sent in watch clients",
            ("group", "version", "kind"),
        )
        self.watch_event_sizes = r.histogram(
            "apiserver_watch_events_sizes",
            "Watch event size distribution in bytes",
            ("group", "version", "kind"),
            buckets=WATCH_EVENT_SIZE_BUCKETS,
        )
        self.authenticated_users = r.counter(
            "authenticated_user_requests",
            "Counter of authenticated requests broken out by username.",
            ("username",),
        )
        self.authentication_attempts = r.counter(
            "authentication_attempts", "Counter of authenticated attempts.", ("result",)
        )
        self.authentication_durations = r.histogram(
            "authentication_duration_seconds",
            "Authentication duration in seconds broken out by result.",
            ("result",),
            buckets=AUTH_DURATION_BUCKETS,
        )
        self.authorization_attempts = r.counter(
            "authorization_attempts_total",
            "Counter of authorization attempts broken down by result. It can be either "
            "'allowed', 'denied', 'no-opinion' or 'error'.",
            ("result",),
        )
        self.authorization_durations = r.histogram(
            "authorization_duration_seconds",
            "Authorization duration in seconds broken out by result.",
            ("result",),
            buckets=AUTH_DURATION_BUCKETS,
        )
        self._series: dict[tuple[Any, ...], Series] = {}
        self._auth: dict[tuple[str, str], tuple[metrics.Cell, metrics.HistogramCell]] = {}
        self._watch: dict[tuple[str, str, str], tuple[metrics.Cell, metrics.HistogramCell]] = {}

    # --- resource requests --------------------------------------------------------------

    def begin(self, scope: Scope, info: RequestInfo, rt: ResourceType) -> None:
        """The request has reached its handler: it is counted when its reply ends (by
        ``instrumented``), and a long-running one is counted while it runs."""
        method: str = scope["method"]
        query: bytes = scope.get("query_string", b"")
        dry_run = dry_run_label(query) if b"dryRun" in query else ""
        apply = method == "PATCH" and _header(scope, b"content-type") == APPLY_PATCH
        key = (
            method,
            info.verb,
            info.group,
            info.version,
            info.resource,
            info.subresource,
            bool(info.name),
            bool(info.namespace),
            rt.namespaced,
            dry_run,
            apply,
        )
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(
                method, info, rt.namespaced, dry_run, APPLY_PATCH if apply else ""
            )
        if series.longrunning is not None:
            series.longrunning.inc()
        scope[_SCOPE_KEY] = series

    def _new_series(
        self, method: str, info: RequestInfo, namespaced: bool, dry_run: str, content_type: str
    ) -> Series:
        scope = scope_of(method, info, namespaced)
        verb = reported_verb(method, info, scope, content_type)
        labels = (
            verb,
            dry_run,
            info.group,
            info.version,
            info.resource,
            info.subresource,
            scope,
            COMPONENT,
        )
        # Response sizes of the GET and LIST routes (a ?watch=true watch is served by the
        # LIST route and counted there, as in kube; a /watch/ path is not).
        sized = (
            method in ("GET", "HEAD")
            and verb != "CONNECT"
            and not (info.verb == "watch" and "/watch/" in info.path)
        )
        return Series(self, labels, sized=sized, long_running=is_long_running(info))

    def dropped(self, scope: Scope, info: RequestInfo, rt: ResourceType | None) -> None:
        """A request the in-flight cap refused (429): ``RecordDroppedRequest`` and
        ``RecordRequestTermination``. Resource labels only for a known resource."""
        method: str = scope["method"]
        query: bytes = scope.get("query_string", b"")
        if rt is None:
            info = RequestInfo(path=info.path, verb=info.verb)
        scope_label = scope_of(method, info, rt.namespaced if rt is not None else False)
        verb = reported_verb(method, info, scope_label, _header(scope, b"content-type"))
        where = (info.group, info.version, info.resource, info.subresource, scope_label, COMPONENT)
        code = "429"
        self.requests.labels(verb, dry_run_label(query), *where, code).inc()
        self.terminations.labels(verb, *where, code).inc()

    def instrumented(self, app: ASGIApp) -> ASGIApp:
        """``app`` timed from the request's arrival to its reply's end; the request is
        counted if its handler was reached (``begin``), with the reply's code and size."""

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            start = time.perf_counter()
            reply = _Reply(send)
            try:
                await app(scope, receive, reply)
            finally:
                series: Series | None = scope.get(_SCOPE_KEY)
                if series is not None:
                    if series.longrunning is not None:
                        series.longrunning.dec()
                    series.done(reply.status, reply.size, time.perf_counter() - start)

        return measured

    # --- the rest -----------------------------------------------------------------------

    def health(self, path: str, code: int, size: int, seconds: float) -> None:
        """``/healthz``, ``/livez`` or ``/readyz`` answered (healthz.go instruments its
        root path: verb GET, the path as subresource, no component)."""
        if path not in HEALTH_PATHS:
            return
        key = ("health", path)
        series = self._series.get(key)
        if series is None:
            labels = ("GET", "", "", "", "", path, "", "")
            series = self._series[key] = Series(self, labels, sized=True, long_running=False)
        series.done(code, size, seconds)

    def watch_cells(self, rt: ResourceType) -> tuple[metrics.Cell, metrics.HistogramCell]:
        key = (rt.group, rt.version, rt.kind)
        cells = self._watch.get(key)
        if cells is None:
            cells = self._watch[key] = (
                self.watch_events.labels(*key),
                self.watch_event_sizes.labels(*key),
            )
        return cells

    async def counted_events(
        self, rt: ResourceType, lines: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        """``lines`` (a watch's JSON lines, one event each, several per chunk when a
        watcher catches up) with each event counted and sized."""
        count, sizes = self.watch_cells(rt)
        try:
            async for chunk in lines:
                events = chunk.count(b"\n")
                if events == 1:
                    count.inc()
                    sizes.observe(len(chunk))
                elif events > 1:
                    count.inc(events)
                    for line in chunk.split(b"\n")[:events]:
                        sizes.observe(len(line) + 1)
                yield chunk
        finally:
            close = getattr(lines, "aclose", None)
            if close is not None:
                await close()

    def _attempt(self, step: str, result: str) -> tuple[metrics.Cell, metrics.HistogramCell]:
        cells = self._auth.get((step, result))
        if cells is None:
            if step == "authentication":
                count, durations = self.authentication_attempts, self.authentication_durations
            else:
                count, durations = self.authorization_attempts, self.authorization_durations
            cells = self._auth[(step, result)] = (count.labels(result), durations.labels(result))
        return cells

    def authenticated(self, result: str, seconds: float, username: str = "") -> None:
        count, durations = self._attempt("authentication", result)
        count.inc()
        durations.observe(seconds)
        if result == "success":
            self.authenticated_users.labels(compress_username(username)).inc()

    def authorized(self, result: str, seconds: float) -> None:
        count, durations = self._attempt("authorization", result)
        count.inc()
        durations.observe(seconds)


class _Reply:
    """The ASGI ``send`` of a measured request: passes each message on, noting the
    status and the body's bytes (no coroutine of its own: it returns ``send``'s)."""

    __slots__ = ("send", "size", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500  # an exception nothing answered is answered 500 outside
        self.size = 0

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.body":
            self.size += len(message.get("body", b""))
        elif message["type"] == "http.response.start":
            self.status = message["status"]
        return self.send(message)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _in_flight(inflight: Limiter) -> Iterable[tuple[tuple[str, ...], float]]:
    read_only, mutating = inflight.peak_last_second()
    return ((("readOnly",), read_only), (("mutating",), mutating))


class MeteredGatekeeper(Gatekeeper):
    """The Gatekeeper, with kube's authentication and authorization filter metrics:
    one attempt per request (a cached decision is an attempt too, as kube's token and
    webhook caches sit inside its authenticator and authorizer)."""

    def __init__(self, authz: AuthzClient, recorder: GatewayMetrics) -> None:
        super().__init__(authz)
        self.recorder = recorder

    async def authenticate(self, scope: Mapping[str, Any]) -> common_pb2.UserInfo:
        start = time.perf_counter()
        try:
            user = await super().authenticate(scope)
        except errors.StatusError as err:
            result = "failure" if err.code == 401 else "error"
            self.recorder.authenticated(result, time.perf_counter() - start)
            raise
        self.recorder.authenticated("success", time.perf_counter() - start, user.username)
        return user

    async def authorize(
        self,
        user: common_pb2.UserInfo,
        info: RequestInfo,
        scope: MutableMapping[str, Any] | None = None,
    ) -> Verdict:
        start = time.perf_counter()
        try:
            verdict = await super().authorize(user, info, scope)
        except errors.StatusError as err:
            self.recorder.authorized(
                "denied" if err.code == 403 else "error", time.perf_counter() - start
            )
            raise
        self.recorder.authorized("allowed", time.perf_counter() - start)
        return verdict
