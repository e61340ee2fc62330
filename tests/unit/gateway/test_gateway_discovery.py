"""Discovery documents (services/gateway/discovery.py) from the registry's type table: the
aggregated apidiscovery.k8s.io/v2 lists kubectl asks for first, and the legacy documents
``kubectl auth can-i`` and older clients read.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway import discovery
from services.registry.strategies import builtin_table
from services.registry.types import ResourceType, TypeTable

TABLE = builtin_table()
Obj = dict[str, Any]


def resources_of(doc: Obj, group: str = "", version: str = "v1") -> dict[str, Obj]:
    (item,) = [i for i in doc["items"] if i["metadata"]["name"] == group]
    (ver,) = [v for v in item["versions"] if v["version"] == version]
    return {r["resource"]: r for r in ver["resources"]}


# --- aggregated ------------------------------------------------------------------------------


def test_aggregated_api_is_the_core_group_only() -> None:
    doc = discovery.aggregated(TABLE, legacy=True)
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]) == (
        "APIGroupDiscoveryList",
        "apidiscovery.k8s.io/v2",
        {},
    )
    (item,) = doc["items"]
    assert item["metadata"] == {"name": "", "creationTimestamp": None}
    (version,) = item["versions"]
    assert (version["version"], version["freshness"]) == ("v1", "Current")
    names = [r["resource"] for r in version["resources"]]
    assert {"namespaces", "configmaps", "pods", "services", "secrets"} <= set(names)
    assert "deployments" not in names


def test_aggregated_apis_has_the_named_groups() -> None:
    doc = discovery.aggregated(TABLE, legacy=False)
    assert "" not in [i["metadata"]["name"] for i in doc["items"]]
    deployments = resources_of(doc, "apps")["deployments"]
    subresources = deployments.pop("subresources")
    assert subresources[0] == {
        "subresource": "status",
        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "verbs": ["get", "patch", "update"],
    }
    for sub in subresources[1:]:
        if sub["subresource"] == "scale":  # kubectl scale reads an autoscaling/v1 Scale
            assert sub["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert deployments == {
        "resource": "deployments",
        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "scope": "Namespaced",
        "singularResource": "deployment",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["deploy"],
        "categories": ["all"],
    }


def test_aggregated_pods() -> None:
    pods = resources_of(discovery.aggregated(TABLE, legacy=True))["pods"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert (pods["scope"], pods["singularResource"]) == ("Namespaced", "pod")
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    # kube's: each subresource's kind, in its own group-version where it names one.
    assert [(s["subresource"], s["responseKind"], s["verbs"]) for s in pods["subresources"]] == [
        ("attach", {"group": "", "version": "v1", "kind": "PodAttachOptions"}, ["create", "get"]),
        ("binding", {"group": "", "version": "v1", "kind": "Binding"}, ["create"]),
        ("ephemeralcontainers", {"group": "", "version": "v1", "kind": "Pod"}, GET_PATCH_UPDATE),
        ("eviction", {"group": "policy", "version": "v1", "kind": "Eviction"}, ["create"]),
        ("exec", {"group": "", "version": "v1", "kind": "PodExecOptions"}, ["create", "get"]),
        ("log", {"group": "", "version": "v1", "kind": "Pod"}, ["get"]),
        (
            "portforward",
            {"group": "", "version": "v1", "kind": "PodPortForwardOptions"},
            ["create", "get"],
        ),
        ("proxy", {"group": "", "version": "v1", "kind": "PodProxyOptions"}, PROXY_VERBS),
        ("status", {"group": "", "version": "v1", "kind": "Pod"}, GET_PATCH_UPDATE),
    ]


GET_PATCH_UPDATE = ["get", "patch", "update"]
PROXY_VERBS = ["create", "delete", "get", "patch", "update"]


@pytest.mark.parametrize(
    ("resource", "scope", "short_names", "categories"),
    [
        ("namespaces", "Cluster", ["ns"], None),
        ("configmaps", "Namespaced", ["cm"], None),
        ("services", "Namespaced", ["svc"], ["all"]),
        ("secrets", "Namespaced", None, None),
        ("serviceaccounts", "Namespaced", ["sa"], None),
        ("events", "Namespaced", ["ev"], None),
    ],
)
def test_aggregated_core_resources(
    resource: str, scope: str, short_names: list[str] | None, categories: list[str] | None
) -> None:
    entry = resources_of(discovery.aggregated(TABLE, legacy=True))[resource]
    assert entry["scope"] == scope
    assert entry.get("shortNames") == short_names
    assert entry.get("categories") == categories
    assert entry["verbs"] == sorted(entry["verbs"])
    assert entry["responseKind"]["kind"]  # without one kubectl drops the resource


def test_every_resource_and_subresource_has_a_response_kind() -> None:
    for legacy in (True, False):
        for item in discovery.aggregated(TABLE, legacy=legacy)["items"]:
            for version in item["versions"]:
                for resource in version["resources"]:
                    assert resource["responseKind"]["kind"], resource["resource"]
                    for sub in resource.get("subresources", []):
                        assert sub["responseKind"]["kind"], sub


WIDGET = ResourceType(
    group="example.com",
    version="v1",
    resource="widgets",
    kind="Widget",
    singular="widget",
    namespaced=False,
    schema="com.example.v1.Widget",
    subresources=("status", "scale"),
)
WIDGET_BETA = ResourceType(
    group="example.com",
    version="v1beta1",
    resource="widgets",
    kind="Widget",
    singular="widget",
    namespaced=False,
    schema="com.example.v1beta1.Widget",
)


def test_aggregated_versions_in_preference_order_and_scale() -> None:
    table = TypeTable([*TABLE.types, WIDGET, WIDGET_BETA])
    doc = discovery.aggregated(table, legacy=False)
    (item,) = [i for i in doc["items"] if i["metadata"]["name"] == "example.com"]
    assert [v["version"] for v in item["versions"]] == ["v1", "v1beta1"]
    widgets = resources_of(doc, "example.com")["widgets"]
    assert widgets["scope"] == "Cluster"
    assert widgets["subresources"][1] == {
        "subresource": "scale",
        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"],
    }


# --- legacy -----------------------------------------------------------------------------------


def test_api_versions() -> None:
    assert discovery.api_versions("10.0.0.1:6443") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}
        ],
    }


def test_api_group_list() -> None:
    doc = discovery.api_group_list(TypeTable([*TABLE.types, WIDGET, WIDGET_BETA]))
    assert (doc["kind"], doc["apiVersion"]) == ("APIGroupList", "v1")
    groups = {g["name"]: g for g in doc["groups"]}
    assert "" not in groups
    assert groups["apps"] == {
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }
    assert groups["example.com"]["versions"] == [
        {"groupVersion": "example.com/v1", "version": "v1"},
        {"groupVersion": "example.com/v1beta1", "version": "v1beta1"},
    ]
    assert groups["example.com"]["preferredVersion"]["version"] == "v1"


def test_api_group() -> None:
    assert discovery.api_group(TABLE, "apps") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }
    assert discovery.api_group(TABLE, "nope.example.com") is None


def test_core_api_resource_list() -> None:
    doc = discovery.api_resource_list(TABLE, "", "v1")
    assert doc is not None
    assert (doc["kind"], doc["apiVersion"], doc["groupVersion"]) == ("APIResourceList", "v1", "v1")
    entries = {r["name"]: r for r in doc["resources"]}
    assert entries["pods"] == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["po"],
        "categories": ["all"],
        "storageVersionHash": "xPOwRZ+Yhw8=",
    }
    assert entries["pods/status"] == {
        "name": "pods/status",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "patch", "update"],
    }
    assert entries["namespaces"]["namespaced"] is False
    assert "namespaces/status" in entries
    names = [r["name"] for r in doc["resources"]]
    start = names.index("pods")
    assert names[start : start + 10] == [
        "pods",
        "pods/attach",
        "pods/binding",
        "pods/ephemeralcontainers",
        "pods/eviction",
        "pods/exec",
        "pods/log",
        "pods/portforward",
        "pods/proxy",
        "pods/status",
    ]
    # kube-apiserver 1.32's entries, word for word (no storageVersionHash: not stored).
    assert names[:2] == ["bindings", "componentstatuses"]
    assert entries["bindings"] == {
        "name": "bindings",
        "singularName": "binding",
        "namespaced": True,
        "kind": "Binding",
        "verbs": ["create"],
    }
    assert entries["componentstatuses"] == {
        "name": "componentstatuses",
        "singularName": "componentstatus",
        "namespaced": False,
        "kind": "ComponentStatus",
        "verbs": ["get", "list"],
        "shortNames": ["cs"],
    }
    assert entries["pods/eviction"] == {
        "name": "pods/eviction",
        "singularName": "",
        "namespaced": True,
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
        "verbs": ["create"],
    }
    for name, kind, verbs in (
        ("pods/attach", "PodAttachOptions", ["create", "get"]),
        ("pods/binding", "Binding", ["create"]),
        ("pods/ephemeralcontainers", "Pod", GET_PATCH_UPDATE),
        ("pods/exec", "PodExecOptions", ["create", "get"]),
        ("pods/log", "Pod", ["get"]),
        ("pods/portforward", "PodPortForwardOptions", ["create", "get"]),
        ("pods/proxy", "PodProxyOptions", PROXY_VERBS),
        ("namespaces/finalize", "Namespace", ["update"]),
        ("nodes/proxy", "NodeProxyOptions", PROXY_VERBS),
        ("services/proxy", "ServiceProxyOptions", PROXY_VERBS),
    ):
        namespaced = not name.startswith(("namespaces", "nodes"))
        assert entries[name] == {
            "name": name,
            "singularName": "",
            "namespaced": namespaced,
            "kind": kind,
            "verbs": verbs,
        }


def test_grouped_api_resource_list() -> None:
    doc = discovery.api_resource_list(TABLE, "apps", "v1")
    assert doc is not None
    assert doc["groupVersion"] == "apps/v1"
    names = [r["name"] for r in doc["resources"]]
    assert names.index("deployments/status") > names.index("deployments")
    assert all(
        n.split("/")[0] in {t.resource for t in TABLE.in_group_version("apps", "v1")} for n in names
    )


def test_legacy_scale_subresource_names_its_group() -> None:
    doc = discovery.api_resource_list(TypeTable([WIDGET]), "example.com", "v1")
    assert doc is not None
    scale = {r["name"]: r for r in doc["resources"]}["widgets/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert scale["namespaced"] is False


def test_unknown_group_versions_have_no_resource_list() -> None:
    assert discovery.api_resource_list(TABLE, "", "v2") is None
    assert discovery.api_resource_list(TABLE, "apps", "v1beta1") is None


# kube-apiserver's values: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>")
@pytest.mark.parametrize(
    ("group", "resource", "expected"),
    [
        ("", "configmaps", "qFsyl6wFWjQ="),
        ("", "pods", "xPOwRZ+Yhw8="),
        ("", "namespaces", "Q3oi5N2YM8M="),
        ("", "services", "0/CO1lhkEBI="),
        ("", "secrets", "S6u1pOWzb84="),
        ("", "serviceaccounts", "pbx9ZvyFpBE="),
        ("", "events", "r2yiGXH7wu8="),
        ("apps", "deployments", "8aSe+NMegvE="),
    ],
)
def test_storage_version_hash_is_kubes(group: str, resource: str, expected: str) -> None:
    rt = TABLE.lookup(group, "v1", resource)
    assert rt is not None
    assert discovery.storage_version_hash(rt) == expected
    doc = discovery.api_resource_list(TABLE, rt.group, rt.version)
    assert doc is not None
    assert {r["name"]: r for r in doc["resources"]}[resource]["storageVersionHash"] == expected


def test_documents_are_stable() -> None:
    """Built twice, byte for byte the same: ETags and kubectl's cache rely on it."""
    assert discovery.aggregated(TABLE, legacy=False) == discovery.aggregated(
        builtin_table(), legacy=False
    )
    assert discovery.api_resource_list(TABLE, "", "v1") == discovery.api_resource_list(
        builtin_table(), "", "v1"
    )
