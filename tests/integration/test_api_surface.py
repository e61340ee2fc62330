"""The HTTP API surface through all four services on a real etcd.

Discovery, OpenAPI, bodies in JSON/YAML/Protobuf, Tables, pagination, watch streams.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

WIRE = Path(__file__).resolve().parents[1] / "data" / "kubectl-1.32-protobuf"
TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


async def test_version_and_health(control_plane: ControlPlane) -> None:
    version = (await control_plane.api.get("/version", params={"timeout": "5s"})).json()
    assert (version["major"], version["minor"]) == ("1", "32")
    ready = await control_plane.api.get("/readyz", params={"verbose": ""})
    assert ready.status_code == 200
    lines = ready.text.splitlines()
    for check in ("ping", "etcd", "storage", "authz", "registry"):
        assert f"[+]{check} ok" in lines
    assert lines[-1] == "readyz check passed"
    assert (await control_plane.api.get("/livez")).text == "ok"
    assert (await control_plane.api.get("/readyz/etcd")).text == "ok"
    unknown = await control_plane.api.get("/livez/nonexistent")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "the server could not find the requested resource"


async def test_aggregated_discovery_has_the_exact_content_type(control_plane: ControlPlane) -> None:
    core = await control_plane.api.get("/api", headers={"Accept": AGGREGATED_ACCEPT})
    assert core.headers["content-type"] == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    body = core.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    resources = {r["resource"]: r for r in body["items"][0]["versions"][0]["resources"]}
    assert resources["configmaps"]["responseKind"] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
    }
    assert resources["pods"]["categories"] == ["all"]
    groups = (await control_plane.api.get("/apis", headers={"Accept": AGGREGATED_ACCEPT})).json()
    apps = next(item for item in groups["items"] if item["metadata"]["name"] == "apps")
    deployments = next(
        r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    assert deployments["shortNames"] == ["deploy"]
    etag = core.headers["etag"]
    cached = await control_plane.api.get(
        "/api", headers={"Accept": AGGREGATED_ACCEPT, "If-None-Match": etag}
    )
    assert cached.status_code == 304


async def test_legacy_discovery(control_plane: ControlPlane) -> None:
    assert (await control_plane.api.get("/api")).json()["versions"] == ["v1"]
    v1 = (await control_plane.api.get("/api/v1")).json()
    names = {r["name"] for r in v1["resources"]}
    assert {"configmaps", "pods", "pods/status", "namespaces", "services"} <= names
    group_list = (await control_plane.api.get("/apis")).json()
    # kube's order: apiregistration.k8s.io's APIService priority (18000) is the highest
    assert [g["name"] for g in group_list["groups"][:2]] == ["apiregistration.k8s.io", "apps"]
    assert group_list["groups"][1]["preferredVersion"] == {
        "groupVersion": "apps/v1",
        "version": "v1",
    }
    assert (await control_plane.api.get("/apis/apps")).json()["kind"] == "APIGroup"
    assert (await control_plane.api.get("/apis/apps/v1")).json()["groupVersion"] == "apps/v1"


async def test_openapi_v3_hashes_and_redirects(control_plane: ControlPlane) -> None:
    index = (await control_plane.api.get("/openapi/v3")).json()
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    document = await control_plane.api.get(url)
    assert document.status_code == 200
    digest = url.split("hash=")[1]
    assert digest == hashlib.sha512(document.content).hexdigest().upper()
    assert document.headers["cache-control"] == "public, immutable"
    patch = document.json()["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
    }
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    stale = await control_plane.api.get("/openapi/v3/api/v1", params={"hash": "STALE"})
    assert stale.status_code == 301
    assert stale.headers["location"] == url
    missing = await control_plane.api.get("/openapi/v3/apis/nope/v1")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("vector", "path", "check"),
    [
        (
            "configmaps.bin",
            "/api/v1/namespaces/default/configmaps",
            lambda o: o["data"] == {"a": "1"},
        ),
        (
            "secrets-generic.bin",
            "/api/v1/namespaces/default/secrets",
            lambda o: o["data"] == {"pw": "eA=="} and o["type"] == "Opaque",
        ),
        (
            "serviceaccounts.bin",
            "/api/v1/namespaces/default/serviceaccounts",
            lambda o: o["metadata"]["name"] == "sa1",
        ),
        (
            "services.bin",
            "/api/v1/namespaces/default/services",
            lambda o: o["spec"]["ports"][0]["port"] == 80 and o["spec"]["clusterIP"],
        ),
        (
            "deployments.bin",
            "/apis/apps/v1/namespaces/default/deployments",
            lambda o: (
                o["spec"]["replicas"] == 2
                and o["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
            ),
        ),
        ("namespaces.bin", "/api/v1/namespaces", lambda o: o["status"]["phase"] == "Active"),
    ],
)
async def test_kubectl_protobuf_bodies_are_created(
    control_plane: ControlPlane, vector: str, path: str, check: Any
) -> None:
    body = (WIRE / vector).read_bytes()
    created = await control_plane.api.post(
        path,
        content=body,
        headers={
            "Content-Type": "application/vnd.kubernetes.protobuf",
            "Accept": "application/vnd.kubernetes.protobuf,application/json",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/json")
    obj = created.json()
    assert check(obj), obj
    deleted = await control_plane.api.delete(f"{path}/{obj['metadata']['name']}")
    assert deleted.status_code == 200


async def test_yaml_body_and_yaml_reply(control_plane: ControlPlane) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"generateName": "gen-"},
            "data": {"k": "v"},
        }
    )
    created = await control_plane.api.post(
        f"/api/v1/namespaces/{control_plane.namespace}/configmaps",
        content=manifest,
        headers={"Content-Type": "application/yaml", "Accept": "application/yaml"},
    )
    assert created.status_code == 201
    obj = yaml.safe_load(created.text)
    assert obj["metadata"]["name"].startswith("gen-") and len(obj["metadata"]["name"]) == 9


async def test_table_and_metadata_renderings(control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    for name in ("t1", "t2"):
        await control_plane.api.post(
            base,
            json={"metadata": {"name": name, "labels": {"x": name}}, "data": {"a": "1", "b": "2"}},
        )
    table = (await control_plane.api.get(base, headers={"Accept": TABLE_ACCEPT})).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert [row["cells"][:2] for row in table["rows"]] == [["t1", 2], ["t2", 2]]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["rows"][0]["object"]["metadata"]["labels"] == {"x": "t1"}
    one = (await control_plane.api.get(f"{base}/t1", headers={"Accept": TABLE_ACCEPT})).json()
    assert one["kind"] == "Table" and len(one["rows"]) == 1
    metadata = (
        await control_plane.api.get(
            base,
            headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"},
        )
    ).json()
    assert metadata["kind"] == "PartialObjectMetadataList"
    assert "data" not in metadata["items"][0]
    selected = (await control_plane.api.get(base, params={"labelSelector": "x=t2"})).json()
    assert [i["metadata"]["name"] for i in selected["items"]] == ["t2"]
    by_name = (
        await control_plane.api.get(base, params={"fieldSelector": "metadata.name=t1"})
    ).json()
    assert [i["metadata"]["name"] for i in by_name["items"]] == ["t1"]


async def test_pagination_is_one_snapshot(control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    for i in range(5):
        await control_plane.api.post(base, json={"metadata": {"name": f"p{i}"}})
    first = (await control_plane.api.get(base, params={"limit": "2"})).json()
    assert len(first["items"]) == 2 and first["metadata"]["remainingItemCount"] == 3
    await control_plane.api.post(base, json={"metadata": {"name": "p9-late"}})
    names = [i["metadata"]["name"] for i in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = (await control_plane.api.get(base, params={"limit": "2", "continue": token})).json()
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue", "")
    assert names == [f"p{i}" for i in range(5)]


async def test_watch_streams_events_and_ends_on_timeout(control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    listed = (await control_plane.api.get(base)).json()
    events: list[dict[str, Any]] = []

    async def watch() -> None:
        params = {
            "watch": "1",
            "resourceVersion": listed["metadata"]["resourceVersion"],
            "timeoutSeconds": "3",
        }
        async with control_plane.api.stream("GET", base, params=params) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line:
                    events.append(orjson.loads(line))

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    created = (await control_plane.api.post(base, json={"metadata": {"name": "w"}})).json()
    await control_plane.api.put(f"{base}/w", json={**created, "data": {"a": "b"}})
    await control_plane.api.delete(f"{base}/w")
    await asyncio.wait_for(task, 20)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]
    assert events[1]["object"]["data"] == {"a": "b"}


async def test_watch_with_a_bad_request_is_a_plain_status(control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    response = await control_plane.api.get(
        base, params={"watch": "1", "fieldSelector": "spec.nope=x"}
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"


async def test_dry_run_stores_nothing(control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    dry = await control_plane.api.post(
        base, params={"dryRun": "All"}, json={"metadata": {"name": "dry"}}
    )
    assert dry.status_code == 201 and dry.json()["metadata"]["uid"]
    assert (await control_plane.api.get(f"{base}/dry")).status_code == 404


async def test_delete_answers_a_success_status(control_plane: ControlPlane) -> None:
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    uid = (await control_plane.api.post(base, json={"metadata": {"name": "gone"}})).json()[
        "metadata"
    ]["uid"]
    deleted = (
        await control_plane.api.request(
            "DELETE", f"{base}/gone", json={"propagationPolicy": "Background"}
        )
    ).json()
    assert deleted == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "gone", "kind": "configmaps", "uid": uid},
    }


async def test_a_list_larger_than_grpcs_default_4_mib(control_plane: ControlPlane) -> None:
    """Lists cross two gRPC hops; gRPC's default 4 MiB message limit must not apply."""
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    payload = "x" * (900 * 1024)
    for i in range(7):
        created = await control_plane.api.post(
            base, json={"metadata": {"name": f"big{i}"}, "data": {"blob": payload}}
        )
        assert created.status_code == 201
    listed = await control_plane.api.get(base)
    assert listed.status_code == 200
    assert len(listed.content) > 6 * 1024 * 1024
    assert sorted(i["metadata"]["name"] for i in listed.json()["items"]) == [
        f"big{i}" for i in range(7)
    ]


async def test_clients_that_disconnect_mid_watch_are_let_go(control_plane: ControlPlane) -> None:
    """Twenty clients drop their watch connection mid-stream: each watcher is released
    (the hub's feed keeps none of them) and the API keeps answering."""
    base = f"/api/v1/namespaces/{control_plane.namespace}/configmaps"
    listed = (await control_plane.api.get(base)).json()
    rv = listed["metadata"]["resourceVersion"]
    for i in range(20):
        async with (
            httpx.AsyncClient(
                base_url=control_plane.base_url, headers=control_plane.api.headers, timeout=10
            ) as client,
            client.stream("GET", base, params={"watch": "1", "resourceVersion": rv}) as response,
        ):
            assert response.status_code == 200
            await control_plane.api.post(base, json={"metadata": {"name": f"d{i}"}})
            lines = response.aiter_lines()
            first = orjson.loads(await asyncio.wait_for(anext(lines), 10))
            assert first["type"] == "ADDED"
        # leaving both blocks closes the connection with the stream still open
    hub = control_plane.app.state.hub
    for _ in range(100):
        if sum(len(feed.watchers) for feed in hub.feeds.values()) == 0:
            break
        await asyncio.sleep(0.05)
    assert sum(len(feed.watchers) for feed in hub.feeds.values()) == 0
    assert hub.feeds, "the watches were served by the hub"
    after = await control_plane.api.get(base)
    assert after.status_code == 200 and len(after.json()["items"]) >= 20
