"""The Swagger 2.0 JSON -> gnostic openapi_v2.Document mapping (services/gateway/codec/
openapi_v2_protobuf.py), field by field as gnostic's compiler makes it, and the Accept
negotiation of /openapi/v2."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kapi_proto import openapi_v2_pb2 as pb
from services.gateway import negotiation
from services.gateway.codec import openapi_v2_protobuf as codec

SPEC: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Kubernetes", "version": "v1.32.0"},
    "paths": {
        "/api/v1/namespaces/{namespace}/pods/{name}": {
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "type": "string",
                    "uniqueItems": True,
                }
            ],
            "put": {
                "operationId": "replaceCoreV1NamespacedPod",
                "consumes": ["*/*"],
                "parameters": [
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Pod"},
                    },
                    {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": True},
                    {"$ref": "#/parameters/pretty"},
                ],
                "responses": {
                    "200": {"description": "OK", "schema": {"$ref": "#/definitions/Pod"}},
                    "401": {"description": "Unauthorized"},
                },
                "x-kubernetes-action": "put",
            },
        },
    },
    "definitions": {
        "Pod": {
            "type": "object",
            "required": ["spec"],
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"$ref": "#/definitions/Pod"}},
                "policy": {"type": "string", "enum": ["Always", "Never"], "default": "Always"},
                "free": {"type": "object", "additionalProperties": False},
                "empty": {"type": "object", "properties": {}},
                "max": {"type": "integer", "format": "int32", "maximum": 10},
            },
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
        },
    },
    "security": [{"BearerToken": []}],
    "securityDefinitions": {
        "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
    },
}


def decoded() -> pb.Document:
    return pb.Document.FromString(codec.encode(SPEC))


def test_document_header_and_security() -> None:
    doc = decoded()
    assert (doc.swagger, doc.info.title, doc.info.version) == ("2.0", "Kubernetes", "v1.32.0")
    (requirement,) = doc.security
    assert [(p.name, list(p.value.value)) for p in requirement.additional_properties] == [
        ("BearerToken", [])
    ]
    (scheme,) = doc.security_definitions.additional_properties
    api_key = scheme.value.api_key_security
    assert (scheme.name, api_key.type, api_key.name, getattr(api_key, "in")) == (
        "BearerToken",
        "apiKey",
        "authorization",
        "header",
    )


def test_schemas() -> None:
    (pod,) = decoded().definitions.additional_properties
    assert pod.name == "Pod"
    schema = pod.value
    assert list(schema.type.value) == ["object"]
    assert list(schema.required) == ["spec"]
    props = {p.name: p.value for p in schema.properties.additional_properties}
    assert list(props) == ["labels", "items", "policy", "free", "empty", "max"]
    assert list(props["labels"].additional_properties.schema.type.value) == ["string"]
    assert props["free"].additional_properties.WhichOneof("oneof") == "boolean"
    assert props["free"].additional_properties.boolean is False
    assert [s._ref for s in props["items"].items.schema] == ["#/definitions/Pod"]
    assert [yaml.safe_load(e.yaml) for e in props["policy"].enum] == ["Always", "Never"]
    assert yaml.safe_load(props["policy"].default.yaml) == "Always"
    assert props["empty"].HasField("properties")  # present though empty, as gnostic's
    assert (props["max"].format, props["max"].maximum) == ("int32", 10)
    (gvk,) = schema.vendor_extension
    assert gvk.name == "x-kubernetes-group-version-kind"
    assert yaml.safe_load(gvk.value.yaml) == [{"group": "", "kind": "Pod", "version": "v1"}]


def test_paths_parameters_and_responses() -> None:
    (path,) = decoded().paths.path
    item = path.value
    (name,) = item.parameters
    path_param = name.parameter.non_body_parameter.path_parameter_sub_schema
    assert (path_param.name, path_param.required, path_param.type) == ("name", True, "string")
    put = item.put
    assert put.operation_id == "replaceCoreV1NamespacedPod"
    body, query, ref = put.parameters
    assert body.parameter.body_parameter.schema._ref == "#/definitions/Pod"
    assert body.parameter.body_parameter.required
    assert query.parameter.non_body_parameter.query_parameter_sub_schema.name == "dryRun"
    assert ref.json_reference._ref == "#/parameters/pretty"
    codes = {r.name: r.value.response for r in put.responses.response_code}
    assert codes["200"].schema.schema._ref == "#/definitions/Pod"
    assert codes["401"].description == "Unauthorized"
    assert [(e.name, yaml.safe_load(e.value.yaml)) for e in put.vendor_extension] == [
        ("x-kubernetes-action", "put")
    ]


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        (None, "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "protobuf"),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", "protobuf"),
        ("application/json, application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "json"),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, */*", "protobuf"),
        ("application/yaml", None),
        ("application/json;q=0", None),
    ],
)
def test_negotiation(accept: str | None, form: str | None) -> None:
    assert negotiation.openapi_v2_format(accept) == form
