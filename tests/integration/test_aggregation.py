"""API aggregation against the in-process control plane and a real extension API server
(tests/sample_apiserver.py, on a thread): APIServices, the local ones, the proxy and its
front-proxy authentication, availability with kube's reasons, discovery and OpenAPI
merged, as kube-apiserver's aggregator does them."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from services.metrics.server import MetricsConfig, MetricsServer
from services.metrics.server import create_server as create_metrics
from tests.integration.conftest import ControlPlane
from tests.sample_apiserver import API_VERSION, GROUP, KIND, RESOURCE, VERSION, SampleAPIServer

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
NAME = f"{VERSION}.{GROUP}"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
WAIT = 30.0


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = WAIT) -> Any:
    """``check()``'s first truthy value (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


async def available(cp: ControlPlane, name: str = NAME) -> Obj:
    """The APIService's Available condition ({} without one)."""
    got = await cp.api.get(f"{APISERVICES}/{name}")
    if got.status_code != 200:
        return {}
    for condition in (got.json().get("status") or {}).get("conditions") or []:
        if condition["type"] == "Available":
            return dict(condition)
    return {}


async def reason_is(cp: ControlPlane, reason: str, name: str = NAME) -> Obj:
    async def check() -> Obj | None:
        found = await available(cp, name)
        return found if found.get("reason") == reason else None

    return dict(await until(check, f"{name} {reason}"))


def apiservice(ca_bundle: bytes, namespace: str, port: int = 443, service: str = "api") -> Obj:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": NAME},
        "spec": {
            "group": GROUP,
            "version": VERSION,
            "service": {"namespace": namespace, "name": service, "port": port},
            "caBundle": base64.b64encode(ca_bundle).decode(),
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
        },
    }


def endpoint_slice(port: int, *, ready: bool = True, name: str = "api-1") -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "api"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready}}],
        "ports": [{"port": port, "name": "https", "protocol": "TCP"}],
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api"},
    "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]},
}


async def created(cp: ControlPlane, path: str, body: Obj) -> Obj:
    reply = await cp.api.post(path, json=body)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


@pytest.fixture
async def sample(control_plane: ControlPlane, tmp_path: Path) -> AsyncIterator[SampleAPIServer]:
    """The extension server, trusting what extension-apiserver-authentication says."""
    cp = control_plane
    reply = await cp.api.get(
        "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
    )
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    server = SampleAPIServer(
        tmp_path,
        requestheader_ca=data["requestheader-client-ca-file"],
        allowed_names=json.loads(data["requestheader-allowed-names"]),
        namespace=cp.namespace,
    )
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await cp.api.delete(f"{APISERVICES}/{NAME}")
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def registered(control_plane: ControlPlane, sample: SampleAPIServer) -> SampleAPIServer:
    """The extension server behind a Service, its EndpointSlice and an APIService."""
    cp = control_plane
    ns = f"/api/v1/namespaces/{cp.namespace}"
    await created(cp, f"{ns}/services", SERVICE)
    await created(
        cp,
        f"/apis/discovery.k8s.io/v1/namespaces/{cp.namespace}/endpointslices",
        endpoint_slice(sample.port),
    )
    await created(cp, APISERVICES, apiservice(sample.ca_bundle, cp.namespace))
    await reason_is(cp, "Passed")
    return sample


# --- the APIService type and the local ones ------------------------------------------------


async def test_local_apiservices_for_every_built_in_group_version(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane

    async def listed() -> dict[str, Obj]:
        items = (await cp.api.get(APISERVICES)).json()["items"]
        return {i["metadata"]["name"]: i for i in items}

    found = await until(
        lambda: _having(listed(), {"v1.", "v1.apps", "v2.autoscaling"}), "local APIServices"
    )
    core, apps = found["v1."], found["v1.apps"]
    assert core["spec"] == {"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    assert apps["spec"] == {
        "group": "apps",
        "version": "v1",
        "groupPriorityMinimum": 17800,
        "versionPriority": 15,
    }
    assert apps["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    (condition,) = apps["status"]["conditions"]
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "Available",
        "status": "True",
        "reason": "Local",
        "message": "Local APIServices are always available",
    }
    assert "v1.apiregistration.k8s.io" not in found  # kube has none for its own group
    table = (await cp.api.get(APISERVICES, headers={"Accept": TABLE})).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Service",
        "Available",
        "Age",
    ]
    rows = {r["cells"][0]: r["cells"][1:3] for r in table["rows"]}
    assert rows["v1.apps"] == ["Local", "True"]


async def _having(listed: Awaitable[dict[str, Obj]], names: set[str]) -> dict[str, Obj] | None:
    found = await listed
    return found if names <= set(found) else None


async def test_a_crd_group_version_gets_an_apiservice_while_it_is_served(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    group = f"g{cp.namespace[3:]}.aggregation.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gizmos.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    await created(cp, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    name = f"v1beta1.{group}"

    async def present() -> Obj | None:
        got = await cp.api.get(f"{APISERVICES}/{name}")
        return got.json() if got.status_code == 200 else None

    made = await until(present, f"APIService {name}")
    assert made["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "true"}
    assert made["spec"] == {
        "group": group,
        "version": "v1beta1",
        "groupPriorityMinimum": 1000,
        "versionPriority": 100,
    }
    gone = await cp.api.delete(
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.{group}"
    )
    assert gone.status_code == 200, gone.text

    async def absent() -> bool:
        return (await cp.api.get(f"{APISERVICES}/{name}")).status_code == 404

    await until(absent, f"APIService {name} deleted with its CRD")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metadata": {"name": "v1.wrong"}}, 'metadata.name: Invalid value: "v1.wrong": must be '
         '`spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"'),
        ({"spec": {"groupPriorityMinimum": 0}}, "spec.groupPriorityMinimum: Invalid value: 0: "
         "must be positive and less than 20000"),
        ({"spec": {"versionPriority": 1001}}, "spec.versionPriority: Invalid value: 1001: must "
         "be positive and less than 1000"),
        ({"spec": {"insecureSkipTLSVerify": True}}, "spec.insecureSkipTLSVerify: Invalid value: "
         "true: may not be true if caBundle is present"),
        ({"spec": {"service": None}}, 'spec.caBundle: Invalid value: "15 bytes": local '
         "APIServices may not have a caBundle"),
    ],
)  # fmt: skip
async def test_apiservice_validation(
    control_plane: ControlPlane, change: Obj, message: str
) -> None:
    body = apiservice(b"not-really-a-ca", "somewhere")
    for part, values in change.items():
        body[part].update(values)
    reply = await control_plane.api.post(APISERVICES, json=body)
    assert reply.status_code == 422, reply.text
    assert message in reply.json()["message"]


async def test_extension_apiserver_authentication_is_published(
    control_plane: ControlPlane,
) -> None:
    reply = await control_plane.api.get(
        "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
    )
    data = reply.json()["data"]
    assert set(data) == {
        "client-ca-file",
        "requestheader-client-ca-file",
        "requestheader-allowed-names",
        "requestheader-username-headers",
        "requestheader-group-headers",
        "requestheader-extra-headers-prefix",
    }
    assert data["requestheader-allowed-names"] == '["front-proxy-client"]'
    assert data["requestheader-username-headers"] == '["X-Remote-User"]'
    assert data["requestheader-group-headers"] == '["X-Remote-Group"]'
    assert data["requestheader-extra-headers-prefix"] == '["X-Remote-Extra-"]'
    assert data["requestheader-client-ca-file"].startswith("-----BEGIN CERTIFICATE-----")


# --- the proxy -------------------------------------------------------------------------------


async def _ok(reply: Awaitable[httpx.Response]) -> httpx.Response | None:
    got = await reply
    return got if got.status_code != 403 else None


async def grant_group_read(cp: ControlPlane, group: str) -> None:
    """A Role reading flunders in the test's namespace, bound to ``group``."""
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{cp.namespace}"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "flunder-reader"},
        "rules": [{"apiGroups": [GROUP], "resources": [RESOURCE], "verbs": ["get", "list"]}],
    }
    await created(cp, f"{rbac}/roles", role)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "flunder-readers"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role["metadata"]["name"],
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }
    await created(cp, f"{rbac}/rolebindings", binding)


async def test_requests_reach_the_extension_server_as_the_caller(
    control_plane: ControlPlane, registered: SampleAPIServer
) -> None:
    cp = control_plane
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{cp.namespace}/{RESOURCE}"
    flunder = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "f1"}}
    made = await created(cp, base, flunder)
    assert made["metadata"]["namespace"] == cp.namespace
    listed = (await cp.api.get(base)).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["f1"]
    again = await cp.api.post(base, json=flunder)
    assert again.status_code == 409 and again.json()["reason"] == "AlreadyExists"
    # The caller as the gateway authenticated it, in the front proxy's headers.
    seen = registered.seen[-1]
    assert (seen.method, seen.path, seen.user) == ("POST", base, "kapi-admin")
    assert set(seen.groups) == {"system:masters", "system:authenticated"}
    # The aggregator authorizes before it proxies: alice may not read flunders, and gets
    # kube's Forbidden without the extension server hearing of it.
    as_alice = {"Impersonate-User": "alice", "Impersonate-Group": "wardle-readers"}
    heard = len(registered.seen)
    refused = await cp.api.get(f"{base}/f1", headers=as_alice)
    assert refused.status_code == 403, refused.text
    assert refused.json()["message"] == (
        f'flunders.{GROUP} "f1" is forbidden: User "alice" cannot get resource "flunders" '
        f'in API group "{GROUP}" in the namespace "{cp.namespace}"'
    )
    assert len(registered.seen) == heard
    await grant_group_read(cp, "wardle-readers")
    # Impersonation: the server sees whom the caller acts as.
    acting = await until(
        lambda: _ok(cp.api.get(f"{base}/f1", headers=as_alice)), "alice's read allowed"
    )
    assert acting.status_code == 200, acting.text
    assert (registered.seen[-1].user, registered.seen[-1].groups) == (
        "alice",
        ("wardle-readers", "system:authenticated"),
    )
    gone = await cp.api.delete(f"{base}/f1")
    assert gone.status_code == 200, gone.text
    missing = await cp.api.get(f"{base}/f1")
    assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"


async def test_a_watch_streams_through_the_proxy(
    control_plane: ControlPlane, registered: SampleAPIServer
) -> None:
    cp = control_plane
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{cp.namespace}/{RESOURCE}"
    async with cp.api.stream("GET", base, params={"watch": "true"}) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        await created(
            cp, base, {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "w"}}
        )
        event = json.loads(await asyncio.wait_for(anext(lines), 10))
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "w")


async def test_the_extension_server_refuses_a_caller_without_the_front_proxy_certificate(
    control_plane: ControlPlane, registered: SampleAPIServer, tmp_path: Path
) -> None:
    ca = tmp_path / "wardle-ca.crt"
    ca.write_bytes(registered.ca_bundle)
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    async with httpx.AsyncClient(verify=context) as direct:
        reply = await direct.get(
            f"https://127.0.0.1:{registered.port}/apis/{GROUP}/{VERSION}",
            headers={"X-Remote-User": "mallory", "X-Remote-Group": "system:masters"},
        )
    assert reply.status_code == 401 and reply.json()["reason"] == "Unauthorized"
    assert all(seen.user != "mallory" for seen in registered.seen)


# --- availability --------------------------------------------------------------------------


async def test_availability_follows_the_service_and_its_endpoints(
    control_plane: ControlPlane, sample: SampleAPIServer
) -> None:
    cp = control_plane
    ns = cp.namespace
    await created(cp, APISERVICES, apiservice(sample.ca_bundle, ns))
    missing = await reason_is(cp, "ServiceNotFound")
    assert (missing["status"], missing["message"]) == (
        "False",
        f'service/api in "{ns}" is not present',
    )
    proxied = await cp.api.get(f"/apis/{GROUP}/{VERSION}")
    assert (proxied.status_code, proxied.text) == (503, "service unavailable\n")
    assert proxied.headers["content-type"] == "text/plain; charset=utf-8"

    other_port = {**SERVICE, "spec": {"ports": [{"name": "https", "port": 8443}]}}
    await created(cp, f"/api/v1/namespaces/{ns}/services", other_port)
    wrong = await reason_is(cp, "ServicePortError")
    assert wrong["message"] == f'service/api in "{ns}" is not listening on port 443'
    await cp.api.delete(f"/api/v1/namespaces/{ns}/services/api")
    await created(cp, f"/api/v1/namespaces/{ns}/services", SERVICE)
    none = await reason_is(cp, "EndpointsNotFound")
    assert none["message"] == f'cannot find endpointslices for service/api in "{ns}"'
    slices = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
    await created(cp, slices, endpoint_slice(sample.port, ready=False))
    unready = await reason_is(cp, "MissingEndpoints")
    assert unready["message"] == (
        f'endpointslices for service/api in "{ns}" have no addresses with port name "https"'
    )
    await cp.api.delete(f"{slices}/api-1")
    await created(cp, slices, endpoint_slice(sample.port, name="api-2"))
    passed = await reason_is(cp, "Passed")
    assert (passed["status"], passed["message"]) == ("True", "all checks passed")


async def test_a_stopped_server_is_unavailable_and_comes_back(
    control_plane: ControlPlane, registered: SampleAPIServer
) -> None:
    cp = control_plane
    await until(lambda: _freshness(cp, "Current"), "the group's discovery Current")
    await asyncio.to_thread(registered.stop)
    # The next request fails to connect, which has the controller look at once.
    failed = await cp.api.get(f"/apis/{GROUP}/{VERSION}")
    assert failed.status_code == 503
    assert failed.text.endswith(": connect: connection refused\n")
    down = await reason_is(cp, "FailedDiscoveryCheck")
    url = f"https://127.0.0.1:{registered.port}/apis/{GROUP}/{VERSION}"
    assert down["status"] == "False"
    assert down["message"] == (
        f'failing or missing response from {url}: Get "{url}": dial tcp '
        f"127.0.0.1:{registered.port}: connect: connection refused"
    )
    unavailable = await cp.api.get(f"/apis/{GROUP}/{VERSION}/namespaces/{cp.namespace}/{RESOURCE}")
    assert (unavailable.status_code, unavailable.text) == (503, "service unavailable\n")
    # Discovery keeps the group-version, Stale: kubectl skips it and says so.
    stale = await until(lambda: _freshness(cp, "Stale"), "the group's discovery Stale")
    assert stale["resources"][0]["resource"] == RESOURCE
    legacy = (await cp.api.get("/apis")).json()
    assert GROUP in [g["name"] for g in legacy["groups"]]

    await asyncio.to_thread(registered.start)
    await reason_is(cp, "Passed")
    await until(lambda: _freshness(cp, "Current"), "the group's discovery Current again")
    back = await cp.api.get(f"/apis/{GROUP}/{VERSION}/namespaces/{cp.namespace}/{RESOURCE}")
    assert back.status_code == 200, back.text


async def _freshness(cp: ControlPlane, wanted: str) -> Obj | None:
    doc = (await cp.api.get("/apis", headers={"Accept": AGGREGATED})).json()
    for item in doc["items"]:
        if item["metadata"]["name"] == GROUP:
            (version,) = item["versions"]
            return dict(version) if version.get("freshness") == wanted else None
    return None


# --- discovery and OpenAPI merged --------------------------------------------------------


async def test_discovery_includes_the_extension_group_in_priority_order(
    control_plane: ControlPlane, registered: SampleAPIServer
) -> None:
    cp = control_plane
    current = await until(lambda: _freshness(cp, "Current"), "the group in discovery")
    assert current["version"] == VERSION
    (flunders,) = current["resources"]
    assert (flunders["resource"], flunders["scope"], flunders["responseKind"]["kind"]) == (
        RESOURCE,
        "Namespaced",
        KIND,
    )
    doc = (await cp.api.get("/apis", headers={"Accept": AGGREGATED})).json()
    names = [i["metadata"]["name"] for i in doc["items"]]
    # apiregistration first (20001), the built-in groups by kube's priorities, then the
    # 1000s (CRD groups and this one) by name.
    assert names[:3] == ["apiregistration.k8s.io", "apps", "events.k8s.io"]
    assert names.index(GROUP) > names.index("flowcontrol.apiserver.k8s.io")
    legacy = (await cp.api.get("/apis")).json()
    (group,) = [g for g in legacy["groups"] if g["name"] == GROUP]
    assert group["preferredVersion"] == {"groupVersion": API_VERSION, "version": VERSION}
    api_group = (await cp.api.get(f"/apis/{GROUP}")).json()
    assert (api_group["kind"], api_group["name"]) == ("APIGroup", GROUP)
    resources = (await cp.api.get(f"/apis/{GROUP}/{VERSION}")).json()
    assert resources["groupVersion"] == API_VERSION  # the extension server's own answer


async def test_openapi_v3_includes_the_extension_group_version(
    control_plane: ControlPlane, registered: SampleAPIServer
) -> None:
    cp = control_plane
    path = f"apis/{GROUP}/{VERSION}"

    async def listed() -> str | None:
        index = (await cp.api.get("/openapi/v3")).json()["paths"]
        entry = index.get(path)
        return entry["serverRelativeURL"] if entry else None

    url = await until(listed, "the group-version in /openapi/v3")
    document = await cp.api.get(url)
    assert document.status_code == 200
    assert document.headers["cache-control"] == "public, immutable"
    spec = document.json()
    patch = spec["paths"][f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{RESOURCE}/{{name}}"][
        "patch"
    ]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == KIND
    stale = await cp.api.get(f"/openapi/v3/{path}?hash=0000")
    assert stale.status_code == 301 and stale.headers["location"] == url


async def test_an_upgraded_connection_is_spliced_to_the_extension_server(
    control_plane: ControlPlane, registered: SampleAPIServer
) -> None:
    """A WebSocket (as kubectl exec and port-forward open one): the subprotocol the
    extension server picks, its messages both ways, the caller in the front proxy's
    headers."""
    cp = control_plane
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{cp.namespace}/{RESOURCE}"
    await created(cp, base, {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "e"}})
    url = cp.base_url.replace("http://", "ws://") + f"{base}/e/echo"
    async with websockets.connect(
        url,
        additional_headers={"Authorization": cp.api.headers["Authorization"]},
        subprotocols=[Subprotocol("v5.channel.k8s.io"), Subprotocol("v4.channel.k8s.io")],
    ) as socket:
        assert socket.subprotocol == "v5.channel.k8s.io"
        assert await socket.recv() == "hello kapi-admin"
        await socket.send(b"\x00ls\n")
        assert await socket.recv() == b"\x00ls\n"
        await socket.send("text too")
        assert await socket.recv() == "text too"
    assert registered.seen[-1].path == f"{base}/e/echo"
    # Without credentials: the anonymous user, refused by RBAC before anything is
    # proxied, with kube's Forbidden Status.
    heard = len(registered.seen)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["message"].startswith(
        f'flunders.{GROUP} "e" is forbidden: User "system:anonymous" cannot '
    )
    assert len(registered.seen) == heard
    # An upgrade kapi serves itself is answered as its GET would be (no kubelet here).
    pod_exec = cp.base_url.replace("http://", "ws://") + (
        f"/api/v1/namespaces/{cp.namespace}/pods/nope/exec?command=ls"
    )
    with pytest.raises(websockets.InvalidStatus) as missing:
        async with websockets.connect(
            pod_exec, additional_headers={"Authorization": cp.api.headers["Authorization"]}
        ):
            pass
    assert missing.value.response.status_code == 404
    assert json.loads(missing.value.response.body)["message"] == 'pods "nope" not found'


# --- kapi's metrics server ------------------------------------------------------------------


@pytest.fixture
async def metrics(control_plane: ControlPlane) -> AsyncIterator[MetricsServer]:
    """kapi's metrics server, as kapi up runs it, registering itself."""
    layout = control_plane.pki
    own = layout.service("metrics")
    assert own.cert_file and own.key_file and own.ca_file
    running = await create_metrics(
        MetricsConfig(
            listen="127.0.0.1:0",
            registry=control_plane.addresses["registry"],
            tls_cert_file=str(own.cert_file),
            tls_private_key_file=str(own.key_file),
            ca_bundle_file=str(own.ca_file),
            requestheader_client_ca_file=str(layout.front_proxy_ca_for("metrics")),
            requestheader_allowed_names=("front-proxy-client",),
            peer_tls=own,
        )
    )
    try:
        yield running
    finally:
        await running.close()
        await control_plane.api.delete(f"{APISERVICES}/v1beta1.metrics.k8s.io")


async def test_node_and_pod_metrics_through_the_aggregator(
    control_plane: ControlPlane, metrics: MetricsServer
) -> None:
    cp = control_plane
    node = f"node-{cp.namespace}"
    await created(
        cp,
        "/api/v1/nodes",
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
         "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}},
    )  # fmt: skip
    await created(
        cp,
        f"/api/v1/namespaces/{cp.namespace}/pods",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "busy"},
         "spec": {"nodeName": node, "containers": [
             {"name": "app", "image": "app", "resources": {"requests": {"cpu": "1"}}}]}},
    )  # fmt: skip
    running = await cp.api.patch(
        f"/api/v1/namespaces/{cp.namespace}/pods/busy/status",
        json={"status": {"phase": "Running"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert running.status_code == 200, running.text
    await reason_is(cp, "Passed", "v1beta1.metrics.k8s.io")
    base = "/apis/metrics.k8s.io/v1beta1"

    async def node_metrics() -> Obj | None:
        got = await cp.api.get(f"{base}/nodes/{node}")
        if got.status_code != 200:
            return None
        used = int(got.json()["usage"]["cpu"].removesuffix("n"))
        return dict(got.json()) if used > 500_000_000 else None  # the pod's half core counts

    found = await until(node_metrics, "the node's metrics with its running pod")
    assert found["kind"] == "NodeMetrics"
    pods = (await cp.api.get(f"{base}/namespaces/{cp.namespace}/pods")).json()
    assert [(p["metadata"]["name"], p["containers"][0]["name"]) for p in pods["items"]] == [
        ("busy", "app")
    ]
    doc = (await cp.api.get("/apis", headers={"Accept": AGGREGATED})).json()
    assert doc["items"][-1]["metadata"]["name"] == "metrics.k8s.io"  # priority 100: last


async def _allowed(cp: ControlPlane, user: str, groups: list[str], attributes: Obj) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
    }
    reply = await cp.api.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    assert reply.status_code == 201, reply.text
    return bool(reply.json()["status"].get("allowed"))


async def test_metrics_under_rbac(control_plane: ControlPlane, metrics: MetricsServer) -> None:
    """The metrics server's ServiceAccount holds what metrics-server's manifest grants
    (kube's bootstrap system:auth-delegator and extension-apiserver-authentication-reader
    among it); a ServiceAccount without rights gets kube's Forbidden for metrics.k8s.io,
    and ``view`` in its namespace (into which system:aggregated-metrics-reader is
    aggregated) lets it read pod metrics."""
    cp = control_plane
    await reason_is(cp, "Passed", "v1beta1.metrics.k8s.io")
    server = "system:serviceaccount:kube-system:metrics-server"
    groups = ["system:serviceaccounts", "system:serviceaccounts:kube-system"]
    needs = [
        {"verb": "list", "resource": "nodes"},
        {"verb": "watch", "resource": "pods"},
        {"verb": "get", "resource": "configmaps", "namespace": "kube-system",
         "name": "extension-apiserver-authentication"},
        {"verb": "create", "group": "authentication.k8s.io", "resource": "tokenreviews"},
        {"verb": "create", "group": "authorization.k8s.io", "resource": "subjectaccessreviews"},
    ]  # fmt: skip
    for attributes in needs:
        assert await until(
            lambda a=attributes: _allowed(cp, server, groups, a), f"metrics-server may {attributes}"
        )
    assert not await _allowed(cp, server, groups, {"verb": "delete", "resource": "pods"})

    viewer = f"system:serviceaccount:{cp.namespace}:viewer"
    await created(
        cp,
        f"/api/v1/namespaces/{cp.namespace}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "viewer"}},
    )
    as_viewer = {"Impersonate-User": viewer}
    pods = f"/apis/metrics.k8s.io/v1beta1/namespaces/{cp.namespace}/pods"
    refused = await cp.api.get(pods, headers=as_viewer)
    assert refused.status_code == 403, refused.text
    assert refused.json()["message"] == (
        f'pods.metrics.k8s.io is forbidden: User "{viewer}" cannot list resource "pods" in '
        f'API group "metrics.k8s.io" in the namespace "{cp.namespace}"'
    )
    await created(
        cp,
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{cp.namespace}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "viewer-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "viewer",
                          "namespace": cp.namespace}],
        },
    )  # fmt: skip
    allowed = await until(lambda: _ok(cp.api.get(pods, headers=as_viewer)), "view reads metrics")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["kind"] == "PodMetricsList"
