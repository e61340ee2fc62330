"""The rollout arithmetic, case by case from kube's deployment util tests
(TestResolveFenceposts, TestNewRSNewReplicas, TestMaxUnavailable, TestDeploymentComplete,
TestDeploymentProgressing, TestEqualIgnoreHash, TestSetNewReplicaSetAnnotations)."""

from __future__ import annotations

from typing import Any

import pytest

from services.controllers import deployment_util as du

Obj = dict[str, Any]


def deployment(replicas: int, surge: Any = "25%", unavailable: Any = "25%", **spec: Any) -> Obj:
    return {
        "metadata": {"name": "d", "generation": 1, "annotations": spec.pop("annotations", {})},
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": spec.pop("type", "RollingUpdate"),
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            "template": spec.pop("template", {"metadata": {"labels": {"a": "b"}}}),
            **spec,
        },
    }


def rs(replicas: int, **status: Any) -> Obj:
    return {"metadata": {"annotations": {}}, "spec": {"replicas": replicas}, "status": status}


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 3, (1, 0)),  # surge rounds up, unavailability down
        ("50%", "25%", 3, (2, 0)),
        (0, 0, 3, (0, 1)),  # both zero would never progress: one may be unavailable
        ("0%", "0%", 10, (0, 1)),
        (2, "10%", 10, (2, 1)),
    ],
)
def test_fenceposts(surge: Any, unavailable: Any, replicas: int, expected: tuple[int, int]) -> None:
    assert du.fenceposts(deployment(replicas, surge, unavailable)) == expected


def test_max_unavailable_is_capped_and_zero_for_recreate() -> None:
    assert du.max_unavailable(deployment(2, 0, 5)) == 2
    assert du.max_unavailable(deployment(0, 1, 1)) == 0
    assert du.max_unavailable(deployment(3, type="Recreate")) == 0


@pytest.mark.parametrize(
    ("replicas", "surge", "new", "old", "expected"),
    [
        (10, 2, 0, 10, 2),  # room for the surge only
        (10, 2, 2, 10, 2),  # already at replicas + surge
        (10, 2, 4, 6, 6),
        (10, 2, 9, 0, 10),  # never past replicas
    ],
)
def test_new_rs_new_replicas(replicas: int, surge: int, new: int, old: int, expected: int) -> None:
    d = deployment(replicas, surge, 0)
    new_rs = rs(new)
    assert du.new_rs_new_replicas(d, [rs(old), new_rs], new_rs) == expected


def test_recreate_scales_the_new_one_to_replicas() -> None:
    d = deployment(5, type="Recreate")
    new_rs = rs(0)
    assert du.new_rs_new_replicas(d, [rs(5), new_rs], new_rs) == 5


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3, "observedGeneration": 1},
            True,
        ),
        (
            {"updatedReplicas": 3, "replicas": 4, "availableReplicas": 3, "observedGeneration": 1},
            False,
        ),
        (
            {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 2, "observedGeneration": 1},
            False,
        ),
        (
            {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3, "observedGeneration": 0},
            False,
        ),
    ],
)
def test_complete(status: Obj, expected: bool) -> None:
    assert du.complete(deployment(3), status) is expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"updatedReplicas": 1}, {"updatedReplicas": 2}, True),
        ({"readyReplicas": 1}, {"readyReplicas": 2}, True),
        ({"availableReplicas": 1}, {"availableReplicas": 2}, True),
        ({"replicas": 4, "updatedReplicas": 2}, {"replicas": 3, "updatedReplicas": 2}, True),
        ({"replicas": 3, "updatedReplicas": 2}, {"replicas": 3, "updatedReplicas": 2}, False),
    ],
)
def test_progressing(old: Obj, new: Obj, expected: bool) -> None:
    d = deployment(3)
    d["status"] = old
    assert du.progressing(d, new) is expected


def test_equal_ignore_hash() -> None:
    a = {"metadata": {"labels": {"app": "x", du.HASH_LABEL: "abc"}}, "spec": {"c": 1}}
    b = {"metadata": {"labels": {"app": "x"}}, "spec": {"c": 1}}
    assert du.equal_ignore_hash(a, b)
    assert not du.equal_ignore_hash(a, {**b, "spec": {"c": 2}})


def test_hash_depends_on_the_template_and_collisions() -> None:
    t = {"metadata": {"labels": {"a": "b"}}}
    assert du.compute_hash(t, None) == du.compute_hash(dict(t), None)
    assert du.compute_hash(t, None) != du.compute_hash(t, 1)
    assert set(du.compute_hash(t, None)) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_new_rs_annotations_copy_and_keep_the_revision_history() -> None:
    d = deployment(
        3,
        annotations={
            "kubernetes.io/change-cause": "v2",
            du.LAST_APPLIED: "{}",
            du.REVISION: "7",
        },
    )
    created = rs(0)
    assert du.set_new_rs_annotations(d, created, 4, exists=False)
    annotations = created["metadata"]["annotations"]
    assert annotations == {
        "kubernetes.io/change-cause": "v2",
        du.REVISION: "4",
        du.DESIRED_REPLICAS: "3",
        du.MAX_REPLICAS: "4",
    }
    # Rolled back to: the old revision goes to the history.
    old = rs(0)
    old["metadata"]["annotations"] = {du.REVISION: "2", du.REVISION_HISTORY: "1"}
    assert du.set_new_rs_annotations(d, old, 5, exists=True)
    assert old["metadata"]["annotations"][du.REVISION] == "5"
    assert old["metadata"]["annotations"][du.REVISION_HISTORY] == "1,2"
    assert not du.set_new_rs_annotations(d, old, 5, exists=True)  # nothing more to change


def test_conditions_keep_transition_time_while_status_holds() -> None:
    status: Obj = {}
    du.set_condition(status, du.condition("Progressing", "True", "A", "m", now="t1"))
    du.set_condition(status, du.condition("Progressing", "True", "B", "m", now="t2"))
    [cond] = status["conditions"]
    assert (cond["reason"], cond["lastTransitionTime"], cond["lastUpdateTime"]) == (
        "B",
        "t1",
        "t2",
    )
    du.set_condition(status, du.condition("Progressing", "False", "C", "m", now="t3"))
    assert status["conditions"][0]["lastTransitionTime"] == "t3"
