"""The cronjob controller with a fake clock and a fake client, case by case from kube's
``cronjob_controllerv2_test.go`` (TestControllerV2SyncCronJob, TestControllerV2
CleanupFinishedJobs, TestControllerV2UpdateCronJob) and ``utils_test.go``
(TestMostRecentScheduleTime, TestNextScheduleTimeDuration, TestGetJobFromTemplate2)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kapi import cron
from kapi.kube.resources import CRONJOBS, JOBS
from services.controllers import cronjob as cj_module
from services.controllers.cronjob import CronJobController, Missed
from tests.unit.controllers.fakes import FakeClient, FakeRecorder, context

Obj = dict[str, Any]
UTC = datetime.UTC
TOP = datetime.datetime(2016, 5, 19, 10, 0, tzinfo=UTC)  # kube's topOfTheHour


def minutes(n: float) -> datetime.datetime:
    return TOP + datetime.timedelta(minutes=n)


def ts(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


HALF_PAST_NINE = TOP - datetime.timedelta(minutes=30)


def cronjob(*, created: datetime.datetime = HALF_PAST_NINE, **spec: Any) -> Obj:
    status = spec.pop("status", {})
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": "mycronjob",
            "namespace": "snazzycats",
            "uid": "cj-uid",
            "resourceVersion": "10",
            "creationTimestamp": ts(created),
        },
        "spec": {
            "schedule": "0 * * * ?",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
            },
            **spec,
        },
        "status": status,
    }


def job(name: str, *, finished: str = "", start: datetime.datetime | None = None) -> Obj:
    status: Obj = {}
    if start is not None:
        status["startTime"] = ts(start)
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
        if finished == "Complete":
            status["completionTime"] = ts(start or TOP)
    return {
        "metadata": {
            "name": name,
            "namespace": "snazzycats",
            "uid": f"{name}-uid",
            "ownerReferences": [
                {"kind": "CronJob", "name": "mycronjob", "uid": "cj-uid", "controller": True}
            ],
        },
        "status": status,
    }


def active(*names: str) -> list[Obj]:
    return [{"kind": "Job", "namespace": "snazzycats", "name": n, "uid": f"{n}-uid"} for n in names]


def controller(now: datetime.datetime) -> tuple[CronJobController, FakeClient, FakeRecorder]:
    client = FakeClient()
    ctx, recorder = context(client, "cronjob-controller")
    ctl = CronJobController(ctx)
    ctl.now = lambda: now
    return ctl, client, recorder


def name_at(when: datetime.datetime) -> str:
    return f"mycronjob-{int(when.timestamp()) // 60}"


async def sync(
    now: datetime.datetime,
    cj: Obj,
    jobs: list[Obj] = (),  # type: ignore[assignment]
) -> tuple[float | None, bool, Exception | None, Obj, FakeClient, list[str]]:
    ctl, client, recorder = controller(now)
    client.put(CRONJOBS, cj)
    for j in jobs:
        client.put(JOBS, j)
    requeue, changed, error = await ctl.sync_cronjob(cj, list(jobs))
    return requeue, changed, error, cj, client, recorder.events


async def test_not_yet_time_requeues_for_the_activation() -> None:
    requeue, changed, error, _, client, events = await sync(minutes(-1), cronjob())
    assert (changed, error, events) == (False, None, [])
    assert requeue == pytest.approx(60.1)
    assert not [a for a in client.actions if a[0] == "create"]


async def test_on_time_creates_the_job_named_after_the_minute() -> None:
    requeue, changed, error, cj, client, events = await sync(minutes(1), cronjob())
    assert error is None and changed
    assert ("create", "jobs", name_at(TOP)) in client.actions
    created = client.objects[("jobs", "snazzycats", name_at(TOP))]
    assert created["metadata"]["labels"] == {"a": "b"}
    assert created["metadata"]["annotations"] == {
        "x": "y",
        "batch.kubernetes.io/cronjob-scheduled-timestamp": "2016-05-19T10:00:00Z",
    }
    assert created["metadata"]["ownerReferences"][0]["uid"] == "cj-uid"
    assert [r["name"] for r in cj["status"]["active"]] == [name_at(TOP)]
    assert cj["status"]["active"][0]["apiVersion"] == "batch/v1"
    assert cj["status"]["lastScheduleTime"] == ts(TOP)
    assert events == [f"Normal SuccessfulCreate Created job {name_at(TOP)}"]
    assert requeue == pytest.approx(59 * 60 + 0.1)


async def test_suspended_creates_nothing_and_is_not_requeued() -> None:
    requeue, changed, error, _, client, events = await sync(minutes(1), cronjob(suspend=True))
    assert (requeue, changed, error, events) == (None, False, None, [])
    assert not [a for a in client.actions if a[0] == "create"]


@pytest.mark.parametrize(("deadline", "creates"), [(30, False), (120, True), (None, True)])
async def test_starting_deadline(deadline: int | None, creates: bool) -> None:
    spec = {} if deadline is None else {"startingDeadlineSeconds": deadline}
    requeue, _, error, _, client, _ = await sync(minutes(1), cronjob(**spec))
    assert error is None
    assert (("create", "jobs", name_at(TOP)) in client.actions) is creates
    assert requeue == pytest.approx(59 * 60 + 0.1)


async def test_already_scheduled_this_activation() -> None:
    cj = cronjob(status={"lastScheduleTime": ts(TOP)})
    requeue, changed, _, _, client, events = await sync(minutes(1), cj)
    assert not [a for a in client.actions if a[0] == "create"]
    assert (changed, events) == (False, [])
    assert requeue == pytest.approx(59 * 60 + 0.1)


@pytest.mark.parametrize(
    ("policy", "expected_active", "expected_events", "deleted"),
    [
        (
            "Allow",
            ["old", name_at(TOP)],
            [f"Normal SuccessfulCreate Created job {name_at(TOP)}"],
            [],
        ),
        (
            "Forbid",
            ["old"],
            [
                "Normal JobAlreadyActive Not starting job because prior execution is running "
                "and concurrency policy is Forbid"
            ],
            [],
        ),
        (
            "Replace",
            [name_at(TOP)],
            [
                "Normal SuccessfulDelete Deleted job old",
                f"Normal SuccessfulCreate Created job {name_at(TOP)}",
            ],
            [("jobs", "snazzycats", "old", "Background")],
        ),
    ],
)
async def test_concurrency_policy_with_a_job_still_running(
    policy: str, expected_active: list[str], expected_events: list[str], deleted: list[Any]
) -> None:
    cj = cronjob(
        concurrencyPolicy=policy,
        status={"active": active("old"), "lastScheduleTime": ts(minutes(-60))},
    )
    _, _, error, cj, client, events = await sync(minutes(1), cj, [job("old", start=minutes(-60))])
    assert error is None
    assert [r["name"] for r in cj["status"].get("active", [])] == expected_active
    assert events == expected_events
    assert client.deletes == deleted


async def test_a_finished_active_job_leaves_the_list_and_sets_last_successful_time() -> None:
    cj = cronjob(status={"active": active("old"), "lastScheduleTime": ts(minutes(-60))})
    done = job("old", finished="Complete", start=minutes(-59))
    _, changed, _, cj, _, events = await sync(minutes(-1), cj, [done])
    assert changed
    assert "active" not in cj["status"]
    assert events == ["Normal SawCompletedJob Saw completed job: old, status: Complete"]
    # the next sync (the job no longer active) records its completion time
    _, changed, _, cj, _, _ = await sync(minutes(-1), cj, [done])
    assert changed and cj["status"]["lastSuccessfulTime"] == ts(minutes(-59))


async def test_an_active_job_that_went_missing() -> None:
    cj = cronjob(status={"active": active("gone"), "lastScheduleTime": ts(minutes(-60))})
    _, changed, _, cj, _, events = await sync(minutes(-1), cj)
    assert changed and "active" not in cj["status"]
    assert events == ["Normal MissingJob Active job went missing: gone"]


async def test_an_unexpected_job_is_reported_not_adopted() -> None:
    cj = cronjob(status={"lastScheduleTime": ts(minutes(-60))})
    _, _, _, cj, _, events = await sync(minutes(-1), cj, [job("manual")])
    assert events == [
        "Warning UnexpectedJob Saw a job that the controller did not create or forgot: manual"
    ]
    assert "active" not in cj["status"]


async def test_a_job_that_already_exists_is_added_to_active_without_an_event() -> None:
    ctl, client, recorder = controller(minutes(1))
    cj = cronjob()
    client.put(CRONJOBS, cj)
    existing = {**job(name_at(TOP)), "metadata": {**job(name_at(TOP))["metadata"]}}
    client.put(JOBS, existing)
    _, changed, error = await ctl.sync_cronjob(cj, [])
    assert changed and error is None
    assert [r["name"] for r in cj["status"]["active"]] == [name_at(TOP)]
    assert recorder.events == []


async def test_too_many_missed_still_runs_the_latest() -> None:
    cj = cronjob(created=TOP - datetime.timedelta(days=14))
    _, _, _, cj, client, events = await sync(minutes(1), cj)
    assert events[0] == (
        "Warning TooManyMissedTimes too many missed start times. Set or decrease "
        ".spec.startingDeadlineSeconds or check clock skew"
    )
    assert ("create", "jobs", name_at(TOP)) in client.actions


async def test_an_impossible_schedule_is_an_invalid_schedule_event() -> None:
    cj = cronjob(schedule="59 23 31 2 *", created=datetime.datetime(2016, 1, 1, tzinfo=UTC))
    requeue, _, error, _, _, events = await sync(minutes(1), cj)
    assert (requeue, error) == (None, None)
    assert events == [
        "Warning InvalidSchedule invalid schedule: 59 23 31 2 * : time difference between "
        "two schedules is less than 1 second"
    ]


async def test_time_zone() -> None:
    """09:00 in Tokyo is 00:00 UTC; the annotation is in the CronJob's zone."""
    now = datetime.datetime(2016, 5, 19, 0, 1, tzinfo=UTC)
    cj = cronjob(
        schedule="0 9 * * *", timeZone="Asia/Tokyo", created=now - datetime.timedelta(hours=2)
    )
    _, _, _, cj, client, _ = await sync(now, cj)
    scheduled = datetime.datetime(2016, 5, 19, 0, 0, tzinfo=UTC)
    created = client.objects[("jobs", "snazzycats", name_at(scheduled))]
    assert (
        created["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        == "2016-05-19T09:00:00+09:00"
    )
    assert cj["status"]["lastScheduleTime"] == "2016-05-19T00:00:00Z"


async def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    ctl, client, recorder = controller(minutes(-1))
    cj = cronjob(successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
    jobs = [
        job("ok-1", finished="Complete", start=minutes(-240)),
        job("ok-2", finished="Complete", start=minutes(-180)),
        job("ok-3", finished="Complete", start=minutes(-120)),
        job("bad-1", finished="Failed", start=minutes(-230)),
        job("bad-2", finished="Failed", start=minutes(-130)),
        job("running", start=minutes(-60)),
    ]
    for j in jobs:
        client.put(JOBS, j)
    assert await ctl.cleanup_finished_jobs(cj, jobs)
    assert [d[2] for d in client.deletes] == ["ok-1", "bad-1"]
    assert all(d[3] == "Background" for d in client.deletes)
    assert recorder.events == [
        "Normal SuccessfulDelete Deleted job ok-1",
        "Normal SuccessfulDelete Deleted job bad-1",
    ]


async def test_a_new_schedule_requeues_for_its_next_activation() -> None:
    ctl, _, recorder = controller(minutes(1))
    old = cronjob()
    new = cronjob(schedule="30 * * * *")
    ctl._cronjob_updated(old, new)
    assert len(ctl.queue) == 0 and "snazzycats/mycronjob" in ctl.queue._waiting
    bad = cronjob(schedule="not a schedule")
    ctl._cronjob_updated(old, bad)
    assert recorder.events == [
        "Warning UnParseableCronJobSchedule unparseable schedule for cronjob: not a schedule"
    ]


# --- utils ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "earliest", "now", "expected", "missed"),
    [
        ("0 * * * *", minutes(-30), minutes(-1), None, Missed.NONE),
        ("0 * * * *", minutes(-30), minutes(1), TOP, Missed.NONE),
        ("0 * * * *", minutes(-90), minutes(1), TOP, Missed.FEW),
        ("0 * * * *", TOP - datetime.timedelta(days=5), minutes(1), TOP, Missed.MANY),
        # an irregular schedule: every 4 hours from 6:30 to 14:30 on weekdays
        (
            "30 6-16/4 * * 1-5",
            TOP - datetime.timedelta(days=3),
            minutes(1),
            minutes(-210),
            Missed.FEW,
        ),
        ("@every 1h", minutes(-150), minutes(1), minutes(-30), Missed.FEW),
    ],
)
def test_most_recent_schedule_time(
    schedule: str,
    earliest: datetime.datetime,
    now: datetime.datetime,
    expected: datetime.datetime | None,
    missed: Missed,
) -> None:
    cj = cronjob(created=earliest)
    got = cj_module.most_recent_schedule_time(
        cj, now, cron.parse_standard(schedule), include_deadline=True
    )
    assert (got.most_recent, got.missed, got.error) == (expected, missed, None)


def test_job_name_is_minutes_since_the_epoch() -> None:
    assert cj_module.job_name(cronjob(), TOP) == "mycronjob-24394200"
