"""The Pod Security Standards' checks, versioned, as k8s.io/pod-security-admission 1.32
words and registers them (``policy/check_*.go``, ``policy/registry.go``).

Each check has one or more revisions, each applying from a policy version ``v1.N`` on;
a restricted revision may override baseline checks (``capabilities_restricted`` replaces
``capabilities_baseline``, and so on). ``evaluate(level, version, metadata, spec)`` runs,
for that level at that version, the baseline checks then the restricted ones, each set
ordered by check ID, and returns the ``(reason, detail)`` of each that forbids the pod.
Versions newer than the newest revision (and ``latest``) use the newest revisions.
A check function takes the pod's (or template's) metadata and spec as JSON dicts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kapi.errors import quote

Obj = dict[str, Any]
Result = tuple[str, str] | None  # None: allowed; else (reason, detail)
CheckFn = Callable[[Obj, Obj], Result]

BASELINE = "baseline"
RESTRICTED = "restricted"


@dataclass(frozen=True)
class Revision:
    minimum: int  # the first v1.N this revision applies to
    check: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    revisions: tuple[Revision, ...]


# --- helpers (policy/helpers.go) ----------------------------------------------------


def _pluralize(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _join_quote(items: list[str]) -> str:
    """kube's joinQuote: each item between double quotes, nothing escaped."""
    return '"' + '", "'.join(items) + '"' if items else ""


def _containers(spec: Obj) -> Iterator[Obj]:
    """kube's visitContainers: init containers, containers, ephemeral containers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _sc(obj: Obj) -> Obj:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def _field(obj: Obj, key: str) -> Obj | None:
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def _name(container: Obj) -> str:
    return str(container.get("name") or "")


def _annotations(meta: Obj) -> dict[str, str]:
    found = meta.get("annotations")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _containers_phrase(names: list[str]) -> str:
    return f"{_pluralize('container', 'containers', len(names))} {_join_quote(names)}"


def _windows(spec: Obj) -> bool:
    return ((_field(spec, "os") or {}).get("name")) == "windows"


# --- baseline ------------------------------------------------------------------------


def app_armor_profile(meta: Obj, spec: Obj) -> Result:
    allowed_types = ("RuntimeDefault", "Localhost")
    setters: list[str] = []
    values: set[str] = set()
    profile = _field(_sc(spec), "appArmorProfile")
    if profile is not None and profile.get("type") not in allowed_types:
        setters.append("pod")
        values.add(str(profile.get("type") or ""))
    bad: list[str] = []
    for c in _containers(spec):
        profile = _field(_sc(c), "appArmorProfile")
        if profile is not None and profile.get("type") not in allowed_types:
            bad.append(_name(c))
            values.add(str(profile.get("type") or ""))
    if bad:
        setters.append(_containers_phrase(bad))
    forbidden = sorted(
        f"{key}={quote(value)}"
        for key, value in _annotations(meta).items()
        if key.startswith("container.apparmor.security.beta.kubernetes.io/")
        and not (value == "" or value == "runtime/default" or value.startswith("localhost/"))
    )
    listed = sorted(values) + forbidden
    if forbidden:
        setters.append(_pluralize("annotation", "annotations", len(forbidden)))
    if not setters:
        return None
    return (
        _pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(listed)}",
    )


CAPABILITIES_BASELINE = frozenset(
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


def capabilities_baseline(meta: Obj, spec: Obj) -> Result:
    bad: list[str] = []
    added: set[str] = set()
    for c in _containers(spec):
        caps = _field(_sc(c), "capabilities")
        if caps is None:
            continue
        extra = [str(a) for a in caps.get("add") or [] if str(a) not in CAPABILITIES_BASELINE]
        if extra:
            bad.append(_name(c))
            added.update(extra)
    if not bad:
        return None
    return "non-default capabilities", (
        f"{_containers_phrase(bad)} must not include {_join_quote(sorted(added))} in "
        "securityContext.capabilities.add"
    )


def host_namespaces(meta: Obj, spec: Obj) -> Result:
    found = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return ("host namespaces", ", ".join(found)) if found else None


def host_path_volumes(meta: Obj, spec: Obj) -> Result:
    names = [
        str(v.get("name") or "")
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and v.get("hostPath") is not None
    ]
    if not names:
        return None
    return "hostPath volumes", f"{_pluralize('volume', 'volumes', len(names))} {_join_quote(names)}"


def host_ports(meta: Obj, spec: Obj) -> Result:
    bad: list[str] = []
    ports: set[str] = set()
    for c in _containers(spec):
        used = [p.get("hostPort") for p in c.get("ports") or [] if isinstance(p, dict)]
        used = [p for p in used if p]
        if used:
            bad.append(_name(c))
            ports.update(str(p) for p in used)
    if not bad:
        return None
    return "hostPort", (
        f"{_containers_phrase(bad)} {_pluralize('uses', 'use', len(bad))} "
        f"{_pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )


def privileged(meta: Obj, spec: Obj) -> Result:
    bad = [_name(c) for c in _containers(spec) if _sc(c).get("privileged") is True]
    if not bad:
        return None
    return "privileged", f"{_containers_phrase(bad)} must not set securityContext.privileged=true"


def proc_mount(meta: Obj, spec: Obj) -> Result:
    bad: list[str] = []
    values: set[str] = set()
    for c in _containers(spec):
        mount = _sc(c).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(_name(c))
            values.add(str(mount))
    if not bad:
        return None
    return "procMount", (
        f"{_containers_phrase(bad)} must not set securityContext.procMount to "
        f"{_join_quote(sorted(values))}"
    )


SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


def selinux_options(meta: Obj, spec: Obj) -> Result:
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(opts: Obj) -> bool:
        ok = True
        kind = str(opts.get("type") or "")
        if kind not in SELINUX_TYPES:
            ok = False
            bad_types.add(kind)
        for key in ("user", "role"):
            if opts.get(key):
                ok = False
                flags[key] = True
        return ok

    setters: list[str] = []
    opts = _field(_sc(spec), "seLinuxOptions")
    if opts is not None and not valid(opts):
        setters.append("pod")
    bad: list[str] = []
    for c in _containers(spec):
        opts = _field(_sc(c), "seLinuxOptions")
        if opts is not None and not valid(opts):
            bad.append(_name(c))
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    data: list[str] = []
    if bad_types:
        data.append(
            f"{_pluralize('type', 'types', len(bad_types))} {_join_quote(sorted(bad_types))}"
        )
    if flags["user"]:
        data.append("user may not be set")
    if flags["role"]:
        data.append("role may not be set")
    return "seLinuxOptions", (
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"
    )


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def seccomp_baseline_1_0(meta: Obj, spec: Obj) -> Result:
    """Before 1.19, seccomp was set by annotations."""
    annotations = _annotations(meta)

    def valid(value: str) -> bool:
        return value in ("runtime/default", "docker/default") or value.startswith("localhost/")

    forbidden: set[str] = set()
    keys = [SECCOMP_POD_ANNOTATION] + [
        SECCOMP_CONTAINER_ANNOTATION + _name(c) for c in _containers(spec)
    ]
    for key in keys:
        if key in annotations and not valid(annotations[key]):
            forbidden.add(f"{key}={quote(annotations[key])}")
    if not forbidden:
        return None
    return "seccompProfile", (
        f"forbidden {_pluralize('annotation', 'annotations', len(forbidden))} "
        f"{', '.join(sorted(forbidden))}"
    )


def _valid_seccomp(profile: Obj) -> bool:
    return profile.get("type") in ("Localhost", "RuntimeDefault")


def _seccomp_explicit(spec: Obj) -> tuple[list[str], set[str], bool, list[str]]:
    """(bad setters, bad values, pod sets a valid profile, containers setting none)."""
    setters: list[str] = []
    values: set[str] = set()
    pod_set = False
    profile = _field(_sc(spec), "seccompProfile")
    if profile is not None:
        if _valid_seccomp(profile):
            pod_set = True
        else:
            setters.append("pod")
            values.add(str(profile.get("type") or ""))
    explicit: list[str] = []
    unset: list[str] = []
    for c in _containers(spec):
        profile = _field(_sc(c), "seccompProfile")
        if profile is None:
            unset.append(_name(c))
        elif not _valid_seccomp(profile):
            explicit.append(_name(c))
            values.add(str(profile.get("type") or ""))
    if explicit:
        setters.append(_containers_phrase(explicit))
    return setters, values, pod_set, unset


def _seccomp_setters_result(setters: list[str], values: set[str]) -> Result:
    return "seccompProfile", (
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
        f"{_join_quote(sorted(values))}"
    )


def seccomp_baseline_1_19(meta: Obj, spec: Obj) -> Result:
    setters, values, _, _ = _seccomp_explicit(spec)
    return _seccomp_setters_result(setters, values) if setters else None


SYSCTLS_1_0 = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
)
SYSCTLS_1_27 = (*SYSCTLS_1_0, "net.ipv4.ip_local_reserved_ports")
SYSCTLS_1_29 = (
    *SYSCTLS_1_27,
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)


def _sysctls(allowed: tuple[str, ...]) -> CheckFn:
    safe = frozenset(allowed)

    def check(meta: Obj, spec: Obj) -> Result:
        bad = [
            str(s.get("name"))
            for s in _sc(spec).get("sysctls") or []
            if isinstance(s, dict) and str(s.get("name")) not in safe
        ]
        return ("forbidden sysctls", ", ".join(bad)) if bad else None

    return check


def windows_host_process(meta: Obj, spec: Obj) -> Result:
    def host_process(sc: Obj) -> bool:
        return (_field(sc, "windowsOptions") or {}).get("hostProcess") is True

    bad = [_name(c) for c in _containers(spec) if host_process(_sc(c))]
    setters = ["pod"] if host_process(_sc(spec)) else []
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    return "hostProcess", (
        f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    )


# --- restricted ----------------------------------------------------------------------


def allow_privilege_escalation_1_8(meta: Obj, spec: Obj) -> Result:
    bad = [
        _name(c) for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return "allowPrivilegeEscalation != false", (
        f"{_containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false"
    )


def capabilities_restricted_1_22(meta: Obj, spec: Obj) -> Result:
    no_drop: list[str] = []
    bad_add: list[str] = []
    added: set[str] = set()
    for c in _containers(spec):
        caps = _field(_sc(c), "capabilities")
        if caps is None:
            no_drop.append(_name(c))
            continue
        if "ALL" not in [str(d) for d in caps.get("drop") or []]:
            no_drop.append(_name(c))
        extra = [str(a) for a in caps.get("add") or [] if str(a) != "NET_BIND_SERVICE"]
        if extra:
            bad_add.append(_name(c))
            added.update(extra)
    details = []
    if no_drop:
        details.append(
            f'{_containers_phrase(no_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if bad_add:
        details.append(
            f"{_containers_phrase(bad_add)} must not include {_join_quote(sorted(added))} in "
            "securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


RESTRICTED_VOLUME_SOURCES = frozenset(
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
# The volume sources kube names, in the order it tests them.
NAMED_VOLUME_SOURCES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def restricted_volumes(meta: Obj, spec: Obj) -> Result:
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        if any(volume.get(k) is not None for k in RESTRICTED_VOLUME_SOURCES):
            continue
        bad.append(str(volume.get("name") or ""))
        kinds.add(next((k for k in NAMED_VOLUME_SOURCES if volume.get(k) is not None), "unknown"))
    if not bad:
        return None
    return "restricted volume types", (
        f"{_pluralize('volume', 'volumes', len(bad))} {_join_quote(bad)} "
        f"{_pluralize('uses', 'use', len(bad))} "
        f"{_pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{_join_quote(sorted(kinds))}"
    )


def run_as_non_root(meta: Obj, spec: Obj) -> Result:
    setters: list[str] = []
    pod_true = False
    pod_value = _sc(spec).get("runAsNonRoot")
    if pod_value is not None:
        if pod_value is False:
            setters.append("pod")
        else:
            pod_true = True
    explicit: list[str] = []
    implicit: list[str] = []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(_name(c))
        elif not pod_true:
            implicit.append(_name(c))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return "runAsNonRoot != true", (
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return "runAsNonRoot != true", (
            f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true"
        )
    return None


def run_as_user_1_23(meta: Obj, spec: Obj) -> Result:
    setters = ["pod"] if _sc(spec).get("runAsUser") == 0 else []
    bad = [_name(c) for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"


def seccomp_restricted_1_19(meta: Obj, spec: Obj) -> Result:
    setters, values, pod_set, unset = _seccomp_explicit(spec)
    if setters:
        return _seccomp_setters_result(setters, values)
    if unset and not pod_set:
        return "seccompProfile", (
            f"pod or {_containers_phrase(unset)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
    return None


def _not_on_windows(check: CheckFn) -> CheckFn:
    """The 1.25 revisions: a pod with ``spec.os.name: windows`` passes."""

    def revised(meta: Obj, spec: Obj) -> Result:
        return None if _windows(spec) else check(meta, spec)

    return revised


# --- the registry --------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check("appArmorProfile", BASELINE, (Revision(0, app_armor_profile),)),
    Check("capabilities_baseline", BASELINE, (Revision(0, capabilities_baseline),)),
    Check("hostNamespaces", BASELINE, (Revision(0, host_namespaces),)),
    Check("hostPathVolumes", BASELINE, (Revision(0, host_path_volumes),)),
    Check("hostPorts", BASELINE, (Revision(0, host_ports),)),
    Check("privileged", BASELINE, (Revision(0, privileged),)),
    Check("procMount", BASELINE, (Revision(0, proc_mount),)),
    Check("seLinuxOptions", BASELINE, (Revision(0, selinux_options),)),
    Check(
        "seccompProfile_baseline",
        BASELINE,
        (Revision(0, seccomp_baseline_1_0), Revision(19, seccomp_baseline_1_19)),
    ),
    Check(
        "sysctls",
        BASELINE,
        (
            Revision(0, _sysctls(SYSCTLS_1_0)),
            Revision(27, _sysctls(SYSCTLS_1_27)),
            Revision(29, _sysctls(SYSCTLS_1_29)),
        ),
    ),
    Check("windowsHostProcess", BASELINE, (Revision(0, windows_host_process),)),
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (
            Revision(8, allow_privilege_escalation_1_8),
            Revision(25, _not_on_windows(allow_privilege_escalation_1_8)),
        ),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (
            Revision(22, capabilities_restricted_1_22, ("capabilities_baseline",)),
            Revision(25, _not_on_windows(capabilities_restricted_1_22), ("capabilities_baseline",)),
        ),
    ),
    Check(
        "restrictedVolumes", RESTRICTED, (Revision(0, restricted_volumes, ("hostPathVolumes",)),)
    ),
    Check("runAsNonRoot", RESTRICTED, (Revision(0, run_as_non_root),)),
    Check("runAsUser", RESTRICTED, (Revision(23, run_as_user_1_23),)),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (
            Revision(19, seccomp_restricted_1_19, ("seccompProfile_baseline",)),
            Revision(25, _not_on_windows(seccomp_restricted_1_19), ("seccompProfile_baseline",)),
        ),
    ),
)
# The newest revision's version: newer policy versions (and "latest") evaluate as it.
MAX_MINOR = max(r.minimum for c in CHECKS for r in c.revisions)
_ORDER = sorted(c.id for c in CHECKS if c.level == BASELINE) + sorted(
    c.id for c in CHECKS if c.level == RESTRICTED
)


def _revision_at(check: Check, minor: int) -> Revision | None:
    found = None
    for revision in check.revisions:
        if revision.minimum <= minor:
            found = revision
    return found


@functools.cache
def checks_for(level: str, minor: int | None) -> tuple[CheckFn, ...]:
    """The check functions of ``level`` at ``v1.minor`` (None: latest), in kube's order."""
    if level not in (BASELINE, RESTRICTED):
        return ()
    minor = MAX_MINOR if minor is None or minor > MAX_MINOR else minor
    at = {c.id: (c, r) for c in CHECKS if (r := _revision_at(c, minor)) is not None}
    chosen = {cid for cid, (c, _) in at.items() if c.level == BASELINE}
    if level == RESTRICTED:
        overridden = {o for c, r in at.values() if c.level == RESTRICTED for o in r.overrides}
        chosen = (chosen - overridden) | {
            cid for cid, (c, _) in at.items() if c.level == RESTRICTED
        }
    return tuple(at[cid][1].check for cid in _ORDER if cid in chosen)


def evaluate(level: str, minor: int | None, meta: Obj, spec: Obj) -> list[tuple[str, str]]:
    """The ``(reason, detail)`` of each check of ``level`` at ``v1.minor`` that forbids."""
    failures = []
    for check in checks_for(level, minor):
        result = check(meta, spec)
        if result is not None:
            failures.append((result[0] or "unknown forbidden reason", result[1]))
    return failures


def forbidden_detail(failures: list[tuple[str, str]]) -> str:
    """kube's ForbiddenDetail: ``reason (detail), reason, ...``."""
    return ", ".join(f"{r} ({d})" if d else r for r, d in failures)


def forbidden_reason(failures: list[tuple[str, str]]) -> str:
    """kube's ForbiddenReason: the reasons alone."""
    return ", ".join(r for r, _ in failures)
