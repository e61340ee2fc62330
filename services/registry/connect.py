"""The connect subresources (pods/log, exec, attach, portforward, and the pod, service
and node proxies): what kube-apiserver answers while no kubelet runs the pods.

kube-apiserver checks a connect request itself before it hands it to the node's kubelet
(``pkg/registry/core/pod/strategy.go``: ``LogLocation``, ``streamLocation``,
``PortForwardLocation``, ``validateContainer``, ``ResourceLocation``; the service and
node ``ResourceLocation`` in their storage): the object must exist (404), a named
container must be the pod's (400), a pod must have a node (400 "pod p does not have a
host assigned"; the log of an unscheduled pod is a 204 No Content). Those answers are
kube's. Past them kapi has no kubelet to hand the request to; the log of a container that a
simulated node runs (``services.nodes``, container IDs ``kapi://``) is answered here, a
line per container start and exit. Otherwise it answers what a kubelet answers while
the pod's containers have not started (kubelet's ``validateContainerLogStatus``):
400 ``container "c" in pod "p" is waiting to start: ContainerCreating`` (the reason of
the container's waiting state where its status has one). Anything a kubelet or a
backend would have to serve (a running container's stream, a proxied request) is a 503
ServiceUnavailable saying no kubelet or endpoint serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kapi import errors
from services.registry.strategies.common import get_path

Obj = dict[str, Any]
Options = dict[str, list[str]]

TEXT = "text/plain"
LOG_OPTIONS_KIND = "PodLogOptions"


@dataclass(frozen=True)
class Answer:
    """A connect reply that is not an error: its body, code and media type."""

    body: bytes = b""
    code: int = 200
    content_type: str = TEXT


def split_name(name: str, kind: str) -> str:
    """The object name of a proxy target ``name``, ``name:port`` or ``scheme:name:port``
    (apimachinery's SplitSchemeNamePort); 400 for anything else."""
    parts = name.split(":")
    if len(parts) == 3 and parts[0] not in ("http", "https"):
        parts = []
    if len(parts) == 3:
        parts = parts[1:]
    if not parts or len(parts) > 2 or not parts[0]:
        raise errors.bad_request(f"invalid {kind} request {errors.quote(name)}")
    return parts[0]


def _option(options: Options, key: str) -> str:
    values = options.get(key) or [""]
    return values[0]


def _int_option(options: Options, key: str) -> int | None:
    raw = _option(options, key)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(
            f"strconv.ParseInt: parsing {errors.quote(raw)}: invalid syntax"
        ) from None


def _true(options: Options, key: str) -> bool:
    return _option(options, key).lower() in ("true", "1")


# --- pods -------------------------------------------------------------------------------


def _containers(pod: Obj, key: str) -> list[Obj]:
    found = get_path(pod, "spec", key)
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _all_container_names(pod: Obj) -> list[str]:
    """kube's VisitContainers order: init containers, containers, ephemeral containers."""
    return [
        str(c.get("name", ""))
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in _containers(pod, key)
    ]


def validate_container(container: str, pod: Obj, name: str) -> str:
    """The container a request is for (the only one when none is named), else 400."""
    if container:
        if container not in _all_container_names(pod):
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    containers = _containers(pod, "containers")
    if len(containers) == 1:
        return str(containers[0].get("name", ""))
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    listed = " ".join(_all_container_names(pod))  # Go prints a []string as [a b]
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{listed}]"
    )


def _validate_log_options(options: Options, name: str) -> None:
    """kube's ValidatePodLogOptions: 422 Invalid PodLogOptions."""
    problems: list[errors.FieldError] = []
    tail = _int_option(options, "tailLines")
    if tail is not None and tail < 0:
        problems.append(
            errors.invalid_value("tailLines", tail, "must be greater than or equal to 0")
        )
    limit = _int_option(options, "limitBytes")
    if limit is not None and limit < 1:
        problems.append(errors.invalid_value("limitBytes", limit, "must be greater than 0"))
    since = _int_option(options, "sinceSeconds")
    if since is not None and _option(options, "sinceTime"):
        problems.append(
            errors.forbidden_field(
                "", "at most one of `sinceTime` or `sinceSeconds` may be specified"
            )
        )
    elif since is not None and since < 1:
        problems.append(errors.invalid_value("sinceSeconds", since, "must be greater than 0"))
    if problems:
        raise errors.invalid(LOG_OPTIONS_KIND, "", name, problems)


def _container_status(pod: Obj, container: str) -> Obj | None:
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for status in get_path(pod, "status", key) or []:
            if isinstance(status, dict) and status.get("name") == container:
                return status
    return None


def _kubelet_answer(pod: Obj, container: str, name: str, *, previous: bool) -> bool:
    """What a kubelet says of a container's logs or streams while it is not running
    (kubelet's validateContainerLogStatus), as a 400; True when the container runs
    (kapi has nothing to stream from it)."""
    status = _container_status(pod, container) or {"state": {"waiting": {}}}
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated")
    prefix = f"container {errors.quote(container)} in pod {errors.quote(name)}"
    if previous:
        if not isinstance(last, dict) or not last.get("containerID"):
            raise errors.bad_request(
                f"previous terminated container {errors.quote(container)} in pod "
                f"{errors.quote(name)} not found"
            )
        return True
    if "running" in state:
        return True
    terminated = state.get("terminated")
    if isinstance(terminated, dict):
        if terminated.get("containerID") or (isinstance(last, dict) and last.get("containerID")):
            return True
        raise errors.bad_request(f"{prefix} is terminated")
    if isinstance(last, dict):
        if last.get("containerID"):
            return True
        raise errors.bad_request(f"{prefix} is terminated")
    waiting = state.get("waiting")
    if isinstance(waiting, dict):
        reason = str(waiting.get("reason") or "ContainerCreating")
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        raise errors.bad_request(f"{prefix} is waiting to start: {reason}")
    raise errors.bad_request(f"{prefix} is waiting to start - no logs yet")


SIMULATED_CONTAINER = "kapi://"  # services.nodes' container IDs


def _simulated(pod: Obj, container: str) -> bool:
    status = _container_status(pod, container) or {}
    return str(status.get("containerID") or "").startswith(SIMULATED_CONTAINER)


def simulated_log(pod: Obj, container: str, options: Options) -> Answer:
    """The log of a container a simulated node runs (its containerID is ``kapi://``):
    one line saying where it runs, and one when it has exited; ``timestamps``,
    ``tailLines`` and ``limitBytes`` apply as a kubelet applies them. Any other
    container's log is empty: no kubelet runs it for kapi."""
    if not _simulated(pod, container):
        return Answer()
    status = _container_status(pod, container) or {}
    state = status.get("state") or {}
    meta = pod.get("metadata") or {}
    running = state.get("running") or {}
    terminated = state.get("terminated") or {}
    started = str(running.get("startedAt") or terminated.get("startedAt") or "")
    where = (
        f"{meta.get('namespace', '')}/{meta.get('name', '')} on node "
        f"{get_path(pod, 'spec', 'nodeName')} (image {status.get('image', '')})"
    )
    lines = [(started, f"kapi simulated container {container} started in pod {where}")]
    if terminated:
        lines.append(
            (
                str(terminated.get("finishedAt") or started),
                f"kapi simulated container {container} exited with code "
                f"{terminated.get('exitCode', 0)}",
            )
        )
    tail = _int_option(options, "tailLines")
    if tail is not None:
        lines = lines[-tail:] if tail else []
    stamps = _true(options, "timestamps")
    text = "".join(
        f"{_nanos(at)} {line}\n" if stamps else f"{line}\n" for at, line in lines
    ).encode()
    limit = _int_option(options, "limitBytes")
    if limit is not None:
        text = text[:limit]
    return Answer(body=text)


def _nanos(rfc3339: str) -> str:
    """A kubelet's timestamp prefix: RFC 3339 with nanoseconds."""
    return rfc3339.replace("Z", ".000000000Z") if rfc3339.endswith("Z") else rfc3339


def _no_kubelet(node: str) -> errors.StatusError:
    return errors.service_unavailable(
        f"error dialing backend: no kubelet serves node {errors.quote(node)} (kapi runs none)"
    )


def pod(subresource: str, obj: Obj, name: str, options: Options) -> Answer:
    """pods/log, exec, attach, portforward and proxy of the pod ``obj``."""
    node = str(get_path(obj, "spec", "nodeName") or "")
    if subresource == "proxy":
        ip = str(get_path(obj, "status", "podIP") or "")
        if not ip:
            raise errors.bad_request("address not allowed")
        raise errors.service_unavailable(
            f"error trying to reach service: no kubelet runs pod {errors.quote(name)} at {ip}"
        )
    if subresource == "log":
        _validate_log_options(options, name)
        container = validate_container(_option(options, "container"), obj, name)
        if not node:  # kube: no host, no location to stream from: 204 No Content
            return Answer(code=204, content_type="")
        _kubelet_answer(obj, container, name, previous=_true(options, "previous"))
        return simulated_log(obj, container, options)
    if subresource in ("exec", "attach"):
        container = validate_container(_option(options, "container"), obj, name)
        if not node:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        _kubelet_answer(obj, container, name, previous=False)
        if _simulated(obj, container):
            raise errors.bad_request(
                f"container {errors.quote(container)} in pod {errors.quote(name)} is simulated "
                f"by kapi: no process runs in it to {subresource} to"
            )
        raise _no_kubelet(node)
    if subresource == "portforward":
        if not node:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        if any(_simulated(obj, c) for c in _all_container_names(obj)):
            raise errors.bad_request(
                f"pod {errors.quote(name)} is simulated by kapi: nothing listens to forward to"
            )
        raise _no_kubelet(node)
    raise errors.not_found_path()


def service(subresource: str, obj: Obj, requested: str, options: Options) -> Answer:
    """services/proxy: kube finds a ready endpoint to proxy to; kapi has no endpoints
    controller, and nothing would answer at one."""
    raise errors.service_unavailable(
        f"no endpoints available for service {errors.quote(requested)}"
    )


def node(subresource: str, obj: Obj, requested: str, options: Options) -> Answer:
    """nodes/proxy: to the node's kubelet, which kapi does not run."""
    raise _no_kubelet(str(get_path(obj, "metadata", "name") or requested))


# The connect subresources of each resource, by (group, resource): (subresource, the
# object, the name as requested, the query parameters) -> the answer.
CONNECTERS: dict[tuple[str, str], Callable[[str, Obj, str, Options], Answer]] = {
    ("", "pods"): pod,
    ("", "services"): service,
    ("", "nodes"): node,
}
