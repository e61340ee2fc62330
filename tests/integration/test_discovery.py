"""Discovery through HTTP: the roots with a trailing slash, and the resources and
subresources kube-apiserver 1.32 lists that clients probe for (bindings,
componentstatuses, pods/eviction, pods/exec, namespaces/finalize, CSR approval...)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)


@pytest.mark.parametrize("root", ["/api", "/apis"])
@pytest.mark.parametrize("accept", [None, AGGREGATED_ACCEPT])
async def test_roots_answer_alike_with_a_trailing_slash(
    control_plane: ControlPlane, root: str, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    bare = await control_plane.api.get(root, headers=headers)
    slashed = await control_plane.api.get(root + "/", headers=headers)
    assert (bare.status_code, slashed.status_code) == (200, 200)
    assert slashed.headers["content-type"] == bare.headers["content-type"]
    assert slashed.json() == bare.json()
    assert slashed.headers["etag"] == bare.headers["etag"]


async def test_slashed_root_still_needs_credentials(control_plane: ControlPlane) -> None:
    reply = await control_plane.api.get("/api/", headers={"Authorization": "Bearer wrong"})
    assert reply.status_code == 401
    assert reply.json()["reason"] == "Unauthorized"


async def test_legacy_core_list_has_kube_s_subresources(control_plane: ControlPlane) -> None:
    v1 = (await control_plane.api.get("/api/v1")).json()
    entries = {r["name"]: r for r in v1["resources"]}
    assert entries["bindings"]["verbs"] == ["create"]
    assert "storageVersionHash" not in entries["bindings"]
    assert entries["componentstatuses"]["shortNames"] == ["cs"]
    assert entries["pods/eviction"]["group"] == "policy"
    assert entries["pods/eviction"]["kind"] == "Eviction"
    assert entries["pods/exec"]["kind"] == "PodExecOptions"
    assert entries["pods/log"]["verbs"] == ["get"]
    assert entries["namespaces/finalize"]["verbs"] == ["update"]
    assert entries["services/proxy"]["kind"] == "ServiceProxyOptions"
    csr = (await control_plane.api.get("/apis/certificates.k8s.io/v1")).json()
    approval = next(
        r for r in csr["resources"] if r["name"] == "certificatesigningrequests/approval"
    )
    assert (approval["kind"], approval["verbs"]) == (
        "CertificateSigningRequest",
        ["get", "patch", "update"],
    )


async def test_aggregated_discovery_has_kube_s_subresources(control_plane: ControlPlane) -> None:
    core = (await control_plane.api.get("/api", headers={"Accept": AGGREGATED_ACCEPT})).json()
    resources = {r["resource"]: r for r in core["items"][0]["versions"][0]["resources"]}
    pods = {s["subresource"]: s for s in resources["pods"]["subresources"]}
    assert sorted(pods) == [
        "attach",
        "binding",
        "ephemeralcontainers",
        "eviction",
        "exec",
        "log",
        "portforward",
        "proxy",
        "status",
    ]
    assert pods["eviction"]["responseKind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }
    assert resources["bindings"]["verbs"] == ["create"]
    assert resources["componentstatuses"]["scope"] == "Cluster"
    groups = (await control_plane.api.get("/apis", headers={"Accept": AGGREGATED_ACCEPT})).json()
    certificates = next(
        i for i in groups["items"] if i["metadata"]["name"] == "certificates.k8s.io"
    )
    csr = certificates["versions"][0]["resources"][0]
    assert [s["subresource"] for s in csr["subresources"]] == ["approval", "status"]


async def test_unknown_subresource_and_wrong_method(control_plane: ControlPlane) -> None:
    ns = control_plane.namespace
    missing = await control_plane.api.get(f"/api/v1/namespaces/{ns}/pods/p/nope")
    assert (missing.status_code, missing.json()["reason"]) == (404, "NotFound")
    # pods/binding only takes create, namespaces/finalize only update
    binding = await control_plane.api.get(f"/api/v1/namespaces/{ns}/pods/p/binding")
    assert (binding.status_code, binding.json()["reason"]) == (405, "MethodNotAllowed")
    finalize = await control_plane.api.get(f"/api/v1/namespaces/{ns}/finalize")
    assert finalize.status_code == 405
    # only a proxy takes a path below it
    deeper = await control_plane.api.get(f"/api/v1/namespaces/{ns}/pods/p/status/more")
    assert deeper.status_code == 404
