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
    out.extend(validate_finalizers(meta.get("finalizers"), "metadata.finalizers"))
    if kube_finalizer_names:
        out.extend(validate_kube_finalizer_names(meta.get("finalizers"), "metadata.finalizers"))
    return out


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
