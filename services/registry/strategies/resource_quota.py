"""ResourceQuota's rules — kube's ``pkg/apis/core/validation`` (ValidateResourceQuota,
ValidateResourceQuotaUpdate, ValidateResourceQuotaStatusUpdate) with the resource and
scope tables of ``pkg/apis/core/helper``.

``spec.hard`` (and ``status.hard``/``status.used``) names only resources quota tracks: a
name without a domain must be a standard resource (``must be a standard resource type or
fully qualified``) that quota tracks (``must be a standard resource for quota``);
``count/<resource>.<group>``, ``requests.<extended resource>`` and storage class names
have a ``/`` and are taken as they are. Object counts and extended resources are whole
numbers (``must be an integer``); nothing is negative. Scopes (``spec.scopes`` and
``spec.scopeSelector``) must be known, may limit only what pods use (BestEffort: only
``pods``), may not conflict (BestEffort with NotBestEffort, Terminating with
NotTerminating), and ``spec.scopes`` cannot change. Bad values print as kube's ``%#v``
of its internal types (``[]core.ResourceQuotaScope{"BestEffort"}``).
"""

from __future__ import annotations

from typing import Any

from kapi import errors, quantity
from kapi.errors import FieldError
from services.registry.strategies import common
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj

SCOPES = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)
_BOOLEAN_SCOPES = frozenset(
    {"BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "CrossNamespacePodAffinity"}
)
_CONFLICTS = (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating"))
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
STANDARD_QUOTA = frozenset(
    {
        *_COMPUTE,
        *(f"requests.{r}" for r in _COMPUTE),
        *(f"limits.{r}" for r in _COMPUTE),
        "requests.storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "persistentvolumeclaims",
        "configmaps",
        "services.nodeports",
        "services.loadbalancers",
    }
)
STANDARD = STANDARD_QUOTA | {"storage"}
_INTEGER = frozenset(
    {
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_POD_COUNT = frozenset({"pods"})
_POD_COMPUTE = frozenset(
    {"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
)
NOT_INTEGER = "must be an integer"
INVALID_QUOTA_RESOURCE = "must be a standard resource for quota"
OPERATOR_EXISTS_ONLY = (
    "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
    "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
    "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"
)


def _hugepages(name: str) -> bool:
    return name.startswith(("hugepages-", "requests.hugepages-"))


def _extended(name: str) -> bool:
    """helper.IsExtendedResourceName (its qualified-name check left to the name rules)."""
    native = "/" not in name or "kubernetes.io/" in name
    return not native and not name.startswith("requests.")


def scope_valid_for(scope: str, resource: str) -> bool:
    """helper.IsResourceQuotaScopeValidForResource."""
    if scope in ("Terminating", "NotTerminating", "NotBestEffort", "PriorityClass"):
        return resource in _POD_COUNT or resource in _POD_COMPUTE
    if scope == "CrossNamespacePodAffinity":
        return resource in _POD_COUNT or resource in _POD_COMPUTE
    if scope == "BestEffort":
        return resource in _POD_COUNT
    return True


def _standard_quota(name: str) -> bool:
    return name in STANDARD_QUOTA or _hugepages(name)


def _go_strings(type_name: str, values: Any) -> str:
    """``%#v`` of a Go string slice: ``[]string{"a", "b"}``, ``[]string(nil)``."""
    if not values:
        return f"[]{type_name}(nil)" if values is None else f"[]{type_name}{{}}"
    return f"[]{type_name}{{" + ", ".join(errors.quote(str(v)) for v in values) + "}"


def _go_selector(selector: Obj) -> str:
    """``%#v`` of a core.ScopeSelector."""
    items = []
    for expr in selector.get("matchExpressions") or []:
        expr = expr if isinstance(expr, dict) else {}
        items.append(
            "core.ScopedResourceSelectorRequirement{"
            f"ScopeName:{errors.quote(str(expr.get('scopeName') or ''))}, "
            f"Operator:{errors.quote(str(expr.get('operator') or ''))}, "
            f"Values:{_go_strings('string', expr.get('values'))}}}"
        )
    inner = "[]core.ScopedResourceSelectorRequirement{" + ", ".join(items) + "}"
    return f"core.ScopeSelector{{MatchExpressions:{inner}}}"


def _invalid_shown(path: str, shown: str, detail: str) -> FieldError:
    """An Invalid error whose bad value prints as ``shown`` (a Go ``%#v``)."""
    return FieldError("FieldValueInvalid", path, None, f"{shown}: {detail}", omit_value=True)


def validate_list(items: Any, path: str) -> list[FieldError]:
    """ValidateResourceQuotaResourceName and ValidateResourceQuantityValue per entry."""
    out = common.validate_resource_list(items, path)
    if not isinstance(items, dict):
        return out
    for name, value in items.items():
        rpath = f"{path}[{name}]"
        if "/" not in name:
            if name not in STANDARD and not _hugepages(name):
                out.append(
                    errors.invalid_value(
                        rpath, name, "must be a standard resource type or fully qualified"
                    )
                )
            if not _standard_quota(name):
                out.append(errors.invalid_value(rpath, name, INVALID_QUOTA_RESOURCE))
        parsed = quantity.parse(value)
        if (name in _INTEGER or _extended(name)) and parsed is not None and parsed.denominator != 1:
            out.append(errors.invalid_value(rpath, str(value), NOT_INTEGER))
    return out


def _scopes(spec: Obj, hard: list[str]) -> list[FieldError]:
    scopes = spec.get("scopes")
    if not scopes:
        return []
    path = "spec.scopes"
    shown = _go_strings("core.ResourceQuotaScope", scopes)
    out: list[FieldError] = []
    for scope in scopes:
        if scope not in SCOPES:
            out.append(_invalid_shown(path, shown, "unsupported scope"))
        if any(_standard_quota(k) and not scope_valid_for(str(scope), k) for k in hard):
            out.append(_invalid_shown(path, shown, "unsupported scope applied to resource"))
    for pair in _CONFLICTS:
        if set(pair) <= set(scopes):
            out.append(_invalid_shown(path, shown, "conflicting scopes"))
    return out


def _scope_selector(spec: Obj, hard: list[str]) -> list[FieldError]:
    selector = spec.get("scopeSelector")
    if not isinstance(selector, dict):
        return []
    path = "spec.scopeSelector.matchExpressions"
    out: list[FieldError] = []
    seen: set[str] = set()
    for expr in selector.get("matchExpressions") or []:
        expr = expr if isinstance(expr, dict) else {}
        scope, operator = str(expr.get("scopeName") or ""), str(expr.get("operator") or "")
        values = expr.get("values")
        if scope not in SCOPES:
            out.append(errors.invalid_value(f"{path}.scopeName", scope, "unsupported scope"))
        if any(_standard_quota(k) and not scope_valid_for(scope, k) for k in hard):
            out.append(
                _invalid_shown(
                    path, _go_selector(selector), "unsupported scope applied to resource"
                )
            )
        if scope in _BOOLEAN_SCOPES and operator != "Exists":
            out.append(errors.invalid_value(f"{path}.operator", operator, OPERATOR_EXISTS_ONLY))
        if operator in ("In", "NotIn"):
            if not values:
                out.append(
                    errors.required(
                        f"{path}.values",
                        "must be at least one value when `operator` is 'In' or 'NotIn' for "
                        "scope selector",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    _invalid_shown(
                        f"{path}.values",
                        _go_strings("string", values),
                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for "
                        "scope selector",
                    )
                )
        else:
            out.append(
                errors.invalid_value(f"{path}.operator", operator, "not a valid selector operator")
            )
        seen.add(scope)
    for pair in _CONFLICTS:
        if set(pair) <= seen:
            shown = _go_strings("core.ResourceQuotaScope", spec.get("scopes"))
            out.append(_invalid_shown(path, shown, "conflicting scopes"))
    return out


def _unique(found: list[FieldError]) -> list[FieldError]:
    """As ``ErrorList.ToAggregate`` reports them: each message once."""
    seen: set[str] = set()
    out = []
    for error in found:
        if str(error) not in seen:
            seen.add(str(error))
            out.append(error)
    return out


def validate_spec(spec: Obj) -> list[FieldError]:
    hard = spec.get("hard")
    names = sorted(hard) if isinstance(hard, dict) else []
    return _unique(
        [*validate_list(hard, "spec.hard"), *_scopes(spec, names), *_scope_selector(spec, names)]
    )


def validate_status(obj: Obj) -> list[FieldError]:
    status = obj.get("status")
    if not isinstance(status, dict):
        return []
    return [
        *validate_list(status.get("hard"), "status.hard"),
        *validate_list(status.get("used"), "status.used"),
    ]


class ResourceQuotaStrategy(StatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return [*validate_spec(spec_of(obj)), *validate_status(obj)]

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = validate_spec(spec_of(new))
        scopes = spec_of(new).get("scopes")
        if set(scopes or []) != set(spec_of(old).get("scopes") or []):
            shown = _go_strings("core.ResourceQuotaScope", scopes)
            out.append(_invalid_shown("spec.scopes", shown, "field is immutable"))
        return out

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        if subresource == "status":
            return validate_status(new)
        return self.validate_update(new, old)
