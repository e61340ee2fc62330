"""What every layer knows of a served resource: its identity, scope, verbs and subresources.

One ``ResourceType`` per (group, version, resource), as kube-apiserver's discovery
describes it. It is the plain-data part of a resource's definition
(``services.registry.definition``): the part that crosses to the gateway, which routes,
authorizes and publishes discovery from it (``Registry.Types`` / ``WatchCatalog``). A
``TypeTable`` is one revision of the set: lookups by URL and by group-version.

Where objects live in etcd is storage's business (``services/storage/keys.py``): it
follows from the group and resource a request names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    """One subresource of a resource, as kube's discovery lists it (``pods/eviction``).

    ``kind`` is the kind it takes and answers when not the parent's; ``group`` and
    ``version`` are set when that kind lives in another group-version than the
    parent's (``scale``: autoscaling/v1 Scale; ``eviction``: policy/v1 Eviction), as
    kube's GroupVersionKindProvider storages say. ``connect``: reached through the
    node's kubelet in kube (logs, exec, attach, port forwarding, proxies); any HTTP
    method and, for ``path``, a trailing path below it (``pods/p/proxy/metrics``).
    """

    name: str
    verbs: tuple[str, ...]
    kind: str = ""
    group: str = ""
    version: str = ""
    connect: bool = False
    path: bool = False

    @classmethod
    def from_json(cls, data: str | dict[str, Any]) -> Subresource:
        if isinstance(data, str):
            return STANDARD_SUBRESOURCES[data]
        return cls(**{**data, "verbs": tuple(data.get("verbs") or ())})


GET_PATCH_UPDATE = ("get", "patch", "update")
CONNECT_VERBS = ("create", "get")
PROXY_VERBS = ("create", "delete", "get", "patch", "update")

# The subresources a definition may name by name alone (a custom resource's status and
# scale); the others are spelled out where their resources are defined.
STANDARD_SUBRESOURCES = {
    "status": Subresource("status", GET_PATCH_UPDATE),
    "scale": Subresource(
        "scale", GET_PATCH_UPDATE, kind="Scale", group="autoscaling", version="v1"
    ),
}
STATUS = (STANDARD_SUBRESOURCES["status"],)
STATUS_SCALE = (STANDARD_SUBRESOURCES["status"], STANDARD_SUBRESOURCES["scale"])
# Categories kube gives built-in types: "all" (kubectl get all), "api-extensions".
ALL = ("all",)
API_EXTENSIONS = ("api-extensions",)


def connect(name: str, kind: str, verbs: tuple[str, ...] = CONNECT_VERBS) -> Subresource:
    """A subresource kube hands to a kubelet (any method; ``proxy`` takes a path)."""
    return Subresource(name, verbs, kind=kind, connect=True, path=name == "proxy")


@dataclass(frozen=True)
class ResourceType:
    """One served resource: identity, scope, verbs, subresources, how it is stored."""

    group: str
    version: str
    resource: str  # plural, lower case: "configmaps"
    kind: str
    singular: str
    namespaced: bool
    # The OpenAPI component of its objects: "io.k8s.api.core.v1.ConfigMap", or a custom
    # resource's "com.example.stable.v1.CronTab" (kube's reversed-group naming).
    schema: str
    verbs: tuple[str, ...] = STANDARD_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # In kube's discovery order (by name). Plain names ("status", "scale") are taken as
    # STANDARD_SUBRESOURCES.
    subresources: tuple[Subresource, ...] = ()
    # False for resources no object of which is stored: a Binding is an action on a pod,
    # ComponentStatuses are computed when read.
    stored: bool = True
    # The apiVersion objects of this resource are stored in, when it is not this one's
    # (events.k8s.io/v1 Events are stored as core v1 Events, autoscaling/v1 HPAs as
    # autoscaling/v2 ones, a custom resource in its CRD's storage version). Empty: stored
    # as served. Conversion between versions is the registry's business.
    storage_version: str = ""
    list_kind: str = ""  # kind + "List" unless said
    # A served version its definer deprecated: every request gets this warning.
    deprecation_warning: str = ""
    # Served from a CustomResourceDefinition: its objects are unstructured (list items
    # keep their apiVersion and kind, as kube's unstructured lists do; no Protobuf).
    custom: bool = False

    def __post_init__(self) -> None:
        if any(not isinstance(sub, Subresource) for sub in self.subresources):
            subs = tuple(Subresource.from_json(sub) for sub in self.subresources)  # type: ignore[arg-type]
            object.__setattr__(self, "subresources", subs)
        if not self.list_kind:
            object.__setattr__(self, "list_kind", self.kind + "List")

    def subresource(self, name: str) -> Subresource | None:
        """The subresource called ``name``, if the resource has it."""
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_path(self) -> str:
        """``api/v1`` or ``apis/apps/v1``: the URL (and OpenAPI v3) prefix."""
        return f"apis/{self.group}/{self.version}" if self.group else f"api/{self.version}"

    @property
    def stored_api_version(self) -> str:
        """The apiVersion of the form kept in etcd."""
        return self.storage_version or self.api_version

    def descriptor(self) -> ResourceType:
        """The plain-data part alone (a definition's behaviour dropped)."""
        if type(self) is ResourceType:
            return self
        return ResourceType(**{f.name: getattr(self, f.name) for f in fields(ResourceType)})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(ResourceType):
            value = getattr(self, f.name)
            if f.name == "subresources":
                value = [
                    {k: getattr(sub, k) for k in Subresource.__dataclass_fields__} for sub in value
                ]
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceType:
        tuples = ("verbs", "short_names", "categories", "subresources")
        # subresources arrive as dicts (or names) and are made Subresources on init
        known = ResourceType.__dataclass_fields__
        values: dict[str, Any] = {
            k: (tuple(v) if k in tuples else v) for k, v in data.items() if k in known
        }
        return ResourceType(**values)


T = TypeVar("T", bound=ResourceType)


def _storage_key(t: ResourceType) -> tuple[str, str]:
    """(group, resource) of where ``t``'s objects are stored."""
    return (t.stored_api_version.rpartition("/")[0], t.resource)


class TypeTable(Generic[T]):
    """One revision of a set of resource types: lookups by URL and by group-version.

    ``revision`` orders the tables of one catalog (``services.registry.catalog``): a
    later table has a larger one. The order of ``types`` is discovery's: the core group,
    then the groups by kube-aggregator's priority, custom groups after the built-in ones.
    """

    def __init__(self, types: Iterable[T], *, revision: int = 0) -> None:
        self.types: tuple[T, ...] = tuple(types)
        self.revision = revision
        self._by_resource = {(t.group, t.version, t.resource): t for t in self.types}
        self._equivalents: dict[tuple[str, str], tuple[T, ...]] | None = None
        self._by_group_version: dict[tuple[str, str], list[T]] = {}
        for t in self.types:
            self._by_group_version.setdefault((t.group, t.version), []).append(t)

    def lookup(self, group: str, version: str, resource: str) -> T | None:
        return self._by_resource.get((group, version, resource))

    def equivalents(self, t: ResourceType) -> tuple[T, ...]:
        """The served resources kept in one stored form with ``t`` (its other versions,
        and a resource served in another group from the same storage, as events.k8s.io
        Events), in table order, ``t`` included; empty when ``t`` is the only one
        (kube's EquivalentResourceMapper, keyed by storage). Computed once per table."""
        if self._equivalents is None:
            by_storage: dict[tuple[str, str], list[T]] = {}
            for each in self.types:
                if each.stored:
                    by_storage.setdefault(_storage_key(each), []).append(each)
            self._equivalents = {
                key: tuple(found) for key, found in by_storage.items() if len(found) > 1
            }
        return self._equivalents.get(_storage_key(t), ())

    def group_versions(self) -> list[tuple[str, str]]:
        """Each served (group, version), core first, in table order."""
        return list(self._by_group_version)

    def in_group_version(self, group: str, version: str) -> list[T]:
        return list(self._by_group_version.get((group, version), ()))
