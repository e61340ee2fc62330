"""``/openapi/v2`` in Protobuf: the Swagger 2.0 JSON document as gnostic's
``openapi_v2.Document`` (the message kube-apiserver serves for
``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``, and kubectl
unmarshals for client-side validation, e.g. of a ``kind: List`` it applies).

kube-openapi makes it with gnostic's compiler (``openapi_v2.ParseDocument`` of the JSON
spec, then ``proto.Marshal``); this is the same mapping, field by field, onto the
message compiled from ``protos/kapi_proto/openapi_v2.proto``: maps become ordered
name/value pair lists, ``x-`` keys vendor extensions, and free-form values (defaults,
examples, enums, extension values) ``Any`` messages holding their YAML text, which is
what kube-openapi's readers (``VendorExtensionToMap``) parse back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from google.protobuf.message import Message

from kapi_proto import openapi_v2_pb2 as pb

Obj = dict[str, Any]
M = TypeVar("M", bound=Message)

# JSON keys that differ from the message's field names (the rest map by snake_case).
_RENAMED = {"$ref": "_ref", "in": "in"}


def _snake(key: str) -> str:
    if key in _RENAMED:
        return _RENAMED[key]
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _any(value: Any) -> pb.Any:
    return pb.Any(yaml=yaml.safe_dump(value, default_flow_style=False, sort_keys=False))


def _extensions(node: Obj) -> list[pb.NamedAny]:
    return [
        pb.NamedAny(name=key, value=_any(value))
        for key, value in node.items()
        if key.startswith("x-")
    ]


def _fill(message: M, node: Obj, special: dict[str, Callable[[Any], Any]] | None = None) -> M:
    """Set ``message``'s scalar and repeated-scalar fields from ``node``'s keys; keys in
    ``special`` are converted by their function (into a message or a list of them)."""
    fields = message.DESCRIPTOR.fields_by_name
    for key, value in node.items():
        if key.startswith("x-"):
            continue
        converter = (special or {}).get(key)
        name = _snake(key)
        if name not in fields:
            continue  # a key Swagger 2.0 does not define: gnostic drops it too
        if converter is not None:
            converted = converter(value)
            if isinstance(converted, list):
                getattr(message, name).extend(converted)
            else:  # present even when empty, as gnostic's (``properties: {}`` is not absent)
                getattr(message, name).CopyFrom(converted)
                getattr(message, name).SetInParent()
        elif fields[name].is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    if "vendor_extension" in fields:
        getattr(message, "vendor_extension").extend(_extensions(node))  # noqa: B009
    return message


# --- schemas ----------------------------------------------------------------------------


def schema(node: Obj) -> pb.Schema:
    return _fill(
        pb.Schema(),
        node,
        {
            "default": _any,
            "example": _any,
            "enum": lambda values: [_any(v) for v in values],
            "type": lambda t: pb.TypeItem(value=[t] if isinstance(t, str) else list(t)),
            "items": lambda i: pb.ItemsItem(
                schema=[schema(s) for s in (i if isinstance(i, list) else [i])]
            ),
            "additionalProperties": _additional_properties,
            "allOf": lambda parts: [schema(p) for p in parts],
            "properties": lambda props: pb.Properties(
                additional_properties=[
                    pb.NamedSchema(name=name, value=schema(s)) for name, s in props.items()
                ]
            ),
            "xml": lambda x: _fill(pb.Xml(), x),
            "externalDocs": lambda d: _fill(pb.ExternalDocs(), d),
        },
    )


def _additional_properties(value: Any) -> pb.AdditionalPropertiesItem:
    if isinstance(value, bool):
        return pb.AdditionalPropertiesItem(boolean=value)
    return pb.AdditionalPropertiesItem(schema=schema(value))


# --- parameters and responses -------------------------------------------------------------


def _primitives_items(node: Obj) -> pb.PrimitivesItems:
    return _fill(pb.PrimitivesItems(), node, _PRIMITIVE_SPECIAL)


_PRIMITIVE_SPECIAL: dict[str, Callable[[Any], Any]] = {
    "default": _any,
    "enum": lambda values: [_any(v) for v in values],
    "items": _primitives_items,
}

_NON_BODY = {
    "header": ("header_parameter_sub_schema", pb.HeaderParameterSubSchema),
    "formData": ("form_data_parameter_sub_schema", pb.FormDataParameterSubSchema),
    "query": ("query_parameter_sub_schema", pb.QueryParameterSubSchema),
    "path": ("path_parameter_sub_schema", pb.PathParameterSubSchema),
}


def _parameter(node: Obj) -> pb.Parameter:
    if node.get("in") == "body":
        body = _fill(pb.BodyParameter(), node, {"schema": schema})
        return pb.Parameter(body_parameter=body)
    field, message = _NON_BODY[str(node.get("in"))]
    sub = _fill(message(), node, _PRIMITIVE_SPECIAL)
    return pb.Parameter(non_body_parameter=pb.NonBodyParameter(**{field: sub}))


def _parameters_item(node: Obj) -> pb.ParametersItem:
    if "$ref" in node:
        return pb.ParametersItem(json_reference=_fill(pb.JsonReference(), node))
    return pb.ParametersItem(parameter=_parameter(node))


def _schema_item(node: Obj) -> pb.SchemaItem:
    if node.get("type") == "file":
        return pb.SchemaItem(
            file_schema=_fill(pb.FileSchema(), node, {"default": _any, "example": _any})
        )
    return pb.SchemaItem(schema=schema(node))


def _response(node: Obj) -> pb.Response:
    return _fill(
        pb.Response(),
        node,
        {
            "schema": _schema_item,
            "headers": lambda headers: pb.Headers(
                additional_properties=[
                    pb.NamedHeader(name=n, value=_fill(pb.Header(), h, _PRIMITIVE_SPECIAL))
                    for n, h in headers.items()
                ]
            ),
            "examples": lambda examples: pb.Examples(
                additional_properties=[
                    pb.NamedAny(name=n, value=_any(v)) for n, v in examples.items()
                ]
            ),
        },
    )


def _response_value(node: Obj) -> pb.ResponseValue:
    if "$ref" in node:
        return pb.ResponseValue(json_reference=_fill(pb.JsonReference(), node))
    return pb.ResponseValue(response=_response(node))


def _responses(node: Obj) -> pb.Responses:
    return pb.Responses(
        response_code=[
            pb.NamedResponseValue(name=code, value=_response_value(value))
            for code, value in node.items()
            if not code.startswith("x-")
        ],
        vendor_extension=_extensions(node),
    )


def _security(requirements: list[Obj]) -> list[pb.SecurityRequirement]:
    return [
        pb.SecurityRequirement(
            additional_properties=[
                pb.NamedStringArray(name=name, value=pb.StringArray(value=scopes))
                for name, scopes in requirement.items()
            ]
        )
        for requirement in requirements
    ]


# --- operations and the document ------------------------------------------------------------

_OPERATION_SPECIAL: dict[str, Callable[[Any], Any]] = {
    "externalDocs": lambda d: _fill(pb.ExternalDocs(), d),
    "parameters": lambda params: [_parameters_item(p) for p in params],
    "responses": _responses,
    "security": _security,
}


def _path_item(node: Obj) -> pb.PathItem:
    special: dict[str, Callable[[Any], Any]] = {
        "parameters": lambda params: [_parameters_item(p) for p in params],
    }
    for method in ("get", "put", "post", "delete", "options", "head", "patch"):
        special[method] = lambda op: _fill(pb.Operation(), op, _OPERATION_SPECIAL)
    return _fill(pb.PathItem(), node, special)


_SECURITY_SCHEMES = {
    ("basic", ""): ("basic_authentication_security", pb.BasicAuthenticationSecurity),
    ("apiKey", ""): ("api_key_security", pb.ApiKeySecurity),
    ("oauth2", "implicit"): ("oauth2_implicit_security", pb.Oauth2ImplicitSecurity),
    ("oauth2", "password"): ("oauth2_password_security", pb.Oauth2PasswordSecurity),
    ("oauth2", "application"): ("oauth2_application_security", pb.Oauth2ApplicationSecurity),
    ("oauth2", "accessCode"): ("oauth2_access_code_security", pb.Oauth2AccessCodeSecurity),
}


def _security_definition(node: Obj) -> pb.SecurityDefinitionsItem:
    kind = str(node.get("type", ""))
    flow = str(node.get("flow", "")) if kind == "oauth2" else ""
    field, message = _SECURITY_SCHEMES[(kind, flow)]
    scopes = {
        "scopes": lambda s: pb.Oauth2Scopes(
            additional_properties=[pb.NamedString(name=n, value=v) for n, v in s.items()]
        )
    }
    return pb.SecurityDefinitionsItem(**{field: _fill(message(), node, scopes)})


def document(spec: Obj) -> pb.Document:
    """The whole Swagger 2.0 document as the message."""
    return _fill(
        pb.Document(),
        spec,
        {
            "info": lambda info: _fill(
                pb.Info(),
                info,
                {
                    "contact": lambda c: _fill(pb.Contact(), c),
                    "license": lambda lic: _fill(pb.License(), lic),
                },
            ),
            "paths": lambda paths: pb.Paths(
                path=[
                    pb.NamedPathItem(name=p, value=_path_item(item))
                    for p, item in paths.items()
                    if not p.startswith("x-")
                ],
                vendor_extension=_extensions(paths),
            ),
            "definitions": lambda defs: pb.Definitions(
                additional_properties=[
                    pb.NamedSchema(name=name, value=schema(s)) for name, s in defs.items()
                ]
            ),
            "parameters": lambda params: pb.ParameterDefinitions(
                additional_properties=[
                    pb.NamedParameter(name=name, value=_parameter(p)) for name, p in params.items()
                ]
            ),
            "responses": lambda responses: pb.ResponseDefinitions(
                additional_properties=[
                    pb.NamedResponse(name=name, value=_response(r)) for name, r in responses.items()
                ]
            ),
            "security": _security,
            "securityDefinitions": lambda defs: pb.SecurityDefinitions(
                additional_properties=[
                    pb.NamedSecurityDefinitionsItem(name=name, value=_security_definition(d))
                    for name, d in defs.items()
                ]
            ),
            "tags": lambda tags: [
                _fill(pb.Tag(), t, {"externalDocs": lambda d: _fill(pb.ExternalDocs(), d)})
                for t in tags
            ],
            "externalDocs": lambda d: _fill(pb.ExternalDocs(), d),
        },
    )


def encode(spec: Obj) -> bytes:
    """The document's Protobuf bytes, as kube-openapi's ``ToProtoBinary`` gives them."""
    return bytes(document(spec).SerializeToString())
