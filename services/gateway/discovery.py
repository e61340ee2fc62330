"""Discovery documents built from the registry's type table: aggregated v2 and legacy.

kubectl asks for aggregated discovery first; the reply's Content-Type must carry the
``g``, ``v`` and ``as`` parameters or kubectl sees no groups at all.
"""

from __future__ import annotations

import base64
import hashlib
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from services.gateway.aggregator.remote_discovery import RemoteGroup
from services.registry import aggregation as reg
from services.registry.aggregation import version_priority
from services.registry.types import ResourceType, Subresource, TypeTable

# Documents made from one table, by what was asked: each is built once per table (with
# 200 CRDs, aggregated discovery is ~1,000 resources), and goes with its table.
_DOCUMENTS: weakref.WeakKeyDictionary[TypeTable[ResourceType], dict[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def cached(
    table: TypeTable[ResourceType], key: Any, build: Callable[[], Any], generation: int = 0
) -> Any:
    """``build()`` for ``table`` and ``key``, made once per table and ``generation`` (what
    the extension servers' discovery was when it was made)."""
    documents = _DOCUMENTS.get(table)
    if documents is None:
        documents = _DOCUMENTS[table] = {}
    found = documents.get(key)
    if found is None or found[0] != generation:
        found = documents[key] = (generation, build())
    return found[1]


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


def _version_key(version: str, priority: int) -> tuple[int, tuple[int, int, int, str]]:
    """kube's ByVersionPriority: higher priority first, then kube-aware version order."""
    return (-priority, version_priority(version))


def local_priorities(group: str, version: str) -> tuple[int, int]:
    """A served group-version's (group, version) priority: kube's table for built-in
    ones, the aggregator's own group above all, a CRD's 1000/100."""
    if group == reg.GROUP:
        return reg.APIREGISTRATION_GROUP_PRIORITY, 15
    return reg.PRIORITIES.get((group, version), (reg.CRD_GROUP_PRIORITY, reg.CRD_VERSION_PRIORITY))


def merged(
    table: TypeTable[ResourceType], remote: Sequence[RemoteGroup], *, legacy: bool
) -> list[tuple[str, list[tuple[str, Any]]]]:
    """The groups of ``/api`` (legacy=True) or ``/apis`` in kube's order, each with its
    versions: a version is served locally (its ResourceTypes) or by an extension server
    (its APIVersionDiscovery). Groups by priority (highest first) then name, versions by
    priority then kube's version order; a remote APIService hides a local version of
    the same group-version (it is what answers)."""
    claimed = {(g.name, v.version) for g in remote for v in g.versions}
    groups: dict[str, dict[str, tuple[int, Any]]] = {}
    priorities: dict[str, int] = {}
    for rt in table.types:
        if (rt.group == "") != legacy or (rt.group, rt.version) in claimed:
            continue
        group_priority, version_priority_ = local_priorities(rt.group, rt.version)
        priorities[rt.group] = max(priorities.get(rt.group, 0), group_priority)
        versions = groups.setdefault(rt.group, {})
        versions.setdefault(rt.version, (version_priority_, []))[1].append(rt)
    for group in remote:
        if (group.name == "") != legacy:
            continue
        priorities[group.name] = max(priorities.get(group.name, 0), group.priority)
        versions = groups.setdefault(group.name, {})
        for version in group.versions:
            versions[version.version] = (version.priority, version.entry)
    order = sorted(groups, key=lambda g: (-priorities[g], g))
    return [
        (
            group,
            [
                (version, served)
                for version, (_, served) in sorted(
                    groups[group].items(), key=lambda item: _version_key(item[0], item[1][0])
                )
            ],
        )
        for group in order
    ]


def aggregated(
    table: TypeTable[ResourceType], *, legacy: bool, remote: Sequence[RemoteGroup] = ()
) -> dict[str, Any]:
    """``/api`` (legacy=True: the core group) or ``/apis`` as an APIGroupDiscoveryList,
    with the extension servers' groups (``remote``)."""
    items = []
    for group, versions in merged(table, remote, legacy=legacy):
        listed = []
        for version, served in versions:
            if isinstance(served, dict):
                listed.append(served)  # an extension server's, freshness and all
            else:
                listed.append(
                    {
                        "version": version,
                        "resources": [_aggregated_resource(rt) for rt in served],
                        "freshness": "Current",
                    }
                )
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": listed})
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


def _group(group: str, versions: Sequence[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(
    table: TypeTable[ResourceType], remote: Sequence[RemoteGroup] = ()
) -> dict[str, Any]:
    groups = [
        _group(group, [v for v, _ in versions])
        for group, versions in merged(table, remote, legacy=False)
        if versions
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(
    table: TypeTable[ResourceType], group: str, remote: Sequence[RemoteGroup] = ()
) -> dict[str, Any] | None:
    for name, versions in merged(table, remote, legacy=False):
        if name == group and versions:
            return {
                "kind": "APIGroup",
                "apiVersion": "v1",
                **_group(name, [v for v, _ in versions]),
            }
    return None


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
