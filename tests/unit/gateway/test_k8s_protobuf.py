"""The Kubernetes protobuf request-body decoder, against the bodies kubectl 1.32 really sends.

The vectors are the exact bytes kubectl v1.32.4 sent for each command in the README beside
them; each must decode to the object the command describes and, where kubectl can print it
offline, to exactly what ``kubectl create ... --dry-run=client -o json`` prints. Malformed
bodies, truncated or mutated at every byte, must give 400 BadRequest and nothing else.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kapi.errors import StatusError
from services.gateway.codec import k8s_protobuf as kp
from services.gateway.codec.k8s_protobuf import (
    MAGIC,
    decode,
    decode_type_meta,
    go_duration,
    is_supported,
)

REPO = Path(__file__).resolve().parents[3]
WIRE = REPO / "tests" / "data" / "kubectl-1.32-protobuf"
VECTORS = sorted(p.name for p in WIRE.glob("*.bin"))
GOLDEN = sorted(p.name for p in WIRE.glob("*.kubectl-dry-run.json"))
RBAC = "rbac.authorization.k8s.io"


def vector(name: str) -> bytes:
    return (WIRE / name).read_bytes()


def decoded(name: str) -> dict[str, Any]:
    return decode(vector(name))


def without_nulls(value: Any) -> Any:
    """Go prints zero times and nil lists as null; the decoder leaves them out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


# --- a tiny protobuf writer for hand-made bodies ----------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vi(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def ld(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def st(number: int, text: str) -> bytes:
    return ld(number, text.encode())


def body(api_version: str, kind: str, raw: bytes, encoding: str = "", ctype: str = "") -> bytes:
    type_meta = st(1, api_version) + st(2, kind)
    return MAGIC + ld(1, type_meta) + ld(2, raw) + st(3, encoding) + st(4, ctype)


def meta(name: str, *extra: bytes) -> bytes:
    return ld(1, st(1, name) + b"".join(extra))


def assert_bad_request(data: bytes) -> StatusError:
    with pytest.raises(StatusError) as info:
        decode(data)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    return info.value


def decodes_or_400(data: bytes) -> None:
    try:
        decode(data)
    except StatusError as exc:
        assert (exc.code, exc.reason) == (400, "BadRequest"), exc


# --- the vectors ------------------------------------------------------------------------------


def test_vectors_are_there() -> None:
    assert len(VECTORS) == 20, WIRE


@pytest.mark.parametrize("golden", GOLDEN)
def test_decodes_to_what_kubectl_prints(golden: str) -> None:
    expected = json.loads((WIRE / golden).read_text())
    name = golden.removesuffix(".kubectl-dry-run.json") + ".bin"
    assert decoded(name) == without_nulls(expected)


def test_namespace() -> None:
    obj = decoded("namespaces.bin")
    assert obj == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "ns1"},
        "spec": {},
        "status": {},
    }


def test_configmap() -> None:
    obj = decoded("configmaps.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("ConfigMap", "v1")
    assert obj["metadata"] == {"name": "cm1", "namespace": "default"}
    assert obj["data"] == {"a": "1"}
    assert "binaryData" not in obj and "immutable" not in obj


def test_secret_data_is_base64() -> None:
    obj = decoded("secrets-generic.bin")
    assert obj["kind"] == "Secret"
    assert obj["metadata"] == {"name": "s1", "namespace": "default"}
    assert obj["data"] == {"pw": "eA=="}
    assert base64.b64decode(obj["data"]["pw"]) == b"x"


def test_serviceaccount() -> None:
    obj = decoded("serviceaccounts.bin")
    assert obj == {
        "kind": "ServiceAccount",
        "apiVersion": "v1",
        "metadata": {"name": "sa1", "namespace": "default"},
    }


def test_token_request() -> None:
    obj = decoded("serviceaccounts-token.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    assert obj["metadata"] == {}
    assert obj["spec"] == {}  # default audiences, no expirationSeconds, no bound object
    assert obj["status"] == {"token": ""}  # `json:"token"` has no omitempty


def test_service() -> None:
    obj = decoded("services.bin")
    assert obj["metadata"] == {"name": "svc1", "namespace": "default", "labels": {"app": "svc1"}}
    spec = obj["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "svc1"}
    assert spec["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]
    assert obj["status"] == {"loadBalancer": {}}


def test_deployment() -> None:
    obj = decoded("deployments.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("Deployment", "apps/v1")
    assert obj["metadata"] == {"name": "web", "namespace": "default", "labels": {"app": "web"}}
    spec = obj["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"] == {"labels": {"app": "web"}}
    assert spec["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}
    ]
    assert spec["strategy"] == {}
    for pointer in ("revisionHistoryLimit", "progressDeadlineSeconds", "paused", "minReadySeconds"):
        assert pointer not in spec
    assert obj["status"] == {}


def test_job() -> None:
    obj = decoded("jobs.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("Job", "batch/v1")
    assert obj["metadata"] == {"name": "j1", "namespace": "default"}
    pod = obj["spec"]["template"]["spec"]
    assert pod["containers"] == [
        {"name": "j1", "image": "busybox", "command": ["echo", "hi"], "resources": {}}
    ]
    assert pod["restartPolicy"] == "Never"
    assert set(obj["spec"]) == {"template"}  # backoffLimit, completions... are unset pointers
    assert obj["status"] == {}


def test_cronjob() -> None:
    obj = decoded("cronjobs.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("CronJob", "batch/v1")
    spec = obj["spec"]
    assert spec["schedule"] == "*/5 * * * *"
    assert "suspend" not in spec and "timeZone" not in spec
    job = spec["jobTemplate"]
    assert job["metadata"] == {"name": "cj1"}
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["echo", "hi"]
    assert pod["containers"][0]["image"] == "busybox"
    assert pod["restartPolicy"] == "OnFailure"


@pytest.mark.parametrize(
    ("name", "kind", "namespaced"),
    [
        ("roles.bin", "Role", True),
        ("clusterroles.bin", "ClusterRole", False),
    ],
)
def test_roles(name: str, kind: str, namespaced: bool) -> None:
    obj = decoded(name)
    assert (obj["kind"], obj["apiVersion"]) == (kind, f"{RBAC}/v1")
    expected_meta = {"name": "r1" if namespaced else "cr1"}
    if namespaced:
        expected_meta["namespace"] = "default"
    assert obj["metadata"] == expected_meta
    assert obj["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    assert "aggregationRule" not in obj


def test_rolebinding() -> None:
    obj = decoded("rolebindings.bin")
    assert obj["metadata"] == {"name": "rb1", "namespace": "default"}
    assert obj["subjects"] == [{"kind": "User", "apiGroup": RBAC, "name": "alice"}]
    assert obj["roleRef"] == {"apiGroup": RBAC, "kind": "Role", "name": "r1"}


def test_clusterrolebinding() -> None:
    obj = decoded("clusterrolebindings.bin")
    assert obj["metadata"] == {"name": "crb1"}
    assert obj["subjects"] == [{"kind": "Group", "apiGroup": RBAC, "name": "devs"}]
    assert obj["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cr1"}


def test_resourcequota_hard_limits_are_quantity_strings() -> None:
    obj = decoded("resourcequotas.bin")
    assert obj["metadata"] == {"name": "q1", "namespace": "default"}
    assert obj["spec"] == {"hard": {"cpu": "4", "pods": "10"}}


def test_priorityclass() -> None:
    obj = decoded("priorityclasses.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("PriorityClass", "scheduling.k8s.io/v1")
    assert obj["metadata"] == {"name": "pc1"}
    assert obj["value"] == 1000
    assert obj["description"] == "high"
    assert obj["preemptionPolicy"] == "PreemptLowerPriority"
    assert "globalDefault" not in obj


def test_pdb() -> None:
    obj = decoded("poddisruptionbudgets.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("PodDisruptionBudget", "policy/v1")
    assert obj["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    # These status counters have no omitempty: Go prints their zeros.
    assert obj["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }


def test_ingress() -> None:
    obj = decoded("ingresses.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("Ingress", "networking.k8s.io/v1")
    (rule,) = obj["spec"]["rules"]
    assert rule["host"] == "foo.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/bar",
            "pathType": "Exact",
            "backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
        }
    ]
    assert obj["status"] == {"loadBalancer": {}}


def test_selfsubjectaccessreview() -> None:
    obj = decoded("selfsubjectaccessreviews.bin")
    assert (obj["kind"], obj["apiVersion"]) == (
        "SelfSubjectAccessReview",
        "authorization.k8s.io/v1",
    )
    assert obj["spec"] == {
        "resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}
    }
    assert obj["status"] == {"allowed": False}


def test_selfsubjectrulesreview() -> None:
    obj = decoded("selfsubjectrulesreviews.bin")
    assert (obj["kind"], obj["apiVersion"]) == ("SelfSubjectRulesReview", "authorization.k8s.io/v1")
    assert obj["spec"] == {"namespace": "default"}
    assert obj["status"] == {"incomplete": False}


def test_selfsubjectreview() -> None:
    obj = decoded("selfsubjectreviews.bin")
    assert obj == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "status": {"userInfo": {}},
    }


VECTOR_TESTS: dict[str, Callable[..., None]] = {
    "namespaces.bin": test_namespace,
    "configmaps.bin": test_configmap,
    "secrets-generic.bin": test_secret_data_is_base64,
    "serviceaccounts.bin": test_serviceaccount,
    "serviceaccounts-token.bin": test_token_request,
    "services.bin": test_service,
    "deployments.bin": test_deployment,
    "jobs.bin": test_job,
    "cronjobs.bin": test_cronjob,
    "roles.bin": test_roles,
    "clusterroles.bin": test_roles,
    "rolebindings.bin": test_rolebinding,
    "clusterrolebindings.bin": test_clusterrolebinding,
    "resourcequotas.bin": test_resourcequota_hard_limits_are_quantity_strings,
    "priorityclasses.bin": test_priorityclass,
    "poddisruptionbudgets.bin": test_pdb,
    "ingresses.bin": test_ingress,
    "selfsubjectaccessreviews.bin": test_selfsubjectaccessreview,
    "selfsubjectrulesreviews.bin": test_selfsubjectrulesreview,
    "selfsubjectreviews.bin": test_selfsubjectreview,
}


def test_every_vector_has_a_test() -> None:
    assert sorted(VECTOR_TESTS) == VECTORS


@pytest.mark.parametrize("name", VECTORS)
def test_type_meta(name: str) -> None:
    api_version, kind = decode_type_meta(vector(name))
    assert is_supported(api_version, kind)
    obj = decoded(name)
    assert (obj["apiVersion"], obj["kind"]) == (api_version, kind)


# --- the Go facts tables, checked against the vectors and the field table ----------------------


def test_pointer_table_agrees_with_what_kubectl_marshals() -> None:
    """gogo-protobuf always writes non-pointer scalars: one missing from a vector is a pointer.

    And the only pointers a vector carries are the ones kubectl sets explicitly.
    """
    absent_non_pointers: set[str] = set()
    present_pointers: set[str] = set()
    plain_messages = set(kp._schema().messages) - set(kp._SPECIAL) - kp._LIST_WRAPPERS

    def walk(message: str, data: bytes) -> None:
        found: dict[int, list[Any]] = {}
        for number, _, value in kp._fields(data):
            found.setdefault(number, []).append(value)
        for f in kp._schema().messages[message]:
            values = found.get(f.number)
            where = f"{message}.{f.name}"
            if f.shape == "single" and f.type in kp._WIRE_TYPES:
                if values is None and not f.pointer:
                    absent_non_pointers.add(where)
                if values is not None and f.pointer:
                    present_pointers.add(where)
            elif f.shape != "map" and values and f.type in plain_messages:
                for value in values:
                    walk(f.type, value)

    for name in VECTORS:
        env = kp._read_envelope(vector(name))
        walk(kp._schema().kinds[f"{env.api_version}/{env.kind}"], env.raw)
    assert absent_non_pointers == set()
    assert present_pointers == {
        "apps.v1.DeploymentSpec.replicas",  # --replicas=2
        "networking.v1.HTTPIngressPath.pathType",  # kubectl create ingress sets Exact
        "scheduling.v1.PriorityClass.preemptionPolicy",  # kubectl's default flag value
    }


def test_go_fact_tables_name_real_fields() -> None:
    messages = kp._schema().messages
    proto_names = {
        name: {entry[1] for entry in entries}
        for name, entries in json.loads(kp.TABLE_PATH.read_text())["messages"].items()
    }
    for message, fields in kp._POINTER_FIELDS.items():
        assert message in messages, message
        for name in fields:
            assert name in proto_names[message], f"{message}.{name}"
    for qualified in [*kp._OMITEMPTY, *kp._INLINE, *kp._JSON_NAMES]:
        message, _, name = qualified.rpartition(".")
        assert name in proto_names.get(message, set()), qualified
    for message in kp._LIST_WRAPPERS:
        assert message in messages, message


def test_field_table_is_closed() -> None:
    schema = kp._schema()
    for kind, message in schema.kinds.items():
        assert message in schema.messages, kind
    for message, fields in schema.messages.items():
        for f in fields:
            assert f.type in kp._WIRE_TYPES or f.type in schema.messages, f"{message}.{f.name}"
            if f.shape == "map":
                assert f.key in kp._WIRE_TYPES, f"{message}.{f.name}"
            if f.pointer:
                assert f.shape == "single" and f.type in kp._WIRE_TYPES, f"{message}.{f.name}"


def test_every_requested_kind_is_supported() -> None:
    for api_version, kind in [
        ("v1", "Pod"),
        ("v1", "Namespace"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("v1", "Service"),
        ("v1", "ResourceQuota"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        (f"{RBAC}/v1", "Role"),
        (f"{RBAC}/v1", "RoleBinding"),
        (f"{RBAC}/v1", "ClusterRole"),
        (f"{RBAC}/v1", "ClusterRoleBinding"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "Ingress"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("authentication.k8s.io/v1", "TokenRequest"),
    ]:
        assert is_supported(api_version, kind), (api_version, kind)
    assert not is_supported("v1", "Frobnicator")


# --- Go JSON semantics on hand-made bodies ------------------------------------------------------


def deployment_spec(*fields: bytes) -> dict[str, Any]:
    obj = decode(body("apps/v1", "Deployment", meta("d") + ld(2, b"".join(fields))))
    spec: dict[str, Any] = obj["spec"]
    return spec


def test_pointer_zero_is_kept_and_plain_zero_dropped() -> None:
    spec = deployment_spec(vi(1, 0), vi(5, 0), vi(7, 0), vi(6, 0))
    assert spec == {"replicas": 0, "revisionHistoryLimit": 0}


def test_int32_is_signed_and_last_occurrence_wins() -> None:
    assert deployment_spec(vi(1, -1))["replicas"] == -1
    assert deployment_spec(vi(1, 3), vi(1, 5))["replicas"] == 5


def test_field_without_omitempty_prints_its_zero() -> None:
    container = st(1, "c") + ld(6, vi(3, 0))  # ports: [{containerPort: 0}]
    pod_spec = ld(2, container)
    obj = decode(body("v1", "Pod", meta("p") + ld(2, pod_spec)))
    assert obj["spec"]["containers"] == [{"name": "c", "ports": [{"containerPort": 0}]}]


def test_absent_field_without_omitempty_prints_go_zero() -> None:
    obj = decode(body("v1", "Pod", meta("p") + ld(2, ld(2, b""))))
    assert obj["spec"]["containers"] == [{"name": ""}]


def test_explicit_false_pointer_is_kept() -> None:
    obj = decode(body("v1", "Secret", meta("s") + vi(5, 0)))
    assert obj["immutable"] is False
    obj = decode(body("v1", "ServiceAccount", meta("sa") + vi(4, 1)))
    assert obj["automountServiceAccountToken"] is True


def test_time_and_metadata_fields() -> None:
    created = int(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    owner = st(5, "apps/v1") + st(1, "ReplicaSet") + st(3, "rs") + st(4, "u1") + vi(6, 0)
    fields_v1 = ld(1, b'{"f:metadata":{}}')
    managed = st(1, "kubectl") + st(2, "Update") + st(6, "FieldsV1") + ld(7, fields_v1)
    raw = meta(
        "n",
        ld(8, vi(1, created) + vi(2, 999)),  # creationTimestamp, nanos dropped
        ld(9, b""),  # zero deletionTimestamp
        vi(7, 3),
        ld(13, owner),
        st(14, "f1"),
        st(14, "f2"),
        ld(17, managed),
        ld(12, st(1, "a") + st(2, "b")),
    )
    obj = decode(body("v1", "Namespace", raw))
    assert obj["metadata"] == {
        "name": "n",
        "generation": 3,
        "creationTimestamp": "2024-01-02T03:04:05Z",
        "annotations": {"a": "b"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "rs",
                "uid": "u1",
                "controller": False,
            },
        ],
        "finalizers": ["f1", "f2"],
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Update",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {}},
            },
        ],
    }


def test_epoch_time_is_not_the_zero_time() -> None:
    obj = decode(body("v1", "Namespace", meta("n", ld(8, vi(1, 0)))))
    assert obj["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"
    go_zero = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
    obj = decode(body("v1", "Namespace", meta("n", ld(8, vi(1, go_zero)))))
    assert "creationTimestamp" not in obj["metadata"]


def test_micro_time() -> None:
    stamp = vi(1, int(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())) + vi(2, 123456789)
    assert kp._micro_time(stamp) == "2024-01-02T03:04:05.123456Z"
    assert kp._micro_time(b"") is None


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1500, "1.5µs"),
        (1_500_000, "1.5ms"),
        (1_000_000_000, "1s"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9, "1h0m0s"),
        (3_723_500_000_000, "1h2m3.5s"),
        (-2 * 10**9, "-2s"),
    ],
)
def test_go_duration(nanos: int, text: str) -> None:
    assert go_duration(nanos) == text
    assert kp._duration(vi(1, nanos)) == text


def test_packed_and_unpacked_repeated_ints() -> None:
    packed = ld(4, varint(1000) + varint(2000))
    unpacked = vi(4, 3000) + vi(4, -1)
    pod_spec = ld(2, st(1, "c")) + ld(14, packed + unpacked + vi(2, 0))
    obj = decode(body("v1", "Pod", meta("p") + ld(2, pod_spec)))
    assert obj["spec"]["securityContext"] == {
        "runAsUser": 0,  # a pointer: its explicit zero stays
        "supplementalGroups": [1000, 2000, 3000, -1],
    }


def test_inline_structs_and_int_or_string() -> None:
    probe = ld(1, ld(2, st(1, "/healthz") + ld(2, vi(1, 1) + st(3, "http")))) + vi(2, 5)
    container = st(1, "c") + ld(10, probe)
    volume = st(1, "cfg") + ld(2, ld(19, ld(1, st(1, "cm1")) + vi(3, 420)))
    env_from = ld(2, ld(1, st(1, "cm2")) + vi(2, 1))
    container += ld(19, env_from)
    pod_spec = ld(1, volume) + ld(2, container)
    obj = decode(body("v1", "Pod", meta("p") + ld(2, pod_spec)))
    spec = obj["spec"]
    assert spec["volumes"] == [{"name": "cfg", "configMap": {"name": "cm1", "defaultMode": 420}}]
    (c,) = spec["containers"]
    assert c["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http"},
        "initialDelaySeconds": 5,
    }
    assert c["envFrom"] == [{"configMapRef": {"name": "cm2", "optional": True}}]


def test_quantities_and_bytes_maps() -> None:
    requirements = ld(2, st(1, "memory") + ld(2, st(1, "64Mi"))) + ld(1, st(1, "cpu") + ld(2, b""))
    pod_spec = ld(2, st(1, "c") + ld(8, requirements))
    obj = decode(body("v1", "Pod", meta("p") + ld(2, pod_spec)))
    assert obj["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "0"},  # a map value left out is the zero Quantity
        "requests": {"memory": "64Mi"},
    }
    cm = decode(body("v1", "ConfigMap", meta("c") + ld(3, st(1, "bin") + ld(2, b"\x00\xff"))))
    assert cm["binaryData"] == {"bin": "AP8="}


def test_extra_values_and_unknown_fields() -> None:
    spec = st(3, "alice") + st(4, "devs") + ld(5, st(1, "scopes") + ld(2, st(1, "a") + st(1, "b")))
    spec += vi(99, 7) + ld(100, b"future")  # fields this table does not know are skipped
    obj = decode(body("authorization.k8s.io/v1", "SubjectAccessReview", ld(2, spec)))
    assert obj["spec"] == {"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"]}}


def test_message_occurrences_merge() -> None:
    raw = meta("n") + ld(1, st(3, "ns") + ld(11, st(1, "a") + st(2, "1")))
    obj = decode(body("v1", "ConfigMap", raw))
    assert obj["metadata"] == {"name": "n", "namespace": "ns", "labels": {"a": "1"}}


def test_invalid_utf8_is_replaced_like_go() -> None:
    obj = decode(body("v1", "ConfigMap", meta("n") + ld(2, st(1, "k") + ld(2, b"\xff"))))
    assert obj["data"] == {"k": "\ufffd"}


# --- malformed bodies ---------------------------------------------------------------------------

GOOD_RAW = meta("ns1")

MALFORMED: dict[str, bytes] = {
    "empty body": b"",
    "json body": b'{"kind":"Namespace","apiVersion":"v1"}',
    "wrong magic": b"k8s\x01" + vector("namespaces.bin")[4:],
    "magic only": MAGIC,
    "truncated varint": MAGIC + b"\x0a\xff",
    "length past the end": MAGIC + b"\x0a\x10\x0a\x02v1",
    "group wire type": MAGIC + b"\x0b",
    "wire type 7": MAGIC + b"\x0f",
    "field number 0": MAGIC + b"\x02\x00",
    "varint overflow": MAGIC + b"\x08" + b"\xff" * 10 + b"\x01",
    "random bytes": MAGIC + random.Random(7).randbytes(64),
    "unknown kind": body("v1", "Frobnicator", GOOD_RAW),
    "unknown version": body("v2", "Namespace", GOOD_RAW),
    "no kind": body("v1", "", GOOD_RAW),
    "no apiVersion": body("", "Namespace", GOOD_RAW),
    "gzip encoding": body("v1", "Namespace", GOOD_RAW, encoding="gzip"),
    "json content type": body("v1", "Namespace", GOOD_RAW, ctype="application/json"),
    "typeMeta not bytes": MAGIC + vi(1, 5),
    "raw truncated": MAGIC + ld(1, st(1, "v1") + st(2, "Namespace")) + b"\x12\x05\x0a\x03",
    "object garbage": body("v1", "Namespace", b"\xff\xff\xff"),
    "scalar with wrong wire type": body("apps/v1", "Deployment", ld(2, ld(1, b"2"))),
    "message with wrong wire type": body("v1", "Namespace", vi(1, 1)),
    "map entry garbage": body("v1", "ConfigMap", ld(2, b"\x0a\x05ab")),
    "bad packed ints": body("v1", "Pod", ld(2, ld(14, ld(4, b"\xff")))),
    "bad quantity": body("v1", "ResourceQuota", ld(2, ld(1, st(1, "cpu") + ld(2, st(1, "4 CPU"))))),
    "empty quantity": body("v1", "ResourceQuota", ld(2, ld(1, st(1, "cpu") + ld(2, st(1, ""))))),
    "bad int-or-string": body("policy/v1", "PodDisruptionBudget", ld(2, ld(1, vi(1, 7)))),
    "fieldsV1 not json": body("v1", "Namespace", ld(1, ld(17, ld(7, ld(1, b"{nope"))))),
    "time out of range": body("v1", "Namespace", ld(1, ld(8, vi(1, 10**15)))),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_is_bad_request(name: str) -> None:
    assert_bad_request(MALFORMED[name])


def test_error_wording() -> None:
    error = assert_bad_request(MALFORMED["wrong magic"])
    assert error.message == (
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )
    error = assert_bad_request(MALFORMED["unknown kind"])
    assert error.message == 'no kind "Frobnicator" is registered for version "v1"'
    error = assert_bad_request(MALFORMED["scalar with wrong wire type"])
    assert error.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: '
        "proto: wrong wireType = 2 for field replicas"
    )
    error = assert_bad_request(MALFORMED["object garbage"])
    assert error.message.startswith('Namespace in version "v1" cannot be handled as a Namespace: ')
    assert error.status()["code"] == 400


def test_accepts_bytearray_and_memoryview() -> None:
    data = vector("deployments.bin")
    assert decode(bytearray(data)) == decode(memoryview(data)) == decode(data)  # type: ignore[arg-type]


def test_decode_type_meta_rejects_malformed_envelopes() -> None:
    assert decode_type_meta(vector("deployments.bin")) == ("apps/v1", "Deployment")
    for name in ("empty body", "wrong magic", "truncated varint", "no kind"):
        with pytest.raises(StatusError) as info:
            decode_type_meta(MALFORMED[name])
        assert info.value.code == 400


@pytest.mark.parametrize("name", VECTORS)
def test_every_truncation_decodes_or_is_bad_request(name: str) -> None:
    data = vector(name)
    for length in range(len(data)):
        decodes_or_400(data[:length])
        try:
            decode_type_meta(data[:length])
        except StatusError as exc:
            assert exc.code == 400


@pytest.mark.parametrize("name", VECTORS)
def test_every_byte_mutation_decodes_or_is_bad_request(name: str) -> None:
    data = vector(name)
    rng = random.Random(name)
    for pos in range(len(MAGIC), len(data)):
        for value in (0x00, 0xFF, 0x80, rng.randrange(256)):
            mutated = bytearray(data)
            mutated[pos] = value
            decodes_or_400(bytes(mutated))
    for _ in range(200):
        mutated = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(MAGIC), len(data))] = rng.randrange(256)
        decodes_or_400(bytes(mutated))


# --- values given in pieces -------------------------------------------------------------------


def quota_with_hard_cpu_in_pieces(*pieces: bytes) -> bytes:
    entry = st(1, "cpu") + b"".join(ld(2, piece) for piece in pieces)
    return body("v1", "ResourceQuota", meta("q") + ld(2, ld(1, entry)))


def test_a_map_message_value_given_in_pieces_merges() -> None:
    """Protobuf merges repeated occurrences of a message: the pieces of a map entry's
    value are one message (joined once, so a body of 786k pieces decodes in linear time)."""
    quantity = st(1, "250m")
    pieces = [quantity[:1], quantity[1:3], b"", quantity[3:]]
    assert decode(quota_with_hard_cpu_in_pieces(*pieces))["spec"] == {"hard": {"cpu": "250m"}}


def test_the_issues_pieces_body_is_a_bad_request() -> None:
    """The issue's hostile shape (many empty Quantity pieces), at 1/40 of its size."""
    err = assert_bad_request(quota_with_hard_cpu_in_pieces(*[st(1, "")] * 20_000))
    assert err.message == (
        'ResourceQuota in version "v1" cannot be handled as a ResourceQuota: ' + kp._QUANTITY_ERROR
    )


def test_extra_values_are_lists_of_strings() -> None:
    """A CSR's spec.extra (a client certificate's user carries its credential id there),
    as `kubectl certificate approve` sends the CSR back: each ExtraValue message is the
    list of its items, as Go writes it."""
    entry = st(1, "authentication.kubernetes.io/credential-id") + ld(2, st(1, "X509SHA256=ab"))
    spec = st(7, "kubernetes.io/kube-apiserver-client") + ld(6, entry)
    obj = decode(
        body("certificates.k8s.io/v1", "CertificateSigningRequest", meta("c") + ld(2, spec))
    )
    assert obj["spec"]["extra"] == {"authentication.kubernetes.io/credential-id": ["X509SHA256=ab"]}
