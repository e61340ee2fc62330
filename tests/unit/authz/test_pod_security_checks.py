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
    assert detail(level, pod) == expected


def detail(level: str, pod: Obj, minor: int | None = None, meta: Obj | None = None) -> str:
    return checks.forbidden_detail(checks.evaluate(level, minor, meta or {}, pod))


def test_privileged_level_checks_nothing() -> None:
    assert detail("privileged", spec({"securityContext": {"privileged": True}})) == ""


RESTRICTED_SC = RESTRICTED_OK["securityContext"]


@pytest.mark.parametrize(
    ("level", "pod", "meta", "expected"),
    [
        # appArmorProfile: fields and the beta annotations, in one message.
        (
            "baseline",
            spec({"name": "a", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
                 securityContext={"appArmorProfile": {"type": "Unconfined"}}),
            {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/a": "unconfined",
                "container.apparmor.security.beta.kubernetes.io/b": "runtime/default"}},
            'forbidden AppArmor profiles (pod and container "a" and annotation must not set '
            'AppArmor profile type to "Unconfined", '
            '"container.apparmor.security.beta.kubernetes.io/a="unconfined"")',
        ),
        (
            "baseline",
            spec({"name": "a", "securityContext": {
                "seLinuxOptions": {"type": "spc_t", "user": "u", "role": "r"}}},
                 securityContext={"seLinuxOptions": {"type": "container_t"}}),
            {},
            'seLinuxOptions (container "a" set forbidden securityContext.seLinuxOptions: '
            'type "spc_t"; user may not be set; role may not be set)',
        ),
        (
            "baseline",
            spec({"name": "a", "securityContext": {"windowsOptions": {"hostProcess": True}}},
                 securityContext={"windowsOptions": {"hostProcess": True}}),
            {},
            'hostProcess (pod and container "a" must not set '
            "securityContext.windowsOptions.hostProcess=true)",
        ),
        # hostPorts: the ports sorted as strings, as kube's set.
        (
            "baseline",
            spec({"name": "a", "ports": [{"hostPort": 9090}, {"hostPort": 80}]},
                 {"name": "b", "ports": [{"hostPort": 8080}]}),
            {},
            'hostPort (containers "a", "b" use hostPorts 80, 8080, 9090)',
        ),
        # restricted seccomp: an explicit bad value is reported alone.
        (
            "restricted",
            spec({**RESTRICTED_OK, "securityContext": {
                **RESTRICTED_SC, "seccompProfile": {"type": "Unconfined"}}}, {**RESTRICTED_OK,
                 "name": "b", "securityContext": {**RESTRICTED_SC, "seccompProfile": None}}),
            {},
            'seccompProfile (container "ok" must not set securityContext.seccompProfile.type '
            'to "Unconfined")',
        ),
        # runAsNonRoot: pod=false and container=false are one sentence.
        (
            "restricted",
            spec({**RESTRICTED_OK, "securityContext": {**RESTRICTED_SC, "runAsNonRoot": False}},
                 securityContext={"runAsNonRoot": False}),
            {},
            'runAsNonRoot != true (pod and container "ok" must not set '
            "securityContext.runAsNonRoot=false)",
        ),
        (
            "restricted",
            spec({"name": "c", "securityContext": {**RESTRICTED_SC, "runAsNonRoot": None}},
                 volumes=[{"name": "n", "nfs": {}}, {"name": "x", "unknownSource": {}}]),
            {},
            'restricted volume types (volumes "n", "x" use restricted volume types "nfs", '
            '"unknown"), runAsNonRoot != true (pod or container "c" must set '
            "securityContext.runAsNonRoot=true)",
        ),
    ],
)  # fmt: skip
def test_more_checks(level: str, pod: Obj, meta: Obj, expected: str) -> None:
    assert detail(level, pod, meta=meta) == expected


ROOT = spec({**RESTRICTED_OK, "securityContext": {**RESTRICTED_SC, "runAsUser": 0}})
NO_DROP = spec(
    {"name": "c", "securityContext": {**RESTRICTED_SC, "capabilities": {"add": ["NET_ADMIN"]}}}
)
WINDOWS = spec({"name": "c"}, securityContext={"runAsNonRoot": True}, os={"name": "windows"})
SYSCTL = spec(
    {"name": "c"},
    securityContext={
        "sysctls": [
            {"name": "net.ipv4.tcp_fin_timeout"},
            {"name": "net.ipv4.ip_local_reserved_ports"},
        ]
    },
)


@pytest.mark.parametrize(
    ("level", "pod", "meta", "minor", "expected"),
    [
        # runAsUser=0 is checked from v1.23 on.
        ("restricted", ROOT, {}, 22, ""),
        ("restricted", ROOT, {}, 23, 'runAsUser=0 (container "ok" must not set runAsUser=0)'),
        # Before v1.22 restricted has no capabilities check of its own: baseline's runs.
        ("restricted", NO_DROP, {}, 21,
         'non-default capabilities (container "c" must not include "NET_ADMIN" in '
         "securityContext.capabilities.add)"),
        ("restricted", NO_DROP, {}, 22,
         'unrestricted capabilities (container "c" must set securityContext.capabilities.drop='
         '["ALL"]; container "c" must not include "NET_ADMIN" in '
         "securityContext.capabilities.add)"),
        # Windows pods pass the escalation, capabilities and seccomp checks from v1.25.
        ("restricted", WINDOWS, {}, 24,
         'allowPrivilegeEscalation != false (container "c" must set '
         "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
         '(container "c" must set securityContext.capabilities.drop=["ALL"]), seccompProfile '
         '(pod or container "c" must set securityContext.seccompProfile.type to '
         '"RuntimeDefault" or "Localhost")'),
        ("restricted", WINDOWS, {}, 25, ""),
        # Before v1.19, seccomp was the alpha annotations (baseline's check, in restricted).
        ("restricted", spec({**RESTRICTED_OK, "securityContext": {
            **RESTRICTED_SC, "seccompProfile": {"type": "Unconfined"}}}),
         {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                          "container.seccomp.security.alpha.kubernetes.io/ok": "docker/default"}},
         18,
         'seccompProfile (forbidden annotation '
         'seccomp.security.alpha.kubernetes.io/pod="unconfined")'),
        # Safe sysctls grew in v1.27 and v1.29; later versions are v1.29's.
        ("baseline", SYSCTL, {}, 26,
         "forbidden sysctls (net.ipv4.tcp_fin_timeout, net.ipv4.ip_local_reserved_ports)"),
        ("baseline", SYSCTL, {}, 27, "forbidden sysctls (net.ipv4.tcp_fin_timeout)"),
        ("baseline", SYSCTL, {}, 29, ""),
        ("baseline", SYSCTL, {}, 40, ""),
        # allowPrivilegeEscalation exists from v1.8.
        ("restricted", spec({"name": "c", "securityContext": {
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}}), {}, 7, ""),
    ],
)  # fmt: skip
def test_versions(level: str, pod: Obj, meta: Obj, minor: int, expected: str) -> None:
    assert detail(level, pod, minor, meta) == expected


def test_latest_is_the_newest_revision() -> None:
    assert checks.MAX_MINOR == 29
    assert checks.checks_for("restricted", None) == checks.checks_for("restricted", 32)
    assert checks.checks_for("baseline", 5) != checks.checks_for("baseline", None)


def test_reasons_alone() -> None:
    failures = checks.evaluate("restricted", None, {}, spec({"name": "c"}, hostPID=True))
    assert checks.forbidden_reason(failures) == (
        "host namespaces, allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, seccompProfile"
    )
