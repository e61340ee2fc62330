"""rbac.authorization.k8s.io/v1 objects (``pkg/apis/rbac/v1/defaults.go``,
``pkg/apis/rbac/validation``). Whether a user may grant what a role holds (kube's
escalation check) is authorization's business, not the registry's."""

from __future__ import annotations

from typing import Any, ClassVar

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.definition import Definition, grouped
from services.registry.strategies import common
from services.registry.strategy import Obj, Strategy

GROUP = "rbac.authorization.k8s.io"


def _validate_rule(rule: Obj, path: str, *, namespaced: bool) -> list[FieldError]:
    """ValidatePolicyRule."""
    out: list[FieldError] = []
    if not rule.get("verbs"):
        out.append(errors.required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs")
    if urls:
        if namespaced:
            out.append(
                errors.invalid_value(
                    f"{path}.nonResourceURLs",
                    urls,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            out.append(
                errors.invalid_value(
                    f"{path}.nonResourceURLs",
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return out
    if not rule.get("apiGroups"):
        out.append(
            errors.required(
                f"{path}.apiGroups", "resource rules must supply at least one api group"
            )
        )
    if not rule.get("resources"):
        out.append(
            errors.required(f"{path}.resources", "resource rules must supply at least one resource")
        )
    return out


class _RBACStrategy(Strategy):
    def validate_name(self, name: str) -> list[str]:
        return validation.path_segment_name(name)  # ValidateRBACName


class RoleStrategy(_RBACStrategy):
    namespaced: ClassVar[bool] = True

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        for i, rule in enumerate(common.dicts(obj.get("rules"))):
            out += _validate_rule(rule, f"rules[{i}]", namespaced=self.namespaced)
        return out


class ClusterRoleStrategy(RoleStrategy):
    namespaced: ClassVar[bool] = False

    def validate(self, obj: Obj) -> list[FieldError]:
        out = super().validate(obj)
        aggregation = obj.get("aggregationRule")
        if isinstance(aggregation, dict):
            selectors = aggregation.get("clusterRoleSelectors")
            if not selectors:
                out.append(
                    errors.required(
                        "aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil",
                    )
                )
            for i, selector in enumerate(selectors or []):
                out += common.validate_label_selector(
                    selector, f"aggregationRule.clusterRoleSelectors[{i}]"
                )
        return out


def _default_binding(obj: Obj) -> None:
    """SetDefaults_RoleBinding / _Subject: the rbac group where it goes without saying."""
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in common.dicts(obj.get("subjects")):
        if not subject.get("apiGroup"):
            if subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
            elif subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP


def _validate_subject(subject: Obj, path: str, *, namespaced: bool) -> list[FieldError]:
    """ValidateRoleBindingSubject."""
    out: list[FieldError] = []
    name = subject.get("name")
    if not name:
        out.append(errors.required(f"{path}.name"))
    kind = subject.get("kind")
    group = subject.get("apiGroup", "")
    if kind == "ServiceAccount":
        if isinstance(name, str) and name:
            out.extend(
                errors.invalid_value(f"{path}.name", name, m)
                for m in validation.dns1123_subdomain(name)
            )
        if group:
            out.append(errors.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            out.append(errors.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            out.append(errors.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        out.append(errors.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return out


class RoleBindingStrategy(_RBACStrategy):
    namespaced: ClassVar[bool] = True
    role_kinds: ClassVar[tuple[str, ...]] = ("Role", "ClusterRole")

    def default(self, obj: Obj) -> None:
        _default_binding(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        out: list[FieldError] = []
        ref: Any = obj.get("roleRef")
        if not isinstance(ref, dict):
            ref = {}
        if ref.get("apiGroup") != GROUP:
            out.append(errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
        kind = ref.get("kind")
        if kind not in self.role_kinds:
            out.append(errors.not_supported("roleRef.kind", kind or "", self.role_kinds))
        name = ref.get("name")
        if not name:
            out.append(errors.required("roleRef.name"))
        elif isinstance(name, str):
            out.extend(
                errors.invalid_value("roleRef.name", name, m)
                for m in validation.path_segment_name(name)
            )
        for i, subject in enumerate(common.dicts(obj.get("subjects"))):
            out += _validate_subject(subject, f"subjects[{i}]", namespaced=self.namespaced)
        return out

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if new.get("roleRef") != old.get("roleRef"):
            out.append(errors.invalid_value("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return out


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    namespaced: ClassVar[bool] = False
    role_kinds: ClassVar[tuple[str, ...]] = ("ClusterRole",)


_RBAC = "rbac.authorization.k8s.io"
DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        _RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", ClusterRoleBindingStrategy(),
        schema_group="rbac", namespaced=False,
    ),
    grouped(
        _RBAC, "v1", "clusterroles", "ClusterRole", ClusterRoleStrategy(),
        schema_group="rbac", namespaced=False,
    ),
    grouped(_RBAC, "v1", "rolebindings", "RoleBinding", RoleBindingStrategy(), schema_group="rbac"),
    grouped(_RBAC, "v1", "roles", "Role", RoleStrategy(), schema_group="rbac"),
)  # fmt: skip
