"""``/openapi/v2`` (services/registry/openapi.py) and the enum facts published in v2 and v3
(services/registry/schema_enums.py through openapi_schemas.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.registry import openapi, openapi_schemas
from services.registry.strategies import builtin_table


@pytest.fixture(scope="module")
def v2() -> dict[str, Any]:
    data, digest = openapi.OpenAPIV2(builtin_table()).document()
    document: dict[str, Any] = orjson.loads(data)
    document["_hash"] = digest
    return document


def test_is_swagger_2_with_kubes_header(v2: dict[str, Any]) -> None:
    assert v2["swagger"] == "2.0"
    assert v2["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    assert v2["securityDefinitions"]["BearerToken"]["in"] == "header"
    assert v2["security"] == [{"BearerToken": []}]
    assert len(v2["_hash"]) == 128 and v2["_hash"] == v2["_hash"].upper()


def test_every_served_type_has_its_definition_with_gvk(v2: dict[str, Any]) -> None:
    definitions = v2["definitions"]
    for rt in builtin_table().types:
        schema = definitions[rt.schema]
        gvks = schema["x-kubernetes-group-version-kind"]
        assert {"group": rt.group, "version": rt.version, "kind": rt.kind} in gvks


def test_every_reference_resolves(v2: dict[str, Any]) -> None:
    refs: set[str] = set()
    stack: list[Any] = [v2["paths"], v2["definitions"]]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                refs.add(ref)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    assert refs
    for ref in refs:
        assert ref.startswith("#/definitions/"), ref
        assert ref.removeprefix("#/definitions/") in v2["definitions"], ref


def test_definitions_keep_patch_strategies_beside_refs(v2: dict[str, Any]) -> None:
    spec = v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["containers"]["x-kubernetes-patch-strategy"] == "merge"
    assert spec["containers"]["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    strategy = v2["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"


def test_scalars_are_strings_in_v2(v2: dict[str, Any]) -> None:
    definitions = v2["definitions"]
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert (
        definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    )
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert "oneOf" not in definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]


def test_patch_operation_as_kube_publishes_it(v2: dict[str, Any]) -> None:
    item = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["consumes"] == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ]
    assert patch["produces"] == [
        "application/json",
        "application/vnd.kubernetes.protobuf",
        "application/yaml",
    ]
    assert patch["schemes"] == ["https"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    body, *query = patch["parameters"]
    assert body == {
        "in": "body",
        "name": "body",
        "required": True,
        "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"},
    }
    assert {p["name"] for p in query} == {"dryRun", "fieldManager", "fieldValidation", "force"}
    assert all(p["in"] == "query" and p["type"] in ("string", "boolean") for p in query)
    assert patch["responses"]["200"]["schema"] == {
        "$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"
    }
    names = [p["name"] for p in item["parameters"]]
    assert names == ["name", "namespace", "pretty"]
    assert item["parameters"][0]["type"] == "string" and item["parameters"][0]["required"]


def test_document_is_stable() -> None:
    first = openapi.OpenAPIV2(builtin_table()).document()
    second = openapi.OpenAPIV2(builtin_table(), definitions=openapi_schemas.load()).document()
    assert first == second


# --- enums, as kube publishes them (kubectl explain prints them) ------------------------


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_deployment_strategy_type_carries_kubes_enum(version: str) -> None:
    definitions = openapi_schemas.load()
    name = "io.k8s.api.apps.v1.DeploymentStrategy"
    schema = definitions.schema_v2(name) if version == "v2" else definitions.schema(name)
    prop = schema["properties"]["type"]
    assert prop["enum"] == ["Recreate", "RollingUpdate"]
    assert prop["description"] == (
        'Type of deployment. Can be "Recreate" or "RollingUpdate". Default is RollingUpdate.'
        "\n\nPossible enum values:\n"
        ' - `"Recreate"` Kill all existing pods before creating new ones.\n'
        ' - `"RollingUpdate"` Replace the old ReplicaSets by new one using rolling update i.e '
        "gradually scale down the old ReplicaSets and scale up the new one."
    )


def test_list_valued_enums_go_on_the_items() -> None:
    schema = openapi_schemas.load().schema("io.k8s.api.core.v1.PersistentVolumeClaimSpec")
    modes = schema["properties"]["accessModes"]
    assert modes["items"]["enum"] == [
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ]
