"""admissionregistration.k8s.io/v1: webhook configurations and validating admission
policies (``pkg/apis/admissionregistration/v1/defaults.go`` and ``.../validation``).
A policy's CEL expressions are compiled in admission's environment (``kapi.cel.admission``)
and one that does not compile is refused, as kube's validation does."""

from __future__ import annotations

from typing import ClassVar

from kapi import errors
from kapi.cel import admission as cel_admission
from kapi.errors import FieldError
from services.registry import types, validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj, Strategy

_FAILURE_POLICIES = ("Fail", "Ignore")
_MATCH_POLICIES = ("Equivalent", "Exact")
_SIDE_EFFECTS = ("None", "NoneOnDryRun")
_REVIEW_VERSIONS = ("v1", "v1beta1")
_OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")


def _compiles(
    item: Obj, key: str, path: str, returns: tuple[str, ...], *, params: bool = True
) -> list[FieldError]:
    """A CEL expression that does not compile (or returns the wrong type), as kube's
    policy validation reports it; ``params`` only where the policy has a paramKind."""
    source = item.get(key)
    if not isinstance(source, str) or not source.strip():
        return []
    compiled = cel_admission.compile_expression(source, returns, params=params)
    if not compiled.error:
        return []
    return [errors.invalid_value(f"{path}.{key}", source, compiled.error)]


def _default_rules(rules: object) -> None:
    for rule in common.dicts(rules):
        rule.setdefault("scope", "*")


def _default_match_resources(match: object) -> None:
    if not isinstance(match, dict):
        return
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    match.setdefault("matchPolicy", "Equivalent")
    for key in ("resourceRules", "excludeResourceRules"):
        _default_rules(match.get(key))


class _WebhookConfigurationStrategy(Strategy):
    tracks_generation = True
    mutating: ClassVar[bool] = False

    def default(self, obj: Obj) -> None:
        for hook in common.dicts(obj.get("webhooks")):
            hook.setdefault("failurePolicy", "Fail")
            hook.setdefault("matchPolicy", "Equivalent")
            hook.setdefault("namespaceSelector", {})
            hook.setdefault("objectSelector", {})
            hook.setdefault("timeoutSeconds", 10)
            if self.mutating:
                hook.setdefault("reinvocationPolicy", "Never")
            _default_rules(hook.get("rules"))
            service = (hook.get("clientConfig") or {}).get("service")
            if isinstance(service, dict):
                service.setdefault("port", 443)

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        seen: set[str] = set()
        for i, hook in enumerate(common.dicts(obj.get("webhooks"))):
            path = f"webhooks[{i}]"
            name = hook.get("name")
            if not name:
                out.append(errors.required(f"{path}.name"))
            elif isinstance(name, str):
                out.extend(
                    errors.invalid_value(f"{path}.name", name, m)
                    for m in validation.dns1123_subdomain(name)
                )
                if len(name.split(".")) < 3:
                    out.append(
                        errors.invalid_value(
                            f"{path}.name",
                            name,
                            "should be a domain with at least three segments separated by dots",
                        )
                    )
                if name in seen:
                    out.append(errors.duplicate(f"{path}.name", name))
                seen.add(name)
            out += common.one_of(
                hook.get("failurePolicy"), f"{path}.failurePolicy", _FAILURE_POLICIES
            )
            out += common.one_of(hook.get("matchPolicy"), f"{path}.matchPolicy", _MATCH_POLICIES)
            side_effects = hook.get("sideEffects")
            if side_effects is None:
                out.append(
                    errors.required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun")
                )
            else:
                out += common.one_of(side_effects, f"{path}.sideEffects", _SIDE_EFFECTS)
            versions = hook.get("admissionReviewVersions")
            if not versions:
                out.append(
                    errors.required(
                        f"{path}.admissionReviewVersions", "must specify one of v1, v1beta1"
                    )
                )
            elif not any(v in _REVIEW_VERSIONS for v in versions):
                out.append(
                    errors.invalid_value(
                        f"{path}.admissionReviewVersions",
                        versions,
                        "must include at least one of v1, v1beta1",
                    )
                )
            timeout = hook.get("timeoutSeconds")
            if isinstance(timeout, int) and not 1 <= timeout <= 30:
                out.append(
                    errors.invalid_value(
                        f"{path}.timeoutSeconds",
                        timeout,
                        "the timeout value must be between 1 and 30 seconds",
                    )
                )
            config = hook.get("clientConfig")
            if not isinstance(config, dict) or (config.get("url") is None) == (
                config.get("service") is None
            ):
                out.append(
                    errors.required(
                        f"{path}.clientConfig", "exactly one of url or service is required"
                    )
                )
            for j, rule in enumerate(common.dicts(hook.get("rules"))):
                for operation in rule.get("operations") or []:
                    out += common.one_of(operation, f"{path}.rules[{j}].operations", _OPERATIONS)
            if self.mutating:
                out += common.one_of(
                    hook.get("reinvocationPolicy"),
                    f"{path}.reinvocationPolicy",
                    ("IfNeeded", "Never"),
                )
            for key in ("namespaceSelector", "objectSelector"):
                out += common.validate_label_selector(hook.get(key), f"{path}.{key}")
        return out


class ValidatingWebhookConfigurationStrategy(_WebhookConfigurationStrategy):
    mutating = False


class MutatingWebhookConfigurationStrategy(_WebhookConfigurationStrategy):
    mutating = True


class ValidatingAdmissionPolicyStrategy(StatusStrategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("failurePolicy", "Fail")
        _default_match_resources(spec.get("matchConstraints"))

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        if not isinstance(spec.get("matchConstraints"), dict):
            out.append(errors.required("spec.matchConstraints"))
        if not spec.get("validations") and not spec.get("auditAnnotations"):
            out.append(
                errors.required(
                    "spec.validations",
                    "validations or auditAnnotations must contain at least one item",
                )
            )
        # kube declares ``params`` only for a policy with a paramKind.
        p = spec.get("paramKind") is not None
        for i, item in enumerate(common.dicts(spec.get("validations"))):
            if not item.get("expression"):
                out.append(errors.required(f"spec.validations[{i}].expression"))
            out += _compiles(item, "expression", f"spec.validations[{i}]", ("bool",), params=p)
            out += _compiles(
                item, "messageExpression", f"spec.validations[{i}]", ("string",), params=p
            )
        for i, item in enumerate(common.dicts(spec.get("matchConditions"))):
            out += _compiles(item, "expression", f"spec.matchConditions[{i}]", ("bool",), params=p)
        for i, item in enumerate(common.dicts(spec.get("variables"))):
            out += _compiles(item, "expression", f"spec.variables[{i}]", (), params=p)
        for i, item in enumerate(common.dicts(spec.get("auditAnnotations"))):
            out += _compiles(
                item,
                "valueExpression",
                f"spec.auditAnnotations[{i}]",
                ("string", "null_type"),
                params=p,
            )
        out += common.one_of(spec.get("failurePolicy"), "spec.failurePolicy", _FAILURE_POLICIES)
        param_kind = spec.get("paramKind")
        if isinstance(param_kind, dict):
            for key in ("apiVersion", "kind"):
                if not param_kind.get(key):
                    out.append(errors.required(f"spec.paramKind.{key}"))
        return out


class ValidatingAdmissionPolicyBindingStrategy(Strategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            _default_match_resources(spec.get("matchResources"))

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        if not spec.get("policyName"):
            out.append(errors.required("spec.policyName"))
        actions = spec.get("validationActions")
        if not actions:
            out.append(
                errors.required(
                    "spec.validationActions", "at least one validation action is required"
                )
            )
        for i, action in enumerate(actions or []):
            out += common.one_of(action, f"spec.validationActions[{i}]", ("Audit", "Deny", "Warn"))
        if "Deny" in (actions or []) and "Warn" in (actions or []):
            out.append(
                errors.invalid_value(
                    "spec.validationActions",
                    actions,
                    "must not contain both Deny and Warn (repeating the same validation failure "
                    "information in the API response and headers serves no purpose)",
                )
            )
        return out


_ADMISSION = "admissionregistration.k8s.io"
DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        _ADMISSION, "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
        MutatingWebhookConfigurationStrategy(), schema_group="admissionregistration",
        namespaced=False, categories=types.API_EXTENSIONS,
    ),
    grouped(
        _ADMISSION, "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy",
        ValidatingAdmissionPolicyStrategy(), schema_group="admissionregistration",
        namespaced=False, categories=types.API_EXTENSIONS, subresources=types.STATUS,
    ),
    grouped(
        _ADMISSION, "v1", "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding", ValidatingAdmissionPolicyBindingStrategy(),
        schema_group="admissionregistration", namespaced=False,
        categories=types.API_EXTENSIONS,
    ),
    grouped(
        _ADMISSION, "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
        ValidatingWebhookConfigurationStrategy(), schema_group="admissionregistration",
        namespaced=False, categories=types.API_EXTENSIONS,
    ),
)  # fmt: skip
