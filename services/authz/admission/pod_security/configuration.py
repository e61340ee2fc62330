"""The PodSecurity plugin's configuration: a ``PodSecurityConfiguration``
(``pod-security.admission.config.k8s.io/v1``, also v1beta1) as kube-apiserver reads it
from its admission configuration file (k8s.io/pod-security-admission ``admission/api``:
types, v1 defaults, validation).

``defaults`` gives each mode's level and version for namespaces without the label
(``privileged`` and ``latest`` when unset); ``exemptions`` lists usernames, namespaces
and runtime class names the plugin leaves alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kapi import errors, names
from services.authz.admission.pod_security import policy

API_VERSIONS = (
    "pod-security.admission.config.k8s.io/v1",
    "pod-security.admission.config.k8s.io/v1beta1",
    "pod-security.admission.config.k8s.io/v1alpha1",
)
KIND = "PodSecurityConfiguration"


@dataclass(frozen=True)
class PodSecurityConfiguration:
    defaults: policy.Policy = field(default_factory=policy.Policy)
    exempt_usernames: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()


def _names(
    value: Any,
    path: str,
    found: list[errors.FieldError],
    check: Callable[[str], list[str]],
) -> list[str]:
    """kube's exemption list validation: each a valid name (``check``), no duplicates."""
    if value is None:
        return []
    if not isinstance(value, list):
        found.append(errors.invalid_value(path, value, "must be a list of strings"))
        return []
    out: list[str] = []
    for i, item in enumerate(value):
        text = str(item) if item is not None else ""
        problems = check(text)
        if problems:
            found.append(errors.invalid_value(f"{path}[{i}]", text, ", ".join(problems)))
        elif text in out:
            found.append(errors.duplicate(f"{path}[{i}]", text))
        else:
            out.append(text)
    return out


def _username(value: str) -> list[str]:
    return [] if value else ["username must not be empty"]


def from_object(obj: dict[str, Any]) -> PodSecurityConfiguration:
    """The configuration an object describes; ValueError (kube refuses to start) if it is
    not a valid PodSecurityConfiguration."""
    if obj.get("kind") != KIND or obj.get("apiVersion") not in API_VERSIONS:
        raise ValueError(
            f"PodSecurity configuration: expected kind {KIND} in one of "
            f"{', '.join(API_VERSIONS)}, got {obj.get('kind')!r} {obj.get('apiVersion')!r}"
        )
    found: list[errors.FieldError] = []
    defaults = obj.get("defaults") or {}
    modes: dict[str, policy.LevelVersion] = {}
    for mode in ("enforce", "warn", "audit"):  # kube's order of validation
        level = str(defaults.get(mode, policy.PRIVILEGED))
        _, problem = policy.parse_level(level)
        if problem:
            found.append(errors.invalid_value(f"defaults.{mode}", level, problem))
        version = str(defaults.get(f"{mode}-version", "latest"))
        minor, problem = policy.parse_version(version)
        if problem:
            found.append(errors.invalid_value(f"defaults.{mode}-version", version, problem))
        modes[mode] = policy.LevelVersion(level, minor)
    exemptions = obj.get("exemptions") or {}
    namespaces = _names(
        exemptions.get("namespaces"), "exemptions.namespaces", found, names.dns1123_label
    )
    classes = _names(
        exemptions.get("runtimeClasses"),
        "exemptions.runtimeClasses",
        found,
        names.dns1123_subdomain,
    )
    users = _names(exemptions.get("usernames"), "exemptions.usernames", found, _username)
    if found:
        raise ValueError("PodSecurity configuration: " + policy.aggregate(found))
    return PodSecurityConfiguration(
        defaults=policy.Policy(**modes),
        exempt_usernames=frozenset(users),
        exempt_namespaces=frozenset(namespaces),
        exempt_runtime_classes=frozenset(classes),
    )
