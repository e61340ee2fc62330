"""Generic validation: names, labels, annotations and ObjectMeta, worded as apimachinery.

Validators return lists of ``FieldError`` and never raise or mutate. The messages are
kube-apiserver's (``k8s.io/apimachinery/pkg/util/validation``), because kubectl prints
them verbatim.
"""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.errors import FieldError
from kapi.names import (
    TOTAL_ANNOTATION_SIZE,
    NameValidator,
    config_map_key,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    label_value,
    path_segment_name,
    qualified_name,
)

__all__ = [
    "NameValidator",
    "config_map_key",
    "dns1035_label",
    "dns1123_label",
    "dns1123_subdomain",
    "kube_finalizer_name",
    "label_value",
    "path_segment_name",
    "qualified_name",
    "validate_annotations",
    "validate_finalizers",
    "validate_kube_finalizer_names",
    "validate_labels",
    "validate_object_meta",
    "validate_object_meta_update",
    "validate_owner_references",
]

# metav1.FinalizerOrphanDependents, FinalizerDeleteDependents; core's FinalizerKubernetes.
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
STANDARD_FINALIZERS = frozenset({"kubernetes", ORPHAN_FINALIZER, FOREGROUND_FINALIZER})


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [errors.invalid_value(path, labels, "must be a map of string keys and values")]
    out: list[FieldError] = []
    for key, value in labels.items():
        out.extend(errors.invalid_value(path, key, m) for m in qualified_name(key))
        if not isinstance(value, str):
            out.append(errors.invalid_value(f"{path}[{key}]", value, "must be a string"))
            continue
        out.extend(errors.invalid_value(path, value, m) for m in label_value(value))
    return out


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [errors.invalid_value(path, annotations, "must be a map of string keys and values")]
    out: list[FieldError] = []
    total = 0
    for key, value in annotations.items():
        out.extend(errors.invalid_value(path, key, m) for m in qualified_name(key.lower()))
        if not isinstance(value, str):
            out.append(errors.invalid_value(f"{path}[{key}]", value, "must be a string"))
            continue
        total += len(key.encode()) + len(value.encode())  # Go counts bytes
    if total > TOTAL_ANNOTATION_SIZE:
        out.append(errors.too_long(path, TOTAL_ANNOTATION_SIZE))
    return out


def validate_object_meta(
    meta: dict[str, Any],
    *,
    namespaced: bool,
    name_validator: NameValidator,
    kube_finalizer_names: bool = True,
) -> list[FieldError]:
    """kube's ValidateObjectMeta: name (or generateName), namespace, labels, annotations,
    finalizers; with ``kube_finalizer_names`` (the built-in types but CRDs, which use the
    generic validation), also that each finalizer without a domain is a standard one."""
    out: list[FieldError] = []
    name = meta.get("name")
    generate_name = meta.get("generateName")
    if not name:
        if generate_name:
            out.extend(
                errors.invalid_value("metadata.generateName", generate_name, m)
                for m in name_validator(generate_name.rstrip("-") or "x")
                if "must be no more than" not in m
            )
        else:
            out.append(errors.required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        out.append(errors.invalid_value("metadata.name", name, "must be a string"))
    else:
        out.extend(errors.invalid_value("metadata.name", name, m) for m in name_validator(name))
    namespace = meta.get("namespace")
    if namespaced:
        if not namespace:
            out.append(errors.required("metadata.namespace"))
        else:
            out.extend(
                errors.invalid_value("metadata.namespace", namespace, m)
                for m in dns1123_label(namespace)
            )
    elif namespace:
        out.append(errors.forbidden_field("metadata.namespace", "not allowed on this type"))
    out.extend(validate_labels(meta.get("labels"), "metadata.labels"))
    out.extend(validate_annotations(meta.get("annotations"), "metadata.annotations"))
    out.extend(validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences"))
    out.extend(validate_finalizers(meta.get("finalizers"), "metadata.finalizers"))
    if kube_finalizer_names:
        out.extend(validate_kube_finalizer_names(meta.get("finalizers"), "metadata.finalizers"))
    return out


# metav1.OwnerReference's fields in their Go order (how kube prints a reference).
OWNER_REFERENCE_FIELDS = ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
# Kinds that may own nothing (apimachinery's BannedOwners), by (apiVersion, kind).
BANNED_OWNERS = {("v1", "Event"): "/v1, Kind=Event"}


def validate_owner_references(references: Any, path: str) -> list[FieldError]:
    """apimachinery's ValidateOwnerReferences: each names its owner's apiVersion (with a
    version), kind, name and uid, is not an Event, and at most one is the controller.
    Every error is at ``path`` itself, not at the item."""
    if not isinstance(references, list):
        return []
    out: list[FieldError] = []
    first_controller = ""
    for ref in references:
        if not isinstance(ref, dict):
            continue
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        # schema.FromAPIVersionAndKind: "group/version" or "version"; more parts: none
        version = "" if api_version.count("/") > 1 else api_version.rpartition("/")[2]
        if not version:
            out.append(
                errors.invalid_value(f"{path}.apiVersion", api_version, "version must not be empty")
            )
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                out.append(
                    errors.invalid_value(
                        f"{path}.{key}", str(ref.get(key) or ""), "must not be empty"
                    )
                )
        banned = BANNED_OWNERS.get((api_version, kind))
        if banned is not None:
            out.append(
                errors.invalid_value(
                    path, _as_go(ref), f"{banned} is disallowed from being an owner"
                )
            )
        if ref.get("controller") is True:
            name = f"{kind}/{ref.get('name') or ''}"
            if first_controller:
                out.append(
                    errors.invalid_value(
                        path,
                        [_as_go(r) if isinstance(r, dict) else r for r in references],
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {name}",
                    )
                )
            else:
                first_controller = name
    return out


def _as_go(ref: dict[str, Any]) -> dict[str, Any]:
    """An owner reference as kube prints a metav1.OwnerReference: its fields in Go order,
    the four strings always there, the two flags when set, unknown ones dropped."""
    go = {k: ref.get(k) or "" for k in OWNER_REFERENCE_FIELDS[:4]}
    go.update((k, ref[k]) for k in OWNER_REFERENCE_FIELDS[4:] if ref.get(k) is not None)
    return go


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    """apimachinery's ValidateFinalizers: each a qualified name (the errors at ``path``
    itself, not at the item), and not both ``orphan`` and ``foregroundDeletion``."""
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [errors.invalid_value(path, finalizers, "must be a list")]
    names = [name for name in finalizers if isinstance(name, str)]
    out = [errors.invalid_value(path, name, m) for name in names for m in qualified_name(name)]
    if ORPHAN_FINALIZER in names and FOREGROUND_FINALIZER in names:
        out.append(
            errors.invalid_value(
                path,
                names,
                f"finalizer {ORPHAN_FINALIZER} and {FOREGROUND_FINALIZER} cannot be both set",
            )
        )
    return out


def kube_finalizer_name(name: str) -> list[str]:
    """kube's validateKubeFinalizerName: a name without a domain must be a standard one."""
    if "/" in name or name in STANDARD_FINALIZERS:
        return []
    return ["name is neither a standard finalizer name nor is it fully qualified"]


def validate_kube_finalizer_names(finalizers: Any, path: str) -> list[FieldError]:
    """What the built-in types' ObjectMeta validation adds (``pkg/apis/core/validation``):
    each finalizer, at its index, a standard name or one with a domain."""
    if not isinstance(finalizers, list):
        return []
    return [
        errors.invalid_value(f"{path}[{i}]", name, m)
        for i, name in enumerate(finalizers)
        if isinstance(name, str)
        for m in kube_finalizer_name(name)
    ]


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Immutable metadata: name, namespace, uid, creationTimestamp."""
    out: list[FieldError] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if new.get(key) != old.get(key) and new.get(key) is not None:
            out.append(errors.invalid_value(f"metadata.{key}", new.get(key), "field is immutable"))
    return out
