"""Strategies of the core (v1) group."""

from __future__ import annotations

import ipaddress
import random
from typing import Any, ClassVar

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.strategies.pod_spec import default_pod_spec, validate_pod_spec
from services.registry.strategy import Obj, Strategy

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


class NamespaceStrategy(Strategy):
    def validate_name(self, name: str) -> list[str]:
        return validation.dns1123_label(name)

    has_status = True
    return_deleted_object = True

    def default(self, obj: Obj) -> None:
        name = obj.get("metadata", {}).get("name")
        if isinstance(name, str) and name:
            labels = obj["metadata"].setdefault("labels", {})
            if isinstance(labels, dict):
                labels["kubernetes.io/metadata.name"] = name

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        finalizers = spec.get("finalizers") or []
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        spec["finalizers"] = finalizers

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """As kube: spec.finalizers and status only change through /finalize and /status."""
        super().prepare_for_update(new, old)
        old_spec = old.get("spec")
        finalizers = old_spec.get("finalizers") if isinstance(old_spec, dict) else None
        spec = new.get("spec")
        if finalizers is None:
            if isinstance(spec, dict):
                spec.pop("finalizers", None)
            return
        if not isinstance(spec, dict):
            spec = new["spec"] = {}
        spec["finalizers"] = finalizers


class ConfigMapStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        data = obj.get("data") or {}
        binary = obj.get("binaryData") or {}
        for field, mapping in (("data", data), ("binaryData", binary)):
            if not isinstance(mapping, dict):
                out.append(errors.invalid_value(field, mapping, "must be a map"))
                continue
            for key in mapping:
                # kube's path is field.NewPath("data").Key(key): data[key]
                out.extend(
                    errors.invalid_value(f"{field}[{key}]", key, m)
                    for m in validation.config_map_key(key)
                )
                if field == "data" and isinstance(binary, dict) and key in binary:
                    out.append(
                        errors.invalid_value(
                            f"data[{key}]", key, "duplicate of key present in binaryData"
                        )
                    )
        return out


class SecretStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        obj.setdefault("type", "Opaque")

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        data = obj.get("data") or {}
        if isinstance(data, dict):
            for key in data:
                out.extend(
                    errors.invalid_value(f"data[{key}]", key, m)
                    for m in validation.config_map_key(key)
                )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if new.get("type") != old.get("type"):
            out.append(errors.invalid_value("type", new.get("type"), "field is immutable"))
        return out


class ServiceAccountStrategy(Strategy):
    return_deleted_object = True  # kube's serviceaccount storage: ReturnDeletedObject


class EventStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        involved = obj.get("involvedObject")
        if not isinstance(involved, dict):
            return [errors.required("involvedObject")]
        return []


class PodStrategy(Strategy):
    has_status = True
    return_deleted_object = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            default_pod_spec(spec)
            _default_requests_to_limits(spec)
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            spec.setdefault("priority", 0)
            spec.setdefault(
                "tolerations",
                [
                    {
                        "key": f"node.kubernetes.io/{taint}",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                    for taint in ("not-ready", "unreachable")
                ],
            )

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pod_spec(obj.get("spec"), "spec")


def _default_requests_to_limits(spec: Obj) -> None:
    """kube's SetDefaults_Pod (pods only, not templates): a limit without a request is
    also the request."""
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            resources = container.get("resources") if isinstance(container, dict) else None
            if not isinstance(resources, dict):
                continue
            limits = resources.get("limits")
            if isinstance(limits, dict) and limits:
                requests = resources.setdefault("requests", {})
                if isinstance(requests, dict):
                    for name, quantity in limits.items():
                        requests.setdefault(name, quantity)


def _qos_class(spec: dict[str, Any]) -> str:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits", {}).get(k)
        and r.get("requests", {}).get(k, r["limits"][k]) == r["limits"][k]
        for r in resources
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


class ServiceStrategy(Strategy):
    def validate_name(self, name: str) -> list[str]:
        return validation.dns1035_label(name)

    has_status = True
    return_deleted_object = True  # kube's service storage: ReturnDeletedObject
    types: ClassVar[tuple[str, ...]] = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        # kube's SetDefaults_Service
        spec.setdefault("sessionAffinity", "None")  # every type, ExternalName included
        spec.setdefault("type", "ClusterIP")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port and port.get("targetPort") in (None, 0, ""):
                    port["targetPort"] = port["port"]
        kind = spec["type"]
        if kind in ("NodePort", "LoadBalancer") or (
            kind == "ClusterIP" and spec.get("externalIPs")
        ):
            spec.setdefault("externalTrafficPolicy", "Cluster")  # externally accessible
        if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if kind == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """kube's patchAllocatedValues: a manifest sent again without the clusterIP the
        server allocated keeps that address (and its IP families) instead of failing."""
        super().prepare_for_update(new, old)
        spec, old_spec = new.get("spec"), old.get("spec")
        if not isinstance(spec, dict) or not isinstance(old_spec, dict):
            return
        if "ExternalName" in (spec.get("type"), old_spec.get("type")):
            return
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if not spec.get(key) and old_spec.get(key):
                    spec[key] = old_spec[key]

    def allocate_cluster_ip(self, obj: Obj, taken: set[str]) -> None:
        """Give a ClusterIP service an address from the service CIDR that no service has."""
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
            return
        if spec.get("clusterIP") in (None, ""):
            first, size = int(SERVICE_CIDR.network_address), SERVICE_CIDR.num_addresses
            for _ in range(1000):
                candidate = str(ipaddress.ip_address(first + random.randrange(10, size - 1)))
                if candidate not in taken:
                    spec["clusterIP"] = candidate
                    break
        if spec.get("clusterIP") and spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        elif spec.get("clusterIP") == "None":
            spec.setdefault("clusterIPs", ["None"])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out: list[FieldError] = []
        kind = spec.get("type", "ClusterIP")
        if kind not in self.types:
            out.append(errors.not_supported("spec.type", kind, self.types))
        ports = spec.get("ports") or []
        if kind != "ExternalName" and spec.get("clusterIP") != "None" and not ports:
            out.append(errors.required("spec.ports"))
        names: set[str] = set()
        for i, port in enumerate(ports):
            path = f"spec.ports[{i}]"
            if not isinstance(port, dict):
                out.append(errors.invalid_value(path, port, "must be an object"))
                continue
            # kube's validateServicePort order: name, port, protocol
            name = port.get("name", "")
            if len(ports) > 1 and not name:
                out.append(errors.required(f"{path}.name"))
            elif name:
                out.extend(
                    errors.invalid_value(f"{path}.name", name, m)
                    for m in validation.dns1123_label(str(name))
                )
                if name in names:
                    out.append(errors.duplicate(f"{path}.name", name))
                names.add(name)
            number = port.get("port")
            if not isinstance(number, int) or not 1 <= number <= 65535:
                out.append(
                    errors.invalid_value(
                        f"{path}.port", number, "must be between 1 and 65535, inclusive"
                    )
                )
            protocol = port.get("protocol")
            if protocol not in ("TCP", "UDP", "SCTP"):
                out.append(
                    errors.not_supported(f"{path}.protocol", protocol, ["SCTP", "TCP", "UDP"])
                )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip != old_ip and (new.get("spec") or {}).get("type") != "ExternalName":
            out.append(
                errors.invalid_value("spec.clusterIPs[0]", new_ip, "may not change once set")
            )
        return out
