"""A CRD as large as prometheus-operator's ``prometheuses.monitoring.coreos.com``, for the
tests and ``python -m bench.crd huge``.

prometheus-operator's large CRDs are large because controller-gen copies Kubernetes' own
types into them: a Prometheus holds containers, init containers, volumes, an affinity,
tolerations, a security context and a volume claim template, each with kube's full schema
and descriptions. This builds such a CRD from the same source, kube's 1.32 definitions
(the ones kapi serves), converted as controller-gen converts them: references inlined,
IntOrString and Quantity as ``x-kubernetes-int-or-string``, Time as a date-time string,
list and map types kept. ``copies`` adds that many more PodSpecs (``spec.extraPods[i]``)
to grow it further. The real file (~700 KB in its 2026 releases) could not be carried
into the test data from this workplace.
"""

from __future__ import annotations

from typing import Any

from services.registry import openapi_schemas

Obj = dict[str, Any]

GROUP = "monitoring.example.com"
_CORE = "io.k8s.api.core.v1."
_SPECIAL: dict[str, Obj] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"x-kubernetes-int-or-string": True},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
        r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
        "x-kubernetes-int-or-string": True,
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {"type": "string", "format": "date-time"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": {"type": "string", "format": "date-time"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object"},
}
_KEPT = (
    "description", "format", "enum", "required", "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
)  # fmt: skip


def _type(node: Obj) -> str | None:
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def structural(node: Obj, defs: Any, depth: int = 0) -> Obj:
    """``node`` of kube's definitions as a structural CRD schema."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in _SPECIAL:
            out = dict(_SPECIAL[name])
        elif depth > 12:  # kube's types do not recurse this deep; guard all the same
            out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            out = structural(dict(defs[name]), defs, depth + 1)
        if "description" in node:
            out["description"] = node["description"]
        return out
    if "oneOf" in node or "allOf" in node:
        parts = node.get("allOf") or []
        if len(parts) == 1:
            return structural({**parts[0], **{k: node[k] for k in node if k != "allOf"}}, defs)
        return {"x-kubernetes-int-or-string": True}
    out = {k: node[k] for k in _KEPT if k in node}
    if isinstance(out.get("enum"), list):
        out["enum"] = [v for v in out["enum"] if v is not None]
    kind = _type(node)
    if "properties" in node:
        kind = "object"
        out["properties"] = {
            k: structural(v, defs, depth + 1) for k, v in sorted(node["properties"].items())
        }
    elif isinstance(node.get("additionalProperties"), dict):
        kind = "object"
        out["additionalProperties"] = structural(node["additionalProperties"], defs, depth + 1)
    if kind == "array":
        items = node.get("items")
        out["items"] = structural(items, defs, depth + 1) if isinstance(items, dict) else {}
        if not out["items"]:
            out["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if kind == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    out["type"] = kind or "object"
    return out


def prometheus_like(*, copies: int = 0, group: str = GROUP) -> Obj:
    """The CRD: ``prometheuses.<group>``, kind Prometheus, printer columns as the real one."""
    defs = openapi_schemas.builtin().raw()

    def core(name: str) -> Obj:
        return structural({"$ref": f"#/$defs/{_CORE}{name}"}, defs)

    def listed(name: str, key: str = "name") -> Obj:
        return {
            "type": "array",
            "items": core(name),
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": [key],
        }

    spec: Obj = {
        "type": "object",
        "description": "Specification of the desired behavior of the Prometheus cluster.",
        "properties": {
            "version": {"type": "string", "description": "The version of Prometheus."},
            "replicas": {"type": "integer", "format": "int32", "minimum": 0},
            "image": {"type": "string"},
            "serviceAccountName": {"type": "string"},
            "retention": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?"
                          "(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
            "containers": listed("Container"),
            "initContainers": listed("Container"),
            "volumes": listed("Volume"),
            "volumeMounts": {"type": "array", "items": core("VolumeMount")},
            "affinity": core("Affinity"),
            "tolerations": {"type": "array", "items": core("Toleration")},
            "topologySpreadConstraints": {
                "type": "array", "items": core("TopologySpreadConstraint")
            },
            "securityContext": core("PodSecurityContext"),
            "resources": core("ResourceRequirements"),
            "storage": {
                "type": "object",
                "properties": {
                    "volumeClaimTemplate": {
                        "type": "object",
                        "properties": {
                            "spec": core("PersistentVolumeClaimSpec"),
                            "status": core("PersistentVolumeClaimStatus"),
                        },
                    },
                    "ephemeral": core("EphemeralVolumeSource"),
                },
            },
            "web": {"type": "object", "properties": {"pageTitle": {"type": "string"}}},
        },
    }  # fmt: skip
    if copies:
        spec["properties"]["extraPods"] = {
            "type": "object",
            "properties": {f"pod{i}": core("PodSpec") for i in range(copies)},
        }
    status = {
        "type": "object",
        "properties": {
            "replicas": {"type": "integer", "format": "int32"},
            "availableReplicas": {"type": "integer", "format": "int32"},
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }
    columns = [
        {"name": "Version", "type": "string", "jsonPath": ".spec.version",
         "description": "The version of Prometheus"},
        {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas",
         "description": "The number of desired replicas"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.availableReplicas",
         "description": "The number of ready replicas"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]  # fmt: skip
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"prometheuses.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "prometheuses",
                "singular": "prometheus",
                "kind": "Prometheus",
                "listKind": "PrometheusList",
                "shortNames": ["prom"],
                "categories": ["prometheus-operator"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": columns,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "Prometheus defines a Prometheus deployment.",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                            "required": ["spec"],
                        }
                    },
                }
            ],
        },
    }


def example(name: str, *, group: str = GROUP) -> Obj:
    """A Prometheus such as prometheus-operator's examples hold."""
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Prometheus",
        "metadata": {"name": name},
        "spec": {
            "version": "v3.5.0",
            "replicas": 2,
            "serviceAccountName": "prometheus",
            "retention": "15d",
            "resources": {"requests": {"memory": "400Mi", "cpu": 1}},
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 2000},
            "containers": [
                {"name": "config-reloader", "image": "quay.io/prometheus-operator/reloader",
                 "ports": [{"containerPort": 8080, "name": "reloader-web"}],
                 "livenessProbe": {"httpGet": {"path": "/healthz", "port": "reloader-web"}}},
            ],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "monitoring",
                             "effect": "NoSchedule"}],
            "storage": {"volumeClaimTemplate": {"spec": {
                "storageClassName": "ssd", "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "40Gi"}}}}},
        },
    }  # fmt: skip
