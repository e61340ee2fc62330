"""The ``/scale`` subresource: a controller seen as an ``autoscaling/v1`` Scale.

What kube's ``scaleFromDeployment`` (and its ReplicaSet, StatefulSet and
ReplicationController twins) build, and what a Scale written back changes: only the
parent's ``spec.replicas``. Pure functions over plain dicts.
"""

from __future__ import annotations

import copy
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import printers, validation
from services.registry.strategy import Obj

API_VERSION = "autoscaling/v1"
KIND = "Scale"
GROUP = "autoscaling"

# The resources whose /scale reads spec.replicas and a label selector.
SCALABLE = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("", "replicationcontrollers"),
    }
)


def _selector(group: str, resource: str, spec: Obj) -> str:
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return ""
    if (group, resource) == ("", "replicationcontrollers"):
        # labels.SelectorFromSet(rc.Spec.Selector).String()
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    text = printers.format_label_selector(selector)
    return "" if text == "<invalid>" else text


def to_scale(group: str, resource: str, obj: Obj) -> Obj:
    """The Scale of ``obj``: its identity, desired and current replicas and selector."""
    meta = obj.get("metadata") or {}
    given_spec, given_status = obj.get("spec"), obj.get("status")
    spec: Obj = given_spec if isinstance(given_spec, dict) else {}
    status: Obj = given_status if isinstance(given_status, dict) else {}
    scale_meta: Obj = {"name": meta.get("name")}
    if meta.get("namespace"):
        scale_meta["namespace"] = meta["namespace"]
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        if key in meta:
            scale_meta[key] = meta[key]
    scale_spec: Obj = {}
    replicas = spec.get("replicas")
    if replicas:  # ScaleSpec.replicas is omitempty
        scale_spec["replicas"] = replicas
    scale_status: Obj = {"replicas": int(status.get("replicas") or 0)}
    selector = _selector(group, resource, spec)
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": scale_meta,
        "spec": scale_spec,
        "status": scale_status,
    }


def check_type_meta(scale: Obj) -> None:
    """A Scale body must say it is one (or say nothing)."""
    api_version, kind = scale.get("apiVersion"), scale.get("kind")
    if api_version and api_version != API_VERSION:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({API_VERSION})"
        )
    if kind and kind != KIND:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({KIND})"
        )


def desired_replicas(scale: Obj) -> int:
    """spec.replicas of a Scale as written (absent means 0, as ``omitempty`` decodes)."""
    spec = scale.get("spec")
    if spec is None:
        return 0
    if not isinstance(spec, dict):
        raise errors.bad_request(
            "json: cannot unmarshal into Go struct field Scale.spec of type v1.ScaleSpec"
        )
    replicas = spec.get("replicas", 0)
    if replicas is None:
        return 0
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise errors.bad_request(
            f"json: cannot unmarshal {type(replicas).__name__} into Go struct field "
            "ScaleSpec.spec.replicas of type int32"
        )
    return replicas


def validate(scale: Obj) -> list[FieldError]:
    """ValidateScale: the metadata and a non-negative replica count."""
    meta = scale.get("metadata")
    out: list[FieldError] = validation.validate_object_meta(
        meta if isinstance(meta, dict) else {},
        namespaced=bool(isinstance(meta, dict) and meta.get("namespace")),
        name_validator=validation.dns1123_subdomain,
    )
    replicas = desired_replicas(scale)
    if replicas < 0:
        out.append(
            errors.invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")
        )
    return out


def apply(obj: Obj, scale: Obj) -> Obj:
    """A copy of the parent with the Scale's replicas as its spec.replicas."""
    out = copy.deepcopy(obj)
    spec: Any = out.get("spec")
    if not isinstance(spec, dict):
        spec = out["spec"] = {}
    spec["replicas"] = desired_replicas(scale)
    return out
