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
    "label_value",
    "path_segment_name",
    "qualified_name",
    "validate_annotations",
    "validate_labels",
    "validate_object_meta",
    "validate_object_meta_update",
]

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
) -> list[FieldError]:
    """kube's ValidateObjectMeta: name (or generateName), namespace, labels, annotations."""
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
    for key in ("finalizers",):
        finalizers = meta.get(key)
        if finalizers is not None and not isinstance(finalizers, list):
            out.append(errors.invalid_value(f"metadata.{key}", finalizers, "must be a list"))
    return out


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Immutable metadata: name, namespace, uid, creationTimestamp."""
    out: list[FieldError] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if new.get(key) != old.get(key) and new.get(key) is not None:
            out.append(errors.invalid_value(f"metadata.{key}", new.get(key), "field is immutable"))
    return out
