"""A namespace's Pod Security policy from its labels, as k8s.io/pod-security-admission's
``api/helpers.go`` (``PolicyToEvaluate``) and ``api/constants.go`` resolve it.

``pod-security.kubernetes.io/{enforce,audit,warn}`` name a level, ``...-version`` a
version (``latest`` or ``v1.N``); an unset label takes the configured default. A bad
value is a field error on ``metadata.labels[KEY]``, and evaluates as restricted (enforce:
fail closed) or privileged (audit, warn: fail open), at ``latest``. Without its own warn
label, warn follows an explicitly set, stricter enforce level (and its version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kapi import errors

PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
_STRICTNESS = {level: i for i, level in enumerate(LEVELS)}
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


@dataclass(frozen=True)
class LevelVersion:
    level: str
    minor: int | None = None  # v1.minor; None: latest

    @property
    def version(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    def equivalent(self, other: LevelVersion) -> bool:
        return (self.level == PRIVILEGED and other.level == PRIVILEGED) or self == other


LATEST_PRIVILEGED = LevelVersion(PRIVILEGED)


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = LATEST_PRIVILEGED
    audit: LevelVersion = LATEST_PRIVILEGED
    warn: LevelVersion = LATEST_PRIVILEGED

    def mode(self, name: str) -> LevelVersion:
        found: LevelVersion = getattr(self, name)
        return found

    def fully_privileged(self) -> bool:
        return all(self.mode(m).level == PRIVILEGED for m in MODES)

    def equivalent(self, other: Policy) -> bool:
        return all(self.mode(m).equivalent(other.mode(m)) for m in MODES)


def parse_level(value: str) -> tuple[str, str]:
    """(level, error): an unknown level is restricted, with kube's error text."""
    if value in LEVELS:
        return value, ""
    return RESTRICTED, f"must be one of {', '.join(LEVELS)}"


def parse_version(value: str) -> tuple[int | None, str]:
    """(minor or None for latest, error): a bad version is latest, with kube's error."""
    if value == "latest":
        return None, ""
    match = _VERSION.match(value)
    if match is None:
        return None, 'must be "latest" or "v1.x"'
    return int(match.group(1)), ""


def compare_levels(a: str, b: str) -> int:
    """-1, 0, 1 as ``a`` is less strict than, as strict as, stricter than ``b``."""
    left, right = _STRICTNESS.get(a, -1), _STRICTNESS.get(b, -1)
    return (left > right) - (left < right)


def policy_to_evaluate(
    labels: dict[str, str], defaults: Policy
) -> tuple[Policy, list[errors.FieldError]]:
    """The namespace's policy and its labels' errors (the policy is usable either way)."""
    if not labels:
        return defaults, []
    found: list[errors.FieldError] = []
    modes = {m: defaults.mode(m) for m in MODES}
    has_level = {m: False for m in MODES}
    has_version = {m: False for m in MODES}

    def fail(key: str, value: str, detail: str) -> None:
        if detail:
            found.append(errors.invalid_value(f"metadata.labels[{key}]", value, detail))

    for mode in MODES:
        key = PREFIX + mode
        if key in labels:
            value = labels[key]
            level, problem = parse_level(value)
            fail(key, value, problem)
            if problem and mode != "enforce":
                level = PRIVILEGED  # fail open for audit and warn
            # enforce's level defaults warn only when it parsed.
            has_level[mode] = mode != "enforce" or not problem
            modes[mode] = replace(modes[mode], level=level)
        key = f"{PREFIX}{mode}-version"
        if key in labels:
            value = labels[key]
            minor, problem = parse_version(value)
            fail(key, value, problem)
            has_version[mode] = True
            modes[mode] = replace(modes[mode], minor=minor)
    enforce, warn = modes["enforce"], modes["warn"]
    if (
        not has_level["warn"]
        and has_level["enforce"]
        and compare_levels(enforce.level, warn.level) > 0
    ):
        modes["warn"] = LevelVersion(
            enforce.level, warn.minor if has_version["warn"] else enforce.minor
        )
    return Policy(**modes), found


def aggregate(found: list[errors.FieldError]) -> str:
    """field.ErrorList.ToAggregate().Error()."""
    messages = [str(e) for e in found]
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
