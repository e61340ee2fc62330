"""The Pod Security Standards' checks (services/authz/admission/pod_security/checks.py),
worded and ordered as k8s.io/pod-security-admission 1.32's."""

from __future__ import annotations

from typing import Any

import pytest

from services.authz.admission.pod_security import checks

Obj = dict[str, Any]


def spec(*containers: Obj, **pod: Any) -> Obj:
    return {"containers": list(containers), **pod}


RESTRICTED_OK = {
    "name": "ok",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


@pytest.mark.parametrize(
    ("level", "pod", "expected"),
    [
        ("baseline", spec({"name": "c"}), ""),
        (
            "baseline",
            spec({"name": "a", "securityContext": {"privileged": True}},
                 {"name": "b", "securityContext": {"privileged": True}}),
            'privileged (containers "a", "b" must not set securityContext.privileged=true)',
        ),
        (
            "baseline",
            spec({"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                 hostNetwork=True, hostPID=True),
            'host namespaces (hostNetwork=true, hostPID=true), hostPort (container "c" uses '
            "hostPort 8080)",
        ),
        (
            "baseline",
            spec({"name": "c",
                  "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}}}),
            'non-default capabilities (container "c" must not include "NET_ADMIN" in '
            "securityContext.capabilities.add)",
        ),
        (
            "baseline",
            spec({"name": "c"}, volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
            'hostPath volumes (volume "h")',
        ),
        ("restricted", spec(RESTRICTED_OK), ""),
        (
            "restricted",
            spec(RESTRICTED_OK, volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
            'restricted volume types (volume "h" uses restricted volume type "hostPath")',
        ),
        (
            "restricted",
            spec({**RESTRICTED_OK, "securityContext": {**RESTRICTED_OK["securityContext"],
                                                        "runAsUser": 0}}),
            'runAsUser=0 (container "ok" must not set runAsUser=0)',
        ),
        (
            "restricted",
            spec({"name": "c"}, securityContext={"runAsNonRoot": True,
                                                "seccompProfile": {"type": "RuntimeDefault"}}),
            'allowPrivilegeEscalation != false (container "c" must set '
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
            '(container "c" must set securityContext.capabilities.drop=["ALL"])',
        ),
    ],
)  # fmt: skip
def test_evaluate(level: str, pod: Obj, expected: str) -> None:
    assert checks.evaluate(level, pod) == expected


def test_privileged_level_checks_nothing() -> None:
    assert checks.evaluate("privileged", spec({"securityContext": {"privileged": True}})) == ""
