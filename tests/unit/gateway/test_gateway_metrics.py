"""The labels of apiserver_request_total and its siblings (services/gateway/metrics.py),
as kube-apiserver sets them: k8s.io/apiserver/pkg/endpoints/metrics/metrics.go
(``CanonicalVerb``, ``CleanVerb``, ``cleanDryRun``, ``CleanScope``) and
endpoints/installer.go (a route's scope: "resource" for a path naming an object and
for a create, "namespace" for a namespace's collection, "cluster" across namespaces).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.gateway.inflight import Limiter
from services.gateway.metrics import (
    GatewayMetrics,
    compress_username,
    dry_run_label,
    reported_verb,
    scope_of,
)
from services.gateway.request_info import parse
from services.registry.strategies import builtin_table

NS = "/api/v1/namespaces/ns"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"

# method, path, ?watch, namespaced, content type -> verb, scope
CASES = [
    ("POST", f"{NS}/configmaps", None, True, "", "POST", "resource"),
    ("GET", f"{NS}/configmaps", None, True, "", "LIST", "namespace"),
    ("GET", "/api/v1/configmaps", None, True, "", "LIST", "cluster"),
    ("GET", f"{NS}/configmaps/c", None, True, "", "GET", "resource"),
    ("HEAD", f"{NS}/configmaps/c", None, True, "", "GET", "resource"),
    ("GET", f"{NS}/configmaps", "true", True, "", "WATCH", "namespace"),
    ("GET", f"{NS}/configmaps", "1", True, "", "WATCH", "namespace"),
    ("GET", f"{NS}/configmaps", "false", True, "", "LIST", "namespace"),
    ("GET", f"{NS}/configmaps", "0", True, "", "LIST", "namespace"),
    ("GET", "/api/v1/configmaps", "true", True, "", "WATCH", "cluster"),
    ("GET", "/api/v1/watch/namespaces/ns/configmaps", None, True, "", "WATCH", "namespace"),
    ("GET", "/api/v1/watch/namespaces/ns/configmaps/c", None, True, "", "WATCH", "resource"),
    ("PUT", f"{NS}/configmaps/c", None, True, "", "PUT", "resource"),
    (
        "PATCH",
        f"{NS}/configmaps/c",
        None,
        True,
        "application/merge-patch+json",
        "PATCH",
        "resource",
    ),
    ("PATCH", f"{NS}/configmaps/c", None, True, APPLY, "APPLY", "resource"),
    # kube compares the whole header: with a parameter it is a PATCH.
    ("PATCH", f"{NS}/configmaps/c", None, True, APPLY + "; charset=utf-8", "PATCH", "resource"),
    ("DELETE", f"{NS}/configmaps/c", None, True, "", "DELETE", "resource"),
    # A delete of a collection is reported as the method, DELETE (cleanVerb only takes
    # the route's verb for a watch).
    ("DELETE", f"{NS}/configmaps", None, True, "", "DELETE", "namespace"),
    ("PUT", f"{NS}/deployments/d/status", None, True, "", "PUT", "resource"),
    ("GET", "/api/v1/nodes", None, False, "", "LIST", "cluster"),
    ("GET", "/api/v1/nodes/n", None, False, "", "GET", "resource"),
    ("POST", "/api/v1/nodes", None, False, "", "POST", "resource"),
    ("GET", "/api/v1/namespaces", None, False, "", "LIST", "cluster"),
    ("GET", "/api/v1/namespaces/ns", None, False, "", "GET", "resource"),
    ("PUT", "/api/v1/namespaces/ns/finalize", None, False, "", "PUT", "resource"),
    ("GET", f"{NS}/pods/p/log", None, True, "", "CONNECT", "resource"),
    ("POST", f"{NS}/pods/p/exec", None, True, "", "CONNECT", "resource"),
    ("GET", f"{NS}/pods/p/portforward", None, True, "", "CONNECT", "resource"),
    ("GET", f"{NS}/pods/p/proxy", None, True, "", "CONNECT", "resource"),
    ("POST", f"{NS}/pods/p/eviction", None, True, "", "POST", "resource"),
    ("OPTIONS", f"{NS}/configmaps", None, True, "", "other", "namespace"),
]


@pytest.mark.parametrize(
    ("method", "path", "watch", "namespaced", "content_type", "verb", "scope"),
    CASES,
    ids=[f"{c[0]} {c[1]} watch={c[2]} {c[4]}" for c in CASES],
)
def test_verb_and_scope(
    method: str,
    path: str,
    watch: str | None,
    namespaced: bool,
    content_type: str,
    verb: str,
    scope: str,
) -> None:
    info = parse(method, path, watch=watch)
    assert scope_of(method, info, namespaced) == scope
    assert reported_verb(method, info, scope, content_type) == verb


@pytest.mark.parametrize(
    ("path", "verb"),
    [("/healthz", "GET"), ("/version", "GET"), ("/metrics", "GET")],
)
def test_non_resource_paths_have_no_scope(path: str, verb: str) -> None:
    info = parse("GET", path)
    assert scope_of("GET", info, False) == ""
    assert reported_verb("GET", info, "") == verb


@pytest.mark.parametrize(
    ("query", "label"),
    [
        (b"", ""),
        (b"fieldManager=x", ""),
        (b"dryRun=All", "All"),
        (b"dryRun=All&dryRun=All", "All"),
        (b"dryRun=all", "invalid"),
        (b"dryRun=", "invalid"),
        (b"dryRun=All&dryRun=Some", "invalid"),
        (b"pretty=1&dryRun=All", "All"),
    ],
)
def test_dry_run_label(query: bytes, label: str) -> None:
    assert dry_run_label(query) == label


@pytest.mark.parametrize(
    ("username", "label"),
    [
        ("admin", "admin"),
        ("kubelet", "kubelet"),
        ("system:serviceaccount:kube-system:default", "system:serviceaccount:kube-system:default"),
        ("system:serviceaccount:ns:builder", "other"),
        ("jane@example.com", "email_id"),
        ("kapi-admin", "other"),
        ("system:anonymous", "other"),
    ],
)
def test_usernames_are_compressed(username: str, label: str) -> None:
    assert compress_username(username) == label


def families(recorder: GatewayMetrics) -> dict[str, Any]:
    text = recorder.registry.exposition().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample_values(recorder: GatewayMetrics, family: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for s in families(recorder)[family].samples]


async def run(recorder: GatewayMetrics, method: str, path: str, query: bytes = b"") -> None:
    """One request through ``instrumented``, reaching its handler (``begin``)."""
    table = builtin_table()
    info = parse(method, path)
    rt = table.lookup(info.group, info.version, info.resource)
    assert rt is not None

    async def handler(scope: dict[str, Any], receive: Any, send: Any) -> None:
        recorder.begin(scope, info, rt)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 1500})

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": method, "query_string": query, "headers": []}
    await recorder.instrumented(handler)(scope, None, send)  # type: ignore[arg-type]


async def test_a_request_is_counted_once_with_its_code_and_size() -> None:
    recorder = GatewayMetrics(Limiter())
    await run(recorder, "POST", f"{NS}/configmaps")
    await run(recorder, "POST", f"{NS}/configmaps", b"dryRun=All")
    await run(recorder, "GET", f"{NS}/configmaps")
    counted = sample_values(recorder, "apiserver_request")
    base = {
        "group": "",
        "version": "v1",
        "resource": "configmaps",
        "subresource": "",
        "component": "apiserver",
        "code": "201",
    }
    assert (
        {**base, "verb": "POST", "dry_run": "", "scope": "resource"},
        1.0,
    ) in counted
    assert ({**base, "verb": "POST", "dry_run": "All", "scope": "resource"}, 1.0) in counted
    assert ({**base, "verb": "LIST", "dry_run": "", "scope": "namespace"}, 1.0) in counted
    assert len(counted) == 3
    # Response sizes: reads only, without dry_run, 1500 bytes in the 10 KB bucket.
    sizes = [
        (labels, v)
        for labels, v in sample_values(recorder, "apiserver_response_sizes")
        if labels.get("le") in ("1000", "10000")
    ]
    assert sorted(v for _, v in sizes) == [0.0, 1.0]
    assert all(labels["verb"] == "LIST" and "dry_run" not in labels for labels, _ in sizes)


async def test_a_request_that_never_reached_a_handler_is_not_counted() -> None:
    recorder = GatewayMetrics(Limiter())

    async def refused(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 403, "headers": []})

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "query_string": b"", "headers": []}
    await recorder.instrumented(refused)(scope, None, send)  # type: ignore[arg-type]
    assert "apiserver_request" not in families(recorder)


async def test_a_watch_is_long_running_while_it_runs() -> None:
    recorder = GatewayMetrics(Limiter())
    table = builtin_table()
    info = parse("GET", f"{NS}/configmaps", watch="true")
    rt = table.lookup("", "v1", "configmaps")
    assert rt is not None
    running, finish = asyncio.Event(), asyncio.Event()

    async def watch(scope: dict[str, Any], receive: Any, send: Any) -> None:
        recorder.begin(scope, info, rt)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        running.set()
        await finish.wait()

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "query_string": b"watch=true", "headers": []}
    task = asyncio.create_task(recorder.instrumented(watch)(scope, None, send))  # type: ignore[arg-type]
    await running.wait()
    gauge = sample_values(recorder, "apiserver_longrunning_requests")
    assert [(labels["verb"], labels["scope"], v) for labels, v in gauge] == [
        ("WATCH", "namespace", 1.0)
    ]
    assert "apiserver_request" not in families(recorder)  # counted when it ends
    finish.set()
    await task
    assert [v for _, v in sample_values(recorder, "apiserver_longrunning_requests")] == [0.0]
    counted = sample_values(recorder, "apiserver_request")
    assert [(labels["verb"], labels["code"], v) for labels, v in counted] == [("WATCH", "200", 1.0)]


async def test_watch_events_are_counted_and_sized() -> None:
    recorder = GatewayMetrics(Limiter())
    rt = builtin_table().lookup("", "v1", "configmaps")
    assert rt is not None

    async def lines() -> Any:
        yield b'{"type":"ADDED","object":{}}\n'
        yield b'{"type":"ADDED","object":{}}\n{"type":"DELETED","object":{}}\n'

    chunks = [chunk async for chunk in recorder.counted_events(rt, lines())]
    assert len(chunks) == 2
    events = sample_values(recorder, "apiserver_watch_events")
    assert events == [({"group": "", "version": "v1", "kind": "ConfigMap"}, 3.0)]
    count = [
        v
        for labels, v in sample_values(recorder, "apiserver_watch_events_sizes")
        if labels.get("le") == "1024"
    ]
    assert count == [3.0]
