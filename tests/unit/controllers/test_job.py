"""The job controller, case by case from kube's ``job_controller_test.go``
(TestControllerSyncJob: parallelism/completions arithmetic, work queues, Indexed jobs,
backoffLimit, activeDeadlineSeconds, suspend; the pod failure backoff): one sync against
informer stores, what it asks the fake client and the status it writes."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kapi.kube.resources import JOBS
from services.controllers import job as job_module
from services.controllers import objects
from services.controllers.job import JobController
from tests.unit.controllers.fakes import FakeClient, FakeRecorder, context

Obj = dict[str, Any]
NS = "default"


def ago(seconds: float) -> str:
    return objects.rfc3339(objects.now() - datetime.timedelta(seconds=seconds))


def job(**spec: Any) -> Obj:
    status = spec.pop("status", {"startTime": ago(5)})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": NS, "uid": "job-uid"},
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
            "template": {
                "metadata": {"labels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "pi"}]},
            },
            **spec,
        },
        "status": status,
    }


def pod(name: str, phase: str, *, created: float = 60, index: int | None = None) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": NS,
        "uid": f"{name}-uid",
        "creationTimestamp": ago(created),
        "labels": {"batch.kubernetes.io/controller-uid": "job-uid"},
        "ownerReferences": [{"kind": "Job", "name": "pi", "uid": "job-uid", "controller": True}],
    }
    if index is not None:
        meta["annotations"] = {job_module.INDEX_ANNOTATION: str(index)}
    return {"metadata": meta, "status": {"phase": phase}}


async def sync(the_job: Obj, pods: list[Obj]) -> tuple[FakeClient, FakeRecorder, JobController]:
    client = FakeClient()
    ctx, recorder = context(client, "job-controller")
    ctl = JobController(ctx)
    ctl.jobs.store.put(the_job)
    client.put(JOBS, the_job)
    for p in pods:
        ctl.pods.store.put(p)
        client.put(ctl.pods.resource, p)
    await ctl.sync("default/pi")
    return client, recorder, ctl


def written(client: FakeClient) -> Obj:
    return client.objects[("jobs", NS, "pi")]["status"]


def conditions(status: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in status.get("conditions") or []}


@pytest.mark.parametrize(
    ("parallelism", "completions", "pods", "creates", "active"),
    [
        (2, 5, [], 2, 2),  # start with parallelism
        (2, 5, ["Running"], 1, 2),  # top up to parallelism
        (2, 5, ["Succeeded"] * 4, 1, 1),  # never more than the completions left
        (3, 5, ["Succeeded"] * 2 + ["Running"] * 3, 0, 3),
        (0, 5, [], 0, 0),  # parallelism 0: nothing runs
        (2, None, [], 2, 2),  # a work queue: parallelism pods
        (2, None, ["Succeeded", "Running"], 0, 1),  # one succeeded: no new ones
    ],
)
async def test_active_pods_follow_parallelism_and_completions(
    parallelism: int, completions: int | None, pods: list[str], creates: int, active: int
) -> None:
    spec: Obj = {"parallelism": parallelism}
    if completions is not None:
        spec["completions"] = completions
    the_pods = [pod(f"pi-{i}", phase) for i, phase in enumerate(pods)]
    client, _, _ = await sync(job(**spec), the_pods)
    assert len(client.created()) == creates
    assert written(client).get("active", 0) == active


async def test_enough_successes_complete_the_job() -> None:
    client, recorder, _ = await sync(
        job(completions=2, parallelism=2), [pod("a", "Succeeded"), pod("b", "Succeeded")]
    )
    status = written(client)
    found = conditions(status)
    assert found["SuccessCriteriaMet"]["status"] == found["Complete"]["status"] == "True"
    assert found["Complete"]["reason"] == "CompletionsReached"
    assert found["Complete"]["message"] == "Reached expected number of succeeded pods"
    assert status["succeeded"] == 2 and status["completionTime"]
    assert recorder.events == ["Normal Completed Job completed"]


async def test_a_work_queue_completes_when_one_succeeded_and_none_run() -> None:
    client, _, _ = await sync(job(parallelism=2), [pod("a", "Succeeded"), pod("b", "Failed")])
    assert conditions(written(client))["Complete"]["status"] == "True"


@pytest.mark.parametrize(("limit", "failed", "fails"), [(0, 1, True), (2, 2, False), (2, 3, True)])
async def test_backoff_limit(limit: int, failed: int, fails: bool) -> None:
    pods = [pod(f"f{i}", "Failed", created=3600) for i in range(failed)] + [pod("r", "Running")]
    client, recorder, _ = await sync(job(backoffLimit=limit, completions=1), pods)
    found = conditions(written(client))
    assert ("Failed" in found) is fails
    if fails:
        assert (
            found["Failed"]["reason"] == found["FailureTarget"]["reason"] == "BackoffLimitExceeded"
        )
        assert found["Failed"]["message"] == "Job has reached the specified backoff limit"
        assert client.deleted() == ["r"]  # the active pods go
        assert recorder.events == [
            "Warning BackoffLimitExceeded Job has reached the specified backoff limit"
        ]


def finished(name: str, phase: str, seconds_ago: float) -> Obj:
    """A pod whose container finished ``seconds_ago``."""
    p = pod(name, phase, created=seconds_ago + 30)
    p["status"]["containerStatuses"] = [
        {"name": "c", "state": {"terminated": {"finishedAt": ago(seconds_ago)}}}
    ]
    return p


@pytest.mark.parametrize(
    ("finished_pods", "creates"),
    [
        ([("f", "Failed", 2)], 0),  # 1 failure: 10 s from when it finished
        ([("f", "Failed", 12)], 1),
        ([("f1", "Failed", 40), ("f2", "Failed", 15)], 0),  # 2 failures: 20 s
        ([("f1", "Failed", 40), ("f2", "Failed", 25)], 1),
        # a success resets the count: one failure since, 10 s
        (
            [
                ("f1", "Failed", 90),
                ("f2", "Failed", 80),
                ("s", "Succeeded", 70),
                ("f3", "Failed", 12),
            ],
            1,
        ),
    ],
)
async def test_a_failed_pod_is_replaced_after_the_backoff(
    finished_pods: list[tuple[str, str, float]], creates: int
) -> None:
    """kube's backoffRecord: 10 s doubling per failure since the last success, counted
    from the last failure's finish time."""
    the_pods = [finished(name, phase, seconds) for name, phase, seconds in finished_pods]
    client, _, ctl = await sync(job(backoffLimit=6, completions=5), the_pods)
    assert len(client.created()) == creates
    if not creates:
        assert "default/pi" in ctl.queue._waiting


def test_backoff_doubles_up_to_ten_minutes() -> None:
    delays = [job_module.backoff_delay(n) for n in range(0, 9)]
    assert delays == [0, 10, 20, 40, 80, 160, 320, 600, 600]


async def test_active_deadline_fails_the_job() -> None:
    the_job = job(activeDeadlineSeconds=10, status={"startTime": ago(30)})
    client, _, _ = await sync(the_job, [pod("r", "Running")])
    found = conditions(written(client))
    assert found["Failed"]["reason"] == "DeadlineExceeded"
    assert found["Failed"]["message"] == "Job was active longer than specified deadline"
    assert client.deleted() == ["r"]


async def test_suspend_deletes_the_active_pods_and_resume_says_so() -> None:
    client, _, _ = await sync(job(suspend=True), [pod("r", "Running")])
    found = conditions(written(client))
    assert found["Suspended"]["status"] == "True" and found["Suspended"]["reason"] == "JobSuspended"
    assert client.deleted() == ["r"]
    resumed = job(status={"startTime": ago(5), "conditions": [found["Suspended"]]})
    client, _, _ = await sync(resumed, [])
    again = conditions(written(client))["Suspended"]
    assert (again["status"], again["reason"]) == ("False", "JobResumed")
    assert len(client.created()) == 1


async def test_indexed_job_fills_the_free_indexes() -> None:
    pods = [pod("pi-0-x", "Succeeded", index=0), pod("pi-2-x", "Running", index=2)]
    client, _, _ = await sync(job(completionMode="Indexed", completions=4, parallelism=3), pods)
    made = [client.objects[("pods", NS, n)] for n in client.created()]
    assert sorted(p["metadata"]["annotations"][job_module.INDEX_ANNOTATION] for p in made) == [
        "1",
        "3",
    ]
    assert all(
        p["spec"]["hostname"] == f"pi-{p['metadata']['labels'][job_module.INDEX_ANNOTATION]}"
        for p in made
    )
    assert written(client)["completedIndexes"] == "0"


@pytest.mark.parametrize(
    ("indexes", "text"),
    [([], ""), ([0], "0"), ([0, 1, 2], "0-2"), ([1, 3, 4, 5, 7], "1,3-5,7"), ([5, 1, 1], "1,5")],
)
def test_completed_indexes_are_compressed_as_kube_writes_them(
    indexes: list[int], text: str
) -> None:
    assert job_module._compress(indexes) == text
