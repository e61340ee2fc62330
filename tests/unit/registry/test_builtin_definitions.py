"""The built-in definitions (``strategies/<group>.py`` ``DEFINITIONS``) hold kube-apiserver
1.32's facts.

Scope, verbs, short names, categories, subresources, etcd key prefixes (kube's storage
factory, as services/storage/keys.py lays them out), OpenAPI definition names, field
selectors and the discovery order; each row of ``FACTS`` is what a 1.32 cluster's
discovery and etcd show for that resource.
"""

from __future__ import annotations

import orjson
import pytest

from services.registry import openapi_schemas
from services.registry.strategies import builtin_table
from services.registry.types import NO_COLLECTION_VERBS, STANDARD_VERBS, ResourceType, TypeTable
from services.storage.keys import DEFAULT_LAYOUT
from services.storage.model import ResourceRef


def etcd_prefix(rt: ResourceType) -> str:
    return DEFAULT_LAYOUT.root(ResourceRef(rt.group, rt.resource, rt.namespaced))


TABLE = builtin_table()
BY_KEY = {(t.group, t.version, t.resource): t for t in TABLE.types}

# (group, version, resource): (kind, namespaced, short names, etcd prefix, subresources)
FACTS: dict[tuple[str, str, str], tuple[str, bool, tuple[str, ...], str, tuple[str, ...]]] = {
    # Not stored: a Binding binds a pod, component statuses are read from the components.
    ("", "v1", "bindings"): ("Binding", True, (), "/registry/bindings", ()),
    ("", "v1", "componentstatuses"): (
        "ComponentStatus",
        False,
        ("cs",),
        "/registry/componentstatuses",
        (),
    ),
    ("", "v1", "configmaps"): ("ConfigMap", True, ("cm",), "/registry/configmaps", ()),
    ("", "v1", "endpoints"): ("Endpoints", True, ("ep",), "/registry/services/endpoints", ()),
    ("", "v1", "events"): ("Event", True, ("ev",), "/registry/events", ()),
    ("", "v1", "limitranges"): ("LimitRange", True, ("limits",), "/registry/limitranges", ()),
    ("", "v1", "namespaces"): (
        "Namespace",
        False,
        ("ns",),
        "/registry/namespaces",
        ("finalize", "status"),
    ),
    ("", "v1", "nodes"): ("Node", False, ("no",), "/registry/minions", ("proxy", "status")),
    ("", "v1", "persistentvolumeclaims"): (
        "PersistentVolumeClaim",
        True,
        ("pvc",),
        "/registry/persistentvolumeclaims",
        ("status",),
    ),
    ("", "v1", "persistentvolumes"): (
        "PersistentVolume",
        False,
        ("pv",),
        "/registry/persistentvolumes",
        ("status",),
    ),
    ("", "v1", "pods"): (
        "Pod",
        True,
        ("po",),
        "/registry/pods",
        (
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "status",
        ),
    ),
    ("", "v1", "podtemplates"): ("PodTemplate", True, (), "/registry/podtemplates", ()),
    ("", "v1", "replicationcontrollers"): (
        "ReplicationController",
        True,
        ("rc",),
        "/registry/controllers",
        ("status", "scale"),
    ),
    ("", "v1", "resourcequotas"): (
        "ResourceQuota",
        True,
        ("quota",),
        "/registry/resourcequotas",
        ("status",),
    ),
    ("", "v1", "secrets"): ("Secret", True, (), "/registry/secrets", ()),
    ("", "v1", "serviceaccounts"): (
        "ServiceAccount",
        True,
        ("sa",),
        "/registry/serviceaccounts",
        ("token",),
    ),
    ("", "v1", "services"): (
        "Service",
        True,
        ("svc",),
        "/registry/services/specs",
        ("proxy", "status"),
    ),
    ("apps", "v1", "controllerrevisions"): (
        "ControllerRevision",
        True,
        (),
        "/registry/controllerrevisions",
        (),
    ),
    ("apps", "v1", "daemonsets"): ("DaemonSet", True, ("ds",), "/registry/daemonsets", ("status",)),
    ("apps", "v1", "deployments"): (
        "Deployment",
        True,
        ("deploy",),
        "/registry/deployments",
        ("status", "scale"),
    ),
    ("apps", "v1", "replicasets"): (
        "ReplicaSet",
        True,
        ("rs",),
        "/registry/replicasets",
        ("status", "scale"),
    ),
    ("apps", "v1", "statefulsets"): (
        "StatefulSet",
        True,
        ("sts",),
        "/registry/statefulsets",
        ("status", "scale"),
    ),
    ("events.k8s.io", "v1", "events"): ("Event", True, ("ev",), "/registry/events", ()),
    **{
        (group, "v1", resource): (
            kind,
            resource == "localsubjectaccessreviews",
            (),
            f"/registry/{resource}",
            (),
        )
        for group, resource, kind in (
            ("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
            ("authentication.k8s.io", "tokenreviews", "TokenReview"),
            ("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview"),
            ("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
            ("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
            ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"),
        )
    },
    ("autoscaling", "v2", "horizontalpodautoscalers"): (
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        "/registry/horizontalpodautoscalers",
        ("status",),
    ),
    ("autoscaling", "v1", "horizontalpodautoscalers"): (
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        "/registry/horizontalpodautoscalers",
        ("status",),
    ),
    ("batch", "v1", "cronjobs"): ("CronJob", True, ("cj",), "/registry/cronjobs", ("status",)),
    ("batch", "v1", "jobs"): ("Job", True, (), "/registry/jobs", ("status",)),
    ("certificates.k8s.io", "v1", "certificatesigningrequests"): (
        "CertificateSigningRequest",
        False,
        ("csr",),
        "/registry/certificatesigningrequests",
        ("approval", "status"),
    ),
    ("networking.k8s.io", "v1", "ingressclasses"): (
        "IngressClass",
        False,
        (),
        "/registry/ingressclasses",
        (),
    ),
    ("networking.k8s.io", "v1", "ingresses"): (
        "Ingress",
        True,
        ("ing",),
        "/registry/ingress",
        ("status",),
    ),
    ("networking.k8s.io", "v1", "networkpolicies"): (
        "NetworkPolicy",
        True,
        ("netpol",),
        "/registry/networkpolicies",
        (),
    ),
    ("policy", "v1", "poddisruptionbudgets"): (
        "PodDisruptionBudget",
        True,
        ("pdb",),
        "/registry/poddisruptionbudgets",
        ("status",),
    ),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"): (
        "ClusterRoleBinding",
        False,
        (),
        "/registry/clusterrolebindings",
        (),
    ),
    ("rbac.authorization.k8s.io", "v1", "clusterroles"): (
        "ClusterRole",
        False,
        (),
        "/registry/clusterroles",
        (),
    ),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"): (
        "RoleBinding",
        True,
        (),
        "/registry/rolebindings",
        (),
    ),
    ("rbac.authorization.k8s.io", "v1", "roles"): ("Role", True, (), "/registry/roles", ()),
    ("storage.k8s.io", "v1", "csidrivers"): ("CSIDriver", False, (), "/registry/csidrivers", ()),
    ("storage.k8s.io", "v1", "csinodes"): ("CSINode", False, (), "/registry/csinodes", ()),
    ("storage.k8s.io", "v1", "csistoragecapacities"): (
        "CSIStorageCapacity",
        True,
        (),
        "/registry/csistoragecapacities",
        (),
    ),
    ("storage.k8s.io", "v1", "storageclasses"): (
        "StorageClass",
        False,
        ("sc",),
        "/registry/storageclasses",
        (),
    ),
    ("storage.k8s.io", "v1", "volumeattachments"): (
        "VolumeAttachment",
        False,
        (),
        "/registry/volumeattachments",
        ("status",),
    ),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"): (
        "MutatingWebhookConfiguration",
        False,
        (),
        "/registry/mutatingwebhookconfigurations",
        (),
    ),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies"): (
        "ValidatingAdmissionPolicy",
        False,
        (),
        "/registry/validatingadmissionpolicies",
        ("status",),
    ),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings"): (
        "ValidatingAdmissionPolicyBinding",
        False,
        (),
        "/registry/validatingadmissionpolicybindings",
        (),
    ),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"): (
        "ValidatingWebhookConfiguration",
        False,
        (),
        "/registry/validatingwebhookconfigurations",
        (),
    ),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"): (
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        "/registry/apiextensions.k8s.io/customresourcedefinitions",
        ("status",),
    ),
    ("apiregistration.k8s.io", "v1", "apiservices"): (
        "APIService",
        False,
        (),
        "/registry/apiregistration.k8s.io/apiservices",
        ("status",),
    ),
    ("scheduling.k8s.io", "v1", "priorityclasses"): (
        "PriorityClass",
        False,
        ("pc",),
        "/registry/priorityclasses",
        (),
    ),
    ("coordination.k8s.io", "v1", "leases"): ("Lease", True, (), "/registry/leases", ()),
    ("node.k8s.io", "v1", "runtimeclasses"): (
        "RuntimeClass",
        False,
        (),
        "/registry/runtimeclasses",
        (),
    ),
    ("discovery.k8s.io", "v1", "endpointslices"): (
        "EndpointSlice",
        True,
        (),
        "/registry/endpointslices",
        (),
    ),
    ("flowcontrol.apiserver.k8s.io", "v1", "flowschemas"): (
        "FlowSchema",
        False,
        (),
        "/registry/flowschemas",
        ("status",),
    ),
    ("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations"): (
        "PriorityLevelConfiguration",
        False,
        (),
        "/registry/prioritylevelconfigurations",
        ("status",),
    ),
}

# `kubectl get all`: exactly these carry the "all" category on 1.32.
ALL_CATEGORY = {
    ("", "pods"),
    ("", "services"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
}
API_EXTENSIONS_CATEGORY = {
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("apiregistration.k8s.io", "apiservices"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
}
# metadata.generation kept, as the 1.32 strategies do (HPAs only later, behind a gate).
GENERATION = {
    ("", "replicationcontrollers"),
    ("apps", "daemonsets"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingressclasses"),
    ("networking.k8s.io", "networkpolicies"),
    ("policy", "poddisruptionbudgets"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("discovery.k8s.io", "endpointslices"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
}


def test_the_table_is_exactly_the_issue_s_resources() -> None:
    assert set(BY_KEY) == set(FACTS)
    assert len(TABLE.types) == len(BY_KEY)  # no resource twice in one version


@pytest.mark.parametrize("key", sorted(FACTS), ids=lambda k: f"{k[0] or 'core'}/{k[1]}/{k[2]}")
def test_each_type_s_facts(key: tuple[str, str, str]) -> None:
    kind, namespaced, short_names, prefix, subresources = FACTS[key]
    rt = BY_KEY[key]
    subs = tuple(sub.name for sub in rt.subresources)
    assert (rt.kind, rt.namespaced, rt.short_names, etcd_prefix(rt), subs) == (
        kind,
        namespaced,
        short_names,
        prefix,
        subresources,
    )
    assert rt.singular == kind.lower()
    group, resource = key[0], key[2]
    assert ("all" in rt.categories) == ((group, resource) in ALL_CATEGORY)
    assert ("api-extensions" in rt.categories) == ((group, resource) in API_EXTENSIONS_CATEGORY)
    assert rt.strategy.tracks_generation == ((group, resource) in GENERATION)


ONLY_VERBS = {
    ("", "bindings"): ("create",),
    ("", "componentstatuses"): ("get", "list"),
    **{
        (group, resource): ("create",)
        for group, resource in (
            ("authentication.k8s.io", "selfsubjectreviews"),
            ("authentication.k8s.io", "tokenreviews"),
            ("authorization.k8s.io", "localsubjectaccessreviews"),
            ("authorization.k8s.io", "selfsubjectaccessreviews"),
            ("authorization.k8s.io", "selfsubjectrulesreviews"),
            ("authorization.k8s.io", "subjectaccessreviews"),
        )
    },
}


def test_verbs() -> None:
    for rt in TABLE.types:
        expected = ONLY_VERBS.get(
            (rt.group, rt.resource),
            NO_COLLECTION_VERBS
            if (rt.group, rt.resource) in {("", "namespaces"), ("", "services")}
            else STANDARD_VERBS,
        )
        assert rt.verbs == expected, rt.resource
        assert rt.stored == ((rt.group, rt.resource) not in ONLY_VERBS), rt.resource


# kube-apiserver 1.32's subresources: (resource, subresource) -> (verbs, kind, group/version)
SUBRESOURCES = {
    ("pods", "attach"): (("create", "get"), "PodAttachOptions", ""),
    ("pods", "binding"): (("create",), "Binding", ""),
    ("pods", "ephemeralcontainers"): (("get", "patch", "update"), "", ""),
    ("pods", "eviction"): (("create",), "Eviction", "policy/v1"),
    ("pods", "exec"): (("create", "get"), "PodExecOptions", ""),
    ("pods", "log"): (("get",), "", ""),
    ("pods", "portforward"): (("create", "get"), "PodPortForwardOptions", ""),
    ("pods", "proxy"): (("create", "delete", "get", "patch", "update"), "PodProxyOptions", ""),
    ("namespaces", "finalize"): (("update",), "", ""),
    ("nodes", "proxy"): (("create", "delete", "get", "patch", "update"), "NodeProxyOptions", ""),
    ("services", "proxy"): (
        ("create", "delete", "get", "patch", "update"),
        "ServiceProxyOptions",
        "",
    ),
    ("certificatesigningrequests", "approval"): (("get", "patch", "update"), "", ""),
    ("serviceaccounts", "token"): (("create",), "TokenRequest", "authentication.k8s.io/v1"),
}


@pytest.mark.parametrize("key", sorted(SUBRESOURCES), ids="/".join)
def test_subresource_facts(key: tuple[str, str]) -> None:
    resource, name = key
    (rt,) = [t for t in TABLE.types if t.resource == resource]
    sub = rt.subresource(name)
    assert sub is not None
    verbs, kind, group_version = SUBRESOURCES[key]
    assert (sub.verbs, sub.kind) == (verbs, kind)
    assert "/".join(filter(None, (sub.group, sub.version))) == group_version
    assert sub.connect == (name in ("attach", "exec", "log", "portforward", "proxy"))
    assert sub.path == (name == "proxy")


def test_subresources_cross_the_wire_as_they_are() -> None:
    for rt in TABLE.types:
        sent = orjson.loads(orjson.dumps(rt.to_json()))  # as the Types reply carries it
        assert ResourceType.from_json(sent) == rt.descriptor(), rt.resource


def test_every_schema_is_a_1_32_definition_of_the_right_kind() -> None:
    definitions = openapi_schemas.builtin()
    for rt in TABLE.types:
        assert rt.schema in definitions, rt.schema
        assert definitions.by_gvk(rt.group, rt.version, rt.kind) == rt.schema
        if "list" in rt.verbs:  # a Binding has no list
            assert definitions.by_gvk(rt.group, rt.version, rt.list_kind) is not None


def test_discovery_order_is_kube_s() -> None:
    """The core group, then kube-aggregator's group priorities (its own group first); the
    preferred version first."""
    assert TABLE.group_versions() == [
        ("", "v1"),
        ("apiregistration.k8s.io", "v1"),
        ("apps", "v1"),
        ("events.k8s.io", "v1"),
        ("authentication.k8s.io", "v1"),
        ("authorization.k8s.io", "v1"),
        ("autoscaling", "v2"),
        ("autoscaling", "v1"),
        ("batch", "v1"),
        ("certificates.k8s.io", "v1"),
        ("networking.k8s.io", "v1"),
        ("policy", "v1"),
        ("rbac.authorization.k8s.io", "v1"),
        ("storage.k8s.io", "v1"),
        ("admissionregistration.k8s.io", "v1"),
        ("apiextensions.k8s.io", "v1"),
        ("scheduling.k8s.io", "v1"),
        ("coordination.k8s.io", "v1"),
        ("node.k8s.io", "v1"),
        ("discovery.k8s.io", "v1"),
        ("flowcontrol.apiserver.k8s.io", "v1"),
    ]
    for group, version in TABLE.group_versions():
        names = [t.resource for t in TABLE.in_group_version(group, version)]
        assert names == sorted(names), (group, version)


def test_access_reviews_are_created_never_stored() -> None:
    reviews = [
        t for t in TABLE.types if t.group in ("authentication.k8s.io", "authorization.k8s.io")
    ]
    assert len(reviews) == 6
    assert all(t.verbs == ("create",) and not t.stored for t in reviews)


def test_storage_versions() -> None:
    """events.k8s.io Events are core Events; autoscaling/v1 HPAs are stored as v2."""
    events = BY_KEY[("events.k8s.io", "v1", "events")]
    assert (events.storage_version, events.stored_api_version) == ("v1", "v1")
    assert etcd_prefix(events) == etcd_prefix(BY_KEY[("", "v1", "events")])
    hpa_v1 = BY_KEY[("autoscaling", "v1", "horizontalpodautoscalers")]
    hpa_v2 = BY_KEY[("autoscaling", "v2", "horizontalpodautoscalers")]
    assert hpa_v1.stored_api_version == "autoscaling/v2"
    assert (hpa_v2.storage_version, hpa_v2.stored_api_version) == ("", "autoscaling/v2")
    plain = [t for t in TABLE.types if t.storage_version]
    assert {(t.group, t.resource) for t in plain} == {
        ("events.k8s.io", "events"),
        ("autoscaling", "horizontalpodautoscalers"),
    }


def test_json_round_trip_and_older_tables() -> None:
    for rt in TABLE.types:
        assert ResourceType.from_json(rt.to_json()) == rt.descriptor()
    older = BY_KEY[("", "v1", "configmaps")].to_json()
    del older["storage_version"]  # a table from before the field existed still loads
    assert ResourceType.from_json(older).storage_version == ""
    newer = {**older, "some_future_field": 1}  # and one from after ignores what it lacks
    assert ResourceType.from_json(newer).resource == "configmaps"


@pytest.mark.parametrize(
    ("key", "fields"),
    [
        (
            ("", "v1", "pods"),
            {"spec.nodeName", "spec.restartPolicy", "status.phase", "status.podIP"},
        ),
        (("", "v1", "events"), {"involvedObject.name", "reason", "type", "source"}),
        (("", "v1", "secrets"), {"type"}),
        (("", "v1", "namespaces"), {"status.phase"}),
        (("", "v1", "nodes"), {"spec.unschedulable"}),
        (("", "v1", "services"), {"spec.clusterIP", "spec.type"}),
        (("", "v1", "replicationcontrollers"), {"status.replicas"}),
        (("apps", "v1", "replicasets"), {"status.replicas"}),
        (("batch", "v1", "jobs"), {"status.successful"}),
        (("events.k8s.io", "v1", "events"), {"regarding.name", "reportingController"}),
    ],
)
def test_field_selectors(key: tuple[str, str, str], fields: set[str]) -> None:
    assert fields <= set(BY_KEY[key].selection.labels)


def test_field_selector_paths_and_errors() -> None:
    jobs = BY_KEY[("batch", "v1", "jobs")].selection
    assert jobs.for_storage("status.successful=1") == "status.succeeded|0=1"
    assert jobs.for_storage("metadata.name=a") == "metadata.name=a"
    events = BY_KEY[("", "v1", "events")].selection
    assert events.for_storage("source=kubelet") == "source.component=kubelet"
    new_events = BY_KEY[("events.k8s.io", "v1", "events")].selection
    assert new_events.for_storage("regarding.kind=Pod") == "involvedObject.kind=Pod"
    assert new_events.for_storage("reportingController=x") == "reportingComponent=x"
    # core types with a label conversion of their own
    assert BY_KEY[("", "v1", "pods")].selection.error("x") == "field label not supported: x"
    # types without one: apimachinery's DefaultMetaV1FieldSelectorConversion
    assert BY_KEY[("", "v1", "configmaps")].selection.error("foo.bar") == (
        '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    assert jobs.error("spec.x") == 'field label "spec.x" not supported for batchv1.Job'


def test_a_table_of_other_types_works_alike() -> None:
    only = TypeTable(t for t in TABLE.types if t.group == "batch")
    assert only.lookup("batch", "v1", "jobs") is BY_KEY[("batch", "v1", "jobs")]
    assert only.lookup("", "v1", "pods") is None


@pytest.mark.parametrize(
    ("key", "equivalents"),
    [
        # kube's EquivalentResourceMapper, keyed by storage: served versions of one
        # stored resource, in table order.
        (
            ("autoscaling", "v1", "horizontalpodautoscalers"),
            {("autoscaling", "v2"), ("autoscaling", "v1")},
        ),
        (("events.k8s.io", "v1", "events"), {("", "v1"), ("events.k8s.io", "v1")}),
        (("", "v1", "configmaps"), set()),  # served once: none
    ],
)
def test_equivalents(key: tuple[str, str, str], equivalents: set[tuple[str, str]]) -> None:
    rt = TABLE.lookup(*key)
    assert rt is not None
    found = TABLE.equivalents(rt)
    assert {(e.group, e.version) for e in found} == equivalents
    assert all(e.resource == rt.resource for e in found)
    assert not found or rt in found
