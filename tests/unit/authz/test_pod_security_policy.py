"""A namespace's policy from its labels (services/authz/admission/pod_security/policy.py),
table-driven from k8s.io/pod-security-admission's api/helpers.go PolicyToEvaluate."""

from __future__ import annotations

import pytest

from services.authz.admission.pod_security.policy import (
    LevelVersion,
    Policy,
    compare_levels,
    policy_to_evaluate,
)

P = "pod-security.kubernetes.io/"
DEFAULTS = Policy(
    enforce=LevelVersion("baseline", 20),
    audit=LevelVersion("privileged"),
    warn=LevelVersion("privileged"),
)


def lv(text: str) -> LevelVersion:
    level, version = text.split(":")
    return LevelVersion(level, None if version == "latest" else int(version.removeprefix("v1.")))


@pytest.mark.parametrize(
    ("labels", "enforce", "audit", "warn", "bad"),
    [
        ({}, "baseline:v1.20", "privileged:latest", "privileged:latest", []),
        # warn follows an explicit, stricter enforce level, with its version.
        ({"enforce": "restricted"}, "restricted:v1.20", "privileged:latest",
         "restricted:v1.20", []),
        ({"enforce": "restricted", "warn-version": "v1.25"}, "restricted:v1.20",
         "privileged:latest", "restricted:v1.25", []),
        ({"enforce": "restricted", "warn": "baseline"}, "restricted:v1.20", "privileged:latest",
         "baseline:latest", []),
        # an enforce-version alone does not move warn.
        ({"enforce-version": "v1.25"}, "baseline:v1.25", "privileged:latest",
         "privileged:latest", []),
        # Bad values: enforce fails closed, audit and warn open; versions are latest.
        ({"enforce": "x"}, "restricted:v1.20", "privileged:latest", "privileged:latest",
         ["enforce"]),
        ({"audit": "x", "warn": "y", "audit-version": "v2"}, "baseline:v1.20",
         "privileged:latest", "privileged:latest", ["audit", "audit-version", "warn"]),
        ({"enforce": "baseline", "enforce-version": "latest"}, "baseline:latest",
         "privileged:latest", "baseline:latest", []),
    ],
)  # fmt: skip
def test_policy_to_evaluate(
    labels: dict[str, str], enforce: str, audit: str, warn: str, bad: list[str]
) -> None:
    policy, found = policy_to_evaluate({P + k: v for k, v in labels.items()}, DEFAULTS)
    assert (policy.enforce, policy.audit, policy.warn) == (lv(enforce), lv(audit), lv(warn))
    assert [e.field for e in found] == [f"metadata.labels[{P}{key}]" for key in bad]


def test_strictness() -> None:
    assert compare_levels("restricted", "baseline") == 1
    assert compare_levels("privileged", "baseline") == -1
    assert compare_levels("baseline", "baseline") == 0
    assert str(LevelVersion("restricted", 3)) == "restricted:v1.3"
    assert Policy().fully_privileged() and Policy().equivalent(
        Policy(enforce=LevelVersion("privileged", 4))
    )
