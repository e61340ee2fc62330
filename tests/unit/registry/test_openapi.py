"""OpenAPI v3: the index, the per-group-version documents and what kubectl reads in them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from services.registry import openapi_schemas
from services.registry.openapi import OpenAPIV3, operation_id_part
from services.registry.strategies import builtin_table
from services.registry.types import NO_COLLECTION_VERBS, ResourceType, TypeTable

Doc = dict[str, Any]
REF = "#/components/schemas/"
HASH = re.compile(r"^[0-9A-F]{128}$")


@pytest.fixture(scope="module")
def openapi() -> OpenAPIV3:
    return OpenAPIV3(builtin_table())


@pytest.fixture(scope="module")
def docs(openapi: OpenAPIV3) -> dict[str, Doc]:
    out = {}
    for path in openapi.index()["paths"]:
        found = openapi.document(path)
        assert found is not None
        out[path] = json.loads(found[0])
    return out


@pytest.fixture(scope="module")
def core(docs: dict[str, Doc]) -> Doc:
    return docs["api/v1"]


@pytest.fixture(scope="module")
def apps(docs: dict[str, Doc]) -> Doc:
    return docs["apis/apps/v1"]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``node``, depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def operations(doc: Doc) -> Iterator[tuple[str, str, Doc]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def query_params(op: Doc) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}


# --- index and hashes ----------------------------------------------------------------


def test_index_lists_served_group_versions_with_hash(openapi: OpenAPIV3) -> None:
    paths = openapi.index()["paths"]
    assert list(paths) == [
        f"apis/{group}/{version}" if group else f"api/{version}"
        for group, version in builtin_table().group_versions()
    ]
    for path, entry in paths.items():
        url, _, digest = entry["serverRelativeURL"].partition("?hash=")
        assert url == f"/openapi/v3/{path}"
        assert HASH.match(digest)


def test_hash_is_uppercase_sha512_of_the_document(openapi: OpenAPIV3) -> None:
    for path, entry in openapi.index()["paths"].items():
        found = openapi.document(path)
        assert found is not None
        data, digest = found
        assert digest == hashlib.sha512(data).hexdigest().upper()
        assert entry["serverRelativeURL"].endswith(f"?hash={digest}")


def test_documents_are_identical_between_two_builds(openapi: OpenAPIV3) -> None:
    fresh = OpenAPIV3(builtin_table(), definitions=openapi_schemas.load())
    for path in openapi.index()["paths"]:
        assert fresh.document(path) == openapi.document(path)


def test_hash_is_stable_across_processes(openapi: OpenAPIV3) -> None:
    script = (
        "from services.registry.openapi import OpenAPIV3\n"
        "from services.registry.strategies import builtin_table\n"
        "import json; print(json.dumps(OpenAPIV3(builtin_table()).index()))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == openapi.index()


def test_unserved_documents_are_none(openapi: OpenAPIV3) -> None:
    assert openapi.document("apis/batch/v2") is None
    assert openapi.document("api/v2") is None
    assert openapi.document("/api/v1") == openapi.document("api/v1")


def test_only_group_versions_with_resources_appear() -> None:
    only_apps = TypeTable(t for t in builtin_table().types if t.group == "apps")
    assert list(OpenAPIV3(only_apps).index()["paths"]) == ["apis/apps/v1"]


def test_document_header(core: Doc) -> None:
    assert core["openapi"] == "3.0.0"
    assert core["info"] == {"title": "Kubernetes", "version": "v1.32.0"}


# --- what kubectl looks for ------------------------------------------------------------


def test_configmap_patch_operation(core: Doc) -> None:
    op = core["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert op["operationId"] == "patchCoreV1NamespacedConfigMap"
    assert op["x-kubernetes-action"] == "patch"
    assert op["x-kubernetes-group-version-kind"] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
    }
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= query_params(op)
    content = op["requestBody"]["content"]
    assert set(content) == {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    }
    assert {c["schema"]["$ref"] for c in content.values()} == {
        REF + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    }
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": REF + "io.k8s.api.core.v1.ConfigMap"
    }


def test_every_write_carries_field_validation_and_gvk(docs: dict[str, Doc]) -> None:
    # kubectl stops at the first PATCH operation with the GVK, status ones included.
    for doc in docs.values():
        for path, method, op in operations(doc):
            if method in ("post", "put", "patch"):
                assert "fieldValidation" in query_params(op), path
            if not path.endswith("/"):
                assert set(op["x-kubernetes-group-version-kind"]) == {"group", "version", "kind"}


def test_all_refs_resolve_inside_their_document(docs: dict[str, Doc]) -> None:
    for doc in docs.values():
        schemas = doc["components"]["schemas"]
        for node in walk(doc):
            ref = node.get("$ref")
            if isinstance(ref, str):
                assert ref.startswith(REF) and ref[len(REF) :] in schemas, ref


def test_only_reachable_schemas_are_included(core: Doc, apps: Doc) -> None:
    assert "io.k8s.api.apps.v1.Deployment" not in core["components"]["schemas"]
    assert "io.k8s.api.core.v1.ConfigMap" not in apps["components"]["schemas"]
    for doc in (core, apps):
        reachable: set[str] = set()
        pending = [n.get("$ref") for n in walk(doc["paths"]) if "$ref" in n]
        while pending:
            name = str(pending.pop())[len(REF) :]
            if name not in reachable:
                reachable.add(name)
                pending.extend(
                    n["$ref"] for n in walk(doc["components"]["schemas"][name]) if "$ref" in n
                )
        assert reachable == set(doc["components"]["schemas"])


def test_no_nullable_type_lists_remain(docs: dict[str, Doc]) -> None:
    for doc in docs.values():
        for node in walk(doc["components"]):
            kind = node.get("type")
            if isinstance(kind, (str, list)):
                assert isinstance(kind, str) and kind != "null", node


def test_apiversion_and_kind_have_no_enum(docs: dict[str, Doc]) -> None:
    for doc in docs.values():
        for schema in doc["components"]["schemas"].values():
            for prop in ("apiVersion", "kind"):
                assert "enum" not in schema.get("properties", {}).get(prop, {})


def test_refs_with_descriptions_are_wrapped_in_all_of(core: Doc) -> None:
    target_port = core["components"]["schemas"]["io.k8s.api.core.v1.ServicePort"]["properties"][
        "targetPort"
    ]
    int_or_string = REF + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    assert target_port["allOf"] == [{"$ref": int_or_string}]
    assert target_port["description"].startswith("Number or name of the port")


def test_deployment_containers_carry_strategic_merge_metadata(apps: Doc) -> None:
    containers = apps["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"
    ]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["items"] == {"$ref": REF + "io.k8s.api.core.v1.Container"}


def test_schemas_keep_what_explain_needs(apps: Doc) -> None:
    deployment = apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["type"] == "object"
    assert deployment["description"].startswith("Deployment enables declarative updates")
    assert {"group": "apps", "version": "v1", "kind": "Deployment"} in deployment[
        "x-kubernetes-group-version-kind"
    ]
    assert deployment["properties"]["spec"]["description"]


def test_scalar_wrappers_look_like_kubes(core: Doc) -> None:
    schemas = core["components"]["schemas"]
    quantity = schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert quantity["description"].startswith("Quantity is a fixed-point representation")
    int_or_string = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["format"] == "int-or-string"
    assert int_or_string["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    time = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]
    assert (time["type"], time["format"]) == ("string", "date-time")


# --- paths follow the type table -------------------------------------------------------


def test_cluster_scoped_namespaces_have_no_namespace_segment(core: Doc) -> None:
    paths = core["paths"]
    assert {
        "/api/v1/namespaces",
        "/api/v1/namespaces/{name}",
        "/api/v1/namespaces/{name}/status",
    } <= set(paths)
    item = paths["/api/v1/namespaces/{name}"]
    assert [p["name"] for p in item["parameters"]] == ["name", "pretty"]
    assert item["get"]["operationId"] == "readCoreV1Namespace"
    assert paths["/api/v1/namespaces"]["get"]["operationId"] == "listCoreV1Namespace"
    assert not any(p.startswith("/api/v1/namespaces/{namespace}/namespaces") for p in paths)


def test_namespaces_have_no_deletecollection(core: Doc) -> None:
    assert set(core["paths"]["/api/v1/namespaces"]) == {"get", "post", "parameters"}
    assert "delete" not in core["paths"]["/api/v1/namespaces/{namespace}/services"]
    actions = {
        op["x-kubernetes-action"]
        for path, _, op in operations(core)
        if path.startswith("/api/v1/namespaces/{namespace}/configmaps")
    }
    assert actions == {"list", "post", "deletecollection", "get", "put", "patch", "delete"}


def test_namespaced_collection_and_item_operations(core: Doc) -> None:
    collection = core["paths"]["/api/v1/namespaces/{namespace}/configmaps"]
    assert [p["name"] for p in collection["parameters"]] == ["namespace", "pretty"]
    listing = collection["get"]
    assert listing["operationId"] == "listCoreV1NamespacedConfigMap"
    assert query_params(listing) == {
        "allowWatchBookmarks",
        "continue",
        "fieldSelector",
        "labelSelector",
        "limit",
        "resourceVersion",
        "resourceVersionMatch",
        "sendInitialEvents",
        "timeoutSeconds",
        "watch",
    }
    assert listing["responses"]["200"]["content"]["application/json;stream=watch"]["schema"] == {
        "$ref": REF + "io.k8s.api.core.v1.ConfigMapList"
    }
    create = collection["post"]
    assert create["description"] == "create a ConfigMap"
    assert set(create["responses"]) == {"200", "201", "202", "401"}
    assert create["requestBody"]["content"]["*/*"]["schema"] == {
        "$ref": REF + "io.k8s.api.core.v1.ConfigMap"
    }
    delete_collection = collection["delete"]
    assert delete_collection["operationId"] == "deleteCoreV1CollectionNamespacedConfigMap"
    assert {"labelSelector", "gracePeriodSeconds", "propagationPolicy"} <= query_params(
        delete_collection
    )
    item = core["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert [p.get("required") for p in item["parameters"]] == [True, True, None]
    assert item["parameters"][0]["description"] == "name of the ConfigMap"
    assert {m: op["operationId"] for m, op in item.items() if m != "parameters"} == {
        "get": "readCoreV1NamespacedConfigMap",
        "put": "replaceCoreV1NamespacedConfigMap",
        "patch": "patchCoreV1NamespacedConfigMap",
        "delete": "deleteCoreV1NamespacedConfigMap",
    }
    assert core["paths"]["/api/v1/configmaps"]["get"]["operationId"] == (
        "listCoreV1ConfigMapForAllNamespaces"
    )
    assert (
        core["paths"]["/api/v1/namespaces/{namespace}/events/{name}"]["delete"]["description"]
        == "delete an Event"
    )


def test_status_subresource_paths(core: Doc, apps: Doc) -> None:
    status = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]
    assert {m: op["operationId"] for m, op in status.items() if m != "parameters"} == {
        "get": "readCoreV1NamespacedPodStatus",
        "put": "replaceCoreV1NamespacedPodStatus",
        "patch": "patchCoreV1NamespacedPodStatus",
    }
    assert status["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Pod"
    assert "/api/v1/namespaces/{namespace}/configmaps/{name}/status" not in core["paths"]
    deployment_status = apps["paths"][
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"
    ]
    assert deployment_status["get"]["operationId"] == "readAppsV1NamespacedDeploymentStatus"
    assert deployment_status["get"]["tags"] == ["apps_v1"]


def test_verbs_and_groups_come_from_the_table() -> None:
    role = ResourceType(
        group="rbac.authorization.k8s.io",
        version="v1",
        resource="clusterroles",
        kind="ClusterRole",
        singular="clusterrole",
        namespaced=False,
        schema="io.k8s.api.rbac.v1.ClusterRole",
        verbs=("get", "list"),
    )
    doc = json.loads(OpenAPIV3(TypeTable([role])).document("apis/rbac.authorization.k8s.io/v1")[0])  # type: ignore[index]
    ops = {(path, method): op["operationId"] for path, method, op in operations(doc)}
    assert ops == {
        ("/apis/rbac.authorization.k8s.io/v1/", "get"): "getRbacAuthorizationV1APIResources",
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "get",
        ): "listRbacAuthorizationV1ClusterRole",
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
            "get",
        ): "readRbacAuthorizationV1ClusterRole",
    }
    assert doc["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["tags"] == [
        "rbacAuthorization_v1"
    ]


def test_scale_subresource_is_autoscaling_scale() -> None:
    builtin = {t.resource: t for t in builtin_table().types}
    deployments = ResourceType(
        **{
            **builtin["deployments"].to_json(),
            "subresources": ("status", "scale"),
            "verbs": NO_COLLECTION_VERBS,
        }
    )
    doc = json.loads(OpenAPIV3(TypeTable([deployments])).document("apis/apps/v1")[0])  # type: ignore[index]
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["operationId"] == "patchAppsV1NamespacedDeploymentScale"
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    assert "delete" not in doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]


def test_unknown_schema_fails_loudly() -> None:
    bogus = ResourceType(
        group="example.com",
        version="v1",
        resource="widgets",
        kind="Widget",
        singular="widget",
        namespaced=True,
        schema="com.example.v1.Widget",
    )
    with pytest.raises(LookupError, match=r"com\.example\.v1\.Widget"):
        OpenAPIV3(TypeTable([bogus])).index()


@pytest.mark.parametrize(
    ("text", "capitalize", "expected"),
    [
        ("core", True, "Core"),
        ("v1", True, "V1"),
        ("v1beta1", True, "V1beta1"),
        ("rbac.authorization", True, "RbacAuthorization"),
        ("rbac.authorization", False, "rbacAuthorization"),
        ("flowcontrol.apiserver", True, "FlowcontrolApiserver"),
    ],
)
def test_operation_id_part(text: str, capitalize: bool, expected: str) -> None:
    assert operation_id_part(text, capitalize=capitalize) == expected
