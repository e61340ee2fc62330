"""Max in-flight (services/gateway/inflight.py), as kube-apiserver's WithMaxInFlightLimit
(k8s.io/apiserver/pkg/server/filters/maxinflight.go): read-only and mutating requests
counted apart, long-running ones not at all, system:masters never refused, and over the
cap a 429 TooManyRequests "Too many requests, please try again later." with
Retry-After: 1 (apimachinery's NewTooManyRequests: details.retryAfterSeconds).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from kapi import errors
from kapi_proto import common_pb2
from services.gateway.inflight import Limiter
from services.gateway.request_info import RequestInfo, parse
from services.gateway.responses import status_response

ALICE = common_pb2.UserInfo(username="alice", groups=["system:authenticated"])
ADMIN = common_pb2.UserInfo(username="admin", groups=["system:masters", "system:authenticated"])

GET = parse("GET", "/api/v1/namespaces/ns/configmaps/c")
LIST = parse("GET", "/api/v1/namespaces/ns/configmaps")
CREATE = parse("POST", "/api/v1/namespaces/ns/configmaps")
DELETE = parse("DELETE", "/api/v1/namespaces/ns/configmaps/c")
WATCH = parse("GET", "/api/v1/namespaces/ns/configmaps", watch="true")
LOGS = parse("GET", "/api/v1/namespaces/ns/pods/p/log")
EXEC = parse("POST", "/api/v1/namespaces/ns/pods/p/exec")


class Requests:
    """Requests through ``limiter.wrap``, each held in flight until released."""

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.app = limiter.wrap(self._handler)
        self.tasks: list[asyncio.Task[None]] = []
        self.outcomes: dict[int, str] = {}
        self.refusals: list[errors.StatusError] = []

    async def _handler(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        info: RequestInfo = scope["info"]
        try:
            self.limiter.admit(scope, info, scope["user"])
        except errors.StatusError as err:
            self.refusals.append(err)
            self.outcomes[scope["n"]] = f"{err.code}"
            return
        self.outcomes[scope["n"]] = "admitted"
        if scope["fail"]:
            raise RuntimeError("handler bug")
        await scope["release"].wait()

    async def start(
        self,
        info: RequestInfo,
        user: common_pb2.UserInfo = ALICE,
        release: asyncio.Event | None = None,
        *,
        fail: bool = False,
    ) -> str:
        n = len(self.tasks)
        scope = {
            "type": "http",
            "info": info,
            "user": user,
            "n": n,
            "fail": fail,
            "release": release or asyncio.Event(),
        }
        task = asyncio.create_task(self.app(scope, None, None))  # type: ignore[arg-type]
        self.tasks.append(task)
        while n not in self.outcomes:
            await asyncio.sleep(0)
        return self.outcomes[n]


async def test_read_only_requests_over_the_cap_get_429() -> None:
    requests = Requests(Limiter(read_only=2, mutating=1))
    release = asyncio.Event()
    assert await requests.start(GET, release=release) == "admitted"
    assert await requests.start(LIST, release=release) == "admitted"
    assert await requests.start(GET) == "429"
    assert requests.limiter.read_only == 2
    release.set()
    await asyncio.gather(*requests.tasks)
    assert requests.limiter.read_only == 0
    assert await requests.start(GET, release=release) == "admitted"  # a place again


async def test_mutating_and_read_only_are_counted_apart() -> None:
    requests = Requests(Limiter(read_only=1, mutating=1))
    release = asyncio.Event()
    assert await requests.start(CREATE, release=release) == "admitted"
    assert await requests.start(DELETE) == "429"
    assert await requests.start(GET, release=release) == "admitted"  # reads still served
    assert await requests.start(LIST) == "429"
    release.set()
    await asyncio.gather(*requests.tasks)
    assert (requests.limiter.read_only, requests.limiter.mutating) == (0, 0)


@pytest.mark.parametrize("info", [WATCH, LOGS, EXEC], ids=["watch", "log", "exec"])
async def test_long_running_requests_are_not_counted(info: RequestInfo) -> None:
    requests = Requests(Limiter(read_only=1, mutating=1))
    release = asyncio.Event()
    for _ in range(5):
        assert await requests.start(info, release=release) == "admitted"
    assert (requests.limiter.read_only, requests.limiter.mutating) == (0, 0)
    release.set()
    await asyncio.gather(*requests.tasks)


async def test_system_masters_are_served_over_the_cap_without_a_place() -> None:
    requests = Requests(Limiter(read_only=1, mutating=1))
    release = asyncio.Event()
    assert await requests.start(GET, release=release) == "admitted"
    assert await requests.start(GET, ADMIN, release=release) == "admitted"
    assert requests.limiter.read_only == 1
    release.set()
    await asyncio.gather(*requests.tasks)
    assert requests.limiter.read_only == 0


async def test_a_failing_request_gives_its_place_back() -> None:
    requests = Requests(Limiter(read_only=1, mutating=1))
    assert await requests.start(CREATE, fail=True) == "admitted"
    with pytest.raises(RuntimeError):
        await requests.tasks[-1]
    assert requests.limiter.mutating == 0


async def test_zero_means_no_limit() -> None:
    requests = Requests(Limiter(read_only=0, mutating=0))
    release = asyncio.Event()
    for _ in range(50):
        assert await requests.start(CREATE, release=release) == "admitted"
    release.set()
    await asyncio.gather(*requests.tasks)


async def test_the_429_is_kubes() -> None:
    requests = Requests(Limiter(read_only=1, mutating=1))
    release = asyncio.Event()
    await requests.start(GET, release=release)
    assert await requests.start(GET) == "429"
    release.set()
    await asyncio.gather(*requests.tasks)
    response = status_response(requests.refusals[0])
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert orjson.loads(bytes(response.body)) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Too many requests, please try again later.",
        "reason": "TooManyRequests",
        "details": {"retryAfterSeconds": 1},
        "code": 429,
    }


async def test_the_gauge_reports_the_most_in_flight_within_the_last_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """apiserver_current_inflight_requests: kube's watermark of the last second, so a
    burst that has ended by the scrape is still seen."""
    now = [100.0]
    monkeypatch.setattr("services.gateway.inflight.time.monotonic", lambda: now[0])
    requests = Requests(Limiter(read_only=10, mutating=10))
    release = asyncio.Event()
    for _ in range(3):
        assert await requests.start(GET, release=release) == "admitted"
    assert await requests.start(CREATE, release=release) == "admitted"
    release.set()
    await asyncio.gather(*requests.tasks)
    assert (requests.limiter.read_only, requests.limiter.mutating) == (0, 0)
    assert requests.limiter.peak_last_second() == (3, 1)
    now[0] = 101.5  # the next second: the burst was within the last one
    assert requests.limiter.peak_last_second() == (3, 1)
    assert await requests.start(GET, release=release) == "admitted"  # a new second begins
    await asyncio.gather(*requests.tasks)
    assert requests.limiter.peak_last_second() == (3, 1)
    now[0] = 103.0  # two seconds on: only what is in flight now
    assert requests.limiter.peak_last_second() == (0, 0)
