"""apiregistration.k8s.io/v1 APIServices: which server answers a group-version.

As kube-aggregator's ``registry/apiservice`` strategy and ``apis/apiregistration/
validation``: the name is ``<version>.<group>``, priorities are bounded, a local
APIService (no ``spec.service``) is Available from its creation ("Local"), and a status
update changes the status alone. The gateway acts on them (services/gateway/aggregator);
the registry keeps the local ones in step with its catalog (``local_apiservices.py``).

The facts the gateway shares (priorities, labels, conditions) are in
``services/registry/aggregation.py``.
"""

from __future__ import annotations

import base64
import binascii

from kapi import errors, names
from kapi.errors import FieldError
from services.registry import types
from services.registry.aggregation import (
    CONDITION_STATUSES,
    GROUP,
    local_condition,
)
from services.registry.definition import Definition
from services.registry.pipeline import now_rfc3339
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategy import Obj


class APIServiceStrategy(StatusStrategy):
    """kube-aggregator's apiServerStrategy and apiServerStatusStrategy."""

    def default(self, obj: Obj) -> None:
        service = spec_of(obj).get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443  # SetDefaults_ServiceReference

    def initial_status(self, obj: Obj) -> Obj:
        """A local APIService is available from the moment it is created."""
        if spec_of(obj).get("service") is None:
            return {"conditions": [local_condition(now_rfc3339())]}
        return {}

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Status alone: spec, labels, annotations, finalizers and owners are the old ones."""
        status = new.get("status")
        new.clear()
        new.update({k: v for k, v in old.items() if k != "status"})
        new["metadata"] = {**old.get("metadata", {})}
        if status is not None:
            new["status"] = status

    def validate_name(self, name: str) -> list[str]:
        return names.path_segment_name(name)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        group = spec.get("group") or ""
        version = spec.get("version") or ""
        out: list[FieldError] = []
        name = get_path(obj, "metadata", "name")
        required_name = f"{version}.{group}"
        well_formed = isinstance(name, str) and name and not names.path_segment_name(name)
        if well_formed and name != required_name:
            out.append(
                errors.invalid_value(
                    "metadata.name",
                    name,
                    f'must be `spec.version+"."+spec.group`: "{required_name}"',
                )
            )
        if not group and version != "v1":
            out.append(
                errors.required(
                    "spec.group", "only v1 may have an empty group and it better be legacy kube"
                )
            )
        if isinstance(group, str) and group:
            out.extend(
                errors.invalid_value("spec.group", group, m) for m in names.dns1123_subdomain(group)
            )
        if isinstance(version, str):
            out.extend(
                errors.invalid_value("spec.version", version, m)
                for m in names.dns1035_label(version)
            )
        group_priority = _int(spec.get("groupPriorityMinimum"))
        if not 0 < group_priority <= 20000:
            out.append(
                errors.invalid_value(
                    "spec.groupPriorityMinimum",
                    group_priority,
                    "must be positive and less than 20000",
                )
            )
        version_priority = _int(spec.get("versionPriority"))
        if not 0 < version_priority <= 1000:
            out.append(
                errors.invalid_value(
                    "spec.versionPriority", version_priority, "must be positive and less than 1000"
                )
            )
        ca_bundle = spec.get("caBundle") or ""
        insecure = spec.get("insecureSkipTLSVerify") is True
        service = spec.get("service")
        if not isinstance(service, dict):
            if ca_bundle:
                out.append(
                    errors.invalid_value(
                        "spec.caBundle",
                        f"{_decoded_length(ca_bundle)} bytes",
                        "local APIServices may not have a caBundle",
                    )
                )
            if insecure:
                out.append(
                    errors.invalid_value(
                        "spec.insecureSkipTLSVerify",
                        True,
                        "local APIServices may not have insecureSkipTLSVerify",
                    )
                )
            return out
        if not service.get("namespace"):
            out.append(errors.required("spec.service.namespace"))
        if not service.get("name"):
            out.append(errors.required("spec.service.name"))
        if insecure and ca_bundle:
            out.append(
                errors.invalid_value(
                    "spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"
                )
            )
        return out

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        if subresource != "status":
            return self.validate_update(new, old)
        out: list[FieldError] = []
        for i, condition in enumerate(common.dicts(get_path(new, "status", "conditions"))):
            if condition.get("status") not in CONDITION_STATUSES:
                out.append(
                    errors.not_supported(
                        f"status.conditions[{i}].status",
                        condition.get("status"),
                        CONDITION_STATUSES,
                    )
                )
        return out


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _decoded_length(ca_bundle: str) -> int:
    """The bytes of a base64 caBundle, as kube counts them (it holds them decoded)."""
    try:
        return len(base64.b64decode(ca_bundle, validate=False))
    except (binascii.Error, ValueError):
        return len(ca_bundle)


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        group=GROUP,
        version="v1",
        resource="apiservices",
        kind="APIService",
        singular="apiservice",
        namespaced=False,
        schema="io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
        categories=types.API_EXTENSIONS,
        subresources=types.STATUS,
        strategy=APIServiceStrategy(),
    ),
)
