"""Hostile request bodies through the gateway and the registry: kube's 400 for what kube
refuses, nothing written, the service still ready, and the event loop free while a large
body decodes. Bodies are kept small enough that code without the limits stays in the
hundreds of KiB."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import orjson
import pytest

from kapi.json_depth import MAX_DEPTH
from services.gateway.codec import k8s_protobuf, offload
from tests.integration.conftest import ControlPlane
from tests.unit.gateway.test_k8s_protobuf import body as protobuf_body
from tests.unit.gateway.test_k8s_protobuf import ld, meta, st

pytestmark = pytest.mark.integration

YAML = "application/yaml"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def laughs(levels: int, fanout: int = 9) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def revision_yaml(name: str, data: str) -> bytes:
    """A ControllerRevision, whose ``data`` holds any JSON, with ``data`` given in YAML."""
    head = (
        f"apiVersion: apps/v1\nkind: ControllerRevision\nmetadata:\n  name: {name}\nrevision: 1\n"
    )
    return (head + "data:\n" + "".join(f"  {line}\n" for line in data.splitlines())).encode()


def revision(name: str, depth: int) -> dict[str, Any]:
    """A ControllerRevision nested exactly ``depth`` levels deep (through ``data``)."""
    data: Any = "x"
    for _ in range(depth - 1):
        data = {"a": data}
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": name},
        "revision": 1,
        "data": data,
    }


def deep_json(value: Any) -> bytes:
    """The stdlib encoder: orjson (the thing under test) cannot write these."""
    return json.dumps(value).encode()


async def assert_nothing_written_and_ready(cp: ControlPlane, collection: str) -> None:
    listed = await cp.api.get(collection)
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    assert (await cp.api.get("/readyz")).status_code == 200


async def test_yaml_bomb_create_is_400_excessive_aliasing(control_plane: ControlPlane) -> None:
    """CVE-2019-11253: kube refuses with go-yaml's "excessive aliasing"."""
    cp = control_plane
    revisions = f"/apis/apps/v1/namespaces/{cp.namespace}/controllerrevisions"
    body = revision_yaml("bomb", laughs(5))
    answer = await cp.api.post(revisions, content=body, headers={"Content-Type": YAML})
    assert answer.status_code == 400, answer.text[:300]
    status = answer.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "BadRequest", 400)
    assert status["message"] == (
        "the object provided is unrecognized (must be of type ControllerRevision): "
        f"yaml: document contains excessive aliasing ({body[:30].hex()} ...)"
    )
    await assert_nothing_written_and_ready(cp, revisions)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (laughs(5), "yaml: document contains excessive aliasing"),
        ("a: &a [*a]", "yaml: anchor 'a' value contains itself"),
    ],
)
async def test_yaml_bomb_apply_is_400_in_the_apply_handlers_words(
    control_plane: ControlPlane, data: str, problem: str
) -> None:
    cp = control_plane
    revisions = f"/apis/apps/v1/namespaces/{cp.namespace}/controllerrevisions"
    answer = await cp.api.patch(
        f"{revisions}/bomb",
        params={"fieldManager": "attacker"},
        content=revision_yaml("bomb", data),
        headers={"Content-Type": APPLY},
    )
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["reason"] == "BadRequest"
    assert answer.json()["message"] == (
        f"error decoding YAML: error converting YAML to JSON: {problem}"
    )
    await assert_nothing_written_and_ready(cp, revisions)


async def test_yaml_apply_is_read_as_kube_reads_it(control_plane: ControlPlane) -> None:
    """Integer keys become strings, timestamps stay text (sigs.k8s.io/yaml), not a 500."""
    cp = control_plane
    revisions = f"/apis/apps/v1/namespaces/{cp.namespace}/controllerrevisions"
    answer = await cp.api.patch(
        f"{revisions}/keys",
        params={"fieldManager": "me"},
        content=revision_yaml("keys", "1: one\nwhen: 2025-01-01\nflag: yes"),
        headers={"Content-Type": APPLY},
    )
    assert answer.status_code == 201, answer.text[:300]
    assert answer.json()["data"] == {"1": "one", "when": "2025-01-01", "flag": True}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('s: "\\ud800"', "yaml: line 7: found invalid Unicode character escape code"),
        ("n: .nan", "json: unsupported value: NaN"),
        ("a: " + "[" * 300 + "]" * 300, f"yaml: line 7: exceeded max depth of {MAX_DEPTH}"),
    ],
)
async def test_yaml_json_cannot_say_is_400(
    control_plane: ControlPlane, data: str, problem: str
) -> None:
    cp = control_plane
    revisions = f"/apis/apps/v1/namespaces/{cp.namespace}/controllerrevisions"
    body = revision_yaml("odd", data)
    answer = await cp.api.post(revisions, content=body, headers={"Content-Type": YAML})
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["message"] == (
        "the object provided is unrecognized (must be of type ControllerRevision): "
        f"{problem} ({body[:30].hex()} ...)"
    )
    await assert_nothing_written_and_ready(cp, revisions)


async def test_yaml_integer_keys_create(control_plane: ControlPlane) -> None:
    cp = control_plane
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keys\ndata: {1: x, 2.5: z}\n"
    answer = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/configmaps",
        content=body,
        headers={"Content-Type": YAML},
    )
    assert answer.status_code == 201, answer.text[:300]
    assert answer.json()["data"] == {"1": "x", "2.5": "z"}


async def test_an_object_at_the_depth_limit_survives_every_path(cp: ControlPlane) -> None:
    """Created, read as JSON, YAML and a Table with the whole object, and watched as a
    Table (managed fields mirror it one level deeper, a Table row in a watch event puts
    it four deeper): every layer writes it back."""
    revisions = f"/apis/apps/v1/namespaces/{cp.namespace}/controllerrevisions"
    body = deep_json(revision("deepest", MAX_DEPTH))
    created = await cp.api.post(revisions, content=body, params={"fieldManager": "m"})
    assert created.status_code == 201, created.text
    item = f"{revisions}/deepest"
    for path, accept in [
        (item, "application/json"),
        (item, YAML),
        (revisions, "application/json"),
        (revisions, YAML),
        (f"{revisions}?includeObject=Object", TABLE),
    ]:
        answer = await cp.api.get(path, headers={"Accept": accept})
        assert answer.status_code == 200, (path, accept, answer.text[:300])
    applied = await cp.api.patch(
        item,
        params={"fieldManager": "a", "force": "true"},
        content=body,
        headers={"Content-Type": APPLY},
    )
    assert applied.status_code == 200, applied.text[:300]
    async with cp.api.stream(
        "GET",
        revisions,
        params={
            "watch": "1",
            "resourceVersion": "0",
            "timeoutSeconds": "1",
            "includeObject": "Object",
        },
        headers={"Accept": TABLE},
    ) as watch:
        events = [orjson.loads(line)["type"] async for line in watch.aiter_lines() if line]
    assert events == ["ADDED"]


async def test_json_deeper_than_kapi_writes_back_is_400(cp: ControlPlane) -> None:
    """One level past json_depth.MAX_DEPTH, and 254 (where orjson stopped: a 500 before)."""
    revisions = f"/apis/apps/v1/namespaces/{cp.namespace}/controllerrevisions"
    for depth in (MAX_DEPTH + 1, 254):
        body = deep_json(revision(f"d{depth}", depth))
        answer = await cp.api.post(revisions, content=body)
        assert answer.status_code == 400, answer.text[:300]
        assert answer.json()["message"] == (
            "the object provided is unrecognized (must be of type ControllerRevision): "
            "couldn't get version/kind; json parse error: invalid character '{' exceeded max "
            f"depth ({body[:30].decode()} ...)"
        )
    await assert_nothing_written_and_ready(cp, revisions)


async def test_patch_bodies_too_deep_are_400_and_change_nothing(cp: ControlPlane) -> None:
    configmaps = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    created = await cp.api.post(
        configmaps, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}}
    )
    assert created.status_code == 201
    deep = b'{"a":' * 1000 + b'"x"' + b"}" * 1000
    for patch_type, patch in [
        (MERGE, b'{"data":' + deep + b"}"),
        ("application/strategic-merge-patch+json", b'{"data":' + deep + b"}"),
        ("application/json-patch+json", b'[{"op":"add","path":"/data","value":' + deep + b"}]"),
    ]:
        answer = await cp.api.patch(
            f"{configmaps}/p", content=patch, headers={"Content-Type": patch_type}
        )
        assert answer.status_code == 400, (patch_type, answer.text[:300])
        assert answer.json()["message"] == (
            "error decoding patch: invalid character '{' exceeded max depth"
        )
    after = await cp.api.get(f"{configmaps}/p")
    assert (
        after.json()["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
    )


async def test_the_loop_serves_readyz_while_a_large_body_decodes(
    cp: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large Protobuf body's decode is held mid-way; /readyz is answered meanwhile. Where
    the decode runs on the event loop, nothing is answered until it ends (bounded here at
    10 s), and the create answers first."""
    started, release = threading.Event(), threading.Event()
    decode = k8s_protobuf.decode

    def held(data: bytes) -> Any:
        started.set()
        release.wait(10)
        return decode(data)

    monkeypatch.setattr(k8s_protobuf, "decode", held)
    entry = st(1, "big") + st(2, "x" * (offload.INLINE_BYTES + 1))
    body = protobuf_body("v1", "ConfigMap", meta("large") + ld(2, entry))
    order: list[str] = []

    async def create() -> int:
        answer = await cp.api.post(
            f"/api/v1/namespaces/{cp.namespace}/configmaps",
            content=body,
            headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        )
        order.append("create")
        return answer.status_code

    creating = asyncio.create_task(create())
    assert await asyncio.to_thread(started.wait, 30)
    ready = await cp.api.get("/readyz")
    order.append("readyz")
    release.set()
    assert await creating == 201
    assert ready.status_code == 200
    assert order == ["readyz", "create"]


@pytest.fixture
def cp(control_plane: ControlPlane) -> ControlPlane:
    return control_plane
