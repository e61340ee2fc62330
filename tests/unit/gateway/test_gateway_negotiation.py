"""Content negotiation (services/gateway/negotiation.py): what kubectl and client-go ask for
and send, and the 400/406/413/415 a server answers when it cannot.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from kapi import errors, json_depth
from services.gateway import negotiation
from services.gateway.codec import offload
from services.gateway.negotiation import (
    APPLY_PATCH as APPLY,
)
from services.gateway.negotiation import (
    JSON,
    MAX_BODY_BYTES,
    PROTOBUF,
    YAML,
    Rendering,
)

REPO = Path(__file__).resolve().parents[3]
WIRE = REPO / "tests" / "data" / "kubectl-1.32-protobuf"

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
    decoded = negotiation.decode_body(body, content_type, kind=kind, version="v1")
    assert decoded.json == orjson.dumps(decoded.value)  # what the registry is sent
    return decoded.value


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
        (  # go-yaml's words after kube's transformDecodeError, the body summarised in hex
            b"a: [unclosed",
            YAML,
            "the object provided is unrecognized (must be of type ConfigMap): yaml: line 1: "
            "did not find expected ',' or ']' (613a205b756e636c6f736564)",
        ),
        (
            b"a: 1\n---\nb: 2\n",
            YAML,
            "the object provided is unrecognized (must be of type ConfigMap): expected exactly "
            "one YAML document (613a20310a2d2d2d0a623a20320a)",
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


# --- hostile bodies: refused with kube's 400, never a 500 --------------------------------------

UNRECOGNIZED = "the object provided is unrecognized (must be of type ConfigMap)"


def laughs(levels: int, fanout: int = 9) -> bytes:
    """Billion laughs, small enough that code without an alias budget only makes ~400 KB."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    return ("\n".join(lines) + "\n").encode()


def nested_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def refused(body: bytes, content_type: str | None) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as info:
        decode(body, content_type)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    return info.value


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (laughs(5), "yaml: document contains excessive aliasing"),  # CVE-2019-11253
        (b"a: &a [*a]\nb: padding to 30 bytes\n", "yaml: anchor 'a' value contains itself"),
        (b"a: " + b"[" * 500 + b"]" * 500 + b"\n", "yaml: exceeded max depth of 200"),
        (
            b'a: "\\ud800"\nb: padding to 30 bytes\n',
            "yaml: found invalid Unicode character escape code",
        ),
        (b"a: .nan\nb: padding to 30 bytes\n", "json: unsupported value: NaN"),
    ],
)
def test_yaml_go_yaml_refuses_is_400_in_kubes_words(body: bytes, problem: str) -> None:
    """transformDecodeError: the decoder's words, then summarizeData(body, 30): a body not
    starting with "{" as the hex of its first 30 bytes."""
    err = refused(body, YAML)
    assert err.message == f"{UNRECOGNIZED}: {problem} ({body[:30].hex()} ...)"


def test_yaml_integer_and_bool_keys_become_strings() -> None:
    """sigs.k8s.io/yaml's YAMLToJSON: `data: {1: x}` is `{"data": {"1": "x"}}`."""
    assert decode(b"data: {1: x, true: 'y', 1.5: z}\n", YAML) == {
        "data": {"1": "x", "true": "y", "1.5": "z"}
    }


def test_json_deeper_than_kapi_writes_back_is_400() -> None:
    """orjson reads 1,024 levels but writes 254: past json_depth.MAX_DEPTH the body is
    refused as Go's JSON scanner refuses one past its own limit."""
    assert decode(nested_json(200), JSON) is not None
    body = nested_json(254)
    err = refused(body, JSON)
    assert err.message == (
        f"{UNRECOGNIZED}: couldn't get version/kind; json parse error: invalid character '{{' "
        f"exceeded max depth ({body[:30].decode()} ...)"
    )


def test_json_parse_errors_carry_kubes_summary() -> None:
    err = refused(b'{"metadata": ', JSON)
    assert err.message.startswith(f"{UNRECOGNIZED}: couldn't get version/kind; json parse error: ")
    assert err.message.endswith(' ({"metadata": )')
    assert refused(b"[1, ", JSON).message.endswith(" (5b312c20)")


def test_protobuf_embedding_json_too_deep_is_400() -> None:
    """FieldsV1 carries raw JSON inside a protobuf body: the same depth holds."""
    from tests.unit.gateway.test_k8s_protobuf import body, ld, meta, st

    fields_v1 = ld(1, nested_json(json_depth.MAX_DEPTH))
    managed = st(1, "kubectl") + st(2, "Update") + st(6, "FieldsV1") + ld(7, fields_v1)
    err = refused(body("v1", "ConfigMap", meta("c", ld(17, managed))), PROTOBUF)
    assert err.message == (
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: invalid character '{' "
        "exceeded max depth"
    )


@pytest.mark.parametrize(
    "patch_type",
    [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ],
)
def test_patch_bodies_too_deep_are_400_at_decode(patch_type: str) -> None:
    ok = orjson.dumps([{"op": "add", "path": "/data/a", "value": "1"}])
    assert negotiation.patch_body(ok, patch_type) is ok  # forwarded as sent
    assert negotiation.patch_body(b"{not json", patch_type) == b"{not json"  # registry words it
    with pytest.raises(errors.StatusError) as info:
        negotiation.patch_body(nested_json(1000), patch_type)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    assert info.value.message == "error decoding patch: invalid character '{' exceeded max depth"


def test_apply_patch_is_read_at_the_gateway_and_forwarded_as_json() -> None:
    forwarded = negotiation.patch_body(b"apiVersion: v1\ndata: {1: x}\n", APPLY)
    assert forwarded == b'{"apiVersion":"v1","data":{"1":"x"}}'
    for body, problem in [
        (laughs(5), "yaml: document contains excessive aliasing"),
        (b"a: &a [*a]\n", "yaml: anchor 'a' value contains itself"),
    ]:
        with pytest.raises(errors.StatusError) as info:
            negotiation.patch_body(body, APPLY)
        assert (info.value.code, info.value.reason) == (400, "BadRequest")
        # kube's applyPatcher: "error decoding YAML: %v" of sigs.k8s.io/yaml's Unmarshal
        assert (
            info.value.message == f"error decoding YAML: error converting YAML to JSON: {problem}"
        )


async def test_large_bodies_decode_the_same_off_the_loop() -> None:
    data = {f"k{i}": "v" * 100 for i in range(3000)}
    cm = {**CONFIGMAP, "data": data}
    yaml_body = yaml.safe_dump(cm).encode()
    assert len(yaml_body) > offload.INLINE_BYTES
    decoded = await negotiation.decode(yaml_body, YAML, kind="ConfigMap", version="v1")
    assert decoded.value == cm
    assert decoded.json == orjson.dumps(decoded.value)
    json_body = orjson.dumps({**cm, "data": {**data, "big": "x" * offload.INLINE_JSON_BYTES}})
    assert (await negotiation.decode(json_body, JSON, kind="ConfigMap", version="v1")).json == (
        json_body
    )
    with pytest.raises(errors.StatusError) as info:
        await negotiation.decode(yaml_body + b"x: &a [*a]\n", YAML, kind="ConfigMap", version="v1")
    assert info.value.code == 400
