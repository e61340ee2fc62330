"""Per-resource strategies, looked up by the (group, resource) a request is served as.

One module per API group; a resource without an entry gets the base ``Strategy``
(no defaults, names are DNS subdomains). A strategy sees objects in their stored form.
Where one stored resource is served by several groups, the served group picks the rules,
as kube's strategies read the request's group-version: an Event written through
events.k8s.io/v1 is validated by ``events.EventStrategy``, one written through core v1 by
``core.EventStrategy``, though both are stored as core v1 Events. The versions of one
group (autoscaling/v1 and v2 HorizontalPodAutoscalers) share a strategy.
"""

from __future__ import annotations

from kapi.selectors import ABSENT_AS, FieldTerm
from services.registry.strategies import (
    admissionregistration,
    apiextensions,
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    flowcontrol,
    networking,
    node,
    policy,
    rbac,
    scheduling,
    storage,
)
from services.registry.strategy import Strategy

STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "configmaps"): core.ConfigMapStrategy(),
    ("", "endpoints"): core.EndpointsStrategy(),
    ("", "events"): core.EventStrategy(),
    ("", "limitranges"): core.LimitRangeStrategy(),
    ("", "namespaces"): core.NamespaceStrategy(),
    ("", "nodes"): core.NodeStrategy(),
    ("", "persistentvolumeclaims"): core.PersistentVolumeClaimStrategy(),
    ("", "persistentvolumes"): core.PersistentVolumeStrategy(),
    ("", "pods"): core.PodStrategy(),
    ("", "podtemplates"): core.PodTemplateStrategy(),
    ("", "replicationcontrollers"): core.ReplicationControllerStrategy(),
    ("", "resourcequotas"): core.ResourceQuotaStrategy(),
    ("", "secrets"): core.SecretStrategy(),
    ("", "serviceaccounts"): core.ServiceAccountStrategy(),
    ("", "services"): core.ServiceStrategy(),
    ("apps", "controllerrevisions"): apps.ControllerRevisionStrategy(),
    ("apps", "daemonsets"): apps.DaemonSetStrategy(),
    ("apps", "deployments"): apps.DeploymentStrategy(),
    ("apps", "replicasets"): apps.ReplicaSetStrategy(),
    ("apps", "statefulsets"): apps.StatefulSetStrategy(),
    ("events.k8s.io", "events"): events.EventStrategy(),
    ("autoscaling", "horizontalpodautoscalers"): autoscaling.HorizontalPodAutoscalerStrategy(),
    ("batch", "cronjobs"): batch.CronJobStrategy(),
    ("batch", "jobs"): batch.JobStrategy(),
    ("certificates.k8s.io", "certificatesigningrequests"): (
        certificates.CertificateSigningRequestStrategy()
    ),
    ("networking.k8s.io", "ingressclasses"): networking.IngressClassStrategy(),
    ("networking.k8s.io", "ingresses"): networking.IngressStrategy(),
    ("networking.k8s.io", "networkpolicies"): networking.NetworkPolicyStrategy(),
    ("policy", "poddisruptionbudgets"): policy.PodDisruptionBudgetStrategy(),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): rbac.ClusterRoleBindingStrategy(),
    ("rbac.authorization.k8s.io", "clusterroles"): rbac.ClusterRoleStrategy(),
    ("rbac.authorization.k8s.io", "rolebindings"): rbac.RoleBindingStrategy(),
    ("rbac.authorization.k8s.io", "roles"): rbac.RoleStrategy(),
    ("storage.k8s.io", "csidrivers"): storage.CSIDriverStrategy(),
    ("storage.k8s.io", "csinodes"): storage.CSINodeStrategy(),
    ("storage.k8s.io", "csistoragecapacities"): storage.CSIStorageCapacityStrategy(),
    ("storage.k8s.io", "storageclasses"): storage.StorageClassStrategy(),
    ("storage.k8s.io", "volumeattachments"): storage.VolumeAttachmentStrategy(),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (
        admissionregistration.MutatingWebhookConfigurationStrategy()
    ),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): (
        admissionregistration.ValidatingAdmissionPolicyStrategy()
    ),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): (
        admissionregistration.ValidatingAdmissionPolicyBindingStrategy()
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
        admissionregistration.ValidatingWebhookConfigurationStrategy()
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        apiextensions.CustomResourceDefinitionStrategy()
    ),
    ("scheduling.k8s.io", "priorityclasses"): scheduling.PriorityClassStrategy(),
    ("coordination.k8s.io", "leases"): coordination.LeaseStrategy(),
    ("node.k8s.io", "runtimeclasses"): node.RuntimeClassStrategy(),
    ("discovery.k8s.io", "endpointslices"): discovery.EndpointSliceStrategy(),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): flowcontrol.FlowSchemaStrategy(),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): (
        flowcontrol.PriorityLevelConfigurationStrategy()
    ),
}

DEFAULT = Strategy()


def strategy_for(group: str, resource: str) -> Strategy:
    """The strategy of ``resource`` as served by ``group`` (the request's group, not the
    group of the form it is stored in)."""
    return STRATEGIES.get((group, resource), DEFAULT)


# Selectable fields kube computes from a bool (``fmt.Sprint(node.Spec.Unschedulable)``,
# ``strconv.FormatBool`` of a pod's hostNetwork): an object without the field reads
# "false" there, where its stored JSON (omitempty) has nothing and storage reads "".
BOOLEAN_FIELD_SELECTORS: dict[tuple[str, str], frozenset[str]] = {
    ("", "nodes"): frozenset({"spec.unschedulable"}),
    ("", "pods"): frozenset({"spec.hostNetwork"}),
}


# Integer fields kube selects by their printed value, "0" when Go's JSON omits them.
ZERO_INT_FIELD_SELECTORS: dict[tuple[str, str], frozenset[str]] = {
    ("batch", "jobs"): frozenset({"status.succeeded"}),
    ("apps", "replicasets"): frozenset({"status.replicas"}),
    ("", "replicationcontrollers"): frozenset({"status.replicas"}),
}


def selectable_terms(
    group: str, resource: str, terms: tuple[FieldTerm, ...]
) -> tuple[FieldTerm, ...]:
    """Field selector terms rewritten so that storage, which compares the stored JSON,
    selects what kube selects from its computed fields (ToSelectableFields).

    A boolean field is "true" or "false" to kube, never absent: ``=false`` is ``!=true``
    (which a missing field satisfies), ``!=false`` is ``=true``; ``=`` (empty) selects
    nothing and ``!=`` (empty) everything. Other terms are returned as they are."""
    integers = ZERO_INT_FIELD_SELECTORS.get((group, resource), frozenset())
    if any(t.path in integers for t in terms):
        terms = tuple(
            FieldTerm(f"{t.path}{ABSENT_AS}0", t.value, t.equal) if t.path in integers else t
            for t in terms
        )
    booleans = BOOLEAN_FIELD_SELECTORS.get((group, resource))
    if not booleans or not any(t.path in booleans for t in terms):
        return terms
    out: list[FieldTerm] = []
    for term in terms:
        if term.path not in booleans:
            out.append(term)
        elif term.value == "false":
            out.append(FieldTerm(term.path, "true", not term.equal))
        elif term.value != "":
            out.append(term)  # "true", or a value no bool prints: kube compares as we do
        elif term.equal:  # nothing reads "": a contradiction selects nothing
            out += [FieldTerm(term.path, "true", True), FieldTerm(term.path, "true", False)]
        # "!=" (empty) holds for every object: the term goes
    return tuple(out)
