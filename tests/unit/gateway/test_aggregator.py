"""The gateway's aggregator without a network: what the proxy sends and passes back,
endpoint resolution over Services and EndpointSlices, the availability controller's
verdicts before its discovery check, and discovery merged in kube's order."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from kapi.informer import Informer, object_key
from kapi.service_resolution import Endpoint
from kapi_proto import common_pb2
from services.gateway import discovery
from services.gateway.aggregator import proxy, transport
from services.gateway.aggregator.availability import Availability
from services.gateway.aggregator.remote_discovery import (
    RemoteGroup,
    RemoteVersion,
    convert_resource_list,
)
from services.gateway.aggregator.state import State, remote_of
from services.gateway.aggregator.transport import Transports
from services.registry.strategies import builtin_table

Obj = dict[str, Any]


def apiservice(available: str = "True", **spec: Any) -> Obj:
    return {
        "metadata": {"name": "v1alpha1.wardle.example.com"},
        "spec": {
            "group": "wardle.example.com",
            "version": "v1alpha1",
            "service": {"namespace": "wardle", "name": "api", "port": 443},
            "caBundle": base64.b64encode(b"PEM").decode(),
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            **spec,
        },
        "status": {"conditions": [{"type": "Available", "status": available}]},
    }


def service(port_name: str = "https", port: int = 443, kind: str = "ClusterIP") -> Obj:
    return {
        "metadata": {"name": "api", "namespace": "wardle"},
        "spec": {"type": kind, "ports": [{"name": port_name, "port": port}]},
    }


def endpoint_slice(
    name: str, addresses: list[str], *, port: int = 8443, port_name: str = "https", **cond: Any
) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": "wardle",
            "labels": {"kubernetes.io/service-name": "api"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": addresses, "conditions": cond}],
        "ports": [{"name": port_name, "port": port}],
    }


def held(into: Informer, obj: Obj) -> None:
    """As if ``into`` had listed ``obj`` (the tests' fake store, as client-go's)."""
    into._objects[object_key(obj)] = obj


def state(*, svc: Obj | None = None, slices: tuple[Obj, ...] = ()) -> State:
    found = State(registry=None)  # type: ignore[arg-type]
    held(found.apiservices, apiservice())
    if svc is not None:
        held(found.services, svc)
    for slice_ in slices:
        held(found.endpoint_slices, slice_)
    return found


# --- the remote APIService ----------------------------------------------------------------


def test_a_remote_apiservice_as_the_proxy_reads_it() -> None:
    remote = remote_of(apiservice())
    assert remote is not None
    assert (remote.namespace, remote.service, remote.port) == ("wardle", "api", 443)
    assert remote.ca_bundle == b"PEM" and remote.available
    assert remote.server_name == "api.wardle.svc"  # what its certificate must name
    assert remote.discovery_path == "/apis/wardle.example.com/v1alpha1"
    assert remote_of({"metadata": {"name": "v1.apps"}, "spec": {"group": "apps"}}) is None
    assert not remote_of(apiservice(available="False")).available  # type: ignore[union-attr]


# --- endpoints ------------------------------------------------------------------------------


def test_resolution_takes_ready_endpoints_on_the_port_s_name() -> None:
    found = state(
        svc=service(),
        slices=(
            endpoint_slice("a", ["10.0.0.1", "10.0.0.2"]),
            endpoint_slice("b", ["10.0.0.3"], ready=False),
            endpoint_slice("c", ["10.0.0.4"], port_name="metrics", port=9090),
        ),
    )
    remote = found.remote("wardle.example.com", "v1alpha1")
    assert remote is not None
    both = [Endpoint("10.0.0.1", 8443), Endpoint("10.0.0.2", 8443)]
    assert sorted(found.endpoints(remote)) == both
    assert found.resolve(remote) in both


@pytest.mark.parametrize(
    ("svc", "slices", "message"),
    [
        (None, (), 'service "api" not found'),
        (service(port=8443), (), 'no service port 443 found for service "api"'),
        (service(), (), 'no endpoints available for service "api"'),
        (service(), (endpoint_slice("a", ["10.0.0.1"], ready=False),),
         'no endpoints available for service "api"'),
        (service(kind="ExternalName"), (), 'unsupported service type "ExternalName"'),
    ],
)  # fmt: skip
def test_resolution_failures_in_kube_s_words(
    svc: Obj | None, slices: tuple[Obj, ...], message: str
) -> None:
    found = state(svc=svc, slices=slices)
    remote = found.remote("wardle.example.com", "v1alpha1")
    assert remote is not None
    with pytest.raises(Exception) as raised:
        found.resolve(remote)
    assert raised.value.message == message  # type: ignore[attr-defined]


# --- availability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("svc", "slices", "reason", "message"),
    [
        (None, (), "ServiceNotFound", 'service/api in "wardle" is not present'),
        (service(port=8443), (), "ServicePortError",
         'service/api in "wardle" is not listening on port 443'),
        (service(), (), "EndpointsNotFound",
         'cannot find endpointslices for service/api in "wardle"'),
        (service(), (endpoint_slice("a", ["10.0.0.1"], ready=False),), "MissingEndpoints",
         'endpointslices for service/api in "wardle" have no addresses with port name "https"'),
        (service(), (endpoint_slice("a", ["10.0.0.1"], port_name="other"),), "MissingEndpoints",
         'endpointslices for service/api in "wardle" have no addresses with port name "https"'),
    ],
)  # fmt: skip
async def test_availability_before_the_discovery_check(
    svc: Obj | None, slices: tuple[Obj, ...], reason: str, message: str
) -> None:
    found = state(svc=svc, slices=slices)
    controller = Availability(found, Transports(None), registry=None)  # type: ignore[arg-type]
    remote = found.remote("wardle.example.com", "v1alpha1")
    assert remote is not None
    condition = await controller.judge(remote)
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        reason,
        message,
    )


# --- what the proxy sends ------------------------------------------------------------------


def test_the_caller_travels_in_the_front_proxy_s_headers() -> None:
    user = common_pb2.UserInfo(username="alice", groups=["dev", "system:authenticated"])
    user.extra["scopes.example.com/a b"].values.extend(["x", "y"])
    assert proxy.auth_proxy_headers(user) == [
        ("X-Remote-User", "alice"),
        ("X-Remote-Group", "dev"),
        ("X-Remote-Group", "system:authenticated"),
        ("X-Remote-Extra-scopes.example.com%2Fa%20b", "x"),
        ("X-Remote-Extra-scopes.example.com%2Fa%20b", "y"),
    ]


def test_credentials_impersonation_and_forged_identities_do_not_pass() -> None:
    sent = [
        (b"Authorization", b"Bearer secret"),
        (b"Impersonate-User", b"bob"),
        (b"X-Remote-User", b"mallory"),
        (b"X-Remote-Extra-Foo", b"bar"),
        (b"Connection", b"keep-alive, X-Hop"),
        (b"X-Hop", b"1"),
        (b"Host", b"kapi:6443"),
        (b"Accept", b"application/json"),
        (b"X-Forwarded-For", b"10.9.9.9"),
    ]
    user = common_pb2.UserInfo(username="alice", groups=["dev"])
    assert proxy.outgoing_headers(sent, user, "10.1.1.1") == [
        ("accept", "application/json"),
        ("x-forwarded-for", "10.9.9.9, 10.1.1.1"),
        ("X-Remote-User", "alice"),
        ("X-Remote-Group", "dev"),
    ]


def test_the_reply_s_headers_come_back_but_hop_by_hop_ones_and_its_audit_id() -> None:
    back = [
        (b"Content-Type", b"application/json"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Audit-Id", b"theirs"),
        (b"Warning", b'299 - "one"'),
        (b"Warning", b'299 - "two"'),
    ]
    assert proxy.incoming_headers(back) == [
        (b"content-type", b"application/json"),
        (b"warning", b'299 - "one"'),
        (b"warning", b'299 - "two"'),
    ]


async def test_an_unavailable_apiservice_is_plain_service_unavailable() -> None:
    found = state(svc=service())
    held(found.apiservices, apiservice("False"))
    remote = found.remote("wardle.example.com", "v1alpha1")
    assert remote is not None
    reply = await proxy.Proxy(found, Transports(None)).forward(None, None, remote)  # type: ignore[arg-type]
    assert (reply.status_code, reply.body) == (503, b"service unavailable\n")
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_transport_failures_in_go_s_words() -> None:
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert transport.errors_text(refused, "10.0.0.1", 443) == (
        "dial tcp 10.0.0.1:443: connect: connection refused"
    )
    assert transport.errors_text(httpx.ConnectTimeout("slow"), "::1", 443) == (
        "dial tcp [::1]:443: i/o timeout"
    )
    bad_ca = Transports(None)
    with pytest.raises(transport.TransportError, match="unable to load root certificates"):
        bad_ca.client(remote_of(apiservice()))  # type: ignore[arg-type]


# --- discovery merged --------------------------------------------------------------------


def wardle(freshness: str = "Current", priority: int = 1000) -> RemoteGroup:
    entry = {"version": "v1alpha1", "resources": [{"resource": "flunders"}], "freshness": freshness}
    return RemoteGroup("wardle.example.com", priority, (RemoteVersion("v1alpha1", 15, entry),))


def test_remote_groups_take_their_place_by_priority_then_name() -> None:
    table = builtin_table()
    metrics = RemoteGroup(
        "metrics.k8s.io",
        100,
        (RemoteVersion("v1beta1", 100, {"version": "v1beta1", "freshness": "Current"}),),
    )
    first = RemoteGroup(
        "aaa.example.com",
        18500,
        (RemoteVersion("v1", 1, {"version": "v1", "freshness": "Current"}),),
    )
    doc = discovery.aggregated(table, legacy=False, remote=[wardle(), metrics, first])
    names = [item["metadata"]["name"] for item in doc["items"]]
    assert names[:3] == ["apiregistration.k8s.io", "aaa.example.com", "apps"]
    assert names[-2:] == ["wardle.example.com", "metrics.k8s.io"]
    (group,) = [i for i in doc["items"] if i["metadata"]["name"] == "wardle.example.com"]
    assert group["versions"] == [wardle().versions[0].entry]
    legacy = discovery.api_group_list(table, [wardle("Stale")])
    assert [g["name"] for g in legacy["groups"]][-1] == "wardle.example.com"  # listed all the same


def test_versions_by_priority_and_a_remote_one_replaces_the_local_one() -> None:
    table = builtin_table()
    remote_v1 = RemoteGroup(
        "autoscaling",
        17500,
        (RemoteVersion("v1", 40, {"version": "v1", "freshness": "Stale"}),),
    )
    doc = discovery.aggregated(table, legacy=False, remote=[remote_v1])
    (autoscaling,) = [i for i in doc["items"] if i["metadata"]["name"] == "autoscaling"]
    assert [v["version"] for v in autoscaling["versions"]] == ["v1", "v2"]
    assert autoscaling["versions"][0] == {"version": "v1", "freshness": "Stale"}


def test_a_legacy_resource_list_as_aggregated_discovery() -> None:
    converted = convert_resource_list(
        {
            "groupVersion": "wardle.example.com/v1alpha1",
            "resources": [
                {"name": "flunders", "singularName": "flunder", "namespaced": True,
                 "kind": "Flunder", "verbs": ["get", "list"], "shortNames": ["fl"]},
                {"name": "flunders/status", "singularName": "", "namespaced": True,
                 "kind": "Flunder", "verbs": ["get"]},
            ],
        }
    )  # fmt: skip
    assert converted == [
        {
            "resource": "flunders",
            "responseKind": {
                "group": "wardle.example.com",
                "version": "v1alpha1",
                "kind": "Flunder",
            },
            "scope": "Namespaced",
            "singularResource": "flunder",
            "verbs": ["get", "list"],
            "shortNames": ["fl"],
            "subresources": [
                {
                    "subresource": "status",
                    "responseKind": {
                        "group": "wardle.example.com",
                        "version": "v1alpha1",
                        "kind": "Flunder",
                    },
                    "verbs": ["get"],
                }
            ],
        }
    ]
