"""job-controller: pods run until ``completions`` succeed, or the Job fails.

kube's ``pkg/controller/job/job_controller.go``, its counting without the tracking
finalizers:

* Active pods (not terminated, not being deleted) are kept at
  ``min(parallelism, completions - succeeded)``; without ``completions`` (a work queue)
  at ``parallelism`` until one succeeds, then none are added and those running are left
  to finish. ``status.active`` counts the pods just created. Pods are named
  ``JOB-xxxxx`` (``JOB-INDEX-xxxxx`` with ``completionMode: Indexed``, whose pods carry
  the ``batch.kubernetes.io/job-completion-index`` annotation and label and the index as
  their hostname); a pod that failed is replaced after kube's pod failure backoff: 10 s
  doubling per failure since the last success (at most 10 minutes), from the last
  failure's finish time.
* Succeeded and failed pods are counted into ``status.succeeded`` / ``status.failed``
  (``completedIndexes`` for Indexed Jobs); ``ready`` counts ready active pods.
* Success: ``SuccessCriteriaMet`` then ``Complete`` (reason ``CompletionsReached``,
  "Reached expected number of succeeded pods"), ``completionTime``, event ``Completed``.
* Failure: more failed pods than ``backoffLimit`` (``BackoffLimitExceeded``, "Job has
  reached the specified backoff limit") or running past ``activeDeadlineSeconds``
  (``DeadlineExceeded``, "Job was active longer than specified deadline"):
  ``FailureTarget`` then ``Failed``, the active pods deleted, a Warning event.
* ``suspend: true`` deletes the active pods (condition ``Suspended``, reason
  ``JobSuspended``); resuming sets it False (``JobResumed``).
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler, key_of
from kapi.kube.resources import JOBS, PODS
from services.controllers import objects, pods, selectors
from services.controllers.expectations import Expectations
from services.controllers.framework import Context, Obj, QueueController

log = logging.getLogger(__name__)

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
BACKOFF_BASE = 10.0  # DefaultJobPodFailureBackOff
BACKOFF_MAX = 600.0  # MaxJobPodFailureBackOff (the docs say six minutes; the code ten)


def finished_at(pod: Obj) -> float:
    """getFinishedTime: the latest container finishedAt, else the deletion or creation
    time."""
    times = [
        t.timestamp()
        for c in objects.status(pod).get("containerStatuses") or []
        if (
            t := objects.parse_time(
                ((c.get("state") or {}).get("terminated") or {}).get("finishedAt")
            )
        )
    ]
    if times:
        return max(times)
    meta = objects.meta(pod)
    for field in ("deletionTimestamp", "creationTimestamp"):
        if (t := objects.parse_time(meta.get(field))) is not None:
            return t.timestamp()
    return 0.0


def backoff_delay(failures: int) -> float:
    """10 s doubling per failure since the last success, at most 10 minutes."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** (failures - 1))


def backoff_remaining(finished: list[Obj], now: float) -> float:
    """kube's backoffRecord: seconds until a failed pod may be replaced, counting the
    failures since the last success, from the last failure."""
    ordered = sorted(finished, key=finished_at)
    failures = 0
    last_failure = 0.0
    for pod in ordered:
        if objects.status(pod).get("phase") == "Succeeded":
            failures = 0
        else:
            failures += 1
            last_failure = finished_at(pod)
    if failures == 0:
        return 0.0
    return max(0.0, last_failure + backoff_delay(failures) - now)


def _condition(type_: str, reason: str, message: str) -> Obj:
    now = objects.rfc3339()
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def finished(job: Obj) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in objects.status(job).get("conditions") or []
    )


def _compress(indexes: list[int]) -> str:
    """completedIndexes: ``1,3-5,7``."""
    out: list[str] = []
    for i in sorted(set(indexes)):
        if out and "-" not in out[-1] and int(out[-1]) == i - 1:
            out[-1] = f"{out[-1]}-{i}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == i - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


def _index(pod: Obj) -> int | None:
    value = objects.annotations_of(pod).get(INDEX_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class JobController(QueueController):
    name: ClassVar[str] = "job-controller"
    service_account: ClassVar[str] = "job-controller"
    aliases: ClassVar[tuple[str, ...]] = ("job",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder(self.name, self.client)
        self.expectations = Expectations()
        self.jobs = self.watch(ctx.informers.informer(JOBS), self.enqueue_handler())
        self.pods = self.watch(
            ctx.informers.informer(PODS),
            Handler(on_add=self._pod, on_update=lambda _o, n: self._pod(n), on_delete=self._pod),
        )

    def _pod(self, pod: Obj) -> None:
        ref = objects.controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            return
        job = self.jobs.get(objects.namespace(pod), str(ref.get("name")))
        if job is not None and objects.uid(job) == ref.get("uid"):
            key = key_of(job)
            self.expectations.creation_observed(key)
            self.queue.add(key)

    async def sync(self, key: str) -> None:
        cached = self.jobs.store.get(key)
        if cached is None or finished(cached):
            return
        job = dict(cached)
        spec = objects.spec(job)
        owned = [
            p
            for p in self.pods.store.list(objects.namespace(job))
            if (objects.controller_ref(p) or {}).get("uid") == objects.uid(job)
            and selectors.matches(spec.get("selector"), objects.labels(p))
        ]
        active = [p for p in owned if objects.pod_active(p)]
        succeeded_pods = [p for p in owned if objects.status(p).get("phase") == "Succeeded"]
        failed_pods = [p for p in owned if objects.status(p).get("phase") == "Failed"]
        status = dict(objects.status(job))
        conditions = [dict(c) for c in status.get("conditions") or []]
        if not status.get("startTime") and not spec.get("suspend"):
            status["startTime"] = objects.rfc3339()
        indexed = spec.get("completionMode") == "Indexed"
        succeeded = len(succeeded_pods)
        completed: list[int] = []
        if indexed:
            completed = sorted({i for p in succeeded_pods if (i := _index(p)) is not None})
            succeeded = len(completed)
        failed = len(failed_pods)
        completions = spec.get("completions")
        backoff_limit = int(spec.get("backoffLimit", 6))
        failure: tuple[str, str] | None = None
        if failed > backoff_limit:
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        deadline = spec.get("activeDeadlineSeconds")
        started = objects.parse_time(status.get("startTime"))
        if deadline is not None and started is not None and not spec.get("suspend"):
            left = started.timestamp() + int(deadline) - time.time()
            if left <= 0:
                failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
            else:
                self.queue.add_after(key, left + 0.5)
        if completions is not None:
            complete = succeeded >= int(completions)
        else:
            complete = succeeded > 0 and not active
        if failure is not None:
            await self._delete(active)
            active = []
            for type_ in ("FailureTarget", "Failed"):
                conditions = objects.set_condition(conditions, _condition(type_, *failure))
            self.recorder.warning(job, failure[0], failure[1])
        elif complete:
            await self._delete(active)
            active = []
            reason = ("CompletionsReached", "Reached expected number of succeeded pods")
            for type_ in ("SuccessCriteriaMet", "Complete"):
                conditions = objects.set_condition(conditions, _condition(type_, *reason))
            status["completionTime"] = objects.rfc3339()
            self.recorder.normal(job, "Completed", "Job completed")
        elif spec.get("suspend"):
            await self._delete(active)
            active = []
            cond = _condition("Suspended", "JobSuspended", "Job suspended")
            conditions = objects.set_condition(conditions, cond)
        else:
            if any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions):
                cond = {**_condition("Suspended", "JobResumed", "Job resumed"), "status": "False"}
                conditions = objects.set_condition(conditions, cond)
            if self.expectations.satisfied(key):
                finished_pods = succeeded_pods + failed_pods
                active = await self._manage(key, job, active, succeeded, completed, finished_pods)
        status.update(
            active=len(active),
            succeeded=succeeded,
            failed=failed,
            ready=sum(1 for p in active if objects.pod_ready(p)),
            uncountedTerminatedPods={},
        )
        if indexed:
            status["completedIndexes"] = _compress(completed)
        if conditions:
            status["conditions"] = conditions
        status = {k: v for k, v in status.items() if v not in (0, None, "") or k == "ready"}
        if status != objects.status(cached):
            try:
                await self.client.update(JOBS, {**cached, "status": status}, subresource="status")
            except errors.StatusError as err:
                if err.code not in (404, 409):
                    raise
                self.queue.add(key)

    async def _manage(
        self,
        key: str,
        job: Obj,
        active: list[Obj],
        succeeded: int,
        completed: list[int],
        owned_finished: list[Obj],
    ) -> list[Obj]:
        spec = objects.spec(job)
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) or 0)
        if completions is None:
            # A work queue: parallelism pods until one succeeds, then whatever is
            # running is left running (kube's manageJob).
            wanted = parallelism if succeeded == 0 else len(active)
        else:
            wanted = max(0, min(parallelism, int(completions) - succeeded))
        if len(active) > wanted:
            extra = sorted(active, key=lambda p: pods.deletion_rank(p, objects.now()))
            await self._delete(extra[: len(active) - wanted])
            return extra[len(active) - wanted :]
        missing = wanted - len(active)
        if missing <= 0:
            return active
        wait = backoff_remaining(owned_finished, time.time())
        if wait > 0:
            self.queue.add_after(key, wait)
            return active
        indexes: list[int | None] = [None] * missing
        if spec.get("completionMode") == "Indexed":
            taken = set(completed) | {i for p in active if (i := _index(p)) is not None}
            free = [i for i in range(int(completions or 0)) if i not in taken]
            indexes = list(free[:missing])
        self.expectations.expect(key, adds=len(indexes))
        created: list[Obj] = []
        for index in indexes:
            if (pod := await self._create(key, job, index)) is not None:
                created.append(pod)
        # status.active counts the pods just created too (manageJob's active += diff).
        return active + created

    async def _create(self, key: str, job: Obj, index: int | None) -> Obj | None:
        template = objects.spec(job).get("template") or {}
        prefix = f"{objects.name(job)}-" if index is None else f"{objects.name(job)}-{index}-"
        body = pods.from_template(template, job, generate_name=prefix)
        if index is not None:
            body["metadata"].setdefault("annotations", {})[INDEX_ANNOTATION] = str(index)
            body["metadata"].setdefault("labels", {})[INDEX_ANNOTATION] = str(index)
            body["spec"]["hostname"] = f"{objects.name(job)}-{index}"
            body["spec"].setdefault("subdomain", objects.name(job))
        try:
            pod = await self.client.create(PODS, objects.namespace(job), body)
        except errors.StatusError as err:
            self.expectations.creation_failed(key)
            if err.code == 403 and "being terminated" in err.message:
                return None
            self.recorder.warning(job, "FailedCreate", f"Error creating: {err.message}")
            raise
        self.recorder.normal(job, "SuccessfulCreate", f"Created pod: {objects.name(pod)}")
        return pod

    async def _delete(self, victims: list[Obj]) -> None:
        for pod in victims:
            try:
                await self.client.delete(PODS, objects.namespace(pod), objects.name(pod))
            except errors.StatusError as err:
                if err.code != 404:
                    raise
