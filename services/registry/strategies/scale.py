"""The ``/scale`` subresource: an object seen as an ``autoscaling/v1`` Scale.

What kube's ``scaleFromDeployment`` (and its ReplicaSet, StatefulSet and
ReplicationController twins, and ``scaleFromCustomResource``) build, and what a Scale
written back changes: only the parent's desired replicas. Where those live is the
definition's ``ScaleFacts``: ``spec.replicas``, ``status.replicas`` and the label
selector for the built-in controllers, the paths a CRD names for a custom resource.
Pure functions over plain dicts.
"""

from __future__ import annotations

import copy
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import printers, validation
from services.registry.definition import ScaleFacts
from services.registry.strategy import Obj

API_VERSION = "autoscaling/v1"
KIND = "Scale"
GROUP = "autoscaling"


def label_selector(obj: Obj) -> str:
    """A controller's ``spec.selector`` (a LabelSelector) as the Scale's selector text."""
    selector = _get(obj, ("spec", "selector"))
    if not isinstance(selector, dict) or not selector:
        return ""
    text = printers.format_label_selector(selector)
    return "" if text == "<invalid>" else text


def map_selector(obj: Obj) -> str:
    """A ReplicationController's map selector: ``labels.SelectorFromSet(...).String()``."""
    selector = _get(obj, ("spec", "selector"))
    if not isinstance(selector, dict) or not selector:
        return ""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# The built-in controllers: desired and current replicas, and their label selector.
CONTROLLER = ScaleFacts(("spec", "replicas"), ("status", "replicas"), label_selector)
REPLICATION_CONTROLLER = ScaleFacts(("spec", "replicas"), ("status", "replicas"), map_selector)


def _replicas(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def to_scale(facts: ScaleFacts, obj: Obj) -> Obj:
    """The Scale of ``obj``: its identity, desired and current replicas and selector."""
    meta = obj.get("metadata") or {}
    scale_meta: Obj = {"name": meta.get("name")}
    if meta.get("namespace"):
        scale_meta["namespace"] = meta["namespace"]
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        if key in meta:
            scale_meta[key] = meta[key]
    scale_spec: Obj = {}
    replicas = _replicas(_get(obj, facts.spec_replicas))
    if replicas:  # ScaleSpec.replicas is omitempty
        scale_spec["replicas"] = replicas
    scale_status: Obj = {"replicas": _replicas(_get(obj, facts.status_replicas))}
    selector = facts.selector(obj)
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


def apply(facts: ScaleFacts, obj: Obj, scale: Obj) -> Obj:
    """A copy of the parent with the Scale's replicas at its desired-replicas path."""
    out = copy.deepcopy(obj)
    node: Any = out
    for key in facts.spec_replicas[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[facts.spec_replicas[-1]] = desired_replicas(scale)
    return out
