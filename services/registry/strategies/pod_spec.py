"""Pod spec defaulting and validation, shared by pods and every pod template."""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation

Obj = dict[str, Any]


def _image_pull_policy(image: str) -> str:
    """Always for ``:latest`` or an untagged image, otherwise IfNotPresent (kube's rule)."""
    name, digest = image.split("@", 1) if "@" in image else (image, "")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"  # kube's ParseImageName: no tag and no digest means :latest
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_container(container: Obj) -> None:
    image = container.get("image")
    if isinstance(image, str):
        container.setdefault("imagePullPolicy", _image_pull_policy(image))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_key)
        if isinstance(probe, dict):
            for key, value in (
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
            ):
                probe.setdefault(key, value)


def default_pod_spec(spec: Obj) -> None:
    """The defaults kube-apiserver fills in a v1 PodSpec."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)


def validate_pod_spec(spec: Any, path: str) -> list[FieldError]:
    """The rules users hit most: containers present, named, unique, with an image."""
    if not isinstance(spec, dict):
        return [errors.required(path)]
    out: list[FieldError] = []
    containers = spec.get("containers")
    if not containers:
        out.append(errors.required(f"{path}.containers"))
        return out
    if not isinstance(containers, list):
        return [errors.invalid_value(f"{path}.containers", containers, "must be a list")]
    seen: set[str] = set()
    init = spec.get("initContainers")
    listed = [("containers", containers)]
    if isinstance(init, list):
        listed.append(("initContainers", init))  # kube checks these after, names shared
    for key, items in listed:
        out.extend(_validate_containers(items, f"{path}.{key}", seen))
    policy = spec.get("restartPolicy")
    if policy not in (None, "Always", "OnFailure", "Never"):
        out.append(
            errors.not_supported(f"{path}.restartPolicy", policy, ["Always", "OnFailure", "Never"])
        )
    return out


def _validate_containers(containers: list[Any], path: str, seen: set[str]) -> list[FieldError]:
    """Each container named (a DNS label, unique in the pod) and with an image."""
    out: list[FieldError] = []
    for i, container in enumerate(containers):
        cpath = f"{path}[{i}]"
        if not isinstance(container, dict):
            out.append(errors.invalid_value(cpath, container, "must be an object"))
            continue
        name = container.get("name")
        if not name:
            out.append(errors.required(f"{cpath}.name"))
        elif not isinstance(name, str):
            out.append(errors.invalid_value(f"{cpath}.name", name, "must be a string"))
        else:
            out.extend(
                errors.invalid_value(f"{cpath}.name", name, m)
                for m in validation.dns1123_label(name)
            )
            if name in seen:
                out.append(errors.duplicate(f"{cpath}.name", name))
            seen.add(name)
        if not container.get("image"):
            out.append(errors.required(f"{cpath}.image"))
    return out


# What an ephemeral container may not set (kube's validateEphemeralContainers: the
# fields outside its allow-list).
_EPHEMERAL_FORBIDDEN = (
    "ports",
    "resources",
    "resizePolicy",
    "lifecycle",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "restartPolicy",
)
EPHEMERAL_FORBIDDEN_DETAIL = "cannot be set for an Ephemeral Container"


def validate_ephemeral_containers(spec: Any, path: str) -> list[FieldError]:
    """A pod's ephemeral containers: named (a DNS label unique among all the pod's
    containers), with an image, none of the fields a debugging container may not have,
    and a targetContainerName that names one of the pod's containers."""
    if not isinstance(spec, dict) or not isinstance(spec.get("ephemeralContainers"), list):
        return []
    others = [
        c.get("name")
        for key in ("containers", "initContainers")
        for c in spec.get(key) or []
        if isinstance(c, dict)
    ]
    seen = {n for n in others if isinstance(n, str)}
    items = spec["ephemeralContainers"]
    out = _validate_containers(items, f"{path}.ephemeralContainers", seen)
    for i, container in enumerate(items):
        if not isinstance(container, dict):
            continue
        cpath = f"{path}.ephemeralContainers[{i}]"
        for key in _EPHEMERAL_FORBIDDEN:
            value = container.get(key)
            if value not in (None, {}, []):
                out.append(errors.forbidden_field(f"{cpath}.{key}", EPHEMERAL_FORBIDDEN_DETAIL))
        target = container.get("targetContainerName")
        if target and target not in others:
            out.append(
                errors.FieldError("FieldValueNotFound", f"{cpath}.targetContainerName", target)
            )
    return out
