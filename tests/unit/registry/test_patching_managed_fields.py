"""kube's field manager around ownership: managedFields entries, managers, timestamps,
conflicts as 409s, the client-side to server-side apply upgrade, write options."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest

from kapi import errors
from services.registry import patching
from services.registry.patching import managed_fields, policy
from services.registry.patching import schema as schemas
from services.registry.patching.managed_fields import FieldManager, Identity
from services.registry.patching.typed import Typed

Obj = dict[str, Any]
TYPED = Typed(schemas.builtin_types())


def clock() -> Any:
    ticks = itertools.count()
    return lambda: f"2024-01-01T00:00:{next(ticks):02d}Z"


def manager_for(definition: str, api_version: str, kind: str, **kw: Any) -> FieldManager:
    return FieldManager(
        TYPED, schemas.root(definition), api_version=api_version, kind=kind, now=clock(), **kw
    )


def configmaps(**kw: Any) -> FieldManager:
    return manager_for("io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap", **kw)


def cm(data: dict[str, str], **meta: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "ns", **meta},
        "data": data,
    }


def stored(obj: Obj) -> Obj:
    """What storage would hold: system metadata set."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u", resourceVersion="7", creationTimestamp="2024-01-01T00:00:00Z")
    return out


def entries(obj: Obj) -> list[tuple[str, str, Any]]:
    return [
        (e["manager"], e["operation"], e["fieldsV1"])
        for e in obj["metadata"].get("managedFields", [])
    ]


@pytest.mark.parametrize(
    ("agent", "manager"),
    [
        ("kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07", "kubectl"),
        ("kube-controller-manager/v1.32.0 (linux/amd64)", "kube-controller-manager"),
        ("python-requests", "python-requests"),
        ("", ""),
        ("bad\x00agent/1", "badagent"),
        ("x" * 200, "x" * 128),
    ],
)
def test_manager_from_user_agent(agent: str, manager: str) -> None:
    assert managed_fields.manager_from_user_agent(agent) == manager


def test_create_records_the_creator_with_a_time() -> None:
    fm = configmaps()
    obj = fm.update({}, stored(cm({"a": "1"})), "kubectl-create")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2024-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}}},
    }
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]


def test_update_without_change_keeps_the_time() -> None:
    fm = configmaps()
    created = fm.update({}, stored(cm({"a": "1"})), "maker")
    again = fm.update(created, copy.deepcopy(created), "maker")
    assert again["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    other = fm.update(created, copy.deepcopy(created), "someone-else")
    assert [e["manager"] for e in other["metadata"]["managedFields"]] == ["maker"]


def test_entries_sorted_apply_first_then_time() -> None:
    fm = configmaps()
    obj = fm.update({}, stored(cm({"a": "1"})), "zeta")
    changed = copy.deepcopy(obj)
    changed["data"]["b"] = "2"
    obj = fm.update(obj, changed, "alpha")
    obj = fm.apply(obj, cm({"c": "3"}), "applier", force=False)
    assert [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]] == [
        ("applier", "Apply"),
        ("zeta", "Update"),
        ("alpha", "Update"),
    ]


def test_sent_managed_fields_are_honoured_and_can_be_reset() -> None:
    fm = configmaps()
    created = fm.update({}, stored(cm({"a": "1"})), "maker")
    edited = copy.deepcopy(created)
    edited["metadata"]["managedFields"][0]["manager"] = "renamed"
    assert entries(fm.update(created, edited, "editor"))[0][0] == "renamed"
    reset = copy.deepcopy(created)
    reset["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in fm.update(created, reset, "editor")["metadata"]
    dropped = copy.deepcopy(created)
    dropped["metadata"].pop("managedFields")
    assert entries(fm.update(created, dropped, "editor")) == entries(created)  # live ones kept
    garbage = copy.deepcopy(created)
    garbage["metadata"]["managedFields"] = [{"manager": "x", "operation": "Nope"}]
    assert entries(fm.update(created, garbage, "editor")) == entries(created)


def test_subresource_updates_keep_live_entries_and_name_the_subresource() -> None:
    deployments = manager_for(
        "io.k8s.api.apps.v1.Deployment",
        "apps/v1",
        "Deployment",
        subresource="status",
        ignored=patching.reset_fields(
            "io.k8s.api.apps.v1.Deployment", subresource="status", has_status=True
        ),
    )
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 1},
    }
    new = {**copy.deepcopy(live), "status": {"replicas": 1}}
    new["metadata"]["managedFields"] = [
        {
            "manager": "sneaky",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
        }
    ]
    obj = deployments.update(live, new, "kube-controller-manager")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["subresource"] == "status"
    assert entry["manager"] == "kube-controller-manager"
    assert entry["fieldsV1"] == {"f:status": {".": {}, "f:replicas": {}}}


def test_update_managers_beyond_ten_fold_into_ancient_changes() -> None:
    fm = configmaps()
    obj = fm.update({}, stored(cm({"k0": "0"})), "m0")
    for i in range(1, 12):
        changed = copy.deepcopy(obj)
        changed["data"][f"k{i}"] = str(i)
        obj = fm.update(obj, changed, f"m{i}")
    names = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(names) == 10
    assert "ancient-changes" in names and "m0" not in names and "m11" in names


def test_conflict_messages_name_managers_as_kube_does() -> None:
    describe = {
        "a": Identity("kubectl-client-side-apply", "Update", "v1").describe(),
        "b": Identity("kubectl", "Apply").describe(),
        "c": Identity("kcm", "Update", "apps/v1", "status").describe(),
    }
    assert describe == {
        "a": '"kubectl-client-side-apply" using v1',
        "b": '"kubectl"',
        "c": '"kcm" with subresource "status" using apps/v1',
    }
    from services.registry.patching.fieldpath import make_path
    from services.registry.patching.ownership import Conflict

    err = managed_fields.conflict_error(
        [
            Conflict("b", make_path("data", "x")),
            Conflict("a", make_path("data", "y")),
            Conflict("b", make_path("data", "z")),
        ],
        describe.__getitem__,
    )
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == (
        'Apply failed with 3 conflicts: conflicts with "kubectl-client-side-apply" using v1:\n'
        '- .data.y\nconflicts with "kubectl":\n- .data.x\n- .data.z'
    )
    assert err.details == {
        "causes": [
            {
                "type": "FieldManagerConflict",
                "message": 'conflict with "kubectl"',
                "field": ".data.x",
            },
            {
                "type": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using v1',
                "field": ".data.y",
            },
            {
                "type": "FieldManagerConflict",
                "message": 'conflict with "kubectl"',
                "field": ".data.z",
            },
        ]
    }


def test_apply_checks_kind_and_managed_fields() -> None:
    fm = configmaps()
    with pytest.raises(errors.StatusError) as caught:
        fm.apply(None, {"apiVersion": "apps/v1", "kind": "Deployment"}, "m", force=False)
    assert caught.value.message == "invalid object type: apps/v1, Kind=Deployment"
    with pytest.raises(errors.StatusError) as caught:
        fm.apply(None, {}, "m", force=False)
    assert caught.value.message == "invalid object type: /, Kind="
    with pytest.raises(errors.StatusError) as caught:
        fm.apply(None, cm({}, managedFields=[]), "m", force=False)
    assert caught.value.message == "metadata.managedFields must be nil"


def test_no_op_apply_changes_ownership_but_not_the_time() -> None:
    fm = configmaps()
    created = fm.update({}, stored(cm({"a": "1"})), "maker")
    applied = fm.apply(created, cm({"a": "1"}), "applier", force=False)
    entry = next(e for e in applied["metadata"]["managedFields"] if e["manager"] == "applier")
    assert "time" not in entry  # the object did not change
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert applied["data"] == {"a": "1"}


def test_kubectl_upgrades_from_client_side_apply_and_keeps_the_annotation() -> None:
    fm = configmaps()
    manifest = cm({"a": "1"})
    last = orjson.dumps(manifest).decode()
    live = fm.update(
        {},
        stored(cm({"a": "1"}, annotations={managed_fields.LAST_APPLIED: last})),
        "kubectl-client-side-apply",
    )
    with pytest.raises(errors.StatusError) as caught:
        fm.apply(live, cm({"a": "2"}), "other", force=False)
    assert caught.value.code == 409
    upgraded = fm.apply(live, cm({"a": "2"}), "kubectl", force=False)
    assert upgraded["data"] == {"a": "2"}
    annotation = upgraded["metadata"]["annotations"][managed_fields.LAST_APPLIED]
    assert annotation.endswith("\n")
    assert orjson.loads(annotation) == cm({"a": "2"})


def test_field_manager_validation() -> None:
    with pytest.raises(errors.StatusError) as caught:
        policy.check_patch_options(is_apply=True, field_manager="")
    assert caught.value.message == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        "for apply patch"
    )
    with pytest.raises(errors.StatusError) as caught:
        policy.check_write_options("UpdateOptions", "bad\x07")
    assert caught.value.message == (
        'UpdateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "bad\\u0007": '
        "invalid character U+0007 (at position 3)"
    )
    policy.check_patch_options(is_apply=False, field_manager="")


@pytest.mark.parametrize(
    ("group", "resource", "allowed"),
    [
        ("", "services", True),
        ("", "configmaps", False),
        ("apps", "deployments", False),
        ("rbac.authorization.k8s.io", "clusterroles", True),
        ("coordination.k8s.io", "leases", True),
        ("storage.k8s.io", "storageclasses", False),
    ],
)
def test_create_on_update_table(group: str, resource: str, allowed: bool) -> None:
    assert policy.allows_create_on_update(group, resource) is allowed


def test_decode_apply_yaml_and_json() -> None:
    assert patching.decode_apply(b'{"a": 1}') == {"a": 1}
    assert patching.decode_apply(b"a: 2024-01-01\nb: [1, 2]\n") == {"a": "2024-01-01", "b": [1, 2]}
    assert patching.decode_apply(b"") == {}
    with pytest.raises(errors.StatusError) as caught:
        patching.decode_apply(b"- 1\n")
    assert caught.value.code == 400
    with pytest.raises(errors.StatusError):
        patching.decode_apply(b"a: [\n")


BOMB = b'a0: &a0 "lol"\n' + b"".join(
    b"a%d: &a%d [%s]\n" % (i, i, b", ".join([b"*a%d" % (i - 1)] * 9)) for i in range(1, 6)
)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (BOMB, "yaml: document contains excessive aliasing"),
        (b"a: &a [*a]\n", "yaml: anchor 'a' value contains itself"),
        (b"a: " + b"[" * 300 + b"]" * 300, "yaml: exceeded max depth of 200"),
    ],
)
def test_decode_apply_refuses_what_go_yaml_refuses(body: bytes, problem: str) -> None:
    """The registry reads apply bodies as kube's applyPatcher does, within go-yaml's
    limits: a 460-byte apply body no longer grows the registry by hundreds of MiB."""
    with pytest.raises(errors.StatusError) as caught:
        patching.decode_apply(body)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == f"error decoding YAML: error converting YAML to JSON: {problem}"


def test_decode_apply_keys_are_strings_as_kube_makes_them() -> None:
    assert patching.decode_apply(b"data: {1: x, on: y2}\n") == {"data": {"1": "x", "true": "y2"}}
