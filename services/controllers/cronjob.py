"""cronjob-controller: Jobs from CronJobs on their schedules.

kube's ``pkg/controller/cronjob/cronjob_controllerv2.go`` and ``utils.go``; schedules are
robfig/cron's (``kapi.cron``), in ``spec.timeZone`` when set (else the manager's zone).

* A CronJob is synced when it or one of its Jobs changes, and queued again for its next
  activation plus 100 ms (``nextScheduleDelta``), never polled.
* The activation due is the most recent one in (``lastScheduleTime`` or creation,
  now], counted from ``now - startingDeadlineSeconds`` when that is later; more than 100
  missed is a ``TooManyMissedTimes`` warning (the most recent still runs). One older than
  ``startingDeadlineSeconds`` is missed (``MissSchedule``), one already in
  ``status.active`` or equal to ``lastScheduleTime`` is done.
* ``concurrencyPolicy``: ``Forbid`` skips while a Job is active (``JobAlreadyActive``),
  ``Replace`` deletes the active ones first, ``Allow`` runs them side by side.
* The Job is ``NAME-<minutes since the epoch of its activation>`` (a second sync of the
  same activation hits AlreadyExists and adopts it), with the template's labels and
  annotations plus ``batch.kubernetes.io/cronjob-scheduled-timestamp`` (RFC 3339 in the
  CronJob's zone), the CronJob as its controller, and goes into ``status.active`` with
  ``lastScheduleTime``; ``lastSuccessfulTime`` follows the latest completed Job.
* Finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` are
  deleted oldest first (by ``status.startTime``, then name), in the background.
* ``suspend: true`` creates nothing; a CronJob being deleted only has its status kept.
"""

from __future__ import annotations

import datetime
import enum
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from kapi import cron, errors
from kapi.kube.informer import Handler, key_of, split_key
from kapi.kube.resources import CRONJOBS, JOBS
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController

log = logging.getLogger(__name__)

NEXT_SCHEDULE_DELTA = 0.1
TOO_MANY_MISSED = 100
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


class Missed(enum.Enum):
    NONE = "none"
    FEW = "few"
    MANY = "many"


class ScheduleError(ValueError):
    """A schedule that parses but never yields two activations a second apart."""


@dataclass(frozen=True)
class Recent:
    """mostRecentScheduleTime's answer."""

    earliest: datetime.datetime
    most_recent: datetime.datetime | None
    missed: Missed
    error: ScheduleError | None = None


def _created(cj: Obj) -> datetime.datetime:
    return objects.parse_time(objects.meta(cj).get("creationTimestamp")) or objects.now()


def most_recent_schedule_time(
    cj: Obj, now: datetime.datetime, schedule: cron.Schedule, *, include_deadline: bool
) -> Recent:
    """kube's mostRecentScheduleTime: the latest activation in (earliest, now], where
    earliest is lastScheduleTime or the creation time (or now - startingDeadlineSeconds,
    if later and ``include_deadline``), and roughly how many were missed."""
    earliest = objects.parse_time(objects.status(cj).get("lastScheduleTime")) or _created(cj)
    deadline = objects.spec(cj).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        scheduling_deadline = now - datetime.timedelta(seconds=int(deadline))
        if scheduling_deadline > earliest:
            earliest = scheduling_deadline
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return Recent(earliest, None, Missed.NONE)
    if t1 is not None and t2 is not None and now < t2:
        return Recent(earliest, t1, Missed.NONE)
    between = round((t2 - t1).total_seconds()) if t1 is not None and t2 is not None else 0
    if t1 is None or between < 1:
        # e.g. "59 23 31 2 *": robfig answers the zero time for both
        error = ScheduleError("time difference between two schedules is less than 1 second")
        return Recent(earliest, None, Missed.NONE, error)
    elapsed = int((now - t1).total_seconds())
    missed_count = elapsed // between + 1
    # From a little before the estimate, let the schedule find the exact latest one
    # (irregular schedules such as "30 6-16/4 * * 1-5" and @every alike).
    most_recent: datetime.datetime | None = None
    t: datetime.datetime | None = t1 + datetime.timedelta(seconds=(missed_count - 2) * between)
    t = schedule.next(t) if t is not None else None
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    missed = Missed.MANY if missed_count > TOO_MANY_MISSED else Missed.FEW
    return Recent(earliest, most_recent, missed)


def next_schedule_delay(cj: Obj, now: datetime.datetime, schedule: cron.Schedule) -> float:
    """kube's nextScheduleTimeDuration: seconds until the next activation, plus 100 ms."""
    recent = most_recent_schedule_time(cj, now, schedule, include_deadline=False)
    base: datetime.datetime
    if recent.error is not None:
        base = now
    elif recent.most_recent is None:
        base = recent.earliest if recent.missed is Missed.NONE else now
    else:
        base = recent.most_recent
    following = schedule.next(base)
    if following is None:
        following = now + datetime.timedelta(days=365)
    return (following - now).total_seconds() + NEXT_SCHEDULE_DELTA


def format_schedule(cj: Obj) -> tuple[str, bool]:
    """kube's formatSchedule: the schedule with ``TZ=`` for ``spec.timeZone``, and
    whether the schedule names a zone itself (not officially supported)."""
    spec = objects.spec(cj)
    schedule = str(spec.get("schedule") or "")
    if "TZ" in schedule:
        return schedule, True
    zone = spec.get("timeZone")
    if zone is not None and cron.time_zone_exists(str(zone)):
        return f"TZ={zone} {schedule}", False
    return schedule, False


def job_name(cj: Obj, scheduled: datetime.datetime) -> str:
    """``NAME-<minutes since the epoch>`` (getJobName, getTimeHashInMinutes)."""
    return f"{objects.name(cj)}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime.datetime) -> Obj:
    """getJobFromTemplate2: the template's labels, annotations and spec."""
    template = objects.spec(cj).get("jobTemplate") or {}
    meta = template.get("metadata") or {}
    zone = objects.spec(cj).get("timeZone")
    tz: datetime.tzinfo = cron.local_zone()
    if zone and cron.time_zone_exists(str(zone)):
        tz = zoneinfo.ZoneInfo(str(zone))
    annotations = dict(meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = _rfc3339_in(scheduled.astimezone(tz))
    body: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cj, scheduled),
            "namespace": objects.namespace(cj),
            "labels": dict(meta.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [objects.new_controller_ref(cj)],
        },
        "spec": _copy(template.get("spec") or {}),
    }
    if not body["metadata"]["labels"]:
        del body["metadata"]["labels"]
    return body


def _rfc3339_in(when: datetime.datetime) -> str:
    """Go's time.RFC3339 of a zoned time: ``2026-01-02T09:00:00+09:00``, or ``Z``."""
    if when.utcoffset() == datetime.timedelta(0):
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.isoformat(timespec="seconds")


def _rfc1123z(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def finished_status(job: Obj) -> str:
    """``Complete`` or ``Failed`` when the Job has that condition True, else ``""``."""
    for cond in objects.status(job).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return ""


def job_reference(job: Obj) -> Obj:
    """An ObjectReference to ``job`` (client-go's GetReference)."""
    return {
        "kind": "Job",
        "namespace": objects.namespace(job),
        "name": objects.name(job),
        "uid": objects.uid(job),
        "apiVersion": "batch/v1",
        "resourceVersion": str(objects.meta(job).get("resourceVersion") or ""),
    }


def _start_order(job: Obj) -> tuple[int, str, str]:
    """byJobStartTime: Jobs with a startTime first, oldest first, then by name."""
    start = objects.status(job).get("startTime")
    return (0 if start else 1, str(start or ""), objects.name(job))


class CronJobController(QueueController):
    name: ClassVar[str] = "cronjob-controller"
    service_account: ClassVar[str] = "cronjob-controller"
    aliases: ClassVar[tuple[str, ...]] = ("cronjob",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.now: Callable[[], datetime.datetime] = objects.now
        self.recorder = ctx.recorder(self.name, self.client)
        self.cronjobs = self.watch(
            ctx.informers.informer(CRONJOBS),
            Handler(on_add=self.enqueue, on_update=self._cronjob_updated, on_delete=self.enqueue),
        )
        self.jobs = self.watch(
            ctx.informers.informer(JOBS),
            Handler(on_add=self._job, on_update=lambda _o, n: self._job(n), on_delete=self._job),
        )

    # --- event handlers ------------------------------------------------------------

    def _owner(self, job: Obj) -> Obj | None:
        ref = objects.controller_ref(job)
        if ref is None or ref.get("kind") != "CronJob":
            return None
        cj = self.cronjobs.get(objects.namespace(job), str(ref.get("name")))
        if cj is None or objects.uid(cj) != ref.get("uid"):
            return None
        return cj

    def _job(self, job: Obj) -> None:
        owner = self._owner(job)
        if owner is not None:
            self.enqueue(owner)

    def _cronjob_updated(self, old: Obj, new: Obj) -> None:
        """A new schedule or zone: queue for its next activation; else sync now."""
        old_spec, new_spec = objects.spec(old), objects.spec(new)
        if old_spec.get("schedule") == new_spec.get("schedule") and old_spec.get(
            "timeZone"
        ) == new_spec.get("timeZone"):
            self.enqueue(new)
            return
        text, _ = format_schedule(new)
        try:
            schedule = cron.parse_standard(text)
        except cron.CronError:
            self.recorder.warning(
                new,
                "UnParseableCronJobSchedule",
                f"unparseable schedule for cronjob: {new_spec.get('schedule')}",
            )
            return
        self.queue.add_after(key_of(new), next_schedule_delay(new, self.now(), schedule))

    # --- sync ------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.cronjobs.store.get(key)
        if cached is None:
            return
        namespace, name = split_key(key)
        jobs = [
            j
            for j in self.jobs.store.list(namespace)
            if (objects.controller_ref(j) or {}).get("name") == name
        ]
        cj = _copy(cached)
        cleaned = await self.cleanup_finished_jobs(cj, jobs)
        requeue, changed, sync_error = await self.sync_cronjob(cj, jobs)
        if cleaned or changed:
            try:
                await self.client.update(CRONJOBS, cj, subresource="status")
            except errors.StatusError as err:
                if err.code == 404:
                    return
                raise
        if requeue is not None:
            self.queue.add_after(key, requeue)
            return
        if sync_error is not None:
            raise sync_error

    async def sync_cronjob(
        self, cj: Obj, jobs: list[Obj]
    ) -> tuple[float | None, bool, Exception | None]:
        """syncCronJob on ``cj`` (a copy, its status edited in place): when to sync again
        (seconds), whether the status changed, and an error to retry with backoff."""
        now = self.now()
        update = False
        status = cj.setdefault("status", {})
        children = {objects.uid(j) for j in jobs}
        for job in jobs:
            active = self._in_active(cj, objects.uid(job))
            finished = finished_status(job)
            if not active and not finished:
                try:
                    live = await self.client.get(CRONJOBS, objects.namespace(cj), objects.name(cj))
                except errors.StatusError as err:
                    return None, update, err
                if self._in_active(live, objects.uid(job)):
                    cj.clear()
                    cj.update(live)
                    status = cj.setdefault("status", {})
                    continue
                self.recorder.warning(
                    cj,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {objects.name(job)}",
                )
            elif active and finished:
                self._remove_active(cj, objects.uid(job))
                self.recorder.normal(
                    cj,
                    "SawCompletedJob",
                    f"Saw completed job: {objects.name(job)}, status: {finished}",
                )
                update = True
            elif finished == "Complete":
                completed = objects.parse_time(objects.status(job).get("completionTime"))
                last = objects.parse_time(status.get("lastSuccessfulTime"))
                if completed is not None and (last is None or completed > last):
                    status["lastSuccessfulTime"] = objects.rfc3339(completed)
                    update = True
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, str(ref.get("namespace")), str(ref.get("name")))
            except errors.StatusError as err:
                if err.code != 404:
                    return None, update, err
                self.recorder.normal(
                    cj, "MissingJob", f"Active job went missing: {ref.get('name')}"
                )
                self._remove_active(cj, str(ref.get("uid")))
                update = True
        if objects.deleting(cj):
            return None, update, None
        spec = objects.spec(cj)
        zone = spec.get("timeZone")
        if zone is not None and not cron.time_zone_exists(str(zone)):
            self.recorder.warning(
                cj, "UnknownTimeZone", f'invalid timeZone: "{zone}": unknown time zone {zone}'
            )
            return None, update, None
        if spec.get("suspend"):
            return None, update, None
        text, zoned_schedule = format_schedule(cj)
        if zoned_schedule:
            self.recorder.warning(
                cj,
                "UnsupportedSchedule",
                f'CRON_TZ or TZ used in schedule "{spec.get("schedule")}" is not officially '
                "supported, see https://kubernetes.io/docs/concepts/workloads/controllers/"
                "cron-jobs/ for more details",
            )
        try:
            schedule = cron.parse_standard(text)
        except cron.CronError as exc:
            self.recorder.warning(
                cj, "UnparseableSchedule", f'unparseable schedule: "{spec.get("schedule")}" : {exc}'
            )
            return None, update, None
        recent = most_recent_schedule_time(cj, now, schedule, include_deadline=True)
        if recent.error is not None:
            self.recorder.warning(
                cj, "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {recent.error}"
            )
            return None, update, None
        scheduled = recent.most_recent
        if scheduled is None or scheduled > now:
            return next_schedule_delay(cj, now, schedule), update, None
        if recent.missed is Missed.MANY:
            self.recorder.warning(
                cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + datetime.timedelta(seconds=int(deadline)) < now:
            self.recorder.warning(
                cj, "MissSchedule", f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}"
            )
            return next_schedule_delay(cj, now, schedule), update, None
        name = job_name(cj, scheduled)
        last = objects.parse_time(status.get("lastScheduleTime"))
        if any(r.get("name") == name for r in status.get("active") or []) or last == scheduled:
            return next_schedule_delay(cj, now, schedule), update, None
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.normal(
                cj,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
            return next_schedule_delay(cj, now, schedule), update, None
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                try:
                    job = await self.client.get(
                        JOBS, str(ref.get("namespace")), str(ref.get("name"))
                    )
                except errors.StatusError as err:
                    self.recorder.warning(cj, "FailedGet", f"Get job: {err.message}")
                    return None, update, err
                if not await self._delete_job(cj, job):
                    message = f"could not replace job {ref.get('namespace')}/{ref.get('name')}"
                    return None, update, RuntimeError(message)
                update = True
        request = job_from_template(cj, scheduled)
        try:
            created = await self.client.create(JOBS, objects.namespace(cj), request)
        except errors.StatusError as err:
            if err.code == 403 and "being terminated" in err.message:
                return None, update, err
            if err.code != 409 or err.reason != "AlreadyExists":
                self.recorder.warning(cj, "FailedCreate", f"Error creating job: {err.message}")
                return None, update, err
            try:
                created = await self.client.get(JOBS, objects.namespace(cj), name)
            except errors.StatusError as get_err:
                return None, update, get_err
            ref = objects.controller_ref(created) or {}
            if ref.get("uid") != objects.uid(cj) or self._in_active(cj, objects.uid(created)):
                return None, update, None
            log.info("cronjob %s: job %s already exists", key_of(cj), name)
        else:
            self.recorder.normal(cj, "SuccessfulCreate", f"Created job {objects.name(created)}")
        status.setdefault("active", []).append(job_reference(created))
        status["lastScheduleTime"] = objects.rfc3339(scheduled)
        return next_schedule_delay(cj, now, schedule), True, None

    async def cleanup_finished_jobs(self, cj: Obj, jobs: list[Obj]) -> bool:
        """Finished Jobs past the history limits go, oldest first."""
        spec = objects.spec(cj)
        changed = False
        for kind, limit_key in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = spec.get(limit_key)
            if limit is None:
                continue
            finished = sorted((j for j in jobs if finished_status(j) == kind), key=_start_order)
            for job in finished[: max(0, len(finished) - int(limit))]:
                if await self._delete_job(cj, job):
                    changed = True
        return changed

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        try:
            await self.client.delete(
                JOBS, objects.namespace(job), objects.name(job), propagation="Background"
            )
        except errors.StatusError as err:
            self.recorder.warning(cj, "FailedDelete", f"Deleted job: {err.message}")
            return False
        self._remove_active(cj, objects.uid(job))
        self.recorder.normal(cj, "SuccessfulDelete", f"Deleted job {objects.name(job)}")
        return True

    @staticmethod
    def _in_active(cj: Obj, uid: str) -> bool:
        return any(r.get("uid") == uid for r in objects.status(cj).get("active") or [])

    @staticmethod
    def _remove_active(cj: Obj, uid: str) -> None:
        status = cj.setdefault("status", {})
        kept = [r for r in status.get("active") or [] if r.get("uid") != uid]
        if kept:
            status["active"] = kept
        else:
            status.pop("active", None)
