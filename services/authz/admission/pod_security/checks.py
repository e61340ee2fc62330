"""The Pod Security Standards' checks, as k8s.io/pod-security-admission 1.32's
``policy/check_*.go`` word them: each takes the pod's metadata and spec and returns None
(allowed) or (reason, detail). ``evaluate(level, spec)`` runs a level's checks in kube's
order — the baseline checks a restricted one does not replace, then the restricted
ones, each set in the order of its check IDs — and joins what fails as
``reason (detail), reason (detail)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]
Result = tuple[str, str] | None
Check = Callable[[Obj], Result]

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)


def _pluralize(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _join_quote(items: list[str]) -> str:
    return ", ".join(f'"{i}"' for i in items)


def _containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _sc(obj: Obj) -> Obj:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def _subject(names: list[str]) -> str:
    return f"{_pluralize('container', 'containers', len(names))} {_join_quote(names)}"


# --- baseline ------------------------------------------------------------------------


def host_namespaces(spec: Obj) -> Result:
    found = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return ("host namespaces", ", ".join(found)) if found else None


def host_path_volumes(spec: Obj) -> Result:
    names = [str(v.get("name")) for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    if not names:
        return None
    return "hostPath volumes", f"{_pluralize('volume', 'volumes', len(names))} {_join_quote(names)}"


def host_ports(spec: Obj) -> Result:
    bad: list[str] = []
    ports: list[str] = []
    for c in _containers(spec):
        found = False
        for port in c.get("ports") or []:
            host_port = port.get("hostPort")
            if host_port:
                found = True
                if str(host_port) not in ports:
                    ports.append(str(host_port))
        if found:
            bad.append(str(c.get("name")))
    if not bad:
        return None
    return "hostPort", (
        f"{_subject(bad)} {_pluralize('uses', 'use', len(bad))} "
        f"{_pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(ports)}"
    )


def privileged(spec: Obj) -> Result:
    bad = [str(c.get("name")) for c in _containers(spec) if _sc(c).get("privileged") is True]
    if not bad:
        return None
    return "privileged", f"{_subject(bad)} must not set securityContext.privileged=true"


def capabilities_baseline(spec: Obj) -> Result:
    bad: list[str] = []
    added: set[str] = set()
    for c in _containers(spec):
        extra = [
            str(a)
            for a in (_sc(c).get("capabilities") or {}).get("add") or []
            if str(a) not in BASELINE_CAPABILITIES
        ]
        if extra:
            bad.append(str(c.get("name")))
            added.update(extra)
    if not bad:
        return None
    return "non-default capabilities", (
        f"{_subject(bad)} must not include {_join_quote(sorted(added))} in "
        "securityContext.capabilities.add"
    )


def proc_mount(spec: Obj) -> Result:
    bad: list[str] = []
    values: set[str] = set()
    for c in _containers(spec):
        mount = _sc(c).get("procMount")
        if mount not in (None, "", "Default"):
            bad.append(str(c.get("name")))
            values.add(str(mount))
    if not bad:
        return None
    return "procMount", (
        f"{_subject(bad)} must not set securityContext.procMount to {_join_quote(sorted(values))}"
    )


def seccomp_baseline(spec: Obj) -> Result:
    forbidden: list[str] = []
    if ((_sc(spec).get("seccompProfile") or {}).get("type")) == "Unconfined":
        forbidden.append("pod")
    bad = [
        str(c.get("name"))
        for c in _containers(spec)
        if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"
    ]
    if bad:
        forbidden.append(_subject(bad))
    if not forbidden:
        return None
    return "seccompProfile", (
        f"{' and '.join(forbidden)} must not set securityContext.seccompProfile.type to "
        '"Unconfined"'
    )


def sysctls(spec: Obj) -> Result:
    bad = [
        str(s.get("name"))
        for s in _sc(spec).get("sysctls") or []
        if str(s.get("name")) not in SAFE_SYSCTLS
    ]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


# --- restricted ----------------------------------------------------------------------


def allow_privilege_escalation(spec: Obj) -> Result:
    bad = [
        str(c.get("name"))
        for c in _containers(spec)
        if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return "allowPrivilegeEscalation != false", (
        f"{_subject(bad)} must set securityContext.allowPrivilegeEscalation=false"
    )


def capabilities_restricted(spec: Obj) -> Result:
    no_drop: list[str] = []
    bad_add: list[str] = []
    added: set[str] = set()
    for c in _containers(spec):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in [str(d) for d in caps.get("drop") or []]:
            no_drop.append(str(c.get("name")))
        extra = [str(a) for a in caps.get("add") or [] if str(a) != "NET_BIND_SERVICE"]
        if extra:
            bad_add.append(str(c.get("name")))
            added.update(extra)
    details = []
    if no_drop:
        details.append(f'{_subject(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if bad_add:
        details.append(
            f"{_subject(bad_add)} must not include {_join_quote(sorted(added))} in "
            "securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def restricted_volumes(spec: Obj) -> Result:
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in spec.get("volumes") or []:
        kind = next((k for k in volume if k != "name"), "")
        if kind and kind not in RESTRICTED_VOLUME_TYPES:
            bad.append(str(volume.get("name")))
            kinds.add(kind)
    if not bad:
        return None
    return "restricted volume types", (
        f"{_pluralize('volume', 'volumes', len(bad))} {_join_quote(bad)} "
        f"{_pluralize('uses', 'use', len(bad))} "
        f"{_pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{_join_quote(sorted(kinds))}"
    )


def run_as_non_root(spec: Obj) -> Result:
    pod_value = _sc(spec).get("runAsNonRoot")
    details: list[str] = []
    if pod_value is False:
        details.append("pod must not set securityContext.runAsNonRoot=false")
    explicit_bad: list[str] = []
    implicit_bad: list[str] = []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit_bad.append(str(c.get("name")))
        elif value is None and pod_value is not True:
            implicit_bad.append(str(c.get("name")))
    if explicit_bad:
        details.append(f"{_subject(explicit_bad)} must not set securityContext.runAsNonRoot=false")
    if implicit_bad and pod_value is not False:
        details.append(
            f"pod or {_subject(implicit_bad)} must set securityContext.runAsNonRoot=true"
        )
    return ("runAsNonRoot != true", "; ".join(details)) if details else None


def run_as_user(spec: Obj) -> Result:
    details: list[str] = []
    if _sc(spec).get("runAsUser") == 0:
        details.append("pod must not set runAsUser=0")
    bad = [str(c.get("name")) for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        details.append(f"{_subject(bad)} must not set runAsUser=0")
    return ("runAsUser=0", "; ".join(details)) if details else None


def seccomp_restricted(spec: Obj) -> Result:
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = (_sc(spec).get("seccompProfile") or {}).get("type")
    details: list[str] = []
    if pod_type is not None and pod_type not in allowed:
        details.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    explicit: list[str] = []
    explicit_types: set[str] = set()
    implicit: list[str] = []
    for c in _containers(spec):
        kind = (_sc(c).get("seccompProfile") or {}).get("type")
        if kind is not None and kind not in allowed:
            explicit.append(str(c.get("name")))
            explicit_types.add(str(kind))
        elif kind is None and pod_type is None:
            implicit.append(str(c.get("name")))
    if explicit:
        details.append(
            f"{_subject(explicit)} must not set securityContext.seccompProfile.type to "
            f"{_join_quote(sorted(explicit_types))}"
        )
    if implicit:
        details.append(
            f"pod or {_subject(implicit)} must set securityContext.seccompProfile.type to "
            '"RuntimeDefault" or "Localhost"'
        )
    return ("seccompProfile", "; ".join(details)) if details else None


# Check IDs in order; restricted replaces the baseline checks it names.
BASELINE: tuple[tuple[str, Check], ...] = (
    ("capabilities_baseline", capabilities_baseline),
    ("hostNamespaces", host_namespaces),
    ("hostPathVolumes", host_path_volumes),
    ("hostPorts", host_ports),
    ("privileged", privileged),
    ("procMount", proc_mount),
    ("seccompProfile_baseline", seccomp_baseline),
    ("sysctls", sysctls),
)
RESTRICTED: tuple[tuple[str, Check], ...] = (
    ("allowPrivilegeEscalation", allow_privilege_escalation),
    ("capabilities_restricted", capabilities_restricted),
    ("restrictedVolumes", restricted_volumes),
    ("runAsNonRoot", run_as_non_root),
    ("runAsUser", run_as_user),
    ("seccompProfile_restricted", seccomp_restricted),
)
_REPLACED = {
    "capabilities_baseline",
    "hostPathVolumes",
    "seccompProfile_baseline",
}


def checks_for(level: str) -> list[Check]:
    if level == "baseline":
        return [check for _, check in BASELINE]
    if level == "restricted":
        return [check for cid, check in BASELINE if cid not in _REPLACED] + [
            check for _, check in RESTRICTED
        ]
    return []


def evaluate(level: str, spec: Obj) -> str:
    """What ``spec`` violates at ``level``: ``reason (detail), ...``; "" if nothing."""
    failures = []
    for check in checks_for(level):
        result = check(spec)
        if result is not None:
            reason, detail = result
            failures.append(f"{reason} ({detail})" if detail else reason)
    return ", ".join(failures)
