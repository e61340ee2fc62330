"""Max in-flight: a cap on the requests the gateway serves at once, read-only and
mutating apart, as kube-apiserver's ``--max-requests-inflight`` (400) and
``--max-mutating-requests-inflight`` (200) (k8s.io/apiserver/pkg/server/filters/maxinflight.go).

A request over its cap is refused at once with 429 TooManyRequests and ``Retry-After: 1``,
never queued. Long-running requests (watches, and the attach/exec/log/portforward/proxy
subresources: kube-apiserver's BasicLongRunningRequestCheck) are not counted, nor are the
requests of ``system:masters`` once the cap is reached (kube serves a super-user always).

A request takes its slot once it is authenticated (the filter runs after authentication
and impersonation, as in kube's handler chain) and gives it back when its reply has been
sent, not when the handler returns: ``Limiter.wrap`` puts a holder in the ASGI scope that
``Limiter.admit`` fills and the wrapper empties.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from kapi import errors
from kapi_proto import common_pb2
from services.gateway.request_info import RequestInfo

# kube-apiserver's defaults (pkg/server/options/server_run_options.go).
MAX_REQUESTS_INFLIGHT = 400
MAX_MUTATING_REQUESTS_INFLIGHT = 200

READ_ONLY_VERBS = frozenset({"get", "list", "watch"})
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
PRIVILEGED_GROUP = "system:masters"

# kube's words and retry interval (maxinflight.go tooManyRequests, retryAfter = "1").
MESSAGE = "Too many requests, please try again later."
RETRY_AFTER_SECONDS = 1

_SCOPE_KEY = "kapi.inflight"


def is_long_running(info: RequestInfo) -> bool:
    if info.verb in LONG_RUNNING_VERBS:
        return True
    return info.is_resource_request and info.subresource in LONG_RUNNING_SUBRESOURCES


@dataclass
class _Slot:
    """Which count the request holds, if any; filled by ``admit``, emptied by the wrapper."""

    mutating: bool | None = None


class Limiter:
    """Counts the requests in flight. A limit of 0 means no limit, as kube's flags."""

    def __init__(
        self,
        *,
        read_only: int = MAX_REQUESTS_INFLIGHT,
        mutating: int = MAX_MUTATING_REQUESTS_INFLIGHT,
    ) -> None:
        self.read_only_limit = read_only
        self.mutating_limit = mutating
        self.read_only = 0
        self.mutating = 0
        # The most in use during this second and the one before (whole seconds of the
        # monotonic clock), for apiserver_current_inflight_requests.
        self._second = 0
        self._peaks = [0, 0]
        self._previous = (0, (0, 0))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` with a slot holder in each request's scope, released when it returns."""

        async def releasing(scope: Scope, receive: Receive, send: Send) -> None:
            slot = _Slot()
            scope[_SCOPE_KEY] = slot
            try:
                await app(scope, receive, send)
            finally:
                if slot.mutating is True:
                    self.mutating -= 1
                elif slot.mutating is False:
                    self.read_only -= 1
                slot.mutating = None

        return releasing

    def admit(self, scope: Scope, info: RequestInfo, user: common_pb2.UserInfo) -> None:
        """Take a slot for this request until its reply is sent, or raise 429."""
        if is_long_running(info):
            return
        mutating = info.verb not in READ_ONLY_VERBS
        limit = self.mutating_limit if mutating else self.read_only_limit
        if not limit:
            return
        slot: _Slot = scope[_SCOPE_KEY]
        if slot.mutating is not None:
            return  # taken already (a handler that admits twice holds one slot)
        in_flight = self.mutating if mutating else self.read_only
        if in_flight >= limit:
            if PRIVILEGED_GROUP in user.groups:
                return
            raise errors.too_many_requests(MESSAGE, RETRY_AFTER_SECONDS)
        if mutating:
            self.mutating += 1
        else:
            self.read_only += 1
        slot.mutating = mutating
        self._note_peak()

    def _note_peak(self) -> None:
        second = int(time.monotonic())
        if second != self._second:
            self._previous = (self._second, (self._peaks[0], self._peaks[1]))
            self._second, self._peaks = second, [self.read_only, self.mutating]
        else:
            if self.read_only > self._peaks[0]:
                self._peaks[0] = self.read_only
            if self.mutating > self._peaks[1]:
                self._peaks[1] = self.mutating

    def peak_last_second(self) -> tuple[int, int]:
        """(read-only, mutating): the most requests in flight at once within about the
        last second, as kube-apiserver's gauge reports the high-water mark of the last
        second (maxinflight.go's watermark, sampled each second)."""
        now = int(time.monotonic())
        read_only, mutating = self.read_only, self.mutating
        for second, (ro, mut) in ((self._second, (self._peaks[0], self._peaks[1])), self._previous):
            if second >= now - 1:
                read_only, mutating = max(read_only, ro), max(mutating, mut)
        return read_only, mutating
