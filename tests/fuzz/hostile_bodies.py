"""Hostile bodies as hypothesis strategies: deep nesting (JSON, YAML, patches), YAML
aliases, tags and keys, malformed Protobuf (with JSON embedded in it), odd unicode and
invalid UTF-8, and objects past kube's size limits.

Each is bounded so that a kapi without limits stays small too: YAML aliases expand to
at most 9**4 nodes, no body is over kube's 3 MiB request limit, and a Protobuf map value
comes in at most a few thousand pieces. The unbounded exploits of issue 10 belong to
unit tests with limits; the bench (``python -m bench.hostile``) sends the full-size
bodies. A create asks for a generated name, so replaying it is never a 409.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.fuzz.attempts import (
    APPLY_PATCH,
    CONFIGMAP,
    CONFIGMAPS,
    DEPLOYMENTS,
    JSON,
    JSON_PATCH,
    MERGE_PATCH,
    NAMESPACE,
    PROTOBUF,
    STRATEGIC_PATCH,
    YAML,
    Attempt,
    body_request,
    dump_json,
    json_values,
    nested_json,
    nested_yaml,
    nesting_depths,
    odd_text,
)

MiB = 1024 * 1024


@st.composite
def deep_nesting(draw: st.DrawFn) -> Attempt:
    depth = draw(nesting_depths)
    shape = draw(st.sampled_from(["list", "object"]))
    where = draw(st.sampled_from(["data", "unknown", "annotation", "labels"]))
    how = draw(st.sampled_from(["create", "update", MERGE_PATCH, STRATEGIC_PATCH, JSON_PATCH]))
    nested = nested_json(depth, shape)
    if how == JSON_PATCH:
        pointer = {"data": "/data/k", "unknown": "/surprise", "annotation": "/metadata/annotations"}
        operation = f'{{"op":"add","path":"{pointer.get(where, "/x")}","value":{nested}}}'
        body = f"[{operation}]"
        return body_request("PATCH", CONFIGMAP, JSON_PATCH, body.encode())
    patching = how in (MERGE_PATCH, STRATEGIC_PATCH)
    # A create asks for a generated name, so replaying it (shrinking) is not a 409.
    meta = '"generateName":"fz-"' if how == "create" else '"name":"configmap-1"'
    meta_yaml = "generateName: fz-" if how == "create" else "name: configmap-1"
    fmt = "json" if patching else draw(st.sampled_from(["json", "yaml"]))
    if fmt == "json":
        fields = {
            "data": '"metadata":{META},"data":{"k":NESTED}',
            "unknown": '"metadata":{META},"surprise":NESTED',
            "annotation": '"metadata":{META,"annotations":{"k":NESTED}}',
            "labels": '"metadata":{META,"labels":NESTED}',
        }[where]
        fields = fields.replace("META", meta).replace("NESTED", nested)
        if not patching:
            fields = '"apiVersion":"v1","kind":"ConfigMap",' + fields
        data, content_type = ("{" + fields + "}").encode(), (how if patching else JSON)
    else:
        document = {
            "data": "metadata:\n  META\ndata:\n  k: VALUE",
            "unknown": "metadata:\n  META\nsurprise: VALUE",
            "annotation": "metadata:\n  META\n  annotations:\n    k: VALUE",
            "labels": "metadata:\n  META\n  labels: VALUE",
        }[where]
        value = nested_yaml(depth, draw(st.sampled_from(["block", shape])))
        if value.startswith("- "):  # a block value: on its own line, below its key
            line = document[document.rfind("\n", 0, document.index("VALUE")) + 1 :]
            indent = len(line) - len(line.lstrip(" ")) + 2
            value = "\n" + " " * indent + value
        text = "apiVersion: v1\nkind: ConfigMap\n" + document.replace("META", meta_yaml)
        data, content_type = text.replace(" VALUE", " " + value).encode(), YAML
    if patching:
        return body_request("PATCH", CONFIGMAP, how, data)
    if how == "update":
        return body_request("PUT", CONFIGMAP, content_type, data)
    return body_request("POST", CONFIGMAPS, content_type, data)


# --- YAML -------------------------------------------------------------------------------


def laughs(levels: int, fan: int) -> str:
    """Bounded alias expansion: ``fan ** levels`` nodes (at most 9**4 = 6561 here)."""
    lines = ['    a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"    a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(fan))}]")
    return "\n".join(lines) + f"\n    top: *a{levels}"


yaml_values = st.sampled_from(
    [
        '"\\ud800"',
        '"\\udfff\\ud800"',
        '"\\U0010ffff"',
        '"\\x00"',
        '"\\0"',
        "&a [*a]",
        "&a {x: *a}",
        "!!binary aGVsbG8=",
        "!!binary '%%%'",
        "!!timestamp 2001-12-14t21:59:43.10-05:00",
        "2001-12-14",
        "!!set {a, b}",
        "!!omap [a: 1, b: 2]",
        "!!python/object:os.system ls",
        "!!python/name:os.system",
        "!custom x",
        "!!float .nan",
        ".inf",
        "-.inf",
        "99999999999999999999999999",
        "0x7fffffffffffffffff",
        "0o777",
        "1_000",
        "~",
        "!!null ''",
        "[1, [2, [3]]]",
        "{? [a, b] : c}",
        "*undefined",
        "&dup 1",
        "|\n      multi\n      line",
        '"\\N\\_\\L\\P"',
        "'\t'",
    ]
)
yaml_keys = st.sampled_from(
    ["1", "true", "null", "1.5", "[a]", "{a: b}", "2001-01-01", "'k'", "<<", "? [x]", "~"]
)


@st.composite
def yaml_documents(draw: st.DrawFn) -> Attempt:
    how = draw(st.sampled_from(["create", "update", "apply"]))
    choice = draw(st.sampled_from(["value", "key", "laughs", "merge", "documents", "framing"]))
    meta = "generateName: fz-" if how == "create" else "name: configmap-1"
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  {meta}\n"
    if choice == "value":
        where = draw(
            st.sampled_from(["data:\n  k: ", "metadata2: ", "data: ", "binaryData:\n  k: "])
        )
        text = head + where + draw(yaml_values) + "\n"
    elif choice == "key":
        text = head + "data:\n  " + draw(yaml_keys) + ": x\n"
    elif choice == "laughs":
        levels, fan = draw(st.integers(1, 4)), draw(st.integers(1, 9))
        text = head + "data:\n  k: v\nextra:\n" + laughs(levels, fan) + "\n"
    elif choice == "merge":
        text = head + "base: &b {a: '1', b: 2}\ndata:\n  <<: *b\n  <<: [*b, *b]\n"
    elif choice == "documents":
        count = draw(st.integers(0, 4))
        text = "---\n".join([head + "data: {a: b}\n"] * count) + draw(
            st.sampled_from(["", "---\n", "...\n", "--- !!str\n", "%YAML 1.1\n---\n", "%TAG ! x\n"])
        )
    else:
        text = draw(st.sampled_from(["\ufeff", "\t", "\x00", "\x85", "\u2028"])) + head
    data = text.encode("utf-8", "surrogatepass")
    if how == "create":
        return body_request("POST", CONFIGMAPS, YAML, data)
    if how == "update":
        return body_request("PUT", CONFIGMAP, YAML, data)
    return Attempt(
        "PATCH",
        CONFIGMAP,
        params=[("fieldManager", "fuzz")],
        headers={"Content-Type": APPLY_PATCH},
        data=data,
    )


# --- Protobuf -----------------------------------------------------------------------------

MAGIC = b"k8s\x00"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_field(number: int, payload: bytes | int, wire: int = 2) -> bytes:
    key = varint(number << 3 | wire)
    if wire == 0:
        assert isinstance(payload, int)
        return key + varint(payload)
    assert isinstance(payload, bytes)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def envelope(api_version: str, kind: str, raw: bytes, *extra: bytes) -> bytes:
    """A kube Protobuf body: the magic, then a runtime.Unknown."""
    type_meta = pb_field(1, api_version.encode()) + pb_field(2, kind.encode())
    return MAGIC + pb_field(1, type_meta) + pb_field(2, raw) + b"".join(extra)


def configmap_pb(data: dict[str, str]) -> bytes:
    meta = pb_field(2, b"fz-")  # ObjectMeta.generateName
    entries = b"".join(
        pb_field(2, pb_field(1, k.encode()) + pb_field(2, v.encode())) for k, v in data.items()
    )
    return pb_field(1, meta) + entries


wire_fields = st.recursive(
    st.builds(
        lambda number, wire, payload: (
            pb_field(number, payload if wire != 0 else len(payload), wire)
            if wire in (0, 2)
            else varint(number << 3 | wire) + payload
        ),
        st.integers(0, 40) | st.sampled_from([2**29 - 1, 2**29, 2**61]),
        st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]),
        st.binary(max_size=12),
    ),
    lambda inner: st.lists(inner, max_size=5).map(b"".join).map(lambda b: pb_field(2, b)),
    max_leaves=12,
)
envelope_kinds = st.sampled_from(
    [
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("v1", "ResourceQuota"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ControllerRevision"),
        ("v1", "Bogus"),
        ("", "ConfigMap"),
        ("v1", ""),
        ("v1\x00", "ConfigMap\x00"),
    ]
)


@st.composite
def protobuf_bodies(draw: st.DrawFn) -> Attempt:
    choice = draw(
        st.sampled_from(["garbage", "fields", "mutated", "pieces", "embedded", "varints"])
    )
    api_version, kind = draw(envelope_kinds)
    if choice == "garbage":
        data = draw(st.sampled_from([MAGIC, b""])) + draw(st.binary(max_size=300))
    elif choice == "fields":
        raw = b"".join(draw(st.lists(wire_fields, max_size=6)))
        extra = draw(st.lists(wire_fields, max_size=2))
        data = envelope(api_version, kind, raw, *extra)
    elif choice == "mutated":
        valid = envelope("v1", "ConfigMap", configmap_pb({"a": "1"}))
        at = draw(st.integers(0, len(valid) - 1))
        how = draw(st.sampled_from(["truncate", "flip", "insert"]))
        if how == "truncate":
            data = valid[:at]
        elif how == "flip":
            data = valid[:at] + bytes([valid[at] ^ draw(st.integers(1, 255))]) + valid[at + 1 :]
        else:
            data = valid[:at] + draw(st.binary(min_size=1, max_size=8)) + valid[at:]
    elif choice == "pieces":
        # One map value in many pieces: a ConfigMap string (the last piece wins) or a
        # ResourceQuota's Quantity (a message: the pieces merge). A few thousand only.
        count = draw(st.integers(1, 4000))
        if draw(st.booleans()):
            entry = pb_field(1, b"k") + pb_field(2, b"ab") * count
            data = envelope(
                "v1", "ConfigMap", pb_field(1, pb_field(2, b"fz-")) + pb_field(2, entry)
            )
        else:
            piece = pb_field(2, pb_field(1, draw(st.sampled_from([b"", b"1", b"x"]))))
            entry = pb_field(1, b"cpu") + piece * count
            spec = pb_field(1, entry)  # ResourceQuotaSpec.hard
            data = envelope(
                "v1", "ResourceQuota", pb_field(1, pb_field(1, b"q")) + pb_field(2, spec)
            )
    elif choice == "embedded":
        # JSON inside Protobuf: managedFields[].fieldsV1 (ObjectMeta field 17, FieldsV1.raw).
        depth = draw(nesting_depths)
        raw_json = nested_json(depth, draw(st.sampled_from(["list", "object"]))).encode()
        entry = pb_field(1, b"fuzz") + pb_field(7, pb_field(1, raw_json))
        meta = pb_field(2, b"fz-") + pb_field(17, entry)
        data = envelope("v1", "ConfigMap", pb_field(1, meta))
    else:
        # A varint of 11 bytes, a length past the end, a field number of 0.
        bad = draw(
            st.sampled_from(
                [b"\xff" * 11, b"\x0a\xff\xff\xff\xff\x0f", b"\x00\x01", b"\x0a\x80", b"\x0f"]
            )
        )
        data = envelope(api_version, kind, bad) if draw(st.booleans()) else MAGIC + bad
    method, path = draw(
        st.sampled_from([("POST", CONFIGMAPS), ("PUT", CONFIGMAP), ("POST", DEPLOYMENTS)])
    )
    return body_request(method, path, PROTOBUF, data)


# --- strings and encodings ------------------------------------------------------------------


@st.composite
def odd_strings(draw: st.DrawFn) -> Attempt:
    """A ConfigMap whose name, labels, annotations, data keys or values are odd unicode,
    written as JSON with escapes or raw UTF-8, maybe with invalid bytes spliced in."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
    obj["metadata"] = {"generateName": "fz-"}
    where = draw(st.sampled_from(["name", "labels", "annotations", "data", "generateName"]))
    key, value = draw(odd_text), draw(odd_text | json_values)
    if where in ("name", "generateName"):
        obj["metadata"] = {where: value}
    else:
        target = obj["metadata"] if where in ("labels", "annotations") else obj
        target[where] = {key: value}
    data = dump_json(obj, ascii_only=draw(st.booleans()))
    splice = draw(
        st.sampled_from(
            [b"", b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80", b"\x00"]
        )
    )
    if splice:
        at = data.find(b'Name":"') + len(b'Name":"')  # in generateName's value
        data = data[:at] + splice + data[at:]
    encoding = draw(st.sampled_from(["utf-8", "bom", "utf-16", "utf-32"]))
    if encoding == "bom":
        data = b"\xef\xbb\xbf" + data
    elif encoding != "utf-8":
        data = data.decode("utf-8", "surrogateescape").encode(encoding, "surrogatepass")
    return body_request("POST", CONFIGMAPS, JSON, data)


# --- size ---------------------------------------------------------------------------------


@st.composite
def oversized(draw: st.DrawFn) -> Attempt:
    """Objects over kube's limits: a ConfigMap over 1 MiB, 100,000 labels, a 20,000
    character label or uid by PATCH, an 8 KB selector, 20,000 unknown fields (one
    Warning each), a long finalizer."""
    choice = draw(
        st.sampled_from(
            [
                "data",
                "labels",
                "long label",
                "uid",
                "selector",
                "precondition",
                "unknown",
                "finalizer",
                "names",
            ]
        )
    )
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
    obj["metadata"] = {"generateName": "fz-"}
    if choice == "data":
        size = draw(st.sampled_from([MiB + 1, 1_600_000, 2_900_000, 3 * MiB - 200]))
        obj["data"] = {"k": "x" * size}
    elif choice == "labels":
        obj["metadata"]["labels"] = {f"k{i}": "v" for i in range(100_000)}
    elif choice == "long label":
        body = {"metadata": {"labels": {"k": "v" * 20_000}}}
        return body_request("PATCH", CONFIGMAP, MERGE_PATCH, dump_json(body))
    elif choice == "uid":
        body = {"metadata": {"uid": "u" * draw(st.sampled_from([20_000, 70_000]))}}
        return body_request("PATCH", CONFIGMAP, MERGE_PATCH, dump_json(body))
    elif choice == "selector":  # an 8 KB invalid selector, through the registry or not
        which = draw(st.sampled_from(["labelSelector", "fieldSelector"]))
        extra = draw(st.sampled_from([[], [("limit", "1")], [("resourceVersion", "1")]]))
        return Attempt("GET", CONFIGMAPS, params=[(which, "a b" * 2700), *extra])
    elif choice == "precondition":  # a 20,000 character uid precondition: a 409
        body = {"preconditions": {"uid": "u" * 20_000}}
        return body_request("DELETE", CONFIGMAP, JSON, dump_json(body))
    elif choice == "unknown":
        obj.update({f"unknown{i}": i for i in range(20_000)})
    elif choice == "finalizer":
        body = {"metadata": {"finalizers": ["example.com/" + "f" * 70_000]}}
        return body_request(
            "PATCH", f"/api/v1/namespaces/{NAMESPACE}", MERGE_PATCH, dump_json(body)
        )
    else:
        obj["metadata"] = {"name": "n" * draw(st.sampled_from([254, 64_000]))}
    return body_request("POST", CONFIGMAPS, JSON, dump_json(obj))
