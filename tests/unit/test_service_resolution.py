"""kapi.service_resolution: a Service reference to endpoints and a URL, as kube's
ResolveEndpoint (k8s.io/apiserver pkg/util/proxy) does over EndpointSlices, in its
words; and the special-address rule of EndpointSlices (ValidateNonSpecialIP) with kapi
up's loopback exception."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kapi import errors
from kapi import service_resolution as resolution
from kapi.service_resolution import Endpoint, ServiceRef

Obj = dict[str, Any]
REF = ServiceRef("hooks", "webhook", 443, "/validate")


def service(*, port: int = 443, name: str = "https", kind: str = "ClusterIP") -> Obj:
    return {
        "metadata": {"namespace": "hooks", "name": "webhook"},
        "spec": {"type": kind, "ports": [{"name": name, "port": port, "targetPort": 8443}]},
    }


def endpoint_slice(
    addresses: list[str],
    *,
    ready: bool | None = True,
    port_name: str = "https",
    port: int = 8443,
    namespace: str = "hooks",
    service_name: str = "webhook",
) -> Obj:
    conditions = {} if ready is None else {"ready": ready}
    return {
        "metadata": {
            "namespace": namespace,
            "name": f"{service_name}-{addresses[0]}",
            "labels": {resolution.SERVICE_NAME_LABEL: service_name},
        },
        "endpoints": [{"addresses": addresses, "conditions": conditions}],
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
    }


def test_service_ref_from_a_service_stanza() -> None:
    assert resolution.service_ref({"namespace": "hooks", "name": "webhook"}) == ServiceRef(
        "hooks", "webhook", 443, ""
    )
    assert resolution.service_ref(
        {"namespace": "hooks", "name": "webhook", "port": 8443, "path": "/convert"}
    ) == ServiceRef("hooks", "webhook", 8443, "/convert")
    assert resolution.service_ref(None) is None
    assert REF.server_name == "webhook.hooks.svc"


def test_ready_endpoints_on_the_port_s_name_of_the_service_s_slices() -> None:
    slices = [
        endpoint_slice(["10.0.0.1", "10.0.0.2"]),
        endpoint_slice(["10.0.0.3"], ready=False),
        endpoint_slice(["10.0.0.4"], ready=None),  # unset ready counts as ready
        endpoint_slice(["10.0.0.5"], port_name="metrics", port=9090),
        endpoint_slice(["10.0.0.6"], namespace="other"),
        endpoint_slice(["10.0.0.7"], service_name="other"),
    ]
    assert sorted(resolution.endpoints(REF, service(), slices)) == [
        Endpoint("10.0.0.1", 8443),
        Endpoint("10.0.0.2", 8443),
        Endpoint("10.0.0.4", 8443),
    ]


@pytest.mark.parametrize(
    ("svc", "slices", "code", "message"),
    [
        (None, [], 404, 'service "webhook" not found'),
        (service(port=8443), [], 503, 'no service port 443 found for service "webhook"'),
        (service(kind="ExternalName"), [], 503, 'unsupported service type "ExternalName"'),
        (service(), [], 503, 'no endpoints available for service "webhook"'),
        (service(), [endpoint_slice(["10.0.0.1"], ready=False)], 503,
         'no endpoints available for service "webhook"'),
        (service(), [endpoint_slice(["10.0.0.1"], port_name="other")], 503,
         'no endpoints available for service "webhook"'),
    ],
)  # fmt: skip
def test_failures_in_kube_s_words(
    svc: Obj | None, slices: list[Obj], code: int, message: str
) -> None:
    with pytest.raises(errors.StatusError) as raised:
        resolution.resolve(REF, svc, slices)
    assert (raised.value.code, raised.value.message) == (code, message)


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_routable_service_types(kind: str) -> None:
    found = resolution.endpoints(REF, service(kind=kind), [endpoint_slice(["10.0.0.1"])])
    assert found == [Endpoint("10.0.0.1", 8443)]


def test_the_url_of_a_chosen_endpoint() -> None:
    slices = [endpoint_slice(["10.0.0.1", "10.0.0.2"]), endpoint_slice(["fd00::1"])]

    def last(found: Sequence[Endpoint]) -> Endpoint:
        return sorted(found)[-1]

    chosen = resolution.resolve(REF, service(), slices, choose=last)
    assert chosen == Endpoint("fd00::1", 8443)
    assert chosen.url("/x") == "https://[fd00::1]:8443/x"
    assert Endpoint("10.0.0.1", 8443).host == "10.0.0.1:8443"
    one = [endpoint_slice(["10.0.0.1"])]
    assert resolution.url(REF, service(), one) == "https://10.0.0.1:8443/validate"
    assert resolution.url(REF, service(), one, "/apis/x/v1") == "https://10.0.0.1:8443/apis/x/v1"


@pytest.mark.parametrize(
    ("address", "problems"),
    [
        ("10.0.0.1", []),
        ("fd00::1", []),
        ("0.0.0.0", ["may not be unspecified (0.0.0.0)"]),
        ("::", ["may not be unspecified (::)"]),
        ("127.0.0.1", [resolution.LOOPBACK]),
        ("127.9.9.9", [resolution.LOOPBACK]),
        ("::1", [resolution.LOOPBACK]),
        ("169.254.1.1", ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
        ("fe80::1", ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
        ("224.0.0.5", ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]),
        ("example.com", []),
    ],
)
def test_special_addresses_as_kube_refuses_them(address: str, problems: list[str]) -> None:
    assert resolution.special_address_problems(address) == problems


def test_kapi_up_s_exception_is_loopback_only() -> None:
    assert resolution.special_address_problems("127.0.0.1", allow_loopback=True) == []
    assert resolution.special_address_problems("::1", allow_loopback=True) == []
    assert resolution.special_address_problems("0.0.0.0", allow_loopback=True) == [
        "may not be unspecified (0.0.0.0)"
    ]
    assert resolution.special_address_problems("169.254.1.1", allow_loopback=True) != []
