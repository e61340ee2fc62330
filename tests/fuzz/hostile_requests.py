"""Hostile requests as hypothesis strategies: integer overflow and garbage in query
parameters, bad headers (tokens, media types, impersonation), JSON, merge, strategic and
apply patches with every kind of operation, pointer and directive, and odd methods and
paths.

A JSON patch copies or moves at most ``MAX_COPIES`` times (at most 2**5 growth), so
even a kapi without a copy budget stays small.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.fuzz.attempts import (
    APPLY_PATCH,
    APPS,
    CONFIGMAP,
    CONFIGMAPS,
    JSON,
    JSON_PATCH,
    MERGE_PATCH,
    NS,
    OBJECTS,
    STRATEGIC_PATCH,
    Attempt,
    dump_json,
    json_values,
    odd_text,
    percent_encoded,
)

MAX_COPIES = 5

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
                ("GET", CONFIGMAPS),
                ("GET", "/api/v1/configmaps"),
                ("GET", CONFIGMAP),
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
                ("GET", CONFIGMAPS, None),
                ("GET", CONFIGMAP, None),
                ("GET", "/version", None),
                ("GET", "/apis", None),
                ("GET", "/openapi/v2", None),
                ("POST", CONFIGMAPS, b'{"metadata":{"generateName":"h-"}}'),
                ("PATCH", CONFIGMAP, b'{"metadata":{"labels":{"h":"1"}}}'),
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
    path = draw(odd_paths | st.lists(odd_text.map(percent_encoded), max_size=5).map("/".join))
    if not path.startswith("/"):
        path = "/" + path
    body = draw(st.sampled_from([None, b"", b"{}", b"\x00"]))
    headers: dict[str, str | bytes] = {}
    if body is not None:
        headers["Content-Type"] = draw(st.sampled_from([JSON, MERGE_PATCH, "text/plain"]))
    return Attempt(method, path, headers=headers, data=body)
