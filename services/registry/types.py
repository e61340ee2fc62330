"""The type table: every resource kapi serves, as kube-apiserver 1.32 describes it.

One ``ResourceType`` per (group, version, resource). Discovery, OpenAPI, routing, the
storage key layout and the strategies are all driven from this table; nothing else
in the code base lists resources.

The facts are kube-apiserver 1.32's: scope, verbs, short names and categories as its
discovery documents them; etcd keys as its storage factory lays them out (kube's
``specialDefaultResourcePrefixes``: services under ``services/specs``, endpoints under
``services/endpoints``, nodes under ``minions``, replication controllers under
``controllers``, ingresses under ``ingress``; CRDs under their group); field selectors
as each version's field label conversion allows them. The order is kube's discovery
order: the core group, then the groups by kube-aggregator's priority
(apps, events.k8s.io, autoscaling, batch, ...), each version's resources sorted by name.
A group served in several versions lists the preferred one first (autoscaling/v2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

# kube's DefaultMetaV1FieldSelectorConversion: the only labels a type without its own
# field label conversion accepts.
META_FIELD_SELECTORS = ("metadata.name", "metadata.namespace")


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


_GET_PATCH_UPDATE = ("get", "patch", "update")
_CONNECT_VERBS = ("create", "get")
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")

# The subresources a definition may name by name alone (a custom resource's status and
# scale); the others are spelled out in the table below.
STANDARD_SUBRESOURCES = {
    "status": Subresource("status", _GET_PATCH_UPDATE),
    "scale": Subresource(
        "scale", _GET_PATCH_UPDATE, kind="Scale", group="autoscaling", version="v1"
    ),
}


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
    # In kube's discovery order (by name). Plain names ("status", "scale") are taken as
    # STANDARD_SUBRESOURCES.
    subresources: tuple[Subresource, ...] = ()
    # False for resources no object of which is stored: a Binding is an action on a pod,
    # ComponentStatuses are computed when read.
    stored: bool = True
    # Field selectors beyond metadata.name / metadata.namespace, as kube-apiserver allows.
    field_selectors: tuple[str, ...] = ()
    # Whether metadata.generation is kept (bumped on spec changes), as the strategy does.
    has_generation: bool = False
    # The apiVersion objects of this resource are stored in, when it is not this one's
    # (events.k8s.io/v1 Events are stored as core v1 Events, autoscaling/v1 HPAs as
    # autoscaling/v2 ones). Empty: stored as served. Several ResourceTypes with the
    # same etcd_prefix are views of one set of objects; conversion between them is the
    # registry's business, not storage's.
    storage_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if any(not isinstance(sub, Subresource) for sub in self.subresources):
            subs = tuple(Subresource.from_json(sub) for sub in self.subresources)  # type: ignore[arg-type]
            object.__setattr__(self, "subresources", subs)

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
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_version_path(self) -> str:
        """``api/v1`` or ``apis/apps/v1``: the URL (and OpenAPI v3) prefix."""
        return f"apis/{self.group}/{self.version}" if self.group else f"api/{self.version}"

    @property
    def stored_api_version(self) -> str:
        """The apiVersion of the form kept in etcd."""
        return self.storage_version or self.api_version

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceType:
        tuples = ("verbs", "short_names", "categories", "subresources", "field_selectors")
        # subresources arrive as dicts (or names) and are made Subresources on init
        known = cls.__dataclass_fields__
        fields: dict[str, Any] = {
            k: (tuple(v) if k in tuples else v) for k, v in data.items() if k in known
        }
        return cls(**fields)


# Where a selectable field lives in the stored object, when its label is not its JSON
# path (kube's ToSelectableFields compute them): a Job's "status.successful" is its
# status.succeeded, an Event's "source" its source.component; events.k8s.io labels
# name the core Event fields they are stored as (kube's events/v1 label conversion).
_FIELD_PATHS: dict[tuple[str, str], dict[str, str]] = {
    ("", "events"): {"source": "source.component"},
    ("batch", "jobs"): {"status.successful": "status.succeeded"},
    ("events.k8s.io", "events"): {
        "regarding.kind": "involvedObject.kind",
        "regarding.namespace": "involvedObject.namespace",
        "regarding.name": "involvedObject.name",
        "regarding.uid": "involvedObject.uid",
        "regarding.apiVersion": "involvedObject.apiVersion",
        "regarding.resourceVersion": "involvedObject.resourceVersion",
        "regarding.fieldPath": "involvedObject.fieldPath",
        "reportingController": "reportingComponent",
    },
}

# How a type's field label conversion words a label it does not know. Types without a
# conversion of their own get apimachinery's DefaultMetaV1FieldSelectorConversion text.
_FIELD_LABEL_ERRORS: dict[tuple[str, str], str] = {
    ("batch", "jobs"): 'field label "{label}" not supported for batchv1.Job',
}


def field_selector_path(rt: ResourceType, label: str) -> str:
    """The stored object's dotted path that the field selector ``label`` reads."""
    return _FIELD_PATHS.get((rt.group, rt.resource), {}).get(label, label)


def field_selector_error(rt: ResourceType, label: str) -> str:
    """kube-apiserver's words for a field selector ``label`` the type does not support."""
    template = _FIELD_LABEL_ERRORS.get((rt.group, rt.resource))
    if template is not None:
        return template.format(label=label)
    if rt.field_selectors:  # types with their own conversion (core v1, events.k8s.io)
        return f"field label not supported: {label}"
    return f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'


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
    prefix: str | None = None,
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
        etcd_prefix=f"/registry/{prefix or resource}",
        **kw,
    )


_EVENT_FIELDS = (
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
)

_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"
_FLOWCONTROL = "flowcontrol.apiserver.k8s.io"
_ALL = ("all",)
_API_EXTENSIONS = ("api-extensions",)
_STATUS = (STANDARD_SUBRESOURCES["status"],)
_STATUS_SCALE = (STANDARD_SUBRESOURCES["status"], STANDARD_SUBRESOURCES["scale"])


def _connect(name: str, kind: str, verbs: tuple[str, ...] = _CONNECT_VERBS) -> Subresource:
    return Subresource(name, verbs, kind=kind, connect=True, path=name == "proxy")


# kube-apiserver 1.32's subresources of pods, namespaces, nodes, services and CSRs
# (pkg/registry/core/*/storage, certificates/storage): verbs and kinds as its discovery
# lists them.
_POD_SUBRESOURCES = (
    _connect("attach", "PodAttachOptions"),
    Subresource("binding", ("create",), kind="Binding"),
    Subresource("ephemeralcontainers", _GET_PATCH_UPDATE),
    Subresource("eviction", ("create",), kind="Eviction", group="policy", version="v1"),
    _connect("exec", "PodExecOptions"),
    _connect("log", "", ("get",)),
    _connect("portforward", "PodPortForwardOptions"),
    _connect("proxy", "PodProxyOptions", _PROXY_VERBS),
    STANDARD_SUBRESOURCES["status"],
)
_NAMESPACE_SUBRESOURCES = (Subresource("finalize", ("update",)), STANDARD_SUBRESOURCES["status"])
_NODE_SUBRESOURCES = (_connect("proxy", "NodeProxyOptions", _PROXY_VERBS), *_STATUS)
_SERVICE_SUBRESOURCES = (_connect("proxy", "ServiceProxyOptions", _PROXY_VERBS), *_STATUS)
_CSR_SUBRESOURCES = (Subresource("approval", _GET_PATCH_UPDATE), *_STATUS)


def _review(group: str, resource: str, kind: str, *, namespaced: bool = False) -> ResourceType:
    """A review: created (and answered) only, never stored (services/registry/reviews.py)."""
    return _grouped(
        group,
        "v1",
        resource,
        kind,
        schema_group=group.split(".")[0],
        namespaced=namespaced,
        verbs=("create",),
        stored=False,
    )


_REVIEWS = (
    _review("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
    _review("authentication.k8s.io", "tokenreviews", "TokenReview"),
    _review(
        "authorization.k8s.io",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        namespaced=True,
    ),
    _review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    _review("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
    _review("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"),
)


def _hpa(version: str, **kw: Any) -> ResourceType:
    return _grouped(
        "autoscaling",
        version,
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        schema_group="autoscaling",
        short_names=("hpa",),
        categories=_ALL,
        subresources=_STATUS,
        **kw,
    )


BUILTIN: tuple[ResourceType, ...] = (
    # --- core/v1 ------------------------------------------------------------------
    # Bindings are the old way to bind a pod (pods/binding the new one); component
    # statuses are read from the components themselves. Neither is stored.
    _core("bindings", "Binding", verbs=("create",), stored=False),
    _core(
        "componentstatuses",
        "ComponentStatus",
        namespaced=False,
        verbs=("get", "list"),
        short_names=("cs",),
        stored=False,
    ),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("endpoints", "Endpoints", prefix="services/endpoints", short_names=("ep",)),
    _core("events", "Event", short_names=("ev",), field_selectors=_EVENT_FIELDS),
    _core("limitranges", "LimitRange", short_names=("limits",)),
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        verbs=NO_COLLECTION_VERBS,
        short_names=("ns",),
        subresources=_NAMESPACE_SUBRESOURCES,
        field_selectors=("status.phase",),
    ),
    _core(
        "nodes",
        "Node",
        namespaced=False,
        prefix="minions",
        short_names=("no",),
        subresources=_NODE_SUBRESOURCES,
        field_selectors=("spec.unschedulable",),
    ),
    _core(
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        short_names=("pvc",),
        subresources=_STATUS,
    ),
    _core(
        "persistentvolumes",
        "PersistentVolume",
        namespaced=False,
        short_names=("pv",),
        subresources=_STATUS,
    ),
    _core(
        "pods",
        "Pod",
        short_names=("po",),
        categories=_ALL,
        subresources=_POD_SUBRESOURCES,
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
    _core("podtemplates", "PodTemplate"),
    _core(
        "replicationcontrollers",
        "ReplicationController",
        prefix="controllers",
        short_names=("rc",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
        field_selectors=("status.replicas",),
        has_generation=True,
    ),
    _core("resourcequotas", "ResourceQuota", short_names=("quota",), subresources=_STATUS),
    _core("secrets", "Secret", field_selectors=("type",)),
    _core(
        "serviceaccounts",
        "ServiceAccount",
        short_names=("sa",),
        subresources=(
            Subresource(
                "token",
                ("create",),
                kind="TokenRequest",
                group="authentication.k8s.io",
                version="v1",
            ),
        ),
    ),
    _core(
        "services",
        "Service",
        prefix="services/specs",
        verbs=NO_COLLECTION_VERBS,
        short_names=("svc",),
        categories=_ALL,
        subresources=_SERVICE_SUBRESOURCES,
        field_selectors=("spec.clusterIP", "spec.type"),
    ),
    # --- apps/v1 ------------------------------------------------------------------
    _grouped("apps", "v1", "controllerrevisions", "ControllerRevision", schema_group="apps"),
    _grouped(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        schema_group="apps",
        short_names=("ds",),
        categories=_ALL,
        subresources=_STATUS,
        has_generation=True,
    ),
    _grouped(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        schema_group="apps",
        short_names=("deploy",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
        has_generation=True,
    ),
    _grouped(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        schema_group="apps",
        short_names=("rs",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
        field_selectors=("status.replicas",),
        has_generation=True,
    ),
    _grouped(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        schema_group="apps",
        short_names=("sts",),
        categories=_ALL,
        subresources=_STATUS_SCALE,
        has_generation=True,
    ),
    # --- events.k8s.io/v1: the core Events, seen through the new API ------------------
    _grouped(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        schema_group="events",
        short_names=("ev",),
        field_selectors=(
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ),
        storage_version="v1",
    ),
    # --- authentication.k8s.io/v1, authorization.k8s.io/v1: reviews, never stored -----
    *_REVIEWS,
    # --- autoscaling: v2 preferred and stored, v1 converted --------------------------
    _hpa("v2"),
    _hpa("v1", storage_version="autoscaling/v2"),
    # --- batch/v1 -----------------------------------------------------------------
    _grouped(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        schema_group="batch",
        short_names=("cj",),
        categories=_ALL,
        subresources=_STATUS,
        has_generation=True,
    ),
    _grouped(
        "batch",
        "v1",
        "jobs",
        "Job",
        schema_group="batch",
        categories=_ALL,
        subresources=_STATUS,
        field_selectors=("status.successful",),
        has_generation=True,
    ),
    # --- certificates.k8s.io/v1 ---------------------------------------------------
    _grouped(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        schema_group="certificates",
        namespaced=False,
        short_names=("csr",),
        subresources=_CSR_SUBRESOURCES,
    ),
    # --- networking.k8s.io/v1 -----------------------------------------------------
    _grouped(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        schema_group="networking",
        namespaced=False,
        has_generation=True,
    ),
    _grouped(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        schema_group="networking",
        prefix="ingress",
        short_names=("ing",),
        subresources=_STATUS,
        has_generation=True,
    ),
    _grouped(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        schema_group="networking",
        short_names=("netpol",),
        has_generation=True,
    ),
    # --- policy/v1 ----------------------------------------------------------------
    _grouped(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        schema_group="policy",
        short_names=("pdb",),
        subresources=_STATUS,
        has_generation=True,
    ),
    # --- rbac.authorization.k8s.io/v1 ---------------------------------------------
    _grouped(
        _RBAC,
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        schema_group="rbac",
        namespaced=False,
    ),
    _grouped(_RBAC, "v1", "clusterroles", "ClusterRole", schema_group="rbac", namespaced=False),
    _grouped(_RBAC, "v1", "rolebindings", "RoleBinding", schema_group="rbac"),
    _grouped(_RBAC, "v1", "roles", "Role", schema_group="rbac"),
    # --- storage.k8s.io/v1 --------------------------------------------------------
    _grouped(
        "storage.k8s.io", "v1", "csidrivers", "CSIDriver", schema_group="storage", namespaced=False
    ),
    _grouped(
        "storage.k8s.io", "v1", "csinodes", "CSINode", schema_group="storage", namespaced=False
    ),
    _grouped(
        "storage.k8s.io",
        "v1",
        "csistoragecapacities",
        "CSIStorageCapacity",
        schema_group="storage",
    ),
    _grouped(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        schema_group="storage",
        namespaced=False,
        short_names=("sc",),
    ),
    _grouped(
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        schema_group="storage",
        namespaced=False,
        subresources=_STATUS,
    ),
    # --- admissionregistration.k8s.io/v1 ------------------------------------------
    _grouped(
        _ADMISSION,
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        schema_group="admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
        has_generation=True,
    ),
    _grouped(
        _ADMISSION,
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        schema_group="admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
        subresources=_STATUS,
        has_generation=True,
    ),
    _grouped(
        _ADMISSION,
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        schema_group="admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
        has_generation=True,
    ),
    _grouped(
        _ADMISSION,
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        schema_group="admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
        has_generation=True,
    ),
    # --- apiextensions.k8s.io/v1: the definitions (serving them is another matter) ---
    ResourceType(
        group="apiextensions.k8s.io",
        version="v1",
        resource="customresourcedefinitions",
        kind="CustomResourceDefinition",
        singular="customresourcedefinition",
        namespaced=False,
        schema=(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        ),
        etcd_prefix="/registry/apiextensions.k8s.io/customresourcedefinitions",
        short_names=("crd", "crds"),
        categories=_API_EXTENSIONS,
        subresources=_STATUS,
        has_generation=True,
    ),
    # --- scheduling.k8s.io/v1 -----------------------------------------------------
    _grouped(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        schema_group="scheduling",
        namespaced=False,
        short_names=("pc",),
    ),
    # --- coordination.k8s.io/v1 ---------------------------------------------------
    _grouped("coordination.k8s.io", "v1", "leases", "Lease", schema_group="coordination"),
    # --- node.k8s.io/v1 -----------------------------------------------------------
    _grouped(
        "node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", schema_group="node", namespaced=False
    ),
    # --- discovery.k8s.io/v1 ------------------------------------------------------
    _grouped(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        schema_group="discovery",
        has_generation=True,
    ),
    # --- flowcontrol.apiserver.k8s.io/v1 ------------------------------------------
    _grouped(
        _FLOWCONTROL,
        "v1",
        "flowschemas",
        "FlowSchema",
        schema_group="flowcontrol",
        namespaced=False,
        subresources=_STATUS,
        has_generation=True,
    ),
    _grouped(
        _FLOWCONTROL,
        "v1",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        schema_group="flowcontrol",
        namespaced=False,
        subresources=_STATUS,
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
