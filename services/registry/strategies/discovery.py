"""discovery.k8s.io/v1 EndpointSlices (``pkg/apis/discovery/validation``). kube bumps an
EndpointSlice's generation on any change of its content or labels."""

from __future__ import annotations

import ipaddress
from typing import Any

from kapi import errors
from kapi import service_resolution as resolution
from kapi.errors import FieldError
from services.registry import validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategy import Obj, Strategy

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
MAX_ENDPOINTS = 1000
MAX_PORTS = 20000


class EndpointSliceStrategy(Strategy):
    """``allow_loopback``: take loopback addresses, which kube refuses (kapi up's choice,
    so that an extension API server on this machine can be reached through its
    EndpointSlice; compose and clusters keep kube's rule)."""

    tracks_generation = True

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self.allow_loopback = allow_loopback

    def default(self, obj: Obj) -> None:
        for port in common.dicts(obj.get("ports")):
            port.setdefault("protocol", "TCP")
            port.setdefault("name", "")

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        meta = new.setdefault("metadata", {})
        old_meta = old.get("metadata") or {}
        generation = old_meta.get("generation", 1)
        changed = _content(new) != _content(old) or meta.get("labels") != old_meta.get("labels")
        meta["generation"] = generation + 1 if changed else generation

    def validate(self, obj: Obj) -> list[FieldError]:
        kind = obj.get("addressType")
        if not kind:
            return [errors.required("addressType")]
        out = common.one_of(kind, "addressType", ADDRESS_TYPES)
        endpoints = common.dicts(obj.get("endpoints"))
        if len(endpoints) > MAX_ENDPOINTS:
            out.append(
                errors.FieldError(
                    "FieldValueTooMany",
                    "endpoints",
                    len(endpoints),
                    f"must have at most {MAX_ENDPOINTS} items",
                )
            )
        for i, endpoint in enumerate(endpoints):
            addresses = endpoint.get("addresses")
            path = f"endpoints[{i}].addresses"
            if not addresses:
                out.append(errors.required(path, "must contain at least 1 address"))
            for j, address in enumerate(addresses or []):
                out += _validate_address(kind, address, f"{path}[{j}]", self.allow_loopback)
        for i, port in enumerate(common.dicts(obj.get("ports"))):
            path = f"ports[{i}]"
            name = port.get("name")
            if isinstance(name, str) and name:
                out.extend(
                    errors.invalid_value(f"{path}.name", name, m)
                    for m in validation.dns1123_label(name)
                )
            out += common.one_of(port.get("protocol"), f"{path}.protocol", ("SCTP", "TCP", "UDP"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + common.immutable(
            new.get("addressType"), old.get("addressType"), "addressType"
        )


def _content(obj: Obj) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}


def _validate_address(
    kind: str, address: Any, path: str, allow_loopback: bool = False
) -> list[FieldError]:
    if kind in ("IPv4", "IPv6"):
        try:
            parsed = ipaddress.ip_address(str(address))
        except ValueError:
            return [errors.invalid_value(path, address, "must be a valid IP address")]
        if (kind == "IPv4") != (parsed.version == 4):
            return [errors.invalid_value(path, address, f"must be an {kind} address")]
        return [
            errors.invalid_value(path, address, message)
            for message in resolution.special_address_problems(
                str(parsed), allow_loopback=allow_loopback
            )
        ]
    return [
        errors.invalid_value(path, address, m) for m in validation.dns1123_subdomain(str(address))
    ]


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", EndpointSliceStrategy(),
        schema_group="discovery",
    ),
)  # fmt: skip
