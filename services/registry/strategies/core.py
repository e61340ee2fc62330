"""Strategies of the core (v1) group."""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import random
from typing import Any, ClassVar

from kapi import errors
from kapi.errors import FieldError
from services.registry import deletion, types, validation
from services.registry.definition import Definition, core
from services.registry.field_selection import FieldSelection
from services.registry.pipeline import now_rfc3339
from services.registry.strategies import common, events, scale
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategies.pod_spec import (
    default_pod_spec,
    validate_ephemeral_containers,
    validate_pod_spec,
)
from services.registry.strategies.resource_quota import ResourceQuotaStrategy
from services.registry.strategy import Obj, Strategy
from services.registry.types import Subresource

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
# kube-apiserver's --service-node-port-range default.
NODE_PORT_RANGE = range(30000, 32768)
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
SECRET_MAX_BYTES = 1024 * 1024
# kube's standard finalizers (helper.IsStandardFinalizerName).


class NamespaceStrategy(Strategy):
    def validate_name(self, name: str) -> list[str]:
        return validation.dns1123_label(name)

    has_status = True
    return_deleted_object = True

    def finalized(self, obj: Obj) -> bool:
        return not spec_of(obj).get("finalizers")

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

    def validate(self, obj: Obj) -> list[FieldError]:
        """kube's ValidateNamespace: each spec.finalizers item a qualified name, and one
        without a domain a standard name (``kubernetes``), errors at ``spec.finalizers``."""
        spec = obj.get("spec")
        finalizers = spec.get("finalizers") if isinstance(spec, dict) else None
        if not isinstance(finalizers, list):
            return []
        path = "spec.finalizers"
        return [
            errors.invalid_value(path, name, m)
            for name in finalizers
            if isinstance(name, str)
            for m in (*validation.qualified_name(name), *validation.kube_finalizer_name(name))
        ]

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> None:
        """/finalize takes the body's spec (its finalizers) and keeps the stored status
        (kube's namespaceFinalizeStrategy)."""
        if subresource != "finalize":
            super().prepare_for_subresource_update(subresource, new, old)
            return
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        """kube's ValidateNamespaceFinalizeUpdate: each finalizer a qualified name, or one
        of the standard ones."""
        if subresource != "finalize":
            return super().validate_subresource_update(subresource, new, old)
        finalizers = spec_of(new).get("finalizers") or []
        return [
            errors.invalid_value(f"spec.finalizers[{i}]", str(name), m)
            for i, name in enumerate(finalizers if isinstance(finalizers, list) else [])
            for m in (
                *validation.qualified_name(str(name)),
                *validation.kube_finalizer_name(str(name)),
            )
        ]

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
        if _config_map_size(data, binary) > SECRET_MAX_BYTES:
            # kube's field.NewPath(""): the whole object, printed "[]".
            out.append(errors.too_long("[]", SECRET_MAX_BYTES))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + _immutable_data(new, old, ("data", "binaryData"))


def _config_map_size(data: Any, binary: Any) -> int:
    """kube's ValidateConfigMap total: the bytes of every data value and every decoded
    binaryData value (base64 in JSON: three bytes per four characters, less padding)."""
    total = 0
    if isinstance(data, dict):
        total += sum(len(v.encode()) for v in data.values() if isinstance(v, str))
    if isinstance(binary, dict):
        encoded = [v for v in binary.values() if isinstance(v, str)]
        total += sum(len(v) * 3 // 4 - (len(v) - len(v.rstrip("="))) for v in encoded)
    return total


def _immutable_data(new: Obj, old: Obj, fields: tuple[str, ...]) -> list[FieldError]:
    """ConfigMaps and Secrets marked ``immutable: true`` keep their data and the mark."""
    if old.get("immutable") is not True:
        return []
    out: list[FieldError] = []
    if new.get("immutable") is not True:
        out.append(errors.forbidden_field("immutable", IMMUTABLE_WHEN_SET))
    for field in fields:
        if (new.get(field) or None) != (old.get(field) or None):
            out.append(errors.forbidden_field(field, IMMUTABLE_WHEN_SET))
    return out


class SecretStrategy(Strategy):
    # What each well-known type must carry in its data (kube's ValidateSecret).
    required_keys: ClassVar[dict[str, tuple[str, ...]]] = {
        "kubernetes.io/dockercfg": (".dockercfg",),
        "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
        "kubernetes.io/ssh-auth": ("ssh-privatekey",),
        "kubernetes.io/tls": ("tls.crt", "tls.key"),
    }

    def default(self, obj: Obj) -> None:
        obj.setdefault("type", "Opaque")
        # The v1 conversion: stringData is written into data (base64) and never stored.
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.get("data")
            if not isinstance(data, dict):
                data = obj["data"] = {}
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = base64.b64encode(value.encode()).decode()

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        data = obj.get("data") or {}
        total = 0
        if isinstance(data, dict):
            for key, value in data.items():
                out.extend(
                    errors.invalid_value(f"data[{key}]", key, m)
                    for m in validation.config_map_key(key)
                )
                if isinstance(value, str):
                    try:
                        total += len(base64.b64decode(value, validate=True))
                    except (binascii.Error, ValueError):
                        # Not base64: kube fails decoding (400) before validation does.
                        total += len(value)
        else:
            data = {}
        if total > SECRET_MAX_BYTES:
            out.append(errors.too_long("data", SECRET_MAX_BYTES))
        kind = obj.get("type")
        for key in self.required_keys.get(str(kind), ()):
            if key not in data:
                out.append(errors.required(f"data[{key}]"))
        if kind == "kubernetes.io/service-account-token":
            annotations = get_path(obj, "metadata", "annotations") or {}
            if not annotations.get("kubernetes.io/service-account.name"):
                out.append(
                    errors.required("metadata.annotations[kubernetes.io/service-account.name]")
                )
        if kind == "kubernetes.io/basic-auth" and not ("username" in data or "password" in data):
            out.append(errors.required("data[username]", "either username or password is required"))
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if new.get("type") != old.get("type"):
            out.append(errors.invalid_value("type", new.get("type"), "field is immutable"))
        return out + _immutable_data(new, old, ("data",))


class ServiceAccountStrategy(Strategy):
    return_deleted_object = True  # kube's serviceaccount storage: ReturnDeletedObject


class EventStrategy(Strategy):
    """A core v1 Event: kube's legacy event checks (``events.validate_legacy``)."""

    def validate(self, obj: Obj) -> list[FieldError]:
        involved = obj.get("involvedObject")
        if not isinstance(involved, dict):
            return [errors.required("involvedObject")]
        return events.validate_legacy(obj, reporting_field="reportingComponent")


class PodStrategy(Strategy):
    has_status = True
    return_deleted_object = True

    def grace_period(self, obj: Obj, options: Obj) -> int | None:
        return deletion.pod_grace_period(obj, options)

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

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> None:
        """/ephemeralcontainers changes spec.ephemeralContainers only (kube's
        dropNonEphemeralContainerUpdates: the stored pod, its identity from the body)."""
        if subresource != "ephemeralcontainers":
            super().prepare_for_subresource_update(subresource, new, old)
            return
        meta = new.get("metadata") or {}
        containers = spec_of(new).get("ephemeralContainers")
        new.clear()
        new.update(copy.deepcopy(old))
        for key in ("name", "namespace", "uid", "resourceVersion"):
            if key in meta:
                new.setdefault("metadata", {})[key] = meta[key]
        spec = new.setdefault("spec", {})
        if containers is None:
            spec.pop("ephemeralContainers", None)
        else:
            spec["ephemeralContainers"] = containers

    def validate(self, obj: Obj) -> list[FieldError]:
        out = validate_pod_spec(obj.get("spec"), "spec")
        if spec_of(obj).get("ephemeralContainers"):
            out.append(
                errors.forbidden_field("spec.ephemeralContainers", "cannot be set on create")
            )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_pod_spec(new.get("spec"), "spec")

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        """kube's ValidatePodEphemeralContainersUpdate: valid ephemeral containers, and
        the existing ones neither removed nor changed."""
        if subresource != "ephemeralcontainers":
            return super().validate_subresource_update(subresource, new, old)
        out = validate_pod_spec(new.get("spec"), "spec")
        out += validate_ephemeral_containers(new.get("spec"), "spec")
        path = "spec.ephemeralContainers"
        now = {
            c.get("name"): c
            for c in spec_of(new).get("ephemeralContainers") or []
            if isinstance(c, dict)
        }
        for before in spec_of(old).get("ephemeralContainers") or []:
            name = before.get("name") if isinstance(before, dict) else None
            if name not in now:
                detail = (
                    f"existing ephemeral containers {errors.quote(str(name))} may not be removed\n"
                )
                out.append(errors.forbidden_field(path, detail))
            elif now[name] != before:
                detail = (
                    f"existing ephemeral containers {errors.quote(str(name))} may not be changed\n"
                )
                out.append(errors.forbidden_field(path, detail))
        return out


def _needs_node_ports(spec: Obj) -> bool:
    kind = spec.get("type", "ClusterIP")
    return kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False
    )


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
    allocates = True
    types: ClassVar[tuple[str, ...]] = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")

    def allocate(self, obj: Obj, others: list[Obj]) -> list[FieldError]:
        """Cluster IP and node ports: free ones from what the other services hold (an
        address or port is released when its service is deleted or changes type)."""
        taken = {(s.get("spec") or {}).get("clusterIP", "") for s in others}
        self.allocate_cluster_ip(obj, taken)
        ports = {
            port["nodePort"]
            for s in others
            for port in (s.get("spec") or {}).get("ports") or []
            if isinstance(port, dict) and port.get("nodePort")
        }
        return self.allocate_node_ports(obj, ports)

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
        if _needs_node_ports(spec) and _needs_node_ports(old_spec):
            allocated = {
                (p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
                for p in common.dicts(old_spec.get("ports"))
                if p.get("nodePort")
            }
            for port in common.dicts(spec.get("ports")):
                match = (port.get("port"), port.get("protocol", "TCP"))
                if not port.get("nodePort") and match in allocated:
                    port["nodePort"] = allocated[match]

    def allocate_node_ports(self, obj: Obj, taken: set[int]) -> list[FieldError]:
        """Give each port of a NodePort (or LoadBalancer) service a node port from
        30000-32767 that no other service has; check the ones asked for."""
        spec = obj.get("spec")
        if not isinstance(spec, dict) or not _needs_node_ports(spec):
            return []
        out: list[FieldError] = []
        used = set(taken)
        given = spec.get("ports")
        ports: list[Any] = given if isinstance(given, list) else []
        for i, port in enumerate(ports):
            if not isinstance(port, dict):
                continue
            wanted = port.get("nodePort")
            if not wanted:
                continue
            path = f"spec.ports[{i}].nodePort"
            if not isinstance(wanted, int) or wanted not in NODE_PORT_RANGE:
                out.append(
                    errors.invalid_value(
                        path,
                        wanted,
                        "provided port is not in the valid range. The range of valid ports is "
                        f"{NODE_PORT_RANGE.start}-{NODE_PORT_RANGE.stop - 1}",
                    )
                )
            elif wanted in used:
                out.append(errors.invalid_value(path, wanted, "provided port is already allocated"))
            else:
                used.add(wanted)
        for port in ports:
            if isinstance(port, dict) and not port.get("nodePort"):
                free = [p for p in NODE_PORT_RANGE if p not in used]
                if not free:
                    out.append(errors.invalid_value("spec.ports", None, "range is full"))
                    break
                port["nodePort"] = random.choice(free)
                used.add(port["nodePort"])
        return out

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
        if kind == "ExternalName" and not spec.get("externalName"):
            out.append(errors.required("spec.externalName"))
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
            if port.get("nodePort") and kind in ("ClusterIP", "ExternalName"):
                out.append(
                    errors.forbidden_field(
                        f"{path}.nodePort", f"may not be used when `type` is '{kind}'"
                    )
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


# --- nodes and storage -------------------------------------------------------------------


class NodeStrategy(StatusStrategy):
    """Nodes are registered by kubelets with their status: create keeps it (kube's
    nodeStrategy does not reset it); updates keep the old one."""

    def prepare_for_create(self, obj: Obj) -> None:
        status = obj.get("status")
        super().prepare_for_create(obj)
        if status is not None:
            obj["status"] = status
        else:
            obj.pop("status", None)

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        for i, taint in enumerate(common.dicts(spec_of(obj).get("taints"))):
            path = f"spec.taints[{i}]"
            key = taint.get("key")
            if not key:
                out.append(errors.required(f"{path}.key"))
            elif isinstance(key, str):
                out.extend(
                    errors.invalid_value(f"{path}.key", key, m)
                    for m in validation.qualified_name(key)
                )
            effect = taint.get("effect")
            if not effect:
                out.append(errors.required(f"{path}.effect"))
            else:
                out += common.one_of(
                    effect, f"{path}.effect", ("NoExecute", "NoSchedule", "PreferNoSchedule")
                )
        return out


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_PV_SOURCES = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)


def _validate_access_modes(modes: Any, path: str) -> list[FieldError]:
    if not modes:
        return [errors.required(path, "at least 1 access mode is required")]
    out: list[FieldError] = []
    for mode in modes if isinstance(modes, list) else [modes]:
        out += common.one_of(mode, path, _ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        out.append(
            errors.forbidden_field(path, "may not use ReadWriteOncePod with other access modes")
        )
    return out


class PersistentVolumeStrategy(StatusStrategy):
    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
            spec.setdefault("volumeMode", "Filesystem")

    def initial_status(self, obj: Obj) -> Obj:
        # PersistentVolumeLastPhaseTransitionTime is GA in 1.31: new volumes are Pending.
        return {"phase": "Pending", "lastPhaseTransitionTime": now_rfc3339()}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out: list[FieldError] = []
        capacity = spec.get("capacity")
        if not capacity:
            out.append(errors.required("spec.capacity"))
        elif not isinstance(capacity, dict) or set(capacity) != {"storage"}:
            out.append(errors.not_supported("spec.capacity", capacity, ["storage"]))
        else:
            out += common.validate_resource_list(capacity, "spec.capacity")
        out += _validate_access_modes(spec.get("accessModes"), "spec.accessModes")
        out += common.one_of(
            spec.get("persistentVolumeReclaimPolicy"),
            "spec.persistentVolumeReclaimPolicy",
            ("Delete", "Recycle", "Retain"),
        )
        out += common.one_of(spec.get("volumeMode"), "spec.volumeMode", _VOLUME_MODES)
        sources = [key for key in _PV_SOURCES if spec.get(key) is not None]
        if not sources:
            out.append(errors.required("spec", "must specify a volume type"))
        for extra in sources[1:]:
            out.append(
                errors.forbidden_field(f"spec.{extra}", "may not specify more than 1 volume type")
            )
        class_name = spec.get("storageClassName")
        if isinstance(class_name, str) and class_name:
            out.extend(
                errors.invalid_value("spec.storageClassName", class_name, m)
                for m in validation.dns1123_subdomain(class_name)
            )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        for key in [*_PV_SOURCES, "volumeMode"]:
            if key in spec_of(old) or key in spec_of(new):
                out += common.immutable(spec_of(new).get(key), spec_of(old).get(key), f"spec.{key}")
        return out


class PersistentVolumeClaimStrategy(StatusStrategy):
    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending"}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out = _validate_access_modes(spec.get("accessModes"), "spec.accessModes")
        requests = get_path(spec, "resources", "requests")
        storage = requests.get("storage") if isinstance(requests, dict) else None
        if storage is None:
            out.append(errors.required("spec.resources[storage]"))
        else:
            problem = common.quantity_problem(storage)
            if problem is not None:
                out.append(errors.invalid_value("spec.resources[storage]", storage, problem))
            elif common.quantity_is_negative(storage) or str(storage).strip("0.") in ("", "-"):
                out.append(
                    errors.invalid_value(
                        "spec.resources[storage]", storage, "must be greater than zero"
                    )
                )
        out += common.one_of(spec.get("volumeMode"), "spec.volumeMode", _VOLUME_MODES)
        class_name = spec.get("storageClassName")
        if isinstance(class_name, str) and class_name:
            out.extend(
                errors.invalid_value("spec.storageClassName", class_name, m)
                for m in validation.dns1123_subdomain(class_name)
            )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidatePersistentVolumeClaimUpdate: only a bound claim's storage request (and
        its volumeAttributesClassName) may change."""
        out = self.validate(new)
        new_spec, old_spec = dict(spec_of(new)), dict(spec_of(old))
        for spec in (new_spec, old_spec):
            spec.pop("volumeAttributesClassName", None)
            if not old_spec.get("volumeName") and not spec.get("volumeName"):
                spec.pop("volumeName", None)
        if get_path(old, "status", "phase") == "Bound":
            for spec in (new_spec, old_spec):
                resources = dict(spec.get("resources") or {})
                requests = dict(resources.get("requests") or {})
                requests.pop("storage", None)
                resources["requests"] = requests
                spec["resources"] = resources
        if new_spec != old_spec:
            out.append(
                errors.forbidden_field(
                    "spec",
                    "spec is immutable after creation except resources.requests and "
                    "volumeAttributesClassName for bound claims",
                )
            )
        return out


# --- workloads, templates, endpoints, policy -------------------------------------------------


class ReplicationControllerStrategy(StatusStrategy):
    tracks_generation = True
    # kube's rcStrategy: v1 orphans by default, "for back compatibility".
    default_gc_policy = deletion.ORPHAN_DEPENDENTS

    def default(self, obj: Obj) -> None:
        """SetDefaults_ReplicationController: selector and labels from the template's labels."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        labels = get_path(spec, "template", "metadata", "labels")
        if isinstance(labels, dict) and labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = obj.setdefault("metadata", {})
            if isinstance(meta, dict) and not meta.get("labels"):
                meta["labels"] = dict(labels)
        spec.setdefault("replicas", 1)
        common.default_pod_template(spec.get("template"))

    def initial_status(self, obj: Obj) -> Obj:
        return {"replicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out = common.validate_nonnegative(spec.get("replicas"), "spec.replicas")
        out += common.validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        selector = spec.get("selector")
        if not selector:
            out.append(errors.required("spec.selector"))
        else:
            out += validation.validate_labels(selector, "spec.selector")
        template = spec.get("template")
        if not isinstance(template, dict):
            out.append(errors.required("spec.template"))
            return out
        labels = get_path(template, "metadata", "labels") or {}
        if (
            isinstance(selector, dict)
            and selector
            and (
                not isinstance(labels, dict) or any(labels.get(k) != v for k, v in selector.items())
            )
        ):
            out.append(
                errors.invalid_value(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
        out += common.validate_pod_template(template, "spec.template")
        if get_path(template, "spec", "activeDeadlineSeconds") is not None:
            out.append(
                errors.invalid_value(
                    "spec.template.spec.activeDeadlineSeconds",
                    get_path(template, "spec", "activeDeadlineSeconds"),
                    "activeDeadlineSeconds in ReplicationController is not Supported",
                )
            )
        return out


class PodTemplateStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        common.default_pod_template(obj.get("template"))

    def validate(self, obj: Obj) -> list[FieldError]:
        return common.validate_pod_template(obj.get("template"), "template", restart_policies=None)


class EndpointsStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        for subset in common.dicts(obj.get("subsets")):
            for port in common.dicts(subset.get("ports")):
                port.setdefault("protocol", "TCP")

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        for i, subset in enumerate(common.dicts(obj.get("subsets"))):
            path = f"subsets[{i}]"
            for key in ("addresses", "notReadyAddresses"):
                for j, address in enumerate(common.dicts(subset.get(key))):
                    ip = address.get("ip")
                    try:
                        ipaddress.ip_address(str(ip))
                    except ValueError:
                        out.append(
                            errors.invalid_value(
                                f"{path}.{key}[{j}].ip", ip, "must be a valid IP address"
                            )
                        )
            ports = common.dicts(subset.get("ports"))
            for j, port in enumerate(ports):
                ppath = f"{path}.ports[{j}]"
                if len(ports) > 1 and not port.get("name"):
                    out.append(errors.required(f"{ppath}.name"))
                number = port.get("port")
                if not isinstance(number, int) or not 1 <= number <= 65535:
                    out.append(
                        errors.invalid_value(
                            f"{ppath}.port", number, "must be between 1 and 65535, inclusive"
                        )
                    )
                out += common.one_of(
                    port.get("protocol"), f"{ppath}.protocol", ("SCTP", "TCP", "UDP")
                )
        return out


class LimitRangeStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        """SetDefaults_LimitRangeItem: a Container item's default limit is its max, its
        default request the default limit, else its min."""
        for item in common.dicts(spec_of(obj).get("limits")):
            if item.get("type") != "Container":
                continue
            default = dict(item.get("default") or {})
            request = dict(item.get("defaultRequest") or {})
            for key, value in (item.get("max") or {}).items():
                default.setdefault(key, value)
            for key, value in default.items():
                request.setdefault(key, value)
            for key, value in (item.get("min") or {}).items():
                request.setdefault(key, value)
            if default:
                item["default"] = default
            if request:
                item["defaultRequest"] = request

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        for i, item in enumerate(common.dicts(spec_of(obj).get("limits"))):
            path = f"spec.limits[{i}]"
            kind = item.get("type")
            if not kind:
                out.append(errors.required(f"{path}.type"))
            else:
                out += common.one_of(
                    kind, f"{path}.type", ("Container", "Pod", "PersistentVolumeClaim")
                )
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                out += common.validate_resource_list(item.get(key), f"{path}.{key}")
        return out


# --- core/v1 definitions, in kube's discovery order -----------------------------------

_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

# kube-apiserver 1.32's subresources of pods, namespaces, nodes and services
# (pkg/registry/core/*/storage): verbs and kinds as its discovery lists them.
_POD_SUBRESOURCES = (
    types.connect("attach", "PodAttachOptions"),
    Subresource("binding", ("create",), kind="Binding"),
    Subresource("ephemeralcontainers", types.GET_PATCH_UPDATE),
    Subresource("eviction", ("create",), kind="Eviction", group="policy", version="v1"),
    types.connect("exec", "PodExecOptions"),
    types.connect("log", "", ("get",)),
    types.connect("portforward", "PodPortForwardOptions"),
    types.connect("proxy", "PodProxyOptions", types.PROXY_VERBS),
    *types.STATUS,
)
_NAMESPACE_SUBRESOURCES = (Subresource("finalize", ("update",)), *types.STATUS)
_NODE_SUBRESOURCES = (types.connect("proxy", "NodeProxyOptions", types.PROXY_VERBS), *types.STATUS)
_SERVICE_SUBRESOURCES = (
    types.connect("proxy", "ServiceProxyOptions", types.PROXY_VERBS),
    *types.STATUS,
)

DEFINITIONS: tuple[Definition, ...] = (
    # Bindings are the old way to bind a pod (pods/binding the new one); component
    # statuses are read from the components themselves. Neither is stored.
    core("bindings", "Binding", verbs=("create",), stored=False),
    core(
        "componentstatuses",
        "ComponentStatus",
        namespaced=False,
        verbs=("get", "list"),
        short_names=("cs",),
        stored=False,
    ),
    core("configmaps", "ConfigMap", ConfigMapStrategy(), short_names=("cm",)),
    core("endpoints", "Endpoints", EndpointsStrategy(), short_names=("ep",)),
    core(
        "events",
        "Event",
        EventStrategy(),
        short_names=("ev",),
        selection=FieldSelection(_EVENT_FIELDS, paths={"source": "source.component"}),
    ),
    core("limitranges", "LimitRange", LimitRangeStrategy(), short_names=("limits",)),
    core(
        "namespaces",
        "Namespace",
        NamespaceStrategy(),
        namespaced=False,
        verbs=types.NO_COLLECTION_VERBS,
        short_names=("ns",),
        subresources=_NAMESPACE_SUBRESOURCES,
        selection=FieldSelection(("status.phase",)),
    ),
    core(
        "nodes",
        "Node",
        NodeStrategy(),
        namespaced=False,
        short_names=("no",),
        subresources=_NODE_SUBRESOURCES,
        # fmt.Sprint(node.Spec.Unschedulable): "false" when the stored JSON has nothing
        selection=FieldSelection(
            ("spec.unschedulable",), booleans=frozenset({"spec.unschedulable"})
        ),
    ),
    core(
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        PersistentVolumeClaimStrategy(),
        short_names=("pvc",),
        subresources=types.STATUS,
    ),
    core(
        "persistentvolumes",
        "PersistentVolume",
        PersistentVolumeStrategy(),
        namespaced=False,
        short_names=("pv",),
        subresources=types.STATUS,
    ),
    core(
        "pods",
        "Pod",
        PodStrategy(),
        short_names=("po",),
        categories=types.ALL,
        subresources=_POD_SUBRESOURCES,
        selection=FieldSelection(
            (
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ),
            # strconv.FormatBool(pod.Spec.HostNetwork)
            booleans=frozenset({"spec.hostNetwork"}),
        ),
    ),
    core("podtemplates", "PodTemplate", PodTemplateStrategy()),
    core(
        "replicationcontrollers",
        "ReplicationController",
        ReplicationControllerStrategy(),
        short_names=("rc",),
        categories=types.ALL,
        subresources=types.STATUS_SCALE,
        selection=FieldSelection(("status.replicas",), zero_ints=frozenset({"status.replicas"})),
        scale=scale.REPLICATION_CONTROLLER,
    ),
    core(
        "resourcequotas",
        "ResourceQuota",
        ResourceQuotaStrategy(),
        short_names=("quota",),
        subresources=types.STATUS,
    ),
    core("secrets", "Secret", SecretStrategy(), selection=FieldSelection(("type",))),
    core(
        "serviceaccounts",
        "ServiceAccount",
        ServiceAccountStrategy(),
        short_names=("sa",),
        # TokenRequest (services/registry/reviews.py): a token, never stored.
        subresources=(
            Subresource(
                "token",
                ("create",),
                kind="TokenRequest",
                group="authentication.k8s.io",
                version="v1",
            ),
        ),
    ),
    core(
        "services",
        "Service",
        ServiceStrategy(),
        verbs=types.NO_COLLECTION_VERBS,
        short_names=("svc",),
        categories=types.ALL,
        subresources=_SERVICE_SUBRESOURCES,
        selection=FieldSelection(("spec.clusterIP", "spec.type")),
    ),
)
