"""Per-resource strategies, looked up by (group, resource).

One module per API group; a resource without an entry gets the base ``Strategy``
(no defaults, names are DNS subdomains). A resource served in several versions has one
strategy, which sees the object's ``apiVersion``.
"""

from __future__ import annotations

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
    return STRATEGIES.get((group, resource), DEFAULT)
