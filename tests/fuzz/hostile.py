"""Hostile requests as hypothesis strategies: what an attacker with a token sends.

Each strategy draws an ``Attempt`` (method, path, query, headers, body) aimed at the
seeded objects of ``conftest.seeded``: deep nesting (JSON, YAML, patches, embedded JSON
in Protobuf), YAML aliases and tags, odd unicode and invalid UTF-8, malformed Protobuf,
integer overflow and garbage in query parameters, bad headers, JSON patches with every
kind of operation and pointer, and objects over kube's size limits.

Everything is bounded so that a kapi without limits stays small too: YAML aliases expand
to at most 9**4 nodes, a JSON patch copies at most ``MAX_COPIES`` times (2**5 growth),
no body is over kube's 3 MiB request limit, and Protobuf map values are split into at
most a few thousand pieces. The unbounded exploits of issue 10 belong to unit tests
with limits; the bench (``python -m bench.hostile``) sends the full-size bodies.
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.conftest import NAMESPACE
from tests.fuzz.wire import Reply, Target

NS = f"/api/v1/namespaces/{NAMESPACE}"
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
# (collection, kind, apiVersion) of what the suite creates; objects are "<kind>-1".
COLLECTIONS = [
    (f"{NS}/configmaps", "ConfigMap", "v1"),
    (f"{NS}/secrets", "Secret", "v1"),
    (f"{APPS}/deployments", "Deployment", "apps/v1"),
    ("/api/v1/namespaces", "Namespace", "v1"),
]
OBJECTS = [
    f"{NS}/configmaps/configmap-1",
    f"{NS}/secrets/secret-1",
    f"{NS}/pods/pod-1",
    f"{NS}/pods/pod-1/status",
    f"{APPS}/deployments/deployment-1",
    f"{APPS}/deployments/deployment-1/scale",
    f"/api/v1/namespaces/{NAMESPACE}",
]
JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
MAX_COPIES = 5
MiB = 1024 * 1024


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    params: Sequence[tuple[str, str]] = ()
    headers: dict[str, str | bytes] = field(default_factory=dict)
    data: bytes | None = None

    def send(self, target: Target) -> Reply:
        query = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in self.params)
        path = f"{self.path}?{query}" if query else self.path
        return target.send(self.method, path, headers=self.headers, data=self.data)

    def __repr__(self) -> str:  # hypothesis prints it: keep a 3 MiB body out of the log
        body = self.data or b""
        shown = body if len(body) <= 300 else body[:200] + b"..." + body[-50:]
        return (
            f"Attempt({self.method} {self.path[:300]} params={list(self.params)!r:.600} "
            f"headers={self.headers!r:.600} body[{len(body)}]={shown!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis' printer would otherwise list every field


def body_request(method: str, path: str, content_type: str, data: bytes) -> Attempt:
    return Attempt(method, path, headers={"Content-Type": content_type}, data=data)


# --- values ---------------------------------------------------------------------------

# Text from every corner of unicode: controls, NUL, lone surrogates (which no UTF-8
# encoder writes), noncharacters, right-to-left marks, zero-width joiners, emoji.
odd_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=40
) | st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udfff",
        "\ufeff",
        "\ufffe",
        "\uffff",
        "\u202e",
        "\u200d",
        "\U0010ffff",
        "a\nb",
        "Ā",
        "é" * 3,
        "💥",
        "../..",
        "%00",
        "x" * 254,
    ]
)
big_integers = st.sampled_from(
    [2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, 10**400]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | big_integers
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=20,
)
nesting_depths = st.sampled_from(
    [63, 64, 65, 253, 254, 255, 256, 500, 512, 999, 1000, 1024, 1025, 5000, 20000]
) | st.integers(1, 3000)


def dump_json(value: Any, *, ascii_only: bool = True) -> bytes:
    """Like a client would, but NaN, Infinity, huge integers and lone surrogates go out
    as Python's json writes them (not all of that is JSON: that is the point)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


# --- deep nesting -----------------------------------------------------------------------


def nested_json(depth: int, shape: str) -> str:
    if shape == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def nested_yaml(depth: int, shape: str) -> str:
    if shape == "block":
        return "- " * depth + "x"  # a block sequence inside a block sequence ...
    return nested_json(depth, shape)  # flow style: JSON is YAML


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
        return body_request("PATCH", OBJECTS[0], JSON_PATCH, body.encode())
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
        return body_request("PATCH", OBJECTS[0], how, data)
    if how == "update":
        return body_request("PUT", OBJECTS[0], content_type, data)
    return body_request("POST", COLLECTIONS[0][0], content_type, data)


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
        return body_request("POST", COLLECTIONS[0][0], YAML, data)
    if how == "update":
        return body_request("PUT", OBJECTS[0], YAML, data)
    return Attempt(
        "PATCH",
        OBJECTS[0],
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
        st.sampled_from(
            [("POST", COLLECTIONS[0][0]), ("PUT", OBJECTS[0]), ("POST", COLLECTIONS[2][0])]
        )
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
    return body_request("POST", COLLECTIONS[0][0], JSON, data)


# --- query parameters ---------------------------------------------------------------------

INTEGER_PARAMS = ["limit", "timeoutSeconds", "gracePeriodSeconds"]
KNOWN_PARAMS = [
    *INTEGER_PARAMS,
    "watch",
    "allowWatchBookmarks",
    "sendInitialEvents",
    "resourceVersion",
    "resourceVersionMatch",
    "continue",
    "labelSelector",
    "fieldSelector",
    "dryRun",
    "fieldManager",
    "fieldValidation",
    "propagationPolicy",
    "orphanDependents",
    "pretty",
    "includeObject",
    "force",
]
number_texts = st.sampled_from(
    [
        str(2**31),
        str(2**63 - 1),
        str(2**63),
        str(2**64),
        str(-(2**63) - 1),
        "9" * 400,
        "1e3",
        "0x10",
        " 1",
        "+5",
        "1_000",
        "٣",  # an Arabic-Indic digit: Python's int() takes it, Go's strconv does not
        "-0",
        "",
        "NaN",
    ]
) | st.integers().map(str)
selector_texts = (
    st.sampled_from(
        [
            "a in (b",
            "a notin ()",
            "!",
            "a=b,",
            "a==b==c",
            "metadata.name=" + "x" * 8000,
            "x" * 8192 + "=" + "y",
            ",".join(["a=b"] * 2000),
            "a in (" + ",".join(["v"] * 3000) + ")",
            "spec.nodeName!=",
            "\x00=\x00",
            "é=ü",
        ]
    )
    | odd_text
)


@st.composite
def query_parameters(draw: st.DrawFn) -> Attempt:
    params = []
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(KNOWN_PARAMS) | odd_text)
        if name in INTEGER_PARAMS:
            value = draw(number_texts)
        elif name in ("labelSelector", "fieldSelector"):
            value = draw(selector_texts)
        elif name == "continue":
            value = draw(st.binary(max_size=64).map(lambda b: b.hex()) | odd_text)
        else:
            value = draw(st.sampled_from(["true", "false", "1", "0", "All", "x", ""]) | odd_text)
        params.append((name, value))
    method, path = draw(
        st.sampled_from(
            [
                ("GET", COLLECTIONS[0][0]),
                ("GET", "/api/v1/configmaps"),
                ("GET", OBJECTS[0]),
                ("GET", f"{APPS}/deployments"),
                ("DELETE", f"{NS}/configmaps/never-created"),
                ("DELETE", f"{NS}/limitranges"),  # a collection with no seeded object
            ]
        )
    )
    if draw(st.booleans()):
        params.append(("watch", "true"))  # a watch is read only as far as its headers
    return Attempt(method, path, params=params)


# --- headers ------------------------------------------------------------------------------

# RFC 9110 field values (visible ASCII, space, tab, obs-text): a request with anything
# else is malformed HTTP, which the HTTP layer refuses before kapi (as Go's does).
field_values = st.binary(max_size=30).map(
    lambda b: bytes(c for c in b if c in (9, 32) or 33 <= c <= 126 or c >= 128).strip()
)


authorizations: st.SearchStrategy[str | bytes] = st.sampled_from(
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer éé",
        "Bearer \xff",
        "Bearer " + "a" * 16384,
        "Basic " + "YTpi",
        "Basic !!!",
        "bearer x",
        "Bearer a b",
        "Negotiate x",
    ]
) | field_values.map(lambda b: b"Bearer " + b)
content_types = st.sampled_from(
    [
        "",
        "application/json; charset=utf-16",
        "application/json;;;",
        "application/JSON",
        "application/yaml; version=1.1",
        "application/vnd.kubernetes.protobuf;stream=watch",
        "application/apply-patch+yaml",
        "*/*",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "é/é",
        "application/json" + "; x=y" * 500,
    ]
)
accepts = st.sampled_from(
    [
        "application/json;as=Table;g=meta.k8s.io;v=v1",
        "application/json;as=Table;g=meta.k8s.io;v=v9",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        "application/json;as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2",
        "application/vnd.kubernetes.protobuf",
        "application/yaml",
        "text/html",
        "*/*;q=0",
        ";;;",
        "application/json;q=abc",
        ",".join(["application/json"] * 1000),
        "é",
    ]
)
impersonation = st.sampled_from(
    [
        {"Impersonate-User": "nobody"},
        {"Impersonate-User": "system:admin", "Impersonate-Group": "system:masters"},
        {"Impersonate-Uid": "1"},
        {"Impersonate-Extra-scopes": "x"},
        {"Impersonate-Group": "g"},
    ]
)


@st.composite
def bad_headers(draw: st.DrawFn) -> Attempt:
    headers: dict[str, str | bytes] = {}
    if draw(st.booleans()):
        headers["Authorization"] = draw(authorizations)
    if draw(st.booleans()):
        headers["Accept"] = draw(accepts)
    if draw(st.booleans()):
        headers.update(draw(impersonation))
    if draw(st.booleans()):
        name = draw(
            st.sampled_from(
                ["Accept-Encoding", "Content-Encoding", "User-Agent", "X-Custom", "Audit-ID"]
            )
        )
        headers[name] = draw(field_values)
    method, path, body = draw(
        st.sampled_from(
            [
                ("GET", COLLECTIONS[0][0], None),
                ("GET", OBJECTS[0], None),
                ("GET", "/version", None),
                ("GET", "/apis", None),
                ("GET", "/openapi/v2", None),
                ("POST", COLLECTIONS[0][0], b'{"metadata":{"generateName":"h-"}}'),
                ("PATCH", OBJECTS[0], b'{"metadata":{"labels":{"h":"1"}}}'),
                ("DELETE", f"{NS}/configmaps/never-created", None),
            ]
        )
    )
    if body is not None:
        headers["Content-Type"] = draw(content_types)
    return Attempt(method, path, headers=headers, data=body)


# --- patches ------------------------------------------------------------------------------

pointers = st.sampled_from(
    [
        "",
        "/",
        "/metadata",
        "/metadata/annotations",
        "/metadata/annotations/a",
        "/metadata/annotations/a~1b",
        "/metadata/labels/~2",
        "/metadata/finalizers/-",
        "/metadata/finalizers/0",
        "/metadata/finalizers/01",
        "/metadata/finalizers/99999999999999999999",
        "/metadata/finalizers/-1",
        "/metadata/uid",
        "/metadata/name",
        "/metadata/namespace",
        "/metadata/resourceVersion",
        "/metadata/selfLink",
        "/metadata/managedFields/0/fieldsV1",
        "/metadata/ownerReferences/0",
        "/data",
        "/data/a",
        "/kind",
        "/apiVersion",
        "/spec/replicas",
        "/status",
        "no-slash",
        "/a/b/c/d",
    ]
) | st.lists(odd_text, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
json_patch_operation = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus", ""])},
    optional={"path": pointers | json_values, "from": pointers, "value": json_values},
)


@st.composite
def patches(draw: st.DrawFn) -> Attempt:
    path = draw(st.sampled_from(OBJECTS))
    kind = draw(st.sampled_from([JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]))
    if kind == JSON_PATCH:
        operations = draw(st.lists(json_patch_operation, max_size=12))
        copies = 0
        for operation in operations:  # bounded growth: at most 2**MAX_COPIES
            if operation["op"] in ("copy", "move"):
                copies += 1
                if copies > MAX_COPIES:
                    operation["op"] = "test"
        body: Any = operations if draw(st.integers(0, 9)) else draw(json_values)
        data = dump_json(body)
    else:
        directive = draw(
            st.sampled_from(
                [
                    {},
                    {"$patch": draw(st.sampled_from(["delete", "replace", "merge", "bogus"]))},
                    {"$retainKeys": draw(json_values)},
                    {"$setElementOrder/finalizers": draw(json_values)},
                    {"$deleteFromPrimitiveList/finalizers": draw(json_values)},
                    {"metadata": {"uid": draw(odd_text)}},
                    {"metadata": {"selfLink": "/x", "resourceVersion": draw(odd_text)}},
                    {"metadata": {"name": draw(odd_text), "namespace": draw(odd_text)}},
                    {"metadata": {"finalizers": [draw(odd_text)]}},
                    {"metadata": {"managedFields": draw(json_values)}},
                    {"spec": draw(json_values)},
                    {"data": draw(json_values)},
                    {"kind": draw(odd_text), "apiVersion": draw(odd_text)},
                ]
            )
        )
        body = directive if draw(st.integers(0, 9)) else draw(json_values)
        if kind == APPLY_PATCH and draw(st.booleans()):
            body = (
                {"apiVersion": "v1", "kind": "ConfigMap", **body}
                if isinstance(body, dict)
                else body
            )
        data = dump_json(body, ascii_only=draw(st.booleans()))
    params = [("fieldManager", draw(st.sampled_from(["fuzz", "", "é", "x" * 200])))]
    if kind == APPLY_PATCH and draw(st.booleans()):
        params.append(("force", "true"))
    return Attempt("PATCH", path, params=params, headers={"Content-Type": kind}, data=data)


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
        return body_request("PATCH", OBJECTS[0], MERGE_PATCH, dump_json(body))
    elif choice == "uid":
        body = {"metadata": {"uid": "u" * draw(st.sampled_from([20_000, 70_000]))}}
        return body_request("PATCH", OBJECTS[0], MERGE_PATCH, dump_json(body))
    elif choice == "selector":  # an 8 KB invalid selector, through the registry or not
        which = draw(st.sampled_from(["labelSelector", "fieldSelector"]))
        extra = draw(st.sampled_from([[], [("limit", "1")], [("resourceVersion", "1")]]))
        return Attempt("GET", COLLECTIONS[0][0], params=[(which, "a b" * 2700), *extra])
    elif choice == "precondition":  # a 20,000 character uid precondition: a 409
        body = {"preconditions": {"uid": "u" * 20_000}}
        return body_request("DELETE", OBJECTS[0], JSON, dump_json(body))
    elif choice == "unknown":
        obj.update({f"unknown{i}": i for i in range(20_000)})
    elif choice == "finalizer":
        body = {"metadata": {"finalizers": ["example.com/" + "f" * 70_000]}}
        return body_request(
            "PATCH", f"/api/v1/namespaces/{NAMESPACE}", MERGE_PATCH, dump_json(body)
        )
    else:
        obj["metadata"] = {"name": "n" * draw(st.sampled_from([254, 64_000]))}
    return body_request("POST", COLLECTIONS[0][0], JSON, dump_json(obj))


# --- methods and paths ----------------------------------------------------------------------

odd_paths = st.sampled_from(
    [
        "/",
        "/version",
        "/healthz",
        "/readyz/etcd",
        "/livez/nonexistent",
        "/openapi/v2",
        "/openapi/v3/api/v1",
        "/openapi/v3/../v2",
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps",
        "/apis/apps/v1",
        "/api/v1/namespaces/fuzz/configmaps/configmap-1/status",
        "/api/v1/namespaces/fuzz/configmaps/a/b/c",
        "/api/v1/namespaces//configmaps",
        "/api/v1/namespaces/%2e%2e/configmaps",
        "/api/v1/namespaces/fuzz/configmaps/%00",
        "/api/v1/namespaces/fuzz/configmaps/%C3%A9",
        "/api/v1/namespaces/fuzz/configmaps/%ED%A0%80",
        "/api/v1/namespaces/fuzz/configmaps/%FF",
        "/api/v1/watch/namespaces/fuzz/configmaps",
        "/apis/apps/v1/namespaces/fuzz/deployments/deployment-1/scale/x",
        "/api/v1/namespaces/fuzz/pods/pod-1/log",
        "/api/v1/namespaces/fuzz/pods/pod-1/exec",
        "/api/v1/proxy",
        "/apis/" + "x" * 8000,
        "/metrics",
        "/debug/pprof",
    ]
)


@st.composite
def methods_and_paths(draw: st.DrawFn) -> Attempt:
    method = draw(
        st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"])
    )
    path = draw(odd_paths | st.lists(odd_text.map(_percent), max_size=5).map("/".join))
    if not path.startswith("/"):
        path = "/" + path
    body = draw(st.sampled_from([None, b"", b"{}", b"\x00"]))
    headers: dict[str, str | bytes] = {}
    if body is not None:
        headers["Content-Type"] = draw(st.sampled_from([JSON, MERGE_PATCH, "text/plain"]))
    return Attempt(method, path, headers=headers, data=body)


_SAFE = set(string.ascii_letters + string.digits + "-._~")


def _percent(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    return "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in raw)
