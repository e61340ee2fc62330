"""The enum values of Kubernetes 1.32 fields, which the shipped definitions lost.

Why: kube-apiserver publishes ``enum`` (and a "Possible enum values" paragraph) for the
fields whose Go type carries ``+enum``, and its hand-written validation rejects other
values with ``Unsupported value: "Foo": supported values: ...``. The JSON-schema form
that kubernetes-validate ships drops both. This table puts back the ones users meet,
as data:

- ``values``: in the order kube-apiserver's validation lists them in its message
  (``sets.List`` sorts them; a few validators use a literal list, kept as is);
- ``described``: per value, the text of kube's "Possible enum values" paragraph, where
  it is carried here; OpenAPI documents then publish it as kube does (``kubectl
  explain`` prints ``enum: A, B`` and the paragraph).

Keyed by (definition name, property). A property that is a list of enum values
(``accessModes``) is checked item by item.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]
    described: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def paragraph(self) -> str:
        """kube's "Possible enum values" paragraph (sorted values), or "" when not carried."""
        if not self.described:
            return ""
        lines = [
            f' - `"{value}"` {self.described[value]}'.rstrip()
            for value in sorted(self.values)
            if value in self.described
        ]
        return "Possible enum values:\n" + "\n".join(lines)


_CORE = "io.k8s.api.core.v1."
_APPS = "io.k8s.api.apps.v1."
_BATCH = "io.k8s.api.batch.v1."
_NET = "io.k8s.api.networking.v1."
_HPA2 = "io.k8s.api.autoscaling.v2."

_PROTOCOLS = Enum(("SCTP", "TCP", "UDP"))
_TRAFFIC = Enum(("Cluster", "Local"))
_PULL = Enum(("Always", "IfNotPresent", "Never"))
_TERMINATION_MESSAGE = Enum(("File", "FallbackToLogsOnError"))
_ACCESS_MODES = Enum(("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"))
_VOLUME_MODES = Enum(("Block", "Filesystem"))
_TAINT_EFFECTS = Enum(("NoSchedule", "PreferNoSchedule", "NoExecute"))

ENUMS: dict[tuple[str, str], Enum] = {
    (_APPS + "DeploymentStrategy", "type"): Enum(
        ("Recreate", "RollingUpdate"),
        {
            "Recreate": "Kill all existing pods before creating new ones.",
            "RollingUpdate": (
                "Replace the old ReplicaSets by new one using rolling update i.e gradually "
                "scale down the old ReplicaSets and scale up the new one."
            ),
        },
    ),
    (_CORE + "ServiceSpec", "type"): Enum(
        ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
        {
            "ClusterIP": "means a service will only be accessible inside the cluster, via "
            "the cluster IP.",
            "ExternalName": "means a service consists of only a reference to an external "
            "name that kubedns or equivalent will return as a CNAME record, with no exposing "
            "or proxying of any pods involved.",
            "LoadBalancer": "means a service will be exposed via an external load balancer "
            "(if the cloud provider supports it), in addition to 'NodePort' type.",
            "NodePort": "means a service will be exposed on one port of every node, in "
            "addition to 'ClusterIP' type.",
        },
    ),
    (_CORE + "ServiceSpec", "sessionAffinity"): Enum(("ClientIP", "None")),
    (_CORE + "ServiceSpec", "externalTrafficPolicy"): _TRAFFIC,
    (_CORE + "ServiceSpec", "internalTrafficPolicy"): _TRAFFIC,
    (_CORE + "ServiceSpec", "ipFamilyPolicy"): Enum(
        ("PreferDualStack", "RequireDualStack", "SingleStack")
    ),
    (_CORE + "ServicePort", "protocol"): _PROTOCOLS,
    (_CORE + "ContainerPort", "protocol"): _PROTOCOLS,
    (_CORE + "EndpointPort", "protocol"): _PROTOCOLS,
    (_CORE + "Container", "imagePullPolicy"): _PULL,
    (_CORE + "EphemeralContainer", "imagePullPolicy"): _PULL,
    (_CORE + "Container", "terminationMessagePolicy"): _TERMINATION_MESSAGE,
    (_CORE + "EphemeralContainer", "terminationMessagePolicy"): _TERMINATION_MESSAGE,
    (_CORE + "PodSpec", "restartPolicy"): Enum(("Always", "OnFailure", "Never")),
    (_CORE + "Toleration", "operator"): Enum(("Equal", "Exists")),
    (_CORE + "Toleration", "effect"): _TAINT_EFFECTS,
    (_CORE + "Taint", "effect"): _TAINT_EFFECTS,
    (_CORE + "PersistentVolumeClaimSpec", "accessModes"): _ACCESS_MODES,
    (_CORE + "PersistentVolumeSpec", "accessModes"): _ACCESS_MODES,
    (_CORE + "PersistentVolumeClaimSpec", "volumeMode"): _VOLUME_MODES,
    (_CORE + "PersistentVolumeSpec", "volumeMode"): _VOLUME_MODES,
    (_CORE + "PersistentVolumeSpec", "persistentVolumeReclaimPolicy"): Enum(
        ("Delete", "Recycle", "Retain")
    ),
    (_BATCH + "CronJobSpec", "concurrencyPolicy"): Enum(("Allow", "Forbid", "Replace")),
    (_BATCH + "JobSpec", "completionMode"): Enum(("NonIndexed", "Indexed")),
    (_NET + "HTTPIngressPath", "pathType"): Enum(("Exact", "ImplementationSpecific", "Prefix")),
    (_NET + "NetworkPolicyPort", "protocol"): _PROTOCOLS,
    (_HPA2 + "MetricSpec", "type"): Enum(
        ("ContainerResource", "External", "Object", "Pods", "Resource")
    ),
}


def lookup(definition: str, prop: str) -> Enum | None:
    return ENUMS.get((definition, prop))
