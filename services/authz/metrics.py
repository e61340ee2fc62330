"""The authz service's metrics: kube-apiserver's authorizer decisions and admission
controller latencies, with its names, labels and buckets.

Sources (kubernetes/kubernetes, staging/src/k8s.io/apiserver/pkg/):
``authorization/metrics/metrics.go`` — ``apiserver_authorization_decisions_total``
(``type``, ``name``, ``decision``: allowed or denied; no opinion is not terminal and
not counted), each configured authorizer wrapped on its own; ``admission/metrics/
metrics.go`` — ``apiserver_admission_controller_admission_duration_seconds``
(``name``, ``type``: admit or validate, ``operation``, ``rejected``), each plugin
wrapped on its own and observed when it handles the operation.

k8s.io/pod-security-admission ``metrics/metrics.go``: ``pod_security_evaluations_total``,
``pod_security_exemptions_total``, ``pod_security_errors_total`` (``PodSecurityRecorder``).

The gateway caches authorization decisions for a few seconds, so the decisions counted
here are those the authorizers made, not one per request (``authorization_attempts_total``
at the gateway counts those).
"""

from __future__ import annotations

import time

from kapi import metrics
from kapi.user import UserInfo
from services.authz import admission, authorization

ADMISSION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5)


class AuthzMetrics:
    def __init__(self, registry: metrics.Registry | None = None) -> None:
        self.registry = registry if registry is not None else metrics.Registry("authz")
        self.decisions = self.registry.counter(
            "apiserver_authorization_decisions_total",
            "Total number of terminal decisions made by an authorizer split by authorizer "
            "type, name, and decision.",
            ("type", "name", "decision"),
        )
        self.admission = self.registry.histogram(
            "apiserver_admission_controller_admission_duration_seconds",
            "Admission controller latency histogram in seconds, identified by name and "
            "broken out for each operation and API resource and type (validate or admit).",
            ("name", "type", "operation", "rejected"),
            buckets=ADMISSION_BUCKETS,
        )

        self.pod_security = PodSecurityRecorder(self.registry)

    def authorizer(
        self, kind: str, delegate: authorization.Authorizer, name: str = ""
    ) -> authorization.Authorizer:
        """``delegate`` with its decisions counted; ``kind`` as ``--authorization-mode``
        names it (RBAC, AlwaysAllow), ``name`` by default its lower case, as kube's."""
        return InstrumentedAuthorizer(self, kind, name or kind.lower(), delegate)

    def plugin(self, name: str, step: str, delegate: admission.Plugin) -> admission.Plugin:
        """``delegate`` (a mutating plugin: ``step`` "admit"; validating: "validate")
        with its latency observed."""
        return InstrumentedPlugin(self, name, step, delegate)


class InstrumentedAuthorizer:
    def __init__(
        self, owner: AuthzMetrics, kind: str, name: str, delegate: authorization.Authorizer
    ) -> None:
        self.delegate = delegate
        self._allowed = owner.decisions.labels(kind, name, "allowed")
        self._denied = owner.decisions.labels(kind, name, "denied")

    def authorize(self, attributes: authorization.Attributes) -> authorization.Outcome:
        outcome = self.delegate.authorize(attributes)
        if outcome.decision == authorization.Decision.ALLOW:
            self._allowed.inc()
        elif outcome.decision == authorization.Decision.DENY:
            self._denied.inc()
        return outcome

    def rules_for(self, user: UserInfo, namespace: str) -> authorization.Rules:
        return self.delegate.rules_for(user, namespace)


class InstrumentedPlugin:
    def __init__(
        self, owner: AuthzMetrics, name: str, step: str, delegate: admission.Plugin
    ) -> None:
        self.delegate = delegate
        self.operations = delegate.operations
        self.reads_only = bool(getattr(delegate, "reads_only", False))
        if hasattr(delegate, "wants"):  # only then: the chain skips asking the others
            self.wants = delegate.wants
        self.side_effect_free = bool(getattr(delegate, "side_effect_free", False))
        self._owner = owner
        self._name = name
        self._step = step
        self._cells: dict[tuple[str, bool], metrics.HistogramCell] = {}

    def active(self) -> bool:
        return self.delegate.active()

    def may_act(self, attributes: admission.Attributes) -> bool:
        check = getattr(self.delegate, "may_act", None)
        return True if check is None else bool(check(attributes))

    async def admit(self, attributes: admission.Attributes) -> None:
        start = time.perf_counter()
        rejected = True
        try:
            await self.delegate.admit(attributes)
            rejected = False
        finally:
            key = (attributes.operation, rejected)
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = self._owner.admission.labels(
                    self._name, self._step, attributes.operation, "true" if rejected else "false"
                )
            cell.observe(time.perf_counter() - start)


# kube's policy_version label: versions up to the server's own are named, later ones
# "future" (kapi serves as 1.32).
SERVER_MINOR = 32


class PodSecurityRecorder:
    """PodSecurity's counters, labelled as kube's PrometheusRecorder labels them:
    ``resource`` pod, namespace or controller; ``request_operation`` lower case."""

    def __init__(self, registry: metrics.Registry) -> None:
        self.evaluations = registry.counter(
            "pod_security_evaluations_total",
            "Number of policy evaluations that occurred, not counting ignored or exempt requests.",
            (
                "decision",
                "policy_level",
                "policy_version",
                "mode",
                "request_operation",
                "resource",
                "subresource",
            ),
        )
        self.exemptions = registry.counter(
            "pod_security_exemptions_total",
            "Number of exempt requests, not counting ignored or out of scope requests.",
            ("request_operation", "resource", "subresource"),
        )
        self.errors = registry.counter(
            "pod_security_errors_total",
            "Number of errors preventing normal evaluation. Non-fatal errors may result in "
            "the latest restricted profile being used for evaluation.",
            ("fatal", "request_operation", "resource", "subresource"),
        )

    def evaluation(
        self, decision: str, level: str, minor: int | None, mode: str, attrs: admission.Attributes
    ) -> None:
        if minor is None or level == "privileged":
            version = "latest"
        else:
            version = f"v1.{minor}" if minor <= SERVER_MINOR else "future"
        self.evaluations.labels(decision, level, version, mode, *_request(attrs)).inc()

    def exemption(self, attrs: admission.Attributes) -> None:
        self.exemptions.labels(*_request(attrs)).inc()

    def error(self, fatal: bool, attrs: admission.Attributes) -> None:
        self.errors.labels("true" if fatal else "false", *_request(attrs)).inc()


def _request(attrs: admission.Attributes) -> tuple[str, str, str]:
    if attrs.group == "" and attrs.resource in ("pods", "namespaces"):
        resource = attrs.resource[:-1]
    else:
        resource = "controller"
    return attrs.operation.lower(), resource, attrs.subresource
