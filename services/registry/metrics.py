"""The registry's metrics: kube-apiserver's admission step latency.

``apiserver_admission_step_admission_duration_seconds`` (``type``: admit for the
mutating step, validate for the validating one; ``operation``; ``rejected``), from
kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/admission/metrics/metrics.go,
whose ``WithStepMetrics`` times each whole phase of the chain as the request pipeline
sees it. Here the pipeline is the registry's and the chain runs in authz, so a step
is timed around its call to authz, hop included.
"""

from __future__ import annotations

import time
from typing import Any

from kapi import metrics
from services.registry.ports import AdmissionPort, AdmissionTarget

STEP_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5)
_STEPS = {"mutating": "admit", "validating": "validate"}


class RegistryMetrics:
    def __init__(self, registry: metrics.Registry | None = None) -> None:
        self.registry = registry if registry is not None else metrics.Registry("registry")
        self.steps = self.registry.histogram(
            "apiserver_admission_step_admission_duration_seconds",
            "Admission sub-step latency histogram in seconds, broken out for each operation "
            "and API resource and step type (validate or admit).",
            ("type", "operation", "rejected"),
            buckets=STEP_BUCKETS,
        )


class MeteredAdmission:
    """An ``AdmissionPort`` whose every step is timed."""

    def __init__(self, delegate: AdmissionPort, owner: RegistryMetrics) -> None:
        self.delegate = delegate
        self._steps = owner.steps
        self._cells: dict[tuple[str, str, bool], metrics.HistogramCell] = {}

    async def admit(
        self,
        phase: str,
        target: AdmissionTarget,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any] | None, list[str]]:
        start = time.perf_counter()
        rejected = True
        try:
            result = await self.delegate.admit(phase, target, obj, old)
            rejected = False
            return result
        finally:
            key = (phase, target.operation, rejected)
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = self._steps.labels(
                    _STEPS.get(phase, phase), target.operation, "true" if rejected else "false"
                )
            cell.observe(time.perf_counter() - start)
