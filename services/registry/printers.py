"""Server-side printing: the meta.k8s.io/v1 Table kube-apiserver 1.32 answers ``kubectl get`` with.

Why: kubectl asks for ``as=Table`` and prints the columns it gets; a plain List makes it
print only NAME and AGE, and rows without ``object`` lose the NAMESPACE column (``-A``)
and ``--show-labels``. The columns, their order, types, formats, priorities and
descriptions, and the way each cell is computed, are kube's
(pkg/printers/internalversion/printers.go): the server always prints the wide form and
kubectl drops the ``priority: 1`` columns unless ``-o wide``.

Printers are keyed by (group, kind), like kube's per-type handlers; a type without one
gets kube's default table convertor (Name, Created At). Cells are computed from the stored
object with kube's API defaults where the stored object may lack them (a Service without
``type`` prints ClusterIP, a Deployment without ``replicas`` wants 1), since kube prints
defaulted objects.

Every function here is pure: objects are read, never mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kapi import errors
from services.registry import openapi_schemas
from services.registry.types import ResourceType

Obj = dict[str, Any]

META_V1 = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CORE_V1 = "io.k8s.api.core.v1."
APPS_V1 = "io.k8s.api.apps.v1."

INCLUDE_OBJECT = ("None", "Metadata", "Object")

# --- durations -------------------------------------------------------------------------


def human_duration(delta: timedelta) -> str:
    """apimachinery's ``duration.HumanDuration``: ~2-3 significant figures, e.g. 5m10s, 3h, 2d."""
    micros = delta // timedelta(microseconds=1)
    seconds = int(micros / 1_000_000)  # truncates toward zero, as Go's int(d.Seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = micros // 60_000_000
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = micros // 3_600_000_000
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 (micro)timestamp as an aware datetime; None when absent or unparsable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _since(value: Any, now: datetime) -> str:
    """kube's translateTimestampSince: HumanDuration(now - t), ``<unknown>`` for no time."""
    moment = _parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration(_aware(now) - moment)


# --- small formatting helpers ----------------------------------------------------------


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """labels.FormatLabels: ``k=v`` sorted by key, comma-joined; ``<none>`` when empty."""
    text = ",".join(f"{k}={v}" for k, v in sorted(_map(labels).items()))
    return text or "<none>"


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """LabelSelectorAsSelector(...).String(): requirements sorted by key, or ``<invalid>``."""
    if not selector:
        return ""
    requirements: list[tuple[str, str]] = [
        (key, f"{key}={value}") for key, value in _map(selector.get("matchLabels")).items()
    ]
    operators = {"In": "in", "NotIn": "notin"}
    for expr in _list(selector.get("matchExpressions")):
        key, op = str(_get(expr, "key") or ""), _get(expr, "operator")
        values = sorted(str(v) for v in _list(_get(expr, "values")))
        if op in operators:
            requirements.append((key, f"{key} {operators[op]} ({','.join(values)})"))
        elif op == "Exists":
            requirements.append((key, key))
        elif op == "DoesNotExist":
            requirements.append((key, f"!{key}"))
        else:
            return "<invalid>"
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))


def _containers_cells(containers: list[Any]) -> tuple[str, str]:
    """layoutContainerCells: names and images, comma-joined."""
    names = ",".join(str(_get(c, "name") or "") for c in containers)
    images = ",".join(str(_get(c, "image") or "") for c in containers)
    return names, images


# --- per-type rows ---------------------------------------------------------------------

Row = tuple[list[Any], list[Obj]]  # cells, row conditions


def _name(obj: Obj) -> str:
    return str(_get(obj, "metadata", "name") or "")


def _age(obj: Obj, now: datetime) -> str:
    return _since(_get(obj, "metadata", "creationTimestamp"), now)


def _is_restartable_init_container(container: Any) -> bool:
    return bool(_get(container, "restartPolicy") == "Always")


def _condition_true(status: Mapping[str, Any], condition_type: str) -> bool:
    for condition in _list(status.get("conditions")):
        if _get(condition, "type") == condition_type:
            return bool(_get(condition, "status") == "True")
    return False


def _later(current: datetime | None, state: Any) -> datetime | None:
    finished = _parse_time(_get(state, "terminated", "finishedAt"))
    if finished is None or (current is not None and finished <= current):
        return current
    return finished


def _terminated_reason(terminated: Mapping[str, Any], prefix: str) -> str:
    if terminated.get("reason"):
        return f"{prefix}{terminated['reason']}"
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


_POD_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_POD_FAILED = [
    {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
]


def _pod_row(pod: Obj, now: datetime) -> Row:
    spec, status = _map(pod.get("spec")), _map(pod.get("status"))
    init_specs = _list(spec.get("initContainers"))
    restarts = restartable_restarts = ready = 0
    total = len(_list(spec.get("containers")))
    last_restart: datetime | None = None
    last_restartable_restart: datetime | None = None

    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    for condition in _list(status.get("conditions")):
        if (
            _get(condition, "type") == "PodScheduled"
            and _get(condition, "reason") == "SchedulingGated"
        ):
            reason = "SchedulingGated"
    conditions = {"Succeeded": _POD_SUCCEEDED, "Failed": _POD_FAILED}.get(phase, [])

    init_by_name = {_get(c, "name"): c for c in init_specs}
    total += sum(1 for c in init_specs if _is_restartable_init_container(c))

    initializing = False
    for index, cs in enumerate(_list(status.get("initContainerStatuses"))):
        restarts += int(_get(cs, "restartCount") or 0)
        last_restart = _later(last_restart, _get(cs, "lastState"))
        restartable = _is_restartable_init_container(init_by_name.get(_get(cs, "name")))
        if restartable:
            restartable_restarts += int(_get(cs, "restartCount") or 0)
            last_restartable_restart = _later(last_restartable_restart, _get(cs, "lastState"))
        terminated = _get(cs, "state", "terminated")
        waiting_reason = _get(cs, "state", "waiting", "reason")
        if isinstance(terminated, Mapping) and not terminated.get("exitCode"):
            continue
        if restartable and _get(cs, "started"):
            if _get(cs, "ready"):
                ready += 1
            continue
        if isinstance(terminated, Mapping):
            reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = f"Init:{waiting_reason}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = restartable_restarts, last_restartable_restart
        has_running = False
        for cs in reversed(_list(status.get("containerStatuses"))):
            restarts += int(_get(cs, "restartCount") or 0)
            last_restart = _later(last_restart, _get(cs, "lastState"))
            terminated = _get(cs, "state", "terminated")
            waiting_reason = _get(cs, "state", "waiting", "reason")
            if waiting_reason:
                reason = str(waiting_reason)
            elif isinstance(terminated, Mapping):
                reason = _terminated_reason(terminated, "")
            elif _get(cs, "ready") and _get(cs, "state", "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if _get(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(_aware(now) - last_restart)} ago)"

    pod_ips = _list(status.get("podIPs"))
    pod_ip = str(_get(pod_ips[0], "ip") or "") if pod_ips else str(status.get("podIP") or "")
    gates = _list(spec.get("readinessGates"))
    readiness_gates = "<none>"
    if gates:
        true_conditions = sum(
            1 for gate in gates if _condition_true(status, str(_get(gate, "conditionType")))
        )
        readiness_gates = f"{true_conditions}/{len(gates)}"
    cells = [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod, now),
        pod_ip or "<none>",
        str(spec.get("nodeName") or "<none>"),
        str(status.get("nominatedNodeName") or "<none>"),
        readiness_gates,
    ]
    return cells, conditions


def _load_balancer_ips(status: Mapping[str, Any]) -> str:
    found = {
        str(_get(i, "ip") or _get(i, "hostname") or "")
        for i in _list(_get(status, "loadBalancer", "ingress"))
    }
    return ",".join(sorted(found - {""}))


def _service_external_ip(
    spec: Mapping[str, Any], status: Mapping[str, Any], service_type: str
) -> str:
    external_ips = [str(ip) for ip in _list(spec.get("externalIPs"))]
    if service_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or "<none>"
    if service_type == "LoadBalancer":
        lb_ips = _load_balancer_ips(status)
        if external_ips:
            return ",".join([*(lb_ips.split(",") if lb_ips else []), *external_ips])
        return lb_ips or "<pending>"
    if service_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_ports(ports: list[Any]) -> str:
    pieces = []
    for port in ports:
        protocol = _get(port, "protocol") or "TCP"
        node_port = _get(port, "nodePort") or 0
        number = _get(port, "port") or 0
        pieces.append(
            f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}"
        )
    return ",".join(pieces) or "<none>"


def _service_row(svc: Obj, now: datetime) -> Row:
    spec, status = _map(svc.get("spec")), _map(svc.get("status"))
    service_type = str(spec.get("type") or "ClusterIP")
    cluster_ips = _list(spec.get("clusterIPs"))
    cluster_ip = str(cluster_ips[0] if cluster_ips else spec.get("clusterIP") or "") or "<none>"
    cells = [
        _name(svc),
        service_type,
        cluster_ip,
        _service_external_ip(spec, status, service_type),
        _service_ports(_list(spec.get("ports"))),
        _age(svc, now),
        format_labels(_map(spec.get("selector"))),
    ]
    return cells, []


def _event_row(event: Obj, now: datetime) -> Row:
    first_seen = (
        _since(event.get("firstTimestamp"), now)
        if event.get("firstTimestamp")
        else _since(event.get("eventTime"), now)
    )
    last_seen = (
        _since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else (first_seen)
    )
    count = int(event.get("count") or 0)
    series = event.get("series")
    if isinstance(series, Mapping):
        last_seen = _since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = _map(event.get("involvedObject"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _map(event.get("source"))
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    cells = [
        last_seen,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        f"{component}, {instance}" if instance else str(component),
        str(event.get("message") or "").strip(),
        first_seen,
        count,
        _name(event),
    ]
    return cells, []


def _namespace_row(ns: Obj, now: datetime) -> Row:
    return [_name(ns), str(_get(ns, "status", "phase") or "Active"), _age(ns, now)], []


def _secret_row(secret: Obj, now: datetime) -> Row:
    keys = {*_map(secret.get("data")), *_map(secret.get("stringData"))}
    return [_name(secret), str(secret.get("type") or "Opaque"), len(keys), _age(secret, now)], []


def _service_account_row(sa: Obj, now: datetime) -> Row:
    return [_name(sa), len(_list(sa.get("secrets"))), _age(sa, now)], []


def _config_map_row(cm: Obj, now: datetime) -> Row:
    count = len(_map(cm.get("data"))) + len(_map(cm.get("binaryData")))
    return [_name(cm), count, _age(cm, now)], []


def _deployment_row(deploy: Obj, now: datetime) -> Row:
    spec, status = _map(deploy.get("spec")), _map(deploy.get("status"))
    desired = spec.get("replicas")
    desired = 1 if desired is None else int(desired)
    names, images = _containers_cells(_list(_get(spec, "template", "spec", "containers")))
    cells = [
        _name(deploy),
        f"{int(status.get('readyReplicas') or 0)}/{desired}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        _age(deploy, now),
        names,
        images,
        format_label_selector(_map(spec.get("selector"))),
    ]
    return cells, []


def _default_row(obj: Obj, now: datetime) -> Row:
    """kube's default table convertor: name and the creation time, RFC 3339 in UTC."""
    created = _parse_time(_get(obj, "metadata", "creationTimestamp"))
    stamp = (
        created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if created
        else "0001-01-01T00:00:00Z"
    )
    return [_name(obj), stamp], []


# --- column definitions ----------------------------------------------------------------

Doc = str | tuple[str, str]  # a literal, or (definition, field) for kube's SwaggerDoc() text


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    doc: Doc
    format: str = ""
    priority: int = 0

    def definition(self) -> Obj:
        doc = self.doc
        if isinstance(doc, tuple):
            doc = openapi_schemas.builtin().field_description(*doc)
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": doc,
            "priority": self.priority,
        }


_NAME = _Column("Name", "string", (META_V1, "name"), format="name")
_AGE = _Column("Age", "string", (META_V1, "creationTimestamp"))
_CONTAINERS = _Column(
    "Containers", "string", "Names of each container in the template.", priority=1
)
_IMAGES = _Column(
    "Images", "string", "Images referenced by each container in the template.", priority=1
)


@dataclass(frozen=True)
class _Printer:
    columns: tuple[_Column, ...]
    row: Callable[[Obj, datetime], Row]


_PRINTERS: dict[tuple[str, str], _Printer] = {
    ("", "Pod"): _Printer(
        (
            _NAME,
            _Column(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            _Column("Status", "string", "The aggregate status of the containers in this pod."),
            _Column(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when "
                "the last container in this pod has restarted.",
            ),
            _AGE,
            _Column("IP", "string", (CORE_V1 + "PodStatus", "podIP"), priority=1),
            _Column("Node", "string", (CORE_V1 + "PodSpec", "nodeName"), priority=1),
            _Column(
                "Nominated Node", "string", (CORE_V1 + "PodStatus", "nominatedNodeName"), priority=1
            ),
            _Column(
                "Readiness Gates", "string", (CORE_V1 + "PodSpec", "readinessGates"), priority=1
            ),
        ),
        _pod_row,
    ),
    ("", "Service"): _Printer(
        (
            _NAME,
            _Column("Type", "string", (CORE_V1 + "ServiceSpec", "type")),
            _Column("Cluster-IP", "string", (CORE_V1 + "ServiceSpec", "clusterIP")),
            _Column("External-IP", "string", (CORE_V1 + "ServiceSpec", "externalIPs")),
            _Column("Port(s)", "string", (CORE_V1 + "ServiceSpec", "ports")),
            _AGE,
            _Column("Selector", "string", (CORE_V1 + "ServiceSpec", "selector"), priority=1),
        ),
        _service_row,
    ),
    ("", "Event"): _Printer(
        (
            _Column("Last Seen", "string", (CORE_V1 + "Event", "lastTimestamp")),
            _Column("Type", "string", (CORE_V1 + "Event", "type")),
            _Column("Reason", "string", (CORE_V1 + "Event", "reason")),
            _Column("Object", "string", (CORE_V1 + "Event", "involvedObject")),
            _Column("Subobject", "string", (CORE_V1 + "ObjectReference", "fieldPath"), priority=1),
            _Column("Source", "string", (CORE_V1 + "Event", "source"), priority=1),
            _Column("Message", "string", (CORE_V1 + "Event", "message")),
            _Column("First Seen", "string", (CORE_V1 + "Event", "firstTimestamp"), priority=1),
            _Column("Count", "string", (CORE_V1 + "Event", "count"), priority=1),
            _Column("Name", "string", (META_V1, "name"), format="name", priority=1),
        ),
        _event_row,
    ),
    ("", "Namespace"): _Printer(
        (
            _NAME,
            _Column("Status", "string", "The status of the namespace"),
            _AGE,
        ),
        _namespace_row,
    ),
    ("", "Secret"): _Printer(
        (
            _NAME,
            _Column("Type", "string", (CORE_V1 + "Secret", "type")),
            _Column("Data", "string", (CORE_V1 + "Secret", "data")),
            _AGE,
        ),
        _secret_row,
    ),
    ("", "ServiceAccount"): _Printer(
        (
            _NAME,
            _Column("Secrets", "string", (CORE_V1 + "ServiceAccount", "secrets")),
            _AGE,
        ),
        _service_account_row,
    ),
    ("", "ConfigMap"): _Printer(
        (
            _NAME,
            _Column("Data", "string", (CORE_V1 + "ConfigMap", "data")),
            _AGE,
        ),
        _config_map_row,
    ),
    ("apps", "Deployment"): _Printer(
        (
            _NAME,
            _Column("Ready", "string", "Number of the pod with ready state"),
            _Column("Up-to-date", "string", (APPS_V1 + "DeploymentStatus", "updatedReplicas")),
            _Column("Available", "string", (APPS_V1 + "DeploymentStatus", "availableReplicas")),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            # kube describes it with extensions/v1beta1's text, which lacks apps/v1's last sentence.
            _Column(
                "Selector",
                "string",
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this "
                "will be the ones affected by this deployment.",
                priority=1,
            ),
        ),
        _deployment_row,
    ),
}

_DEFAULT = _Printer(
    (
        _NAME,
        _Column("Created At", "date", (META_V1, "creationTimestamp")),
    ),
    _default_row,
)

_COLUMN_CACHE: dict[tuple[str, str], list[Obj]] = {}


def _printer(rt: ResourceType) -> _Printer:
    return _PRINTERS.get((rt.group, rt.kind), _DEFAULT)


# --- public API ------------------------------------------------------------------------


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The Table's ``columnDefinitions`` for ``rt``: {name, type, format, description, priority}.

    Returns a fresh list each call (the definitions themselves are built once per type).
    """
    key = (rt.group, rt.kind)
    cached = _COLUMN_CACHE.get(key)
    if cached is None:
        cached = [column.definition() for column in _printer(rt).columns]
        _COLUMN_CACHE[key] = cached
    return [dict(column) for column in cached]


def row_cells(rt: ResourceType, obj: dict[str, Any], now: datetime) -> list[Any]:
    """One row's cells, aligned with ``column_definitions(rt)`` (all priorities)."""
    cells, _ = _printer(rt).row(obj, now)
    return cells


def partial_metadata(obj: dict[str, Any], api_version: str = "meta.k8s.io/v1") -> dict[str, Any]:
    """The object as a PartialObjectMetadata (kind, apiVersion, its whole metadata)."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": dict(_map(obj.get("metadata"))),
    }


def table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    *,
    now: datetime,
    list_metadata: dict[str, Any],
    include_object: str = "Metadata",
    api_version: str = "meta.k8s.io/v1",
    with_columns: bool = True,
) -> dict[str, Any]:
    """A ``Table`` of ``objects``, as kube-apiserver renders ``as=Table`` replies.

    ``include_object`` is the ``includeObject`` query value: ``Metadata`` (default) puts a
    PartialObjectMetadata in each row, ``Object`` the object itself, ``None`` a null.
    ``with_columns=False`` is for watch events after the first, where kube sets NoHeaders
    and so sends ``"columnDefinitions": null``. Raises BadRequest for an unknown
    ``include_object``, like kube.
    """
    if include_object not in INCLUDE_OBJECT:
        raise errors.bad_request(f'unrecognized includeObject value: "{include_object}"')
    printer = _printer(rt)
    rows: list[Obj] = []
    for obj in objects:
        cells, conditions = printer.row(obj, now)
        row: Obj = {"cells": cells}
        if conditions:
            row["conditions"] = [dict(c) for c in conditions]
        if include_object == "Metadata":
            row["object"] = partial_metadata(obj, api_version)
        elif include_object == "Object":
            row["object"] = obj
        else:
            row["object"] = None
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": list_metadata,
        "columnDefinitions": column_definitions(rt) if with_columns else None,
        "rows": rows,
    }
