"""A small kopf operator for Schedules (kube's CronTab example under another name), run
against kapi by the end-to-end suite.

On create it records a phase in the status and posts an event; its delete handler makes
kopf put its finalizer on every Schedule, and remove it once the handler ran. The group
comes from ``OPERATOR_GROUP``.
"""

from __future__ import annotations

import os
from typing import Any

import kopf

GROUP = os.environ["OPERATOR_GROUP"]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 60
    settings.posting.level = 20  # INFO: kopf.info events reach the API


@kopf.on.create(GROUP, "v1", "schedules")
def scheduled(
    spec: kopf.Spec, body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, **_: Any
) -> dict[str, Any]:
    kopf.info(
        body, reason="Scheduled", message=f"runs {spec.get('image')} at {spec.get('cronSpec')}"
    )
    patch.status["phase"] = "Scheduled"
    return {"image": spec.get("image")}


@kopf.on.delete(GROUP, "v1", "schedules")
def unscheduled(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    logger.info("unscheduled %s", body.metadata.name)
