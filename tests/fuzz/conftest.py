"""The fuzz suite's kapi: the end-to-end suite's ``cluster`` fixture (``kapi up --detach``
on free ports), a cluster of the fuzz suite's own, so what the fuzzing does (and any
service it kills) touches no other test.

``target`` sends requests to its gateway; ``seeded`` is a namespace holding one object of
each kind the suite aims at, so generated requests also reach existing objects;
``openapi`` holds the OpenAPI v3 documents kapi serves, loaded by schemathesis.

After every test, ``kapi_survives`` checks that kapi is still whole: ``/readyz`` answers
200 (it probes etcd, storage, authz and the registry), no service was restarted by
``kapi up``'s supervisor, and none holds more than ``MEMORY_CEILING``.

``fuzzed(n)`` is every fuzz test's hypothesis settings: ``n`` examples, derandomized (the
same requests on every run, so CI is reproducible), no example database, no deadline. A
test stops at its first failing request and prints it whole; ``KAPI_FUZZ_SHRINK=1`` also
shrinks it to the smallest request that still fails (minutes, not seconds, when several
tests fail), and ``KAPI_FUZZ_SCALE=10`` sends ten times as many requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, settings

from kapi import kubeconfig
from tests.e2e.conftest import Cluster, cluster  # the e2e suite's `kapi up`, reused
from tests.fuzz.wire import Target, describe

__all__ = ["cluster"]

NAMESPACE = "fuzz"
# The OpenAPI v3 documents the suite draws operations from (the path after /openapi/v3/).
DOCUMENTS = ("api/v1", "apis/apps/v1")
# A service past this after the fuzzing has a leak or an unbounded input.
MEMORY_CEILING = 1024 * 1024 * 1024
SHRINK = os.environ.get("KAPI_FUZZ_SHRINK", "") not in ("", "0")
SCALE = float(os.environ.get("KAPI_FUZZ_SCALE", "1"))


def fuzzed(examples: int) -> settings:
    """The settings of a fuzz test sending ``examples`` requests (see the module doc)."""
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        phases=phases,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,  # kapi_survives: once per test, on purpose
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


@dataclass(frozen=True)
class Seeded:
    """Objects that exist while the suite runs, by resource path."""

    namespace: str
    names: dict[str, str]  # collection path -> the name of an object in it


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children(c: Cluster) -> dict[str, tuple[Any, Any]]:
    children = c.state()["children"]
    assert isinstance(children, dict)
    return {name: (child.get("pid"), child.get("restarts")) for name, child in children.items()}


@pytest.fixture(scope="session")
def target(cluster: Cluster) -> Iterator[Target]:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    token = kubeconfig.token_of(config)
    client = Target(server, token, str(cluster.data_dir / "pki" / "ca.crt"))
    try:
        yield client
    finally:
        client.close()


def _create(target: Target, path: str, body: dict[str, Any]) -> None:
    reply = target.send("POST", path, json_body=body)
    assert reply.status == 201, describe(reply)


@pytest.fixture(scope="session")
def seeded(target: Target) -> Seeded:
    ns = f"/api/v1/namespaces/{NAMESPACE}"
    _create(target, "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    container = {"name": "c", "image": "busybox"}
    labels = {"app": "fuzz"}
    objects: list[tuple[str, dict[str, Any]]] = [
        (f"{ns}/configmaps", {"data": {"a": "1"}}),
        (f"{ns}/secrets", {"stringData": {"a": "1"}}),
        (f"{ns}/pods", {"spec": {"containers": [container]}}),
        (
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
            {
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [container]},
                    },
                }
            },
        ),
    ]
    names = {"/api/v1/namespaces": NAMESPACE}
    for path, body in objects:
        name = f"{path.rsplit('/', 1)[1][:-1]}-1"  # configmap-1, pod-1, ...
        _create(target, path, {"metadata": {"name": name}, **body})
        names[path] = name
    return Seeded(NAMESPACE, names)


@pytest.fixture(scope="session")
def openapi(target: Target) -> dict[str, schemathesis.BaseSchema]:
    """The OpenAPI v3 documents of ``DOCUMENTS``, as kapi serves them."""
    schemas = {}
    for document in DOCUMENTS:
        reply = target.session.get(
            f"{target.server}/openapi/v3/{document}",
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text[:500]
        schemas[document] = schemathesis.openapi.from_dict(reply.json())
    return schemas


@pytest.fixture(autouse=True)
def kapi_survives(cluster: Cluster, target: Target) -> Iterator[None]:
    """After the test: kapi ready, no service restarted, none over ``MEMORY_CEILING``."""
    before = _children(cluster)
    yield
    ready = target.send("GET", "/readyz", params={"verbose": "1"})
    assert ready.status == 200, f"kapi is not ready after the test:\n{describe(ready)}"
    after = _children(cluster)
    restarted = sorted(name for name in before if after.get(name) != before[name])
    assert not restarted, f"restarted during the test: {restarted} ({before} -> {after})"
    rss = {name: _rss(int(pid)) for name, (pid, _) in after.items() if pid and name != "etcd"}
    over = {name: f"{size / 2**20:.0f} MiB" for name, size in rss.items() if size > MEMORY_CEILING}
    assert not over, f"services over {MEMORY_CEILING / 2**20:.0f} MiB after the test: {over}"
