"""The type table: every resource kapi serves, as kube-apiserver 1.32 describes it.

One ``ResourceType`` per (group, version, resource). Discovery, OpenAPI, routing, the
storage key layout and the strategies are all driven from this table; nothing else
in the code base lists resources.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource: identity, scope, verbs and where it lives in etcd."""

    group: str
    version: str
    resource: str  # plural, lower case: "configmaps"
    kind: str
    singular: str
    namespaced: bool
    schema: str  # OpenAPI definition name, e.g. "io.k8s.api.core.v1.ConfigMap"
    etcd_prefix: str  # "/registry/configmaps"
    verbs: tuple[str, ...] = STANDARD_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Field selectors beyond metadata.name / metadata.namespace, as kube-apiserver allows.
    field_selectors: tuple[str, ...] = ()
    # Whether metadata.generation is kept (bumped on spec changes), as the strategy does.
    has_generation: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_version_path(self) -> str:
        """``api/v1`` or ``apis/apps/v1``: the URL (and OpenAPI v3) prefix."""
        return f"apis/{self.group}/{self.version}" if self.group else f"api/{self.version}"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceType:
        tuples = ("verbs", "short_names", "categories", "subresources", "field_selectors")
        fields: dict[str, Any] = {k: (tuple(v) if k in tuples else v) for k, v in data.items()}
        return cls(**fields)


def _core(
    resource: str, kind: str, *, namespaced: bool = True, prefix: str | None = None, **kw: Any
) -> ResourceType:
    return ResourceType(
        group="",
        version="v1",
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        schema=f"io.k8s.api.core.v1.{kind}",
        etcd_prefix=f"/registry/{prefix or resource}",
        **kw,
    )


def _grouped(
    group: str,
    version: str,
    resource: str,
    kind: str,
    *,
    schema_group: str,
    namespaced: bool = True,
    **kw: Any,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        schema=f"io.k8s.api.{schema_group}.{version}.{kind}",
        etcd_prefix=f"/registry/{resource}",
        **kw,
    )


BUILTIN: tuple[ResourceType, ...] = (
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        verbs=NO_COLLECTION_VERBS,
        short_names=("ns",),
        subresources=("status",),
        field_selectors=("status.phase",),
    ),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("secrets", "Secret", field_selectors=("type",)),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _core(
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=("status",),
        field_selectors=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
    ),
    _core(
        "services",
        "Service",
        prefix="services/specs",
        verbs=NO_COLLECTION_VERBS,
        short_names=("svc",),
        categories=("all",),
        subresources=("status",),
    ),
    _core(
        "events",
        "Event",
        short_names=("ev",),
        field_selectors=(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ),
    ),
    _grouped(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        schema_group="apps",
        short_names=("deploy",),
        categories=("all",),
        subresources=("status",),
        has_generation=True,
    ),
)


class TypeTable:
    """Lookup over a set of resource types, by URL and by kind."""

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.types: tuple[ResourceType, ...] = tuple(types)
        self._by_resource = {(t.group, t.version, t.resource): t for t in self.types}

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_resource.get((group, version, resource))

    def group_versions(self) -> list[tuple[str, str]]:
        """Each served (group, version), core first, in table order."""
        seen: dict[tuple[str, str], None] = {}
        for t in self.types:
            seen.setdefault((t.group, t.version), None)
        return list(seen)

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]


def builtin_table() -> TypeTable:
    return TypeTable(BUILTIN)
