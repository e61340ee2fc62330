"""The fixed order of a write (services/registry/pipeline.py), as kube's rest.BeforeCreate /
BeforeUpdate: system metadata, namespace, defaults, strategy, resource validation, then
ObjectMeta validation, as one 422 Invalid with a cause per field.
"""

from __future__ import annotations

import copy
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from builtin_definitions import strategy_for

from kapi import errors
from services.registry import pipeline
from services.registry.strategies import builtin_table
from services.registry.types import ResourceType

TABLE = builtin_table()
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # kube's util/rand alphanums: no vowels, no 0/1/3
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

Obj = dict[str, Any]


def rt(resource: str) -> ResourceType:
    found = TABLE.lookup("apps" if resource == "deployments" else "", "v1", resource)
    assert found is not None
    return found


def create(resource: str, obj: Obj, namespace: str = "ns") -> Obj:
    t = rt(resource)
    return pipeline.prepare_create(t, strategy_for(t.group, t.resource), obj, namespace)


def configmap(**meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", **meta}}


def deployment(replicas: int = 1, **meta: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns", **meta},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def raised(call: Any, *args: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as info:
        call(*args)
    return info.value


# --- prepare_create ----------------------------------------------------------------------


def test_create_fills_uid_and_creation_timestamp() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    meta = create("configmaps", configmap(uid="client-chosen"))["metadata"]
    assert str(uuid.UUID(meta["uid"])) == meta["uid"]
    assert meta["uid"] != "client-chosen"
    assert RFC3339_Z.match(meta["creationTimestamp"])
    stamp = datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)


def test_uids_are_what_uuid4_makes_of_the_same_bytes() -> None:
    rng = random.Random(4)
    samples = [bytes(16), b"\xff" * 16, *(rng.randbytes(16) for _ in range(2000))]
    for raw in samples:
        assert pipeline.uid_text(raw) == str(uuid.UUID(bytes=raw, version=4))
    made = uuid.UUID(pipeline.new_uid())
    assert (made.version, made.variant) == (4, uuid.RFC_4122)


def test_now_is_the_current_second_in_rfc3339() -> None:
    for second in (0, 1_700_000_000, 1_700_000_059, 4_102_444_800):
        expected = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert pipeline._rfc3339(second) == expected
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = datetime.strptime(pipeline.now_rfc3339(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)


def test_a_strategy_records_its_requester_by_having_the_method() -> None:
    class Recording:
        def __init__(self) -> None:
            self.seen: list[pipeline.Requester] = []

        def record_requester(self, obj: Obj, requester: pipeline.Requester) -> None:
            self.seen.append(requester)

    assert isinstance(Recording(), pipeline.RecordsRequester)
    assert not isinstance(strategy_for("", "configmaps"), pipeline.RecordsRequester)
    assert getattr(strategy_for("", "configmaps"), "record_requester", None) is None
    assert isinstance(
        strategy_for("certificates.k8s.io", "certificatesigningrequests"),
        pipeline.RecordsRequester,
    )


def test_create_gives_each_object_its_own_uid() -> None:
    assert (
        create("configmaps", configmap())["metadata"]["uid"]
        != create("configmaps", configmap())["metadata"]["uid"]
    )


@pytest.mark.parametrize(
    ("prefix", "kept"),
    [("web-", "web-"), ("x" * 70, "x" * 58), ("a" * 58, "a" * 58)],
)
def test_generate_name(prefix: str, kept: str) -> None:
    obj = {"metadata": {"generateName": prefix}}
    name = create("configmaps", obj)["metadata"]["name"]
    assert name.startswith(kept)
    suffix = name[len(kept) :]
    assert len(suffix) == 5
    assert set(suffix) <= set(ALPHABET)
    assert len(name) <= 63


def test_generate_name_is_random() -> None:
    names = {
        create("configmaps", {"metadata": {"generateName": "g-"}})["metadata"]["name"]
        for _ in range(20)
    }
    assert len(names) > 15


def test_generate_name_does_not_replace_a_given_name() -> None:
    assert create("configmaps", configmap(generateName="g-"))["metadata"]["name"] == "c"


def test_create_strips_what_only_the_server_sets() -> None:
    meta = create(
        "configmaps",
        configmap(
            resourceVersion="42",
            managedFields=[{"manager": "x"}],
            selfLink="/api/v1/x",
            deletionTimestamp="2025-01-01T00:00:00Z",
            deletionGracePeriodSeconds=30,
            generation=7,
        ),
    )["metadata"]
    for key in (
        "resourceVersion",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        assert key not in meta, key


def test_create_starts_generation_at_one_for_deployments() -> None:
    assert create("deployments", deployment(generation=9))["metadata"]["generation"] == 1


def test_create_takes_the_namespace_from_the_request() -> None:
    assert create("configmaps", configmap(), "team-a")["metadata"]["namespace"] == "team-a"
    same = create("configmaps", configmap(namespace="team-a"), "team-a")
    assert same["metadata"]["namespace"] == "team-a"


def test_create_rejects_another_namespace_in_the_body() -> None:
    err = raised(create, "configmaps", configmap(namespace="other"), "ns")
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )


def test_create_drops_the_namespace_of_a_cluster_scoped_object() -> None:
    obj = {"metadata": {"name": "team", "namespace": "whatever"}}
    assert "namespace" not in create("namespaces", obj, "")["metadata"]


def test_create_rejects_another_api_version() -> None:
    obj = configmap()
    obj["apiVersion"] = "apps/v1"
    err = raised(create, "configmaps", obj)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == (
        "the API version in the data (apps/v1) does not match the expected API version (v1)"
    )


def test_create_rejects_another_kind() -> None:
    obj = configmap()
    obj["kind"] = "Secret"
    err = raised(create, "configmaps", obj)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert "Secret" in err.message and "ConfigMap" in err.message


@pytest.mark.parametrize(
    ("resource", "api_version", "kind"),
    [
        ("configmaps", "v1", "ConfigMap"),
        ("deployments", "apps/v1", "Deployment"),
    ],
)
def test_create_fills_missing_type_meta(resource: str, api_version: str, kind: str) -> None:
    obj = create(resource, {"metadata": {"name": "x"}})
    assert (obj["apiVersion"], obj["kind"]) == (api_version, kind)


def test_create_rejects_metadata_that_is_not_an_object() -> None:
    err = raised(create, "configmaps", {"metadata": ["x"]})
    assert err.code == 400


def test_create_runs_the_strategy_defaults() -> None:
    secret = create("secrets", {"metadata": {"name": "s"}})
    assert secret["type"] == "Opaque"
    namespace = create("namespaces", {"metadata": {"name": "team"}}, "")
    assert namespace["status"] == {"phase": "Active"}


# --- validate_create -----------------------------------------------------------------------


def validate(resource: str, obj: Obj) -> errors.StatusError:
    t = rt(resource)
    with pytest.raises(errors.StatusError) as info:
        pipeline.validate_create(t, strategy_for(t.group, t.resource), obj)
    return info.value


def test_validate_create_accepts_a_valid_object() -> None:
    t = rt("configmaps")
    obj = create("configmaps", configmap())
    pipeline.validate_create(t, strategy_for(t.group, t.resource), obj)


def test_validate_create_is_one_invalid_with_resource_errors_first() -> None:
    obj = create("configmaps", {"metadata": {"name": "Bad_Name"}, "data": {"bad key": "v"}})
    err = validate("configmaps", obj)
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message.startswith(
        'ConfigMap "Bad_Name" is invalid: [data[bad key]: Invalid value: '
    )
    assert ', metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in (
        err.message
    )
    details = err.details or {}
    assert details["name"] == "Bad_Name"
    assert details["kind"] == "ConfigMap"
    assert "group" not in details
    causes = details["causes"]
    assert [c["field"] for c in causes] == ["data[bad key]", "metadata.name"]
    assert all(c["reason"] == "FieldValueInvalid" for c in causes)
    assert causes[1]["message"].startswith('Invalid value: "Bad_Name": a lowercase RFC 1123')


def test_validate_create_single_error_message_has_no_brackets() -> None:
    obj = create("configmaps", {"metadata": {"name": "ok"}, "data": {"a b": "v"}})
    err = validate("configmaps", obj)
    assert err.message.startswith('ConfigMap "ok" is invalid: data[a b]: Invalid value: "a b": ')


def test_validate_create_names_the_group_for_grouped_kinds() -> None:
    obj = create("deployments", deployment(replicas=-1))
    err = validate("deployments", obj)
    assert err.message == (
        'Deployment.apps "d" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    details = err.details or {}
    assert (details["group"], details["kind"], details["name"]) == ("apps", "Deployment", "d")
    assert details["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0",
            "field": "spec.replicas",
        }
    ]


def test_validate_create_names_a_generate_name_object_by_its_prefix() -> None:
    t = rt("configmaps")
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "Bad-", "namespace": "ns"},
    }
    with pytest.raises(errors.StatusError) as info:
        pipeline.validate_create(t, strategy_for(t.group, t.resource), obj)
    assert info.value.message.startswith('ConfigMap "Bad-" is invalid: metadata.generateName')


def test_validate_create_does_not_mutate() -> None:
    obj = create("configmaps", {"metadata": {"name": "Bad"}, "data": {"a b": "v"}})
    before = copy.deepcopy(obj)
    validate("configmaps", obj)
    assert obj == before


# --- prepare_update ------------------------------------------------------------------------


def update(resource: str, new: Obj, old: Obj, *, subresource: str = "") -> Obj:
    t = rt(resource)
    return pipeline.prepare_update(
        t, strategy_for(t.group, t.resource), new, old, subresource=subresource
    )


def stored(obj: Obj, **meta: Any) -> Obj:
    out = copy.deepcopy(obj)
    out["metadata"].update(
        {
            "uid": "uid-1",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "resourceVersion": "10",
            "namespace": "ns",
            **meta,
        }
    )
    return out


def test_update_carries_system_metadata_over() -> None:
    old = stored(
        configmap(), deletionTimestamp="2025-02-01T00:00:00Z", deletionGracePeriodSeconds=0
    )
    new = configmap(creationTimestamp="2030-01-01T00:00:00Z", labels={"a": "b"})
    meta = update("configmaps", new, old)["metadata"]
    assert meta["uid"] == "uid-1"
    assert meta["creationTimestamp"] == "2025-01-01T00:00:00Z"
    assert meta["deletionTimestamp"] == "2025-02-01T00:00:00Z"
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["namespace"] == "ns"
    assert meta["labels"] == {"a": "b"}


def test_update_keeps_a_changed_uid_for_validation_to_refuse() -> None:
    """kube's BeforeUpdate fills a uid left out; a changed one is an immutable field (422),
    never silently replaced by the old one."""
    old = stored(configmap())
    new = update("configmaps", configmap(uid="forged"), old)
    assert new["metadata"]["uid"] == "forged"
    with pytest.raises(errors.StatusError) as info:
        pipeline.validate_update(rt("configmaps"), strategy_for("", "configmaps"), new, old)
    assert (info.value.code, info.value.message) == (
        422,
        'ConfigMap "c" is invalid: metadata.uid: Invalid value: "forged": field is immutable',
    )


def test_update_drops_self_link() -> None:
    """kube-apiserver never stores nor serves metadata.selfLink (1.20+)."""
    new = update("configmaps", configmap(selfLink="/api/v1/forged"), stored(configmap()))
    assert "selfLink" not in new["metadata"]


def test_update_cannot_set_a_deletion_timestamp() -> None:
    new = configmap(deletionTimestamp="2025-02-01T00:00:00Z")
    assert "deletionTimestamp" not in update("configmaps", new, stored(configmap()))["metadata"]


def test_update_fills_missing_type_meta_and_checks_it() -> None:
    new = {"metadata": {"name": "c"}}
    out = update("configmaps", new, stored(configmap()))
    assert (out["apiVersion"], out["kind"]) == ("v1", "ConfigMap")
    bad = configmap()
    bad["apiVersion"] = "v2"
    with pytest.raises(errors.StatusError) as info:
        update("configmaps", bad, stored(configmap()))
    assert info.value.code == 400


def pod(phase: str = "Running") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
        "status": {"phase": phase},
    }


def test_main_resource_update_keeps_the_stored_status() -> None:
    old = stored(pod("Running"))
    new = pod("Failed")
    new["metadata"]["labels"] = {"x": "y"}
    out = update("pods", new, old)
    assert out["status"] == {"phase": "Running"}
    assert out["metadata"]["labels"] == {"x": "y"}


def test_status_update_changes_only_status() -> None:
    old = stored(pod("Running"))
    new = pod("Succeeded")
    new["spec"]["containers"][0]["image"] = "busybox:9"
    out = update("pods", new, old, subresource="status")
    assert out["status"] == {"phase": "Succeeded"}
    assert out["spec"] == old["spec"]


def test_types_without_status_keep_what_the_client_sent() -> None:
    old = stored(configmap())
    new = configmap()
    new["data"] = {"k": "v"}
    assert update("configmaps", new, old)["data"] == {"k": "v"}


@pytest.mark.parametrize(
    ("change", "generation"),
    [
        (lambda d: None, 3),
        (lambda d: d["metadata"].update(labels={"new": "label"}), 3),
        (lambda d: d["spec"].update(replicas=5), 4),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"), 4),
    ],
)
def test_deployment_generation_moves_only_with_the_spec(change: Any, generation: int) -> None:
    old = create("deployments", deployment())
    old["metadata"].update(resourceVersion="10", generation=3)
    new = copy.deepcopy(old)
    new["metadata"].pop("generation")
    change(new)
    assert update("deployments", new, old)["metadata"]["generation"] == generation


def test_deployment_status_update_does_not_bump_generation() -> None:
    old = create("deployments", deployment())
    old["metadata"].update(resourceVersion="10", generation=3)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "observedGeneration": 3}
    new["spec"]["replicas"] = 9  # ignored through /status
    out = update("deployments", new, old, subresource="status")
    assert out["metadata"]["generation"] == 3
    assert out["spec"]["replicas"] == 1
    assert out["status"] == {"replicas": 1, "observedGeneration": 3}


# --- validate_update / check_name_matches ---------------------------------------------------


def test_validate_update_reports_immutable_metadata() -> None:
    t = rt("configmaps")
    old = stored(configmap())
    new = stored(configmap(), uid="uid-2")
    with pytest.raises(errors.StatusError) as info:
        pipeline.validate_update(t, strategy_for("", "configmaps"), new, old)
    assert info.value.code == 422
    assert info.value.message == (
        'ConfigMap "c" is invalid: metadata.uid: Invalid value: "uid-2": field is immutable'
    )


def test_validate_update_accepts_a_prepared_update() -> None:
    t = rt("configmaps")
    old = stored(configmap())
    new = update("configmaps", configmap(labels={"a": "b"}), old)
    pipeline.validate_update(t, strategy_for("", "configmaps"), new, old)


@pytest.mark.parametrize(
    ("body_name", "message"),
    [
        ("other", "the name of the object (other) does not match the name on the URL (c)"),
        (None, "the name of the object () does not match the name on the URL (c)"),
    ],
)
def test_check_name_matches(body_name: str | None, message: str) -> None:
    obj: Obj = {"metadata": {} if body_name is None else {"name": body_name}}
    err = raised(pipeline.check_name_matches, obj, "c")
    assert (err.code, err.reason, err.message) == (400, "BadRequest", message)


def test_check_name_matches_accepts_the_url_name() -> None:
    pipeline.check_name_matches({"metadata": {"name": "c"}}, "c")
