"""The PodSecurity validating plugin, as k8s.io/pod-security-admission 1.32's
``admission/admission.go`` (with ``response.go``) and kube-apiserver's wrapper
(``plugin/pkg/admission/security/podsecurity``) decide and word it.

- Namespaces (create, update): bad ``pod-security.kubernetes.io/*`` labels are 422
  ``Namespace "x" is invalid: metadata.labels[...]: Invalid value: ...`` (on update only
  when they changed). An update making enforce stricter warns about the namespace's
  existing pods (``existing_pods``). A namespace in the configured exemptions that sets a
  non-default policy is warned that the policy will be ignored.
- Pods (create, and updates that change images or containers; subresources other than
  status, binding, exec, ...): enforce refuses with 403 ``pods "p" is forbidden: violates
  PodSecurity "restricted:latest": ...``; audit writes the audit annotation
  ``pod-security.kubernetes.io/audit-violations``; warn adds a ``would violate
  PodSecurity ...`` warning (not when enforce refuses). ``enforce-policy`` records the
  policy evaluated.
- Workload resources' pod templates: audit and warn only, never enforce.
- Exemptions (configuration): a request of an exempt user, in an exempt namespace, or of
  a pod with an exempt runtime class passes, annotated ``pod-security.kubernetes.io/exempt``
  = ``user`` / ``namespace`` / ``runtimeClass``.

Each mode evaluates the checks of its level as they stood at its version
(``checks.evaluate``). The plugin idles (``active()``) while no namespace carries a
pod-security label and the defaults are privileged; namespace writes it sees regardless
(``wants``), so labels are validated from the first one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from kapi import errors
from services.authz.admission import Attributes
from services.authz.admission.pod_security import checks, existing_pods
from services.authz.admission.pod_security.configuration import PodSecurityConfiguration
from services.authz.admission.pod_security.policy import (
    LATEST_PRIVILEGED,
    PREFIX,
    PRIVILEGED,
    LevelVersion,
    Policy,
    aggregate,
    compare_levels,
    policy_to_evaluate,
)
from services.authz.admission.validating_policy import request_name

Obj = dict[str, Any]
# Workload resources and the path to their pod template (kube's DefaultPodSpecExtractor).
TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "podtemplates"): ("template",),
    ("", "replicationcontrollers"): ("spec", "template"),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}
# Pod subresources that cannot change what the checks read (kube's ignoredPodSubresources).
IGNORED_POD_SUBRESOURCES = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)


class NamespaceLabels(Protocol):
    async def get(self, name: str, *, live: bool = False) -> Obj | None: ...

    def labelled(self) -> bool:
        """Whether any namespace carries a pod-security label (else the plugin idles)."""


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _labels(obj: Obj | None) -> dict[str, str]:
    labels = _dict(_dict(_dict(obj).get("metadata")).get("labels"))
    return {str(k): str(v) for k, v in labels.items()}


def _template(obj: Obj, path: tuple[str, ...]) -> Obj | None:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur if isinstance(cur, dict) else None


def _significant_update(new: Obj, old: Obj) -> bool:
    """kube's isSignificantPodUpdate: containers added or removed, or an image changed."""
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    for key in ("containers", "initContainers"):
        now, before = spec.get(key) or [], old_spec.get(key) or []
        if len(now) != len(before):
            return True
        if any(
            _dict(a).get("image") != _dict(b).get("image") for a, b in zip(now, before, strict=True)
        ):
            return True
    before_ephemeral = {
        _dict(c).get("name"): _dict(c) for c in old_spec.get("ephemeralContainers") or []
    }
    for container in spec.get("ephemeralContainers") or []:
        old_container = before_ephemeral.get(_dict(container).get("name"))
        if old_container is None or old_container.get("image") != _dict(container).get("image"):
            return True
    return False


class Recorder(Protocol):
    """Where evaluations, exemptions and errors are counted (kube's metrics.Recorder)."""

    def evaluation(
        self, decision: str, level: str, minor: int | None, mode: str, attrs: Attributes
    ) -> None: ...

    def exemption(self, attrs: Attributes) -> None: ...

    def error(self, fatal: bool, attrs: Attributes) -> None: ...


class NoRecorder:
    def evaluation(
        self, decision: str, level: str, minor: int | None, mode: str, attrs: Attributes
    ) -> None:
        pass

    def exemption(self, attrs: Attributes) -> None:
        pass

    def error(self, fatal: bool, attrs: Attributes) -> None:
        pass


class PodSecurity:
    operations = frozenset({"CREATE", "UPDATE"})
    reads_only = True
    side_effect_free = True

    def __init__(
        self,
        namespaces: NamespaceLabels,
        pods: existing_pods.PodPages | None = None,
        *,
        configuration: PodSecurityConfiguration | None = None,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespaces = namespaces
        self.pods = pods
        self.configuration = configuration or PodSecurityConfiguration()
        self.recorder: Recorder = recorder or NoRecorder()
        # Non-privileged defaults apply to every namespace: the plugin never idles.
        self._defaults_act = not self.configuration.defaults.fully_privileged()
        self.clock = clock

    @property
    def defaults(self) -> Policy:
        return self.configuration.defaults

    def active(self) -> bool:
        return self._defaults_act or self.namespaces.labelled()

    def wants(self, attributes: Attributes) -> bool:
        """Namespace writes are validated even while the plugin idles."""
        return (attributes.group, attributes.resource) == ("", "namespaces")

    async def admit(self, attributes: Attributes) -> None:
        key = (attributes.group, attributes.resource)
        if key == ("", "namespaces"):
            await self._namespace(attributes)
        elif key == ("", "pods"):
            await self._pod(attributes)
        elif key in TEMPLATES:
            await self._controller(attributes, TEMPLATES[key])

    # --- namespaces ------------------------------------------------------------------

    async def _namespace(self, attributes: Attributes) -> None:
        if attributes.subresource or attributes.object is None:
            return
        name = attributes.name
        labels = _labels(attributes.object)
        new, new_errors = policy_to_evaluate(labels, self.defaults)
        if attributes.operation == "CREATE":
            if new_errors:
                raise errors.invalid(attributes.kind, attributes.group, name, new_errors)
            self._warn_exempt_namespace(attributes, name, new, labels)
            return
        if attributes.operation != "UPDATE":
            return
        old, old_errors = policy_to_evaluate(_labels(attributes.old_object), self.defaults)
        if new_errors and (not old_errors or new_errors != old_errors):
            raise errors.invalid(attributes.kind, attributes.group, name, new_errors)
        # Existing pods are checked only when enforce became stricter, as kube does.
        if new.enforce == old.enforce or new.enforce.level == PRIVILEGED:
            return
        if new.enforce.minor == old.enforce.minor and (
            compare_levels(new.enforce.level, old.enforce.level) < 1
        ):
            return
        if name in self.configuration.exempt_namespaces:
            self._warn_exempt_namespace(attributes, name, new, labels)
            return
        if self.pods is None:
            return
        for warning in await existing_pods.evaluate(
            self.pods,
            name,
            new.enforce,
            exempt_runtime_classes=self.configuration.exempt_runtime_classes,
            clock=self.clock,
        ):
            attributes.warn(warning)

    def _warn_exempt_namespace(
        self, attributes: Attributes, name: str, new: Policy, labels: dict[str, str]
    ) -> None:
        """kube's exemptNamespaceWarning: the labels set a policy that will be ignored."""
        if name not in self.configuration.exempt_namespaces:
            return
        if new.fully_privileged() or new.equivalent(self.defaults):
            return
        parts = [
            f"{mode}={new.mode(mode)}"
            for mode in ("enforce", "audit", "warn")
            if new.mode(mode).level != PRIVILEGED
            and (PREFIX + mode in labels or f"{PREFIX}{mode}-version" in labels)
        ]
        attributes.warn(
            f'namespace "{name}" is exempt from Pod Security, and the policy '
            f"({', '.join(parts)}) will be ignored"
        )

    # --- pods and their templates -----------------------------------------------------

    def _exempt(self, attributes: Attributes) -> bool:
        """An exempt namespace or user: annotate the request and let it pass."""
        if attributes.namespace and attributes.namespace in self.configuration.exempt_namespaces:
            reason = "namespace"
        elif attributes.user.username and (
            attributes.user.username in self.configuration.exempt_usernames
        ):
            reason = "user"
        else:
            return False
        self.recorder.exemption(attributes)
        attributes.annotate(PREFIX + "exempt", reason)
        return True

    async def _policy(self, namespace: str) -> tuple[Policy, list[errors.FieldError]]:
        found = await self.namespaces.get(namespace)
        return policy_to_evaluate(_labels(found), self.defaults)

    async def _pod(self, attributes: Attributes) -> None:
        if attributes.subresource in IGNORED_POD_SUBRESOURCES or attributes.object is None:
            return
        if self._exempt(attributes):
            return
        policy, problems = await self._policy(attributes.namespace)
        if not problems and policy.fully_privileged():
            self.recorder.evaluation("allow", PRIVILEGED, None, "enforce", attributes)
            attributes.annotate(PREFIX + "enforce-policy", str(LATEST_PRIVILEGED))
            return
        pod = attributes.object
        old = attributes.old_object
        if (
            attributes.operation == "UPDATE"
            and old is not None
            and not _significant_update(pod, old)
        ):
            return
        self._evaluate(
            attributes,
            policy,
            problems,
            _dict(pod.get("metadata")),
            _dict(pod.get("spec")),
            enforce=True,
        )

    async def _controller(self, attributes: Attributes, path: tuple[str, ...]) -> None:
        if attributes.subresource or attributes.object is None:
            return
        if self._exempt(attributes):
            return
        policy, problems = await self._policy(attributes.namespace)
        if not problems and PRIVILEGED == policy.warn.level == policy.audit.level:
            return
        template = _template(attributes.object, path)
        if template is None:
            return  # a controller without a pod template: nothing to check
        self._evaluate(
            attributes,
            policy,
            problems,
            _dict(template.get("metadata")),
            _dict(template.get("spec")),
            enforce=False,
        )

    def _evaluate(
        self,
        attributes: Attributes,
        policy: Policy,
        problems: list[errors.FieldError],
        meta: Obj,
        spec: Obj,
        *,
        enforce: bool,
    ) -> None:
        """kube's EvaluatePod: enforce (pods only), audit, then warn unless refused."""
        runtime_class = spec.get("runtimeClassName")
        if runtime_class and runtime_class in self.configuration.exempt_runtime_classes:
            self.recorder.exemption(attributes)
            attributes.annotate(PREFIX + "exempt", "runtimeClass")
            return
        annotations: dict[str, str] = {}
        if problems:
            annotations["error"] = f"Failed to parse policy: {aggregate(problems)}"
            self.recorder.error(False, attributes)

        def record(decision: str, of: LevelVersion, mode: str) -> None:
            self.recorder.evaluation(decision, of.level, of.minor, mode, attributes)

        results: dict[LevelVersion, list[tuple[str, str]]] = {}

        def failures(of: LevelVersion) -> list[tuple[str, str]]:
            if of not in results:
                results[of] = checks.evaluate(of.level, of.minor, meta, spec)
            return results[of]

        refusal: errors.StatusError | None = None
        if enforce:
            annotations["enforce-policy"] = str(policy.enforce)
            found = failures(policy.enforce)
            record("deny" if found else "allow", policy.enforce, "enforce")
            if found:
                refusal = errors.forbidden(
                    attributes.resource,
                    attributes.group,
                    request_name(attributes),
                    f'violates PodSecurity "{policy.enforce}": {checks.forbidden_detail(found)}',
                )
        found = failures(policy.audit)
        if found:
            record("deny", policy.audit, "audit")
            annotations["audit-violations"] = (
                f'would violate PodSecurity "{policy.audit}": {checks.forbidden_detail(found)}'
            )
        if refusal is None:
            found = failures(policy.warn)
            if found:
                record("deny", policy.warn, "warn")
                attributes.warn(
                    f'would violate PodSecurity "{policy.warn}": {checks.forbidden_detail(found)}'
                )
        for key, value in annotations.items():
            attributes.annotate(PREFIX + key, value)
        if refusal is not None:
            raise refusal
