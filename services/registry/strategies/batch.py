"""Strategies of the batch group: Jobs and CronJobs, as kube-apiserver 1.32 defaults,
prepares and validates them (``pkg/apis/batch/v1/defaults.go``,
``pkg/registry/batch/job/strategy.go``, ``pkg/apis/batch/validation``), with the cron
schedule checked as kube does, by robfig/cron's standard parser, worded as it words it.
"""

from __future__ import annotations

import re
from typing import Any

from kapi import cron, errors
from kapi.cron import CronError
from kapi.cron import time_zone_exists as _time_zone_exists
from kapi.errors import FieldError
from services.registry import types
from services.registry.definition import Definition, grouped
from services.registry.field_selection import FieldSelection
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, get_path, spec_of
from services.registry.strategy import Obj

# batch/v1 label names (k8s.io/api/batch/v1/types.go).
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME_LABEL = "job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"

_MAX_INDEXED_COMPLETIONS = 100_000
_CRONJOB_NAME_MAX = 52  # DNS1035LabelMaxLength - 11: room for the jobs' suffix


def parse_schedule(schedule: str) -> None:
    """Raise CronError when robfig/cron's ParseStandard would reject ``schedule``."""
    cron.parse_standard(schedule)


# --- Jobs ----------------------------------------------------------------------------------


def _default_job_spec(spec: Obj) -> None:
    """SetDefaults_Job's spec part (kube defaults a CronJob's job template only through
    the pod template)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in common.dicts(failure_policy.get("rules")):
            for pattern in common.dicts(rule.get("onPodConditions")):
                pattern.setdefault("status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
        )
    spec.setdefault("manualSelector", False)


def _validate_job_spec(spec: Obj, path: str) -> list[FieldError]:
    """validateJobSpec: counts, completion mode, replacement policy and the template."""
    out: list[FieldError] = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        out += common.validate_nonnegative(spec.get(key), f"{path}.{key}")
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline == 0:
        out.append(
            errors.invalid_value(
                f"{path}.activeDeadlineSeconds", deadline, "must be greater than 0"
            )
        )
    mode = spec.get("completionMode")
    out += common.one_of(mode, f"{path}.completionMode", ("NonIndexed", "Indexed"))
    completions = spec.get("completions")
    if mode == "Indexed":
        if completions is None:
            out.append(errors.required(f"{path}.completions", "when completion mode is Indexed"))
        elif isinstance(completions, int) and completions > _MAX_INDEXED_COMPLETIONS:
            out.append(
                errors.invalid_value(
                    f"{path}.completions",
                    completions,
                    f"must be less than or equal to {_MAX_INDEXED_COMPLETIONS} when completion "
                    "mode is Indexed",
                )
            )
    elif spec.get("backoffLimitPerIndex") is not None:
        out.append(
            errors.forbidden_field(
                f"{path}.backoffLimitPerIndex", "requires indexed completion mode"
            )
        )
    replacement = spec.get("podReplacementPolicy")
    if spec.get("podFailurePolicy") is not None:
        out += common.one_of(replacement, f"{path}.podReplacementPolicy", ("Failed",))
    else:
        out += common.one_of(
            replacement, f"{path}.podReplacementPolicy", ("Failed", "TerminatingOrFailed")
        )
    out += common.validate_pod_template(
        spec.get("template"), f"{path}.template", restart_policies=("OnFailure", "Never")
    )
    return out


class JobStrategy(StatusStrategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        _default_job_spec(spec)
        template = spec.get("template")
        labels = get_path(template, "metadata", "labels")
        meta = obj.setdefault("metadata", {})
        if (
            isinstance(labels, dict)
            and labels
            and isinstance(meta, dict)
            and not meta.get("labels")
        ):
            meta["labels"] = dict(labels)
        common.default_pod_template(template)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("manualSelector") is not True:
            _generate_selector(obj, spec)
        # kube defaults a Job's labels to its template's again when it reads the Job back
        # (defaulting runs on every decode), by then with the generated labels: a new
        # Job without labels of its own is seen with them.
        labels = get_path(spec, "template", "metadata", "labels")
        meta = obj["metadata"]
        if isinstance(labels, dict) and labels and not meta.get("labels"):
            meta["labels"] = dict(labels)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        out = _validate_generated_selector(obj, spec)
        out += _validate_job_spec(spec, "spec")
        selector = spec.get("selector")
        if selector is None:
            out.append(errors.required("spec.selector"))
        else:
            out += common.validate_label_selector(selector, "spec.selector")
            labels = get_path(spec, "template", "metadata", "labels") or {}
            if not common.selector_is_empty(selector) and not common.selector_matches(
                selector, labels
            ):
                out.append(
                    errors.invalid_value(
                        "spec.template.metadata.labels",
                        labels,
                        "`selector` does not match template `labels`",
                    )
                )
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """ValidateJobSpecUpdate: selector, template and completion mode stay (the
        template's scheduling directives may change while the job is suspended)."""
        out = self.validate(new)
        new_spec, old_spec = spec_of(new), spec_of(old)
        out += common.immutable(new_spec.get("selector"), old_spec.get("selector"), "spec.selector")
        template, old_template = new_spec.get("template"), old_spec.get("template")
        if new_spec.get("suspend") is True and isinstance(template, dict):
            template = _with_scheduling_directives_of(template, old_template)
        out += common.immutable(template, old_template, "spec.template")
        out += common.immutable(
            new_spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode"
        )
        if new_spec.get("completionMode") != "Indexed":
            out += common.immutable(
                new_spec.get("completions"), old_spec.get("completions"), "spec.completions"
            )
        for key in ("podFailurePolicy", "backoffLimitPerIndex", "successPolicy"):
            out += common.immutable(new_spec.get(key), old_spec.get(key), f"spec.{key}")
        return out


def _with_scheduling_directives_of(template: Obj, old: Any) -> Any:
    """``template`` with old's node selector, affinity, tolerations, labels, annotations
    and scheduling gates: what a suspended Job may change."""
    if not isinstance(old, dict):
        return template
    merged = {**template, "metadata": dict(old.get("metadata") or {})}
    spec = dict(template.get("spec") or {})
    old_spec = old.get("spec") or {}
    for key in ("nodeSelector", "affinity", "tolerations", "schedulingGates"):
        if key in old_spec:
            spec[key] = old_spec[key]
        else:
            spec.pop(key, None)
    merged["spec"] = spec
    return merged


def _generate_selector(obj: Obj, spec: Obj) -> None:
    """generateSelector: the job's name and uid as template labels, the uid as selector."""
    meta = obj.get("metadata") or {}
    name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    template_meta = template.setdefault("metadata", {})
    labels = template_meta.get("labels")
    if not isinstance(labels, dict):
        labels = template_meta["labels"] = {}
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID_LABEL, uid)


def _validate_generated_selector(obj: Obj, spec: Obj) -> list[FieldError]:
    """validateGeneratedSelector: without manualSelector, the labels and selector are ours."""
    if spec.get("manualSelector") is True:
        return []
    meta = obj.get("metadata") or {}
    name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    labels = get_path(spec, "template", "metadata", "labels")
    if not isinstance(labels, dict):
        return [errors.required("spec.template.metadata.labels")]
    out: list[FieldError] = []
    for key, expected in (
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
    ):
        path = f"spec.template.metadata.labels[{key}]"
        if key not in labels:
            out.append(errors.required(path, f"must be '{expected}'"))
        elif labels[key] != expected:
            out.append(errors.invalid_value(path, labels[key], f"must be '{expected}'"))
    expected_selector = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}
    if spec.get("selector") != expected_selector:
        out.append(
            errors.invalid_value(
                "spec.selector", spec.get("selector"), "`selector` not auto-generated"
            )
        )
    return out


# --- CronJobs ----------------------------------------------------------------------------


class CronJobStrategy(StatusStrategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if not spec.get("concurrencyPolicy"):
            spec["concurrencyPolicy"] = "Allow"
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_template = spec.get("jobTemplate")
        if isinstance(job_template, dict):
            meta = job_template.setdefault("metadata", {})
            if isinstance(meta, dict):
                meta.setdefault("creationTimestamp", None)
            common.default_pod_template(get_path(job_template, "spec", "template"))

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        name = get_path(obj, "metadata", "name")
        if isinstance(name, str) and len(name) > _CRONJOB_NAME_MAX:
            out.append(
                errors.invalid_value(
                    "metadata.name", name, f"must be no more than {_CRONJOB_NAME_MAX} characters"
                )
            )
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [*out, errors.required("spec")]
        return out + _validate_cronjob_spec(spec)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        spec = spec_of(new)
        return _validate_cronjob_spec(spec) if spec else [errors.required("spec")]


def _validate_cronjob_spec(spec: Obj) -> list[FieldError]:
    out: list[FieldError] = []
    schedule = spec.get("schedule")
    if not schedule:
        out.append(errors.required("spec.schedule"))
    elif isinstance(schedule, str):
        try:
            parse_schedule(schedule)
        except CronError as exc:
            out.append(errors.invalid_value("spec.schedule", schedule, str(exc)))
        if "TZ" in schedule:
            out.append(
                errors.invalid_value(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    out += common.validate_nonnegative(
        spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds"
    )
    policy = spec.get("concurrencyPolicy")
    if not policy:
        out.append(errors.required("spec.concurrencyPolicy"))
    else:
        out += common.one_of(policy, "spec.concurrencyPolicy", ("Allow", "Forbid", "Replace"))
    job_spec = get_path(spec, "jobTemplate", "spec")
    if not isinstance(job_spec, dict):
        out.append(errors.required("spec.jobTemplate.spec"))
    else:
        out += _validate_job_spec(job_spec, "spec.jobTemplate.spec")
        if job_spec.get("selector") is not None:
            out.append(
                errors.invalid_value(
                    "spec.jobTemplate.spec.selector",
                    job_spec["selector"],
                    "`selector` will be auto-generated",
                )
            )
        if job_spec.get("manualSelector") is True:
            out.append(
                errors.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"))
            )
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        out += common.validate_nonnegative(spec.get(key), f"spec.{key}")
    zone = spec.get("timeZone")
    if zone is not None:
        out += _validate_time_zone(zone)
    return out


def _validate_time_zone(zone: Any) -> list[FieldError]:
    path = "spec.timeZone"
    if not isinstance(zone, str) or not zone:
        return [errors.invalid_value(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if (
            part in (".", "..")
            or part.startswith("-")
            or not re.fullmatch(r"[A-Za-z\.\-_0-9+]{1,14}", part)
        ):
            return [errors.invalid_value(path, zone, f"unknown time zone {zone}")]
    if zone.lower() == "local":
        return [
            errors.invalid_value(
                path,
                zone,
                "timeZone must be an explicit time zone as defined in "
                "https://www.iana.org/time-zones",
            )
        ]
    if not _time_zone_exists(zone):
        return [errors.invalid_value(path, zone, f"unknown time zone {zone}")]
    return []


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "batch", "v1", "cronjobs", "CronJob", CronJobStrategy(),
        schema_group="batch", short_names=("cj",), categories=types.ALL,
        subresources=types.STATUS,
    ),
    grouped(
        "batch", "v1", "jobs", "Job", JobStrategy(),
        schema_group="batch", categories=types.ALL, subresources=types.STATUS,
        # kube's Job selectable field "status.successful" is its status.succeeded
        selection=FieldSelection(
            ("status.successful",),
            paths={"status.successful": "status.succeeded"},
            zero_ints=frozenset({"status.succeeded"}),
            unknown='field label "{label}" not supported for batchv1.Job',
        ),
    ),
)  # fmt: skip
