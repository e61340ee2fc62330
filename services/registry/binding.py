"""Binding a pod to a node: ``POST pods/{name}/binding`` and the older ``POST bindings``
(kube's BindingREST and LegacyBindingREST, ``pkg/registry/core/pod/storage/storage.go``).

A Binding is not stored: it sets the pod's ``spec.nodeName`` (once: a bound pod is a 409
Conflict on ``pods/binding``), merges the Binding's annotations into the pod's and marks
the pod PodScheduled, in one compare-and-swap on the pod that bypasses the pod's own
update rules (a pod's nodeName is otherwise immutable). The Binding's uid and
resourceVersion, when given, are preconditions on the pod. The answer is a 201 Status
Success.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import orjson

from kapi import errors
from kapi.errors import FieldError
from services.registry import pipeline
from services.registry.ports import AdmissionTarget, Where

if TYPE_CHECKING:
    from services.registry.service import Registry, Target

Obj = dict[str, Any]

KIND = "Binding"
GUARANTEED_UPDATE_ATTEMPTS = 64


def success(code: int = 201) -> bytes:
    """The Status a create that stores nothing answers with (kube sets its code)."""
    return orjson.dumps(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    )


def validate(binding: Obj) -> list[FieldError]:
    """kube's ValidatePodBinding."""
    target = binding.get("target")
    target = target if isinstance(target, dict) else {}
    out: list[FieldError] = []
    kind = target.get("kind") or ""
    if kind and kind != "Node":
        out.append(errors.not_supported("target.kind", kind, ("Node", "<empty>")))
    if not target.get("name"):
        out.append(errors.required("target.name"))
    return out


def check_preconditions(pod: Obj, uid: str, resource_version: str, name: str) -> None:
    """kube's storage Preconditions: 409 on the pod when its uid or revision differs."""
    meta = pod.get("metadata") or {}
    if uid and uid != meta.get("uid"):
        raise errors.conflict(
            "pods",
            "",
            name,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
            f"{meta.get('uid', '')}",
        )
    if resource_version and resource_version != str(meta.get("resourceVersion")):
        raise errors.conflict(
            "pods",
            "",
            name,
            "Precondition failed: ResourceVersion in precondition: "
            f"{resource_version}, ResourceVersion in object meta: {meta.get('resourceVersion')}",
        )


def set_condition(pod: Obj, condition: Obj) -> None:
    """podutil.UpdatePodCondition: add or update the condition of its type; the
    transition time changes only with the status."""
    status = pod.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    for existing in conditions:
        if isinstance(existing, dict) and existing.get("type") == condition["type"]:
            if existing.get("status") != condition["status"]:
                existing["lastTransitionTime"] = pipeline.now_rfc3339()
            for key in ("status", "reason", "message"):
                if condition.get(key):
                    existing[key] = condition[key]
                else:
                    existing.pop(key, None)
            return
    conditions.append(
        {**condition, "lastProbeTime": None, "lastTransitionTime": pipeline.now_rfc3339()}
    )


def assign(pod: Obj, name: str, node: str, annotations: Obj) -> Obj:
    """The bound pod, or 409 when it cannot be bound (kube's setPodNodeAndMetadata)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    detail = ""
    if meta.get("deletionTimestamp"):
        detail = f"pod {name} is being deleted, cannot be assigned to a host"
    elif spec.get("nodeName"):
        detail = f"pod {name} is already assigned to node {errors.quote(str(spec['nodeName']))}"
    elif spec.get("schedulingGates"):
        detail = f"pod {name} has non-empty .spec.schedulingGates"
    if detail:
        raise errors.conflict("pods/binding", "", name, detail)
    bound = copy.deepcopy(pod)
    bound.setdefault("spec", {})["nodeName"] = node
    if annotations:
        bound_meta = bound.setdefault("metadata", {})
        bound_meta["annotations"] = {**(bound_meta.get("annotations") or {}), **annotations}
    set_condition(bound, {"type": "PodScheduled", "status": "True"})
    return bound


async def bind(registry: Registry, target: Target, binding: Obj, *, dry_run: bool) -> bytes:
    """Create a Binding: bind the pod it names (in the URL for pods/binding, in its
    metadata for the bindings resource) to its target node. Answers the 201's body."""
    binding_type = registry.table.lookup("", "v1", "bindings")
    pods = registry.table.lookup("", "v1", "pods")
    if binding_type is None or pods is None:
        raise errors.not_found_path()
    pipeline.check_type_meta(binding_type, binding)
    pipeline.set_namespace(binding_type, binding, target.namespace)
    meta = binding["metadata"]
    name = str(meta.get("name") or "")
    if target.name and name != target.name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    problems = validate(binding)
    if problems:
        raise errors.invalid(KIND, "", name, problems)
    admission = AdmissionTarget(
        operation="CREATE",
        user=target.user,
        group="",
        version="v1",
        kind=KIND,
        resource="pods",
        subresource="binding",
        namespace=target.namespace,
        name=name,
        dry_run=dry_run,
    )
    await registry.admission.admit("mutating", admission, binding)
    await registry.admission.admit("validating", admission, binding)
    where = Where(group="", resource="pods", namespaced=True)
    node = str(binding["target"]["name"])
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    for _attempt in range(GUARANTEED_UPDATE_ATTEMPTS):
        current = orjson.loads(await registry.storage.get(where, target.namespace, name))
        check_preconditions(
            current, str(meta.get("uid") or ""), str(meta.get("resourceVersion") or ""), name
        )
        bound = assign(current, name, node, annotations or {})
        revision = int(bound["metadata"].pop("resourceVersion"))
        try:
            await registry.storage.update(
                where,
                target.namespace,
                name,
                orjson.dumps(bound),
                expected_revision=revision,
                dry_run=dry_run,
            )
        except errors.StatusError as err:
            if err.reason == "Conflict":
                continue
            raise
        return success()
    raise errors.conflict("pods", "", name)
