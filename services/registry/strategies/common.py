"""Rules many resources share: label selectors, pod templates, quantities, small checks.

The messages are kube-apiserver's (``pkg/apis/*/validation``, apimachinery's
``metav1validation``), because kubectl prints them verbatim. Validators return field
errors and never mutate; ``default_*`` helpers mutate the dict they are given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.strategies.pod_spec import default_pod_spec, validate_pod_spec
from services.registry.strategy import Obj, Strategy

IMMUTABLE = "field is immutable"  # apimachineryvalidation.FieldImmutableErrorMsg
NONNEGATIVE = "must be greater than or equal to 0"  # apimachinery's IsNegativeErrorMsg

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_SUFFIXES = ("", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


class StatusStrategy(Strategy):
    """A resource with a status that only /status changes, and ``initial_status`` on create."""

    has_status = True

    def initial_status(self, obj: Obj) -> Obj | None:
        """The status a new object starts with (kube's PrepareForCreate plus defaults of
        the zero value's required fields); None for no status at all."""
        return {}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        status = self.initial_status(obj)
        if status is not None:
            obj["status"] = status


def spec_of(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def get_path(obj: Any, *path: str | int) -> Any:
    current = obj
    for key in path:
        if isinstance(key, int):
            if not isinstance(current, list) or key >= len(current):
                return None
        elif not isinstance(current, Mapping):
            return None
        current = current[key] if isinstance(key, int) else current.get(key)
    return current


def dicts(value: Any) -> list[Obj]:
    """The dict items of a list (anything else in it is left to schema validation)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# --- label selectors -----------------------------------------------------------------


def selector_matches(selector: Any, labels: Any) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); an invalid one matches nothing."""
    if not isinstance(selector, dict) or not isinstance(labels, dict):
        return False
    match = selector.get("matchLabels") or {}
    if not isinstance(match, dict) or any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and (not present or labels.get(key) not in values):
            return False
        if op == "NotIn" and present and labels.get(key) in values:
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def selector_is_empty(selector: Any) -> bool:
    return not (
        isinstance(selector, dict)
        and (selector.get("matchLabels") or selector.get("matchExpressions"))
    )


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """metav1validation.ValidateLabelSelector: keys, values and operators."""
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return [errors.invalid_value(path, selector, "must be a label selector")]
    out = validation.validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(dicts(selector.get("matchExpressions"))):
        epath = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                out.append(
                    errors.required(
                        f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                    )
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    errors.forbidden_field(
                        f"{epath}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            out.append(
                errors.invalid_value(f"{epath}.operator", op, "not a valid selector operator")
            )
        key = expr.get("key")
        if isinstance(key, str):
            out.extend(
                errors.invalid_value(f"{epath}.key", key, m) for m in validation.qualified_name(key)
            )
    return out


def validate_workload_selector(spec: Obj, kind_word: str, path: str = "spec") -> list[FieldError]:
    """The selector of a Deployment, ReplicaSet, StatefulSet or DaemonSet: present, not
    empty, valid, and matching the pod template's labels."""
    selector = spec.get("selector")
    if selector is None:
        return [errors.required(f"{path}.selector")]
    out = validate_label_selector(selector, f"{path}.selector")
    if selector_is_empty(selector):
        out.append(
            errors.invalid_value(
                f"{path}.selector", selector, f"empty selector is invalid for {kind_word}"
            )
        )
        return out
    labels = get_path(spec, "template", "metadata", "labels") or {}
    if not selector_matches(selector, labels):
        out.append(
            errors.invalid_value(
                f"{path}.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    return out


# --- pod templates ---------------------------------------------------------------------


def default_pod_template(template: Any) -> None:
    """A PodTemplateSpec as kube encodes it: ``creationTimestamp: null`` and a defaulted spec."""
    if not isinstance(template, dict):
        return
    meta = template.setdefault("metadata", {})
    if isinstance(meta, dict):
        meta.setdefault("creationTimestamp", None)
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


def validate_pod_template(
    template: Any, path: str, *, restart_policies: Sequence[str] | None = ("Always",)
) -> list[FieldError]:
    """ValidatePodTemplateSpec (+ the restart policies the controller allows)."""
    if not isinstance(template, dict):
        return [errors.required(path)]
    meta = template.get("metadata") or {}
    out: list[FieldError] = []
    if isinstance(meta, dict):
        out += validation.validate_labels(meta.get("labels"), f"{path}.metadata.labels")
        out += validation.validate_annotations(
            meta.get("annotations"), f"{path}.metadata.annotations"
        )
    spec = template.get("spec")
    out += validate_pod_spec(spec, f"{path}.spec")
    if restart_policies is not None and isinstance(spec, dict):
        policy = spec.get("restartPolicy", "Always")
        if policy not in restart_policies:
            out.append(errors.not_supported(f"{path}.spec.restartPolicy", policy, restart_policies))
    return out


# --- numbers and quantities --------------------------------------------------------------


def validate_nonnegative(value: Any, path: str) -> list[FieldError]:
    """ValidateNonnegativeField."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [errors.invalid_value(path, value, NONNEGATIVE)]
    return []


def validate_positive(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        return [errors.invalid_value(path, value, "must be greater than 0")]
    return []


def quantity_problem(value: Any) -> str | None:
    """Why ``value`` is no resource.Quantity (kube's parse error), or None."""
    if isinstance(value, bool):
        return "quantities must match the regular expression " + repr(_QUANTITY.pattern)
    if isinstance(value, int | float):
        return None
    if not isinstance(value, str):
        return "quantities must match the regular expression " + repr(_QUANTITY.pattern)
    match = _QUANTITY.fullmatch(value)
    if match is None:
        return "quantities must match the regular expression " + repr(_QUANTITY.pattern)
    number, suffix = match.groups()
    if number.count(".") > 1 or number in (".", "+.", "-."):
        return "unable to parse quantity's suffix"
    if suffix not in _QUANTITY_SUFFIXES and not re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        return "unable to parse quantity's suffix"
    return None


def quantity_is_negative(value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value < 0
    return isinstance(value, str) and value.startswith("-") and value.strip("-0.") != ""


def validate_resource_list(resources: Any, path: str) -> list[FieldError]:
    """A map of resource names to quantities (ValidateResourceQuantityValue per entry)."""
    if resources is None:
        return []
    if not isinstance(resources, dict):
        return [errors.invalid_value(path, resources, "must be a map of resource quantities")]
    out: list[FieldError] = []
    for name, quantity in resources.items():
        rpath = f"{path}[{name}]"
        out.extend(errors.invalid_value(rpath, name, m) for m in validation.qualified_name(name))
        problem = quantity_problem(quantity)
        if problem is not None:
            out.append(errors.invalid_value(rpath, quantity, problem))
        elif quantity_is_negative(quantity):
            out.append(errors.invalid_value(rpath, quantity, NONNEGATIVE))
    return out


def validate_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent: a non-negative integer or an ``N%`` string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return validate_nonnegative(value, path)
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+%", value):
            return [
                errors.invalid_value(path, value, "must be an integer or percentage (e.g '5%')")
            ]
        return []
    return [errors.invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]


def percent_over_100(value: Any, path: str) -> list[FieldError]:
    """IsNotMoreThan100Percent."""
    if (
        isinstance(value, str)
        and value.endswith("%")
        and value[:-1].isdigit()
        and int(value[:-1]) > 100
    ):
        return [errors.invalid_value(path, value, "must not be greater than 100%")]
    return []


def one_of(value: Any, path: str, supported: Sequence[str]) -> list[FieldError]:
    """field.NotSupported when ``value`` is set and not one of ``supported``."""
    if value is None or value in supported:
        return []
    return [errors.not_supported(path, value, supported)]


def immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    """ValidateImmutableField."""
    if new != old:
        return [errors.invalid_value(path, new, IMMUTABLE)]
    return []


def required_string(obj: Any, key: str, path: str, detail: str = "") -> list[FieldError]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value in (None, ""):
        return [errors.required(path, detail)]
    return []
