"""Discovery documents built from the registry's type table: aggregated v2 and legacy.

kubectl asks for aggregated discovery first; the reply's Content-Type must carry the
``g``, ``v`` and ``as`` parameters or kubectl sees no groups at all.
"""

from __future__ import annotations

import base64
import hashlib
import weakref
from collections.abc import Callable
from typing import Any

from services.registry.types import ResourceType, Subresource, TypeTable

# Documents made from one table, by what was asked: each is built once per table (with
# 200 CRDs, aggregated discovery is ~1,000 resources), and goes with its table.
_DOCUMENTS: weakref.WeakKeyDictionary[TypeTable[ResourceType], dict[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def cached(table: TypeTable[ResourceType], key: Any, build: Callable[[], Any]) -> Any:
    """``build()`` for ``table`` and ``key``, made once per table."""
    documents = _DOCUMENTS.get(table)
    if documents is None:
        documents = _DOCUMENTS[table] = {}
    if key not in documents:
        documents[key] = build()
    return documents[key]


AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _response_kind(rt: ResourceType, sub: Subresource) -> dict[str, str]:
    """The group-version-kind a subresource takes and answers: its own where it names
    one (scale: autoscaling/v1 Scale, eviction: policy/v1 Eviction), else its kind (or
    the parent's) in the parent's group-version."""
    if sub.group or sub.version:
        return {"group": sub.group, "version": sub.version, "kind": sub.kind or rt.kind}
    return {"group": rt.group, "version": rt.version, "kind": sub.kind or rt.kind}


def storage_version_hash(rt: ResourceType) -> str:
    """Like kube's: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>") of the
    version objects are *stored* in, so every served version of one resource shares it
    (autoscaling/v1 and v2 HorizontalPodAutoscalers both hash ``autoscaling/v2``)."""
    stored = rt.stored_api_version
    group, _, version = stored.rpartition("/")
    digest = hashlib.sha256(f"{group}/{version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": rt.resource,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": sorted(rt.verbs),
    }
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    subresources = [
        {
            "subresource": sub.name,
            "responseKind": _response_kind(rt, sub),
            "verbs": list(sub.verbs),
        }
        for sub in rt.subresources
    ]
    if subresources:
        out["subresources"] = subresources
    return out


def aggregated(table: TypeTable[ResourceType], *, legacy: bool) -> dict[str, Any]:
    """``/api`` (legacy=True: the core group) or ``/apis`` as an APIGroupDiscoveryList."""
    groups: dict[str, dict[str, list[ResourceType]]] = {}
    for rt in table.types:
        if (rt.group == "") == legacy:
            groups.setdefault(rt.group, {}).setdefault(rt.version, []).append(rt)
    items = []
    for group, versions in groups.items():
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": version,
                        "resources": [_aggregated_resource(rt) for rt in types],
                        "freshness": "Current",
                    }
                    for version, types in versions.items()
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(table: TypeTable[ResourceType], group: str) -> dict[str, Any] | None:
    versions = [v for g, v in table.group_versions() if g == group]
    if not versions:
        return None
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(table: TypeTable[ResourceType]) -> dict[str, Any]:
    groups = []
    for group in dict.fromkeys(g for g, _ in table.group_versions() if g):
        found = _group(table, group)
        if found:
            groups.append(found)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(table: TypeTable[ResourceType], group: str) -> dict[str, Any] | None:
    found = _group(table, group)
    if found is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **found}


def api_resource_list(
    table: TypeTable[ResourceType], group: str, version: str
) -> dict[str, Any] | None:
    types = table.in_group_version(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.resource,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": sorted(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        if rt.stored:  # kube gives no hash for what it does not store (bindings)
            entry["storageVersionHash"] = storage_version_hash(rt)
        resources.append(entry)
        for sub in rt.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{rt.resource}/{sub.name}",
                "singularName": "",
                "namespaced": rt.namespaced,
            }
            if sub.group or sub.version:
                sub_entry.update(group=sub.group, version=sub.version)
            sub_entry.update(kind=sub.kind or rt.kind, verbs=list(sub.verbs))
            resources.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
