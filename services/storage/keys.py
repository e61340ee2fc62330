"""etcd key layout, exactly as kube-apiserver lays it out.

``{key_prefix}/{namespace}/{name}`` for a namespaced object, ``{key_prefix}/{name}`` for a
cluster-scoped one; a list of all namespaces ranges over ``{key_prefix}/``. So
``etcdctl get --prefix /registry/`` reads as it does on a real cluster.
"""

from __future__ import annotations

from kapi import errors
from services.storage.model import ResourceRef

_MAY_NOT_BE = (".", "..")
_MAY_NOT_CONTAIN = ("/", "%")


def path_segment_problems(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: why ``name`` cannot be one segment of a key."""
    if name in _MAY_NOT_BE:
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in _MAY_NOT_CONTAIN if c in name]


def root(ref: ResourceRef) -> str:
    """The resource's key prefix, without a trailing slash."""
    prefix = ref.key_prefix.rstrip("/")
    if not prefix.startswith("/"):
        raise errors.bad_request(
            f"storage: resource {errors.quote(ref.resource)} has no valid key prefix "
            f"({errors.quote(ref.key_prefix)})"
        )
    return prefix


def object_key(ref: ResourceRef, namespace: str, name: str) -> str:
    """The key of one object (``registry/generic/registry.NamespaceKeyFunc``)."""
    key = root(ref)
    if ref.namespaced:
        if not namespace:
            raise errors.bad_request("Namespace parameter required.")
        if problems := path_segment_problems(namespace):
            raise errors.bad_request(
                f"Namespace parameter invalid: {errors.quote(namespace)}: {';'.join(problems)}"
            )
        key = f"{key}/{namespace}"
    if not name:
        raise errors.bad_request("Name parameter required.")
    if problems := path_segment_problems(name):
        raise errors.bad_request(
            f"Name parameter invalid: {errors.quote(name)}: {';'.join(problems)}"
        )
    return f"{key}/{name}"


def list_prefix(ref: ResourceRef, namespace: str = "") -> str:
    """The range a list or watch covers: one namespace, or all (and cluster-scoped)."""
    key = root(ref)
    if ref.namespaced and namespace:
        if problems := path_segment_problems(namespace):
            raise errors.bad_request(
                f"Namespace parameter invalid: {errors.quote(namespace)}: {';'.join(problems)}"
            )
        key = f"{key}/{namespace}"
    return key + "/"
