"""Content negotiation (services/gateway/negotiation.py): what kubectl and client-go ask for
and send, and the 400/406/413/415 a server answers when it cannot.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from kapi import errors
from services.gateway import negotiation
from services.gateway.negotiation import JSON, MAX_BODY_BYTES, PROTOBUF, YAML, Rendering

REPO = Path(__file__).resolve().parents[3]
LOCAL_WIRE = REPO / "tests" / "data" / "kubectl-1.32-protobuf"
WIRE = LOCAL_WIRE if LOCAL_WIRE.is_dir() else REPO.parent / "shared" / "wire" / LOCAL_WIRE.name

KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
KUBECTL_DISCOVERY = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (KUBECTL_GET, Rendering("table", JSON)),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", Rendering("table-v1beta1", JSON)),
        ('application/json; as="Table"; v=v1; g=meta.k8s.io', Rendering("table", JSON)),
        (
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json",
            Rendering("metadata", JSON),
        ),
        (
            "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
            Rendering("metadata", JSON),
        ),
        ("application/yaml", Rendering("object", YAML)),
        ("application/yaml;as=Table;v=v1;g=meta.k8s.io", Rendering("table", YAML)),
        ("application/json", Rendering("object", JSON)),
        ("*/*", Rendering("object", JSON)),
        ("application/*", Rendering("object", JSON)),
        (None, Rendering("object", JSON)),
        ("", Rendering("object", JSON)),
        # kubectl's typed clients: Protobuf first; they take a JSON answer as well
        (f"{PROTOBUF},application/json", Rendering("object", JSON)),
        (PROTOBUF, Rendering("object", JSON)),
        # a Table of another group or version is not something we serve: next offer
        (
            "application/json;as=Table;v=v2;g=meta.k8s.io,application/yaml",
            Rendering("object", YAML),
        ),
        (
            "application/json;as=Table;v=v1;g=example.com,application/json",
            Rendering("object", JSON),
        ),
        (KUBECTL_DISCOVERY, Rendering("object", JSON)),
        ("text/html,application/json", Rendering("object", JSON)),
    ],
)
def test_negotiate(accept: str | None, expected: Rendering) -> None:
    assert negotiation.negotiate(accept) == expected


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/plain,image/png",
        "application/json;as=Table;v=v1;g=example.com",
    ],
)
def test_nothing_acceptable_is_406(accept: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        negotiation.negotiate(accept)
    err = info.value
    assert (err.code, err.reason) == (406, "NotAcceptable")
    assert err.message.startswith("only the following media types are accepted: ")
    assert "application/json" in err.message


def test_writes_answer_objects_not_tables() -> None:
    assert negotiation.negotiate(KUBECTL_GET, allow_table=False) == Rendering("object", JSON)
    with pytest.raises(errors.StatusError) as info:
        negotiation.negotiate("application/json;as=Table;v=v1;g=meta.k8s.io", allow_table=False)
    assert info.value.code == 406


def test_parse_accept() -> None:
    ranges = negotiation.parse_accept('Application/JSON; as=Table ;v="v1", ,text/plain')
    assert [(r.type, r.params) for r in ranges] == [
        ("application/json", {"as": "Table", "v": "v1"}),
        ("text/plain", {}),
    ]
    assert [r.type for r in negotiation.parse_accept(None)] == ["*/*"]


# --- request bodies ------------------------------------------------------------------------


def decode(body: bytes, content_type: str | None, kind: str = "ConfigMap") -> object:
    return negotiation.decode_body(body, content_type, kind=kind, version="v1")


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        None,  # kubectl scale --current-replicas sends a JSON body without a Content-Type
        "",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ],
)
def test_decode_json(content_type: str | None) -> None:
    assert decode(orjson.dumps(CONFIGMAP), content_type) == CONFIGMAP


def test_decode_json_patch_list() -> None:
    patch = [{"op": "add", "path": "/data/b", "value": "2"}]
    assert decode(orjson.dumps(patch), "application/json-patch+json") == patch


@pytest.mark.parametrize(
    "content_type",
    ["application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml"],
)
def test_decode_yaml(content_type: str) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    assert decode(body, content_type) == CONFIGMAP


def test_decode_yaml_keeps_types_json_can_say() -> None:
    body = b"---\nspec:\n  replicas: 3\n  paused: false\n  when: 2025-01-01\n...\n"
    assert decode(body, YAML) == {"spec": {"replicas": 3, "paused": False, "when": "2025-01-01"}}


def test_decode_protobuf_as_kubectl_sends_it() -> None:
    obj = decode((WIRE / "configmaps.bin").read_bytes(), PROTOBUF)
    assert isinstance(obj, dict)
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "ConfigMap")
    assert obj["metadata"]["name"] == "cm1"
    assert obj["data"] == {"a": "1"}


@pytest.mark.parametrize(
    ("body", "content_type", "prefix"),
    [
        (
            b'{"metadata": ',
            JSON,
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
            "version/kind; json parse error: ",
        ),
        (
            b"a: [unclosed",
            YAML,
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
            "version/kind; yaml parse error: ",
        ),
        (
            b"a: 1\n---\nb: 2\n",
            YAML,
            "the object provided is unrecognized (must be of type ConfigMap): expected exactly "
            "one YAML document",
        ),
        (b"k8s\x00\xff\xff\xff", PROTOBUF, ""),
        (b"not protobuf at all", PROTOBUF, ""),
    ],
)
def test_malformed_bodies_are_400(body: bytes, content_type: str, prefix: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        decode(body, content_type)
    err = info.value
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message.startswith(prefix)


def test_oversized_body_is_413() -> None:
    with pytest.raises(errors.StatusError) as info:
        decode(b" " * (MAX_BODY_BYTES + 1), JSON)
    err = info.value
    assert (err.code, err.reason) == (413, "RequestEntityTooLarge")
    assert err.message == f"Request entity too large: limit is {MAX_BODY_BYTES}"
    assert MAX_BODY_BYTES == 3 * 1024 * 1024  # kube-apiserver's --max-request-body-bytes


def test_body_at_the_limit_is_read() -> None:
    body = orjson.dumps({"data": {"k": "x" * (MAX_BODY_BYTES - 20)}})
    assert len(body) <= MAX_BODY_BYTES
    assert isinstance(decode(body, JSON), dict)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/cbor"])
def test_unknown_media_type_is_415(content_type: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        decode(b"{}", content_type)
    err = info.value
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")
    assert err.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml, application/vnd.kubernetes.protobuf (got "
        f"{content_type})"
    )


# --- answers -----------------------------------------------------------------------------------


def test_encode_yaml_keeps_the_field_order() -> None:
    data = orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}})
    out = negotiation.encode(data, YAML)
    assert out.decode().splitlines()[:2] == ["kind: ConfigMap", "apiVersion: v1"]
    assert yaml.safe_load(out) == orjson.loads(data)


def test_encode_json_is_the_bytes_given() -> None:
    data = b'{"kind":"Status"}'
    assert negotiation.encode(data, JSON) is data
