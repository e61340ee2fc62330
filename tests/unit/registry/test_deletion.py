"""services.registry.deletion: kube's BeforeDelete, propagation finalizers and
shouldDeleteDuringUpdate, case by case (store_test.go's TestStoreDeleteWithOrphanDependents,
TestStoreDeletionPropagation, TestGracefulStoreHandleFinalizers, delete_test.go)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kapi import errors
from services.registry import deletion

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
Obj = dict[str, Any]


def obj(**meta: Any) -> Obj:
    return {"metadata": {"name": "x", "resourceVersion": "5", **meta}}


@pytest.mark.parametrize(
    ("finalizers", "options", "policy", "expected"),
    [
        # an explicit policy wins over existing finalizers and the default
        ([], {"propagationPolicy": "Orphan"}, deletion.DELETE_DEPENDENTS, ["orphan"]),
        (
            [],
            {"propagationPolicy": "Foreground"},
            deletion.DELETE_DEPENDENTS,
            ["foregroundDeletion"],
        ),
        (["orphan"], {"propagationPolicy": "Background"}, deletion.DELETE_DEPENDENTS, []),
        (
            ["foregroundDeletion", "a/b"],
            {"propagationPolicy": "Orphan"},
            deletion.DELETE_DEPENDENTS,
            ["a/b", "orphan"],
        ),
        # the deprecated orphanDependents
        ([], {"orphanDependents": True}, deletion.DELETE_DEPENDENTS, ["orphan"]),
        (["orphan"], {"orphanDependents": False}, deletion.ORPHAN_DEPENDENTS, []),
        # no option: an existing finalizer, then the resource's default
        (["orphan"], {}, deletion.DELETE_DEPENDENTS, None),
        (["foregroundDeletion"], {}, deletion.ORPHAN_DEPENDENTS, None),
        ([], {}, deletion.ORPHAN_DEPENDENTS, ["orphan"]),
        ([], {}, deletion.DELETE_DEPENDENTS, None),
        # a resource the garbage collector does not handle never gets either
        ([], {"propagationPolicy": "Foreground"}, deletion.UNSUPPORTED, None),
    ],
)
def test_gc_finalizers(
    finalizers: list[str], options: Obj, policy: str, expected: list[str] | None
) -> None:
    assert deletion.gc_finalizers({"finalizers": finalizers}, options, policy) == expected


def test_an_object_without_finalizers_is_deleted_now() -> None:
    plan = deletion.plan(obj(), {}, grace_period=None, default_policy="DeleteDependents", now=NOW)
    assert plan.action == "delete"


def test_an_object_with_finalizers_is_marked_with_grace_zero() -> None:
    plan = deletion.plan(
        obj(finalizers=["a/b"], generation=3),
        {},
        grace_period=None,
        default_policy="DeleteDependents",
        now=NOW,
    )
    assert plan.action == "update"
    meta = plan.obj["metadata"]
    assert meta["deletionTimestamp"] == "2026-01-02T03:04:05Z"
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == 4  # markAsDeleting bumps a generation


def test_foreground_marks_the_owner() -> None:
    plan = deletion.plan(
        obj(),
        {"propagationPolicy": "Foreground"},
        grace_period=None,
        default_policy="DeleteDependents",
        now=NOW,
    )
    assert plan.action == "update"
    assert plan.obj["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_graceful_deletion_sets_the_deadline() -> None:
    plan = deletion.plan(obj(), {}, grace_period=30, default_policy="DeleteDependents", now=NOW)
    assert plan.action == "update"
    assert plan.obj["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:35Z"
    assert plan.obj["metadata"]["deletionGracePeriodSeconds"] == 30


def test_grace_zero_deletes_now() -> None:
    plan = deletion.plan(
        obj(),
        {"gracePeriodSeconds": 0},
        grace_period=0,
        default_policy="DeleteDependents",
        now=NOW,
    )
    assert plan.action == "delete"


@pytest.mark.parametrize(
    ("requested", "action", "deadline", "grace"),
    [
        (None, "pending", "2026-01-02T03:04:35Z", 30),  # pending: nothing changes
        (60, "pending", "2026-01-02T03:04:35Z", 30),  # only shorter periods count
        (10, "update", "2026-01-02T03:04:15Z", 10),  # deadline earlier by 20 s
        (0, "delete", "2026-01-02T03:04:05Z", 0),
        (-5, "update", "2026-01-02T03:04:06Z", 1),  # negative is 1 s
    ],
)
def test_a_second_delete_may_only_shorten_the_grace_period(
    requested: int | None, action: str, deadline: str, grace: int
) -> None:
    current = obj(deletionTimestamp="2026-01-02T03:04:35Z", deletionGracePeriodSeconds=30)
    options = {} if requested is None else {"gracePeriodSeconds": requested}
    plan = deletion.plan(
        current, options, grace_period=30, default_policy="DeleteDependents", now=NOW
    )
    assert plan.action == action
    assert plan.obj["metadata"]["deletionTimestamp"] == deadline
    assert plan.obj["metadata"]["deletionGracePeriodSeconds"] == grace


def test_grace_zero_with_finalizers_waits_for_them() -> None:
    current = obj(
        deletionTimestamp="2026-01-02T03:04:35Z",
        deletionGracePeriodSeconds=30,
        finalizers=["a/b"],
    )
    plan = deletion.plan(
        current,
        {"gracePeriodSeconds": 0},
        grace_period=0,
        default_policy="DeleteDependents",
        now=NOW,
    )
    assert plan.action == "update"
    assert plan.obj["metadata"]["deletionGracePeriodSeconds"] == 0


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ({}, {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 0}, True),
        ({}, {"deletionTimestamp": "t"}, True),
        ({"finalizers": ["a/b"]}, {"deletionTimestamp": "t"}, False),
        ({}, {}, False),
        ({}, {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 30}, False),
    ],
)
def test_delete_during_update(new: Obj, old: Obj, expected: bool) -> None:
    assert deletion.delete_during_update(new, old) is expected


@pytest.mark.parametrize(
    ("pod", "options", "expected"),
    [
        ({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 30}}, {}, 30),
        (
            {"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 30}},
            {"gracePeriodSeconds": 5},
            5,
        ),
        ({"spec": {"terminationGracePeriodSeconds": 30}}, {}, 0),  # never scheduled
        (
            {
                "spec": {"nodeName": "n", "terminationGracePeriodSeconds": 30},
                "status": {"phase": "Succeeded"},
            },
            {},
            0,
        ),
        ({"spec": {"nodeName": "n"}}, {"gracePeriodSeconds": -3}, 1),
    ],
)
def test_pod_grace_period(pod: Obj, options: Obj, expected: int) -> None:
    assert deletion.pod_grace_period(pod, options) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"propagationPolicy": "Sideways"},
            'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
            '"Sideways": supported values: "Foreground", "Background", "Orphan", "nil"',
        ),
        (
            {"propagationPolicy": "Orphan", "orphanDependents": True},
            'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
            '"Orphan": orphanDependents and deletionPropagation cannot be both set',
        ),
    ],
)
def test_bad_options_are_invalid(options: Obj, message: str) -> None:
    with pytest.raises(errors.StatusError) as raised:
        deletion.validate_options(options)
    assert raised.value.code == 422
    assert raised.value.message == message
