"""ttl-after-finished-controller: finished Jobs go ``ttlSecondsAfterFinished`` later.

kube's ``pkg/controller/ttlafterfinished``: a Job with ``ttlSecondsAfterFinished`` and a
Complete or Failed condition is deleted (``propagationPolicy: Foreground``, so its pods
go first) once that many seconds have passed since the condition's
``lastTransitionTime``; before then it is queued again for when they will have.
"""

from __future__ import annotations

import time
from typing import ClassVar

from kapi import errors
from kapi.kube.informer import split_key
from kapi.kube.resources import JOBS
from services.controllers import objects
from services.controllers.framework import Context, QueueController


class TTLAfterFinishedController(QueueController):
    name: ClassVar[str] = "ttl-after-finished-controller"
    service_account: ClassVar[str] = "ttl-after-finished-controller"
    aliases: ClassVar[tuple[str, ...]] = ("ttl-after-finished",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.jobs = self.watch(ctx.informers.informer(JOBS), self.enqueue_handler())

    async def sync(self, key: str) -> None:
        job = self.jobs.store.get(key)
        if job is None or objects.deleting(job):
            return
        ttl = objects.spec(job).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        finished = [
            objects.parse_time(c.get("lastTransitionTime"))
            for c in objects.status(job).get("conditions") or []
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        ]
        when = next((t for t in finished if t is not None), None)
        if when is None:
            return
        left = when.timestamp() + int(ttl) - time.time()
        if left > 0:
            self.queue.add_after(key, left)
            return
        namespace, name = split_key(key)
        try:
            await self.client.delete(
                JOBS,
                namespace,
                name,
                propagation="Foreground",
                preconditions={"uid": objects.uid(job)},
            )
        except errors.StatusError as err:
            if err.code not in (404, 409):
                raise
