"""Where a Service reference leads: Service → EndpointSlices → an HTTPS URL.

kube-apiserver calls out to Services in three places: the aggregator (an APIService's
``spec.service``), admission webhooks and CRD conversion webhooks (a ``clientConfig``'s
``service``). kapi has no cluster DNS or Service proxy, so all three resolve as
kube-aggregator does with ``--enable-aggregator-routing`` (k8s.io/apiserver
``pkg/util/proxy`` ``ResolveEndpoint``): the Service's port whose ``port`` is the
reference's, then the ready addresses of the EndpointSlices labelled
``kubernetes.io/service-name`` that carry a port of that port's name. The caller supplies
the objects (from its informers); everything here is a pure function of them.

The loopback rule lives here too: kube refuses loopback, unspecified and link-local
addresses in EndpointSlices (``ValidateNonSpecialIP``, pkg/apis/core/validation), and so
does kapi in compose and clusters; a local ``kapi up`` accepts loopback endpoints so that
an extension API server or a webhook can run beside it (``allow_loopback``). The registry
validates with ``special_address_problems``; what it stored has passed the rule, so the
resolver does not check again.

Errors are kube's: a missing Service is NotFound, the rest 503 ServiceUnavailable with
ResolveEndpoint's words.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kapi import errors

Obj = Mapping[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Service types ResolveEndpoint routes to (ExternalName is not).
ROUTABLE_TYPES = ("ClusterIP", "LoadBalancer", "NodePort")
DEFAULT_PORT = 443  # an APIService's and a webhook's service port when unset

LOOPBACK = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
_LINK_LOCAL_MULTICAST = (
    ipaddress.ip_network("224.0.0.0/24"),
    ipaddress.ip_network("ff02::/16"),
)


@dataclass(frozen=True)
class ServiceRef:
    """A reference to a Service's port, as an APIService or a webhook's clientConfig
    gives one (``path`` only for webhooks)."""

    namespace: str
    name: str
    port: int = DEFAULT_PORT
    path: str = ""

    @property
    def server_name(self) -> str:
        """The name the serving certificate is checked against (kube's ServerName)."""
        return f"{self.name}.{self.namespace}.svc"


@dataclass(frozen=True, order=True)
class Endpoint:
    """One ready address and the port number its EndpointSlice gives."""

    address: str
    port: int

    @property
    def host(self) -> str:
        """``address:port`` as a URL's authority (IPv6 in brackets, Go's JoinHostPort)."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{address}:{self.port}"

    def url(self, path: str = "") -> str:
        return f"https://{self.host}{path}"


def service_ref(spec: object) -> ServiceRef | None:
    """A ``service`` stanza (``{namespace, name, port, path}``) as a ServiceRef; None when
    it is not an object."""
    if not isinstance(spec, Mapping):
        return None
    port = spec.get("port")
    return ServiceRef(
        namespace=str(spec.get("namespace") or ""),
        name=str(spec.get("name") or ""),
        port=port if isinstance(port, int) and port else DEFAULT_PORT,
        path=str(spec.get("path") or ""),
    )


def service_port(service: Obj, port: int) -> Obj | None:
    """The Service's port numbered ``port`` (kube's findServicePort), None if none is."""
    for candidate in (service.get("spec") or {}).get("ports") or []:
        if isinstance(candidate, Mapping) and candidate.get("port") == port:
            return candidate
    return None


def slices_of(slices: Iterable[Obj], ref: ServiceRef) -> list[Obj]:
    """The EndpointSlices of the referenced Service (its namespace, its name label)."""
    return [
        s
        for s in slices
        if (s.get("metadata") or {}).get("namespace") == ref.namespace
        and ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == ref.name
    ]


def slice_port(slice_: Obj, port_name: str) -> int | None:
    """The number the slice gives the port named ``port_name``, None when it has none."""
    for port in slice_.get("ports") or []:
        if isinstance(port, Mapping) and (port.get("name") or "") == port_name:
            number = port.get("port")
            return number if isinstance(number, int) else None
    return None


def ready_addresses(slice_: Obj) -> list[str]:
    """The addresses of the slice's endpoints not marked unready (kube takes an unset
    ``ready`` as ready)."""
    out: list[str] = []
    for endpoint in slice_.get("endpoints") or []:
        if not isinstance(endpoint, Mapping):
            continue
        if (endpoint.get("conditions") or {}).get("ready") is False:
            continue
        out += [str(a) for a in endpoint.get("addresses") or []]
    return out


def endpoints(ref: ServiceRef, service: Obj | None, slices: Iterable[Obj]) -> list[Endpoint]:
    """Every endpoint the reference resolves to, or kube's error: NotFound without the
    Service, 503 ServiceUnavailable without the port, for an ExternalName Service, or
    with no ready address. ``slices`` may hold any slices: the Service's are picked."""
    if service is None:
        # the Service lister's NotFound: client-go listers/core/v1 names the resource
        # "service", singular
        raise errors.not_found("service", "", ref.name)
    port = service_port(service, ref.port)
    if port is None:
        raise errors.service_unavailable(
            f'no service port {ref.port} found for service "{ref.name}"'
        )
    kind = (service.get("spec") or {}).get("type") or "ClusterIP"
    if kind not in ROUTABLE_TYPES:
        raise errors.service_unavailable(f'unsupported service type "{kind}"')
    port_name = str(port.get("name") or "")
    found: list[Endpoint] = []
    for slice_ in slices_of(slices, ref):
        number = slice_port(slice_, port_name)
        if number is not None:
            found += [Endpoint(address, number) for address in ready_addresses(slice_)]
    if not found:
        raise errors.service_unavailable(f'no endpoints available for service "{ref.name}"')
    return found


def resolve(
    ref: ServiceRef,
    service: Obj | None,
    slices: Iterable[Obj],
    *,
    choose: Callable[[Sequence[Endpoint]], Endpoint] = random.choice,
) -> Endpoint:
    """One endpoint, chosen at random as ResolveEndpoint does (``choose`` for tests)."""
    return choose(endpoints(ref, service, slices))


def url(ref: ServiceRef, service: Obj | None, slices: Iterable[Obj], path: str = "") -> str:
    """The URL a call to the reference goes to: a chosen endpoint, with ``path`` or else
    the reference's own (a webhook's)."""
    return resolve(ref, service, slices).url(path or ref.path)


def special_address_problems(address: str, *, allow_loopback: bool = False) -> list[str]:
    """Why an IP address may not be an endpoint (kube's ValidateNonSpecialIP messages):
    unspecified, loopback (unless ``allow_loopback``), link-local, link-local multicast.
    An address that is not an IP is none of these ([] here; validation says it is not
    an IP)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return []
    out: list[str] = []
    if ip.is_unspecified:
        out.append(f"may not be unspecified ({ip})")
    if ip.is_loopback and not allow_loopback:
        out.append(LOOPBACK)
    if ip.is_link_local:
        out.append("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    if any(ip in net for net in _LINK_LOCAL_MULTICAST):
        out.append("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
    return out
