"""networking.k8s.io/v1: Ingresses, IngressClasses and NetworkPolicies, as
``pkg/apis/networking/v1/defaults.go`` and ``pkg/apis/networking/validation`` do them."""

from __future__ import annotations

import re
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import types, validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategy import Obj, Strategy

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_WILDCARD_HOST = re.compile(r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class IngressStrategy(StatusStrategy):
    tracks_generation = True

    def initial_status(self, obj: Obj) -> Obj:
        return {"loadBalancer": {}}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        backend = spec.get("defaultBackend")
        rules = spec.get("rules")
        if backend is None and not rules:
            out.append(
                errors.invalid_value(
                    "spec", spec, "either `defaultBackend` or `rules` must be specified"
                )
            )
        if isinstance(backend, dict):
            out += _validate_backend(backend, "spec.defaultBackend")
        class_name = spec.get("ingressClassName")
        if isinstance(class_name, str):
            out.extend(
                errors.invalid_value("spec.ingressClassName", class_name, m)
                for m in validation.dns1123_subdomain(class_name)
            )
        for i, rule in enumerate(common.dicts(rules)):
            out += _validate_rule(rule, f"spec.rules[{i}]")
        for i, tls in enumerate(common.dicts(spec.get("tls"))):
            for j, host in enumerate(tls.get("hosts") or []):
                out += _validate_host(host, f"spec.tls[{i}].hosts[{j}]")
        return out


def _validate_host(host: Any, path: str) -> list[FieldError]:
    if not isinstance(host, str) or not host:
        return []
    if host.startswith("*."):
        if not _WILDCARD_HOST.fullmatch(host):
            return [
                errors.invalid_value(
                    path,
                    host,
                    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid "
                    "DNS subdomain, which must consist of lower case alphanumeric characters, "
                    "'-' or '.' and end with an alphanumeric character (e.g. '*.example.com', "
                    "regex used for validation is "
                    "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                )
            ]
        return []
    return [errors.invalid_value(path, host, m) for m in validation.dns1123_subdomain(host)]


def _validate_rule(rule: Obj, path: str) -> list[FieldError]:
    host = rule.get("host")
    out = _validate_host(host, f"{path}.host")
    if isinstance(host, str) and re.fullmatch(r"[0-9.]+", host):
        out.append(
            errors.invalid_value(f"{path}.host", host, "must be a DNS name, not an IP address")
        )
    http = rule.get("http")
    if not isinstance(http, dict):
        return out
    paths = http.get("paths")
    if not paths:
        out.append(errors.required(f"{path}.http.paths"))
    for i, item in enumerate(common.dicts(paths)):
        ppath = f"{path}.http.paths[{i}]"
        path_type = item.get("pathType")
        value = item.get("path")
        if not path_type:
            out.append(errors.required(f"{ppath}.pathType", "pathType must be specified"))
        elif path_type not in _PATH_TYPES:
            out.append(errors.not_supported(f"{ppath}.pathType", path_type, _PATH_TYPES))
        elif path_type in ("Exact", "Prefix"):
            if not isinstance(value, str) or not value.startswith("/"):
                out.append(errors.invalid_value(f"{ppath}.path", value, "must be an absolute path"))
            elif value:
                for sequence in _INVALID_PATH_SEQUENCES:
                    if sequence in value:
                        out.append(
                            errors.invalid_value(
                                f"{ppath}.path", value, f"must not contain '{sequence}'"
                            )
                        )
                for suffix in _INVALID_PATH_SUFFIXES:
                    if value.endswith(suffix):
                        out.append(
                            errors.invalid_value(
                                f"{ppath}.path", value, f"cannot end with '{suffix}'"
                            )
                        )
        elif isinstance(value, str) and value and not value.startswith("/"):
            out.append(errors.invalid_value(f"{ppath}.path", value, "must be an absolute path"))
        backend = item.get("backend")
        if not isinstance(backend, dict):
            out.append(errors.required(f"{ppath}.backend"))
        else:
            out += _validate_backend(backend, f"{ppath}.backend")
    return out


def _validate_backend(backend: Obj, path: str) -> list[FieldError]:
    """validateIngressBackend: a service (name and port) or a resource, not both."""
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [
            errors.invalid_value(path, backend, "cannot set both resource and service backends")
        ]
    if resource is not None:
        out: list[FieldError] = []
        for key in ("kind", "name"):
            if not get_path(resource, key):
                out.append(errors.required(f"{path}.resource.{key}"))
        return out
    if not isinstance(service, dict):
        return [errors.invalid_value(path, backend, "resource or service backend is required")]
    out = []
    name = service.get("name")
    if not name:
        out.append(errors.required(f"{path}.service.name"))
    elif isinstance(name, str):
        out.extend(
            errors.invalid_value(f"{path}.service.name", name, m)
            for m in validation.dns1035_label(name)
        )
    port = service.get("port")
    if not isinstance(port, dict) or (port.get("name") in (None, "") and not port.get("number")):
        out.append(errors.required(f"{path}.service.port", "port name or number is required"))
    elif port.get("name") and port.get("number"):
        out.append(
            errors.invalid_value(
                f"{path}.service.port", port, "cannot set both port name & port number"
            )
        )
    elif port.get("number") is not None:
        number = port["number"]
        if not isinstance(number, int) or not 1 <= number <= 65535:
            out.append(
                errors.invalid_value(
                    f"{path}.service.port.number", number, "must be between 1 and 65535, inclusive"
                )
            )
    return out


class IngressClassStrategy(Strategy):
    tracks_generation = True

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        controller = spec.get("controller")
        if not controller:
            return [errors.required("spec.controller")]
        out: list[FieldError] = []
        if isinstance(controller, str):
            if len(controller) > 250:
                out.append(errors.too_long("spec.controller", 250))
            domain = controller.split("/", 1)[0]
            if "/" not in controller or validation.dns1123_subdomain(domain):
                out.append(
                    errors.invalid_value(
                        "spec.controller",
                        controller,
                        'must be a domain-prefixed path (such as "acme.io/foo")',
                    )
                )
        parameters = spec.get("parameters")
        if isinstance(parameters, dict):
            for key in ("kind", "name"):
                if not parameters.get(key):
                    out.append(errors.required(f"spec.parameters.{key}"))
            out += common.one_of(
                parameters.get("scope"), "spec.parameters.scope", ("Cluster", "Namespace")
            )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + common.immutable(
            spec_of(new).get("controller"), spec_of(old).get("controller"), "spec.controller"
        )


class NetworkPolicyStrategy(Strategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        for direction in ("ingress", "egress"):
            for rule in common.dicts(spec.get(direction)):
                for port in common.dicts(rule.get("ports")):
                    port.setdefault("protocol", "TCP")
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress"]
            if spec.get("egress"):
                spec["policyTypes"].append("Egress")

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out = common.validate_label_selector(spec.get("podSelector"), "spec.podSelector")
        types = spec.get("policyTypes") or []
        for i, kind in enumerate(types):
            out += common.one_of(kind, f"spec.policyTypes[{i}]", ("Ingress", "Egress"))
        if len(types) > 2:
            out.append(
                errors.invalid_value(
                    "spec.policyTypes", types, "may not specify more than two policyTypes"
                )
            )
        for direction, peers in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(common.dicts(spec.get(direction))):
                for j, port in enumerate(common.dicts(rule.get("ports"))):
                    ppath = f"spec.{direction}[{i}].ports[{j}]"
                    out += common.one_of(
                        port.get("protocol"), f"{ppath}.protocol", ("SCTP", "TCP", "UDP")
                    )
                for j, peer in enumerate(common.dicts(rule.get(peers))):
                    ppath = f"spec.{direction}[{i}].{peers}[{j}]"
                    if not any(
                        peer.get(k) is not None
                        for k in ("podSelector", "namespaceSelector", "ipBlock")
                    ):
                        out.append(errors.required(ppath, "must specify a peer"))
                    for key in ("podSelector", "namespaceSelector"):
                        out += common.validate_label_selector(peer.get(key), f"{ppath}.{key}")
        return out


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "networking.k8s.io", "v1", "ingressclasses", "IngressClass", IngressClassStrategy(),
        schema_group="networking", namespaced=False,
    ),
    grouped(
        "networking.k8s.io", "v1", "ingresses", "Ingress", IngressStrategy(),
        schema_group="networking", short_names=("ing",), subresources=types.STATUS,
    ),
    grouped(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", NetworkPolicyStrategy(),
        schema_group="networking", short_names=("netpol",),
    ),
)  # fmt: skip
