"""kube-apiserver 1.32's bootstrap RBAC policy, as data: the ClusterRoles, ClusterRoleBindings,
Roles and RoleBindings a fresh cluster has (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
``policy.go`` and ``namespace_policy.go``; their ``testdata/*.yaml`` list the objects).

Every object carries the label ``kubernetes.io/bootstrapping: rbac-defaults`` and the
annotation ``rbac.authorization.kubernetes.io/autoupdate: "true"``; the registry
reconciles them at start-up (services/registry/rbac_bootstrap.py). Rules are written as
kube writes them: lists sorted, one rule per ``NewRule(...)``.

Beside the apiserver's own (discovery, basic-user, public-info-viewer, admin/edit/view
with their aggregation, cluster-admin for ``system:masters``), the roles of the
components around it are here too — ``system:kube-controller-manager``,
``system:kube-scheduler``, ``system:node``, ``system:node-proxier`` and the
``system::leader-locking-*`` roles — which is what kapi's own controllers, scheduler and
simulated nodes are given when they authenticate as those users.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
EVENTS = ("create", "patch", "update")

CORE = ""
APPS = "apps"
ADMISSION_REGISTRATION = "admissionregistration.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
AUTOSCALING = "autoscaling"
BATCH = "batch"
CERTIFICATES = "certificates.k8s.io"
COORDINATION = "coordination.k8s.io"
DISCOVERY = "discovery.k8s.io"
EVENTS_GROUP = "events.k8s.io"
EXTENSIONS = "extensions"
NETWORKING = "networking.k8s.io"
NODE = "node.k8s.io"
POLICY = "policy"
STORAGE = "storage.k8s.io"


def rule(
    verbs: tuple[str, ...] | str,
    groups: tuple[str, ...] | str = (),
    resources: tuple[str, ...] | str = (),
    *,
    names: tuple[str, ...] = (),
    urls: tuple[str, ...] = (),
) -> Obj:
    """One PolicyRule, its lists sorted as RuleOrDie sorts them."""

    def listed(value: tuple[str, ...] | str) -> list[str]:
        return sorted((value,) if isinstance(value, str) else value)

    out: Obj = {}
    if groups != ():
        out["apiGroups"] = listed(groups)
    if resources:
        out["resources"] = listed(resources)
    if names:
        out["resourceNames"] = sorted(names)
    if urls:
        out["nonResourceURLs"] = sorted(urls)
    out["verbs"] = listed(verbs)
    return out


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**BOOTSTRAPPING_LABEL, **(labels or {})}
    meta["annotations"] = {AUTOUPDATE: "true"}
    return meta


def cluster_role(
    name: str,
    rules: list[Obj],
    *,
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> Obj:
    role: Obj = {
        "apiVersion": API_VERSION,
        "kind": "ClusterRole",
        "metadata": _meta(name, labels=labels),
    }
    if aggregate_from:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {aggregate_from: "true"}}]
        }
    role["rules"] = rules
    return role


def _subject(spec: str) -> Obj:
    """``User:name``, ``Group:name`` or ``ServiceAccount:namespace:name``."""
    kind, _, rest = spec.partition(":")
    if kind == "ServiceAccount":
        namespace, _, name = rest.partition(":")
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": GROUP, "kind": kind, "name": rest}


def binding(
    kind: str, name: str, role_kind: str, role: str, subjects: tuple[str, ...], namespace: str = ""
) -> Obj:
    out: Obj = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": _meta(name, namespace),
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role},
    }
    if subjects:
        out["subjects"] = [_subject(s) for s in subjects]
    return out


def cluster_binding(role: str, *subjects: str, name: str = "") -> Obj:
    return binding("ClusterRoleBinding", name or role, "ClusterRole", role, subjects)


def _ns_role(namespace: str, name: str, rules: list[Obj]) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Role",
        "metadata": _meta(name, namespace),
        "rules": rules,
    }


CLUSTER_ROLES: tuple[Obj, ...] = (
    cluster_role("admin", [], aggregate_from=AGGREGATE_TO_ADMIN),
    cluster_role("cluster-admin", [rule("*", "*", "*"), rule("*", urls=("*",))]),
    cluster_role("edit", [], labels={AGGREGATE_TO_ADMIN: "true"}, aggregate_from=AGGREGATE_TO_EDIT),
    cluster_role(
        "system:aggregate-to-admin",
        [
            rule("create", AUTHORIZATION, "localsubjectaccessreviews"),
            rule(READ_WRITE, GROUP, ("rolebindings", "roles")),
        ],
        labels={AGGREGATE_TO_ADMIN: "true"},
    ),
    cluster_role(
        "system:aggregate-to-edit",
        [
            rule(
                READ,
                CORE,
                (
                    "pods/attach",
                    "pods/exec",
                    "pods/portforward",
                    "pods/proxy",
                    "secrets",
                    "services/proxy",
                ),
            ),
            rule("impersonate", CORE, "serviceaccounts"),
            rule(
                WRITE, CORE, ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy")
            ),
            rule("create", CORE, "pods/eviction"),
            rule(
                WRITE,
                CORE,
                (
                    "configmaps",
                    "events",
                    "persistentvolumeclaims",
                    "replicationcontrollers",
                    "replicationcontrollers/scale",
                    "secrets",
                    "serviceaccounts",
                    "services",
                    "services/proxy",
                ),
            ),
            rule("create", CORE, "serviceaccounts/token"),
            rule(
                WRITE,
                APPS,
                (
                    "daemonsets",
                    "deployments",
                    "deployments/rollback",
                    "deployments/scale",
                    "replicasets",
                    "replicasets/scale",
                    "statefulsets",
                    "statefulsets/scale",
                ),
            ),
            rule(WRITE, AUTOSCALING, "horizontalpodautoscalers"),
            rule(WRITE, BATCH, ("cronjobs", "jobs")),
            rule(
                WRITE,
                EXTENSIONS,
                (
                    "daemonsets",
                    "deployments",
                    "deployments/rollback",
                    "deployments/scale",
                    "ingresses",
                    "networkpolicies",
                    "replicasets",
                    "replicasets/scale",
                    "replicationcontrollers/scale",
                ),
            ),
            rule(WRITE, POLICY, "poddisruptionbudgets"),
            rule(WRITE, NETWORKING, ("ingresses", "networkpolicies")),
            rule(READ_WRITE, COORDINATION, "leases"),
        ],
        labels={AGGREGATE_TO_EDIT: "true"},
    ),
    cluster_role(
        "system:aggregate-to-view",
        [
            rule(
                READ,
                CORE,
                (
                    "configmaps",
                    "endpoints",
                    "persistentvolumeclaims",
                    "persistentvolumeclaims/status",
                    "pods",
                    "replicationcontrollers",
                    "replicationcontrollers/scale",
                    "serviceaccounts",
                    "services",
                    "services/status",
                ),
            ),
            rule(
                READ,
                CORE,
                (
                    "bindings",
                    "events",
                    "limitranges",
                    "namespaces/status",
                    "pods/log",
                    "pods/status",
                    "replicationcontrollers/status",
                    "resourcequotas",
                    "resourcequotas/status",
                ),
            ),
            rule(READ, CORE, "namespaces"),
            rule(READ, DISCOVERY, "endpointslices"),
            rule(
                READ,
                APPS,
                (
                    "controllerrevisions",
                    "daemonsets",
                    "daemonsets/status",
                    "deployments",
                    "deployments/scale",
                    "deployments/status",
                    "replicasets",
                    "replicasets/scale",
                    "replicasets/status",
                    "statefulsets",
                    "statefulsets/scale",
                    "statefulsets/status",
                ),
            ),
            rule(
                READ, AUTOSCALING, ("horizontalpodautoscalers", "horizontalpodautoscalers/status")
            ),
            rule(READ, BATCH, ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
            rule(
                READ,
                EXTENSIONS,
                (
                    "daemonsets",
                    "daemonsets/status",
                    "deployments",
                    "deployments/scale",
                    "deployments/status",
                    "ingresses",
                    "ingresses/status",
                    "networkpolicies",
                    "replicasets",
                    "replicasets/scale",
                    "replicasets/status",
                    "replicationcontrollers/scale",
                ),
            ),
            rule(READ, POLICY, ("poddisruptionbudgets", "poddisruptionbudgets/status")),
            rule(READ, NETWORKING, ("ingresses", "ingresses/status", "networkpolicies")),
        ],
        labels={AGGREGATE_TO_VIEW: "true"},
    ),
    cluster_role(
        "system:auth-delegator",
        [
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
        ],
    ),
    cluster_role(
        "system:basic-user",
        [
            rule("create", AUTHORIZATION, ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
            rule("create", AUTHENTICATION, "selfsubjectreviews"),
        ],
    ),
    cluster_role(
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        [rule("create", CERTIFICATES, "certificatesigningrequests/nodeclient")],
    ),
    cluster_role(
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        [rule("create", CERTIFICATES, "certificatesigningrequests/selfnodeclient")],
    ),
    cluster_role(
        "system:certificates.k8s.io:kube-apiserver-client-approver",
        [rule("approve", CERTIFICATES, "signers", names=("kubernetes.io/kube-apiserver-client",))],
    ),
    cluster_role(
        "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
        [
            rule(
                "approve",
                CERTIFICATES,
                "signers",
                names=("kubernetes.io/kube-apiserver-client-kubelet",),
            )
        ],
    ),
    cluster_role(
        "system:certificates.k8s.io:kubelet-serving-approver",
        [rule("approve", CERTIFICATES, "signers", names=("kubernetes.io/kubelet-serving",))],
    ),
    cluster_role(
        "system:certificates.k8s.io:legacy-unknown-approver",
        [rule("approve", CERTIFICATES, "signers", names=("kubernetes.io/legacy-unknown",))],
    ),
    cluster_role(
        "system:discovery",
        [
            rule(
                "get",
                urls=(
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ),
            )
        ],
    ),
    cluster_role(
        "system:heapster",
        [
            rule(READ, CORE, ("events", "namespaces", "nodes", "pods")),
            rule(READ, EXTENSIONS, "deployments"),
        ],
    ),
    cluster_role("system:kube-aggregator", [rule(READ, CORE, ("endpoints", "services"))]),
    cluster_role(
        "system:kube-controller-manager",
        [
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            rule("create", COORDINATION, "leases"),
            rule(("get", "update"), COORDINATION, "leases", names=("kube-controller-manager",)),
            rule("create", CORE, ("secrets", "serviceaccounts")),
            rule("delete", CORE, "secrets"),
            rule("get", CORE, ("configmaps", "namespaces", "secrets", "serviceaccounts")),
            rule("update", CORE, ("secrets", "serviceaccounts")),
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
            rule(("list", "watch"), "*", "*"),
            rule("create", CORE, "serviceaccounts/token"),
        ],
    ),
    cluster_role("system:kube-dns", [rule(("list", "watch"), CORE, ("endpoints", "services"))]),
    cluster_role(
        "system:kube-scheduler",
        [
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            rule("create", COORDINATION, "leases"),
            rule(("get", "update"), COORDINATION, "leases", names=("kube-scheduler",)),
            rule(READ, CORE, "nodes"),
            rule(("delete", "get", "list", "watch"), CORE, "pods"),
            rule("create", CORE, ("bindings", "pods/binding")),
            rule(("patch", "update"), CORE, "pods/status"),
            rule(READ, CORE, ("replicationcontrollers", "services")),
            rule(READ, (APPS, EXTENSIONS), "replicasets"),
            rule(READ, APPS, "statefulsets"),
            rule(READ, POLICY, "poddisruptionbudgets"),
            rule(READ, CORE, ("persistentvolumeclaims", "persistentvolumes")),
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, "subjectaccessreviews"),
            rule(READ, STORAGE, "csinodes"),
            rule(READ, CORE, "namespaces"),
            rule(READ, STORAGE, "csidrivers"),
            rule(READ, STORAGE, "csistoragecapacities"),
        ],
    ),
    cluster_role(
        "system:kubelet-api-admin",
        [
            rule(READ, CORE, "nodes"),
            rule("proxy", CORE, "nodes"),
            rule("*", CORE, ("nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats")),
        ],
    ),
    cluster_role(
        "system:monitoring",
        [
            rule(
                "get",
                urls=(
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/metrics/slis",
                    "/readyz",
                    "/readyz/*",
                ),
            )
        ],
    ),
    cluster_role(
        "system:node",
        [
            rule("create", AUTHENTICATION, "tokenreviews"),
            rule("create", AUTHORIZATION, ("localsubjectaccessreviews", "subjectaccessreviews")),
            rule(READ, CORE, "services"),
            rule(("create", "get", "list", "watch"), CORE, "nodes"),
            rule(("patch", "update"), CORE, "nodes/status"),
            rule(("patch", "update"), CORE, "nodes"),
            rule(EVENTS, CORE, "events"),
            rule(READ, CORE, "pods"),
            rule(("create", "delete"), CORE, "pods"),
            rule(("patch", "update"), CORE, "pods/status"),
            rule("create", CORE, "pods/eviction"),
            rule(READ, CORE, ("configmaps", "secrets")),
            rule("get", CORE, ("persistentvolumeclaims", "persistentvolumes")),
            rule("get", CORE, "endpoints"),
            rule(("create", "get", "list", "watch"), CERTIFICATES, "certificatesigningrequests"),
            rule(("create", "delete", "get", "patch", "update"), COORDINATION, "leases"),
            rule("get", STORAGE, "volumeattachments"),
            rule("create", CORE, "serviceaccounts/token"),
            rule(("get", "patch", "update"), CORE, "persistentvolumeclaims/status"),
            rule(READ, STORAGE, "csidrivers"),
            rule(("create", "delete", "get", "patch", "update"), STORAGE, "csinodes"),
            rule(READ, NODE, "runtimeclasses"),
        ],
    ),
    cluster_role(
        "system:node-bootstrapper",
        [rule(("create", "get", "list", "watch"), CERTIFICATES, "certificatesigningrequests")],
    ),
    cluster_role(
        "system:node-problem-detector",
        [
            rule("get", CORE, "nodes"),
            rule("patch", CORE, "nodes/status"),
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
        ],
    ),
    cluster_role(
        "system:node-proxier",
        [
            rule(("list", "watch"), CORE, ("endpoints", "services")),
            rule(READ, CORE, "nodes"),
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            rule(("list", "watch"), DISCOVERY, "endpointslices"),
        ],
    ),
    cluster_role(
        "system:persistent-volume-provisioner",
        [
            rule(("create", "delete", "get", "list", "watch"), CORE, "persistentvolumes"),
            rule(("get", "list", "update", "watch"), CORE, "persistentvolumeclaims"),
            rule(READ, STORAGE, "storageclasses"),
            rule("watch", CORE, "events"),
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
        ],
    ),
    cluster_role(
        "system:public-info-viewer",
        [rule("get", urls=("/healthz", "/livez", "/readyz", "/version", "/version/"))],
    ),
    cluster_role(
        "system:service-account-issuer-discovery",
        [rule("get", urls=("/.well-known/openid-configuration", "/openid/v1/jwks"))],
    ),
    cluster_role(
        "system:volume-scheduler",
        [
            rule(("get", "list", "patch", "update", "watch"), CORE, "persistentvolumes"),
            rule(READ, STORAGE, "storageclasses"),
            rule(("get", "list", "patch", "update", "watch"), CORE, "persistentvolumeclaims"),
        ],
    ),
    cluster_role("view", [], labels={AGGREGATE_TO_EDIT: "true"}, aggregate_from=AGGREGATE_TO_VIEW),
)

# kube-controller-manager's controller roles (``controller_policy.go``), one per controller
# kapi runs, each bound as kube binds it: to the ServiceAccount ``kube-system/NAME`` that
# kube-controller-manager's ``--use-service-account-credentials`` runs that controller as.
CONTROLLER_ROLE_PREFIX = "system:controller:"
CONTROLLER_ROLES: tuple[Obj, ...] = tuple(
    cluster_role(CONTROLLER_ROLE_PREFIX + name, rules)
    for name, rules in (
        (
            "cronjob-controller",
            [
                rule(("get", "list", "update", "watch"), BATCH, "cronjobs"),
                rule(
                    ("create", "delete", "get", "list", "patch", "update", "watch"), BATCH, "jobs"
                ),
                rule("update", BATCH, "cronjobs/status"),
                rule("update", BATCH, "cronjobs/finalizers"),
                rule(("delete", "list", "watch"), CORE, "pods"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "daemon-set-controller",
            [
                rule(READ, (EXTENSIONS, APPS), "daemonsets"),
                rule("update", (EXTENSIONS, APPS), "daemonsets/status"),
                rule("update", (EXTENSIONS, APPS), "daemonsets/finalizers"),
                rule(("list", "watch"), CORE, "nodes"),
                rule(("create", "delete", "list", "patch", "watch"), CORE, "pods"),
                rule("create", CORE, "pods/binding"),
                rule(
                    ("create", "delete", "get", "list", "patch", "update", "watch"),
                    APPS,
                    "controllerrevisions",
                ),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "deployment-controller",
            [
                rule(("get", "list", "update", "watch"), (EXTENSIONS, APPS), "deployments"),
                rule("update", (EXTENSIONS, APPS), "deployments/status"),
                rule("update", (EXTENSIONS, APPS), "deployments/finalizers"),
                rule(
                    ("create", "delete", "get", "list", "patch", "update", "watch"),
                    (APPS, EXTENSIONS),
                    "replicasets",
                ),
                rule(("get", "list", "update", "watch"), CORE, "pods"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "disruption-controller",
            [
                rule(READ, (EXTENSIONS, APPS), "deployments"),
                rule(READ, (APPS, EXTENSIONS), "replicasets"),
                rule(READ, CORE, "replicationcontrollers"),
                rule(READ, POLICY, "poddisruptionbudgets"),
                rule(READ, APPS, "statefulsets"),
                rule("update", POLICY, "poddisruptionbudgets/status"),
                rule(("patch", "update"), CORE, "pods/status"),
                rule("get", "*", "*/scale"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "endpoint-controller",
            [
                rule(READ, CORE, ("services", "pods")),
                rule(("create", "delete", "get", "list", "update", "watch"), CORE, "endpoints"),
                rule("create", CORE, "endpoints/restricted"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "endpointslice-controller",
            [
                rule(READ, CORE, ("services", "pods", "nodes")),
                rule("update", CORE, "services/finalizers"),
                rule(
                    ("create", "delete", "get", "list", "update", "watch"),
                    DISCOVERY,
                    "endpointslices",
                ),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "generic-garbage-collector",
            [
                rule(("delete", "get", "list", "patch", "update", "watch"), "*", "*"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "horizontal-pod-autoscaler",
            [
                rule(READ, AUTOSCALING, "horizontalpodautoscalers"),
                rule("update", AUTOSCALING, "horizontalpodautoscalers/status"),
                rule(("get", "update"), "*", "*/scale"),
                rule(("list", "watch"), CORE, "pods"),
                rule(("list", "watch"), "metrics.k8s.io", "pods"),
                rule(READ, "custom.metrics.k8s.io", "*"),
                rule(READ, "external.metrics.k8s.io", "*"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "job-controller",
            [
                rule(("get", "list", "patch", "update", "watch"), BATCH, "jobs"),
                rule("update", BATCH, "jobs/status"),
                rule("update", BATCH, "jobs/finalizers"),
                rule(("create", "delete", "list", "patch", "watch"), CORE, "pods"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "namespace-controller",
            [
                rule(("delete", "get", "list", "watch"), CORE, "namespaces"),
                rule("update", CORE, ("namespaces/finalize", "namespaces/status")),
                rule(("delete", "deletecollection", "get", "list", "watch"), "*", "*"),
            ],
        ),
        (
            "replicaset-controller",
            [
                rule(("get", "list", "update", "watch"), (APPS, EXTENSIONS), "replicasets"),
                rule("update", (APPS, EXTENSIONS), "replicasets/status"),
                rule("update", (APPS, EXTENSIONS), "replicasets/finalizers"),
                rule(("create", "delete", "list", "patch", "watch"), CORE, "pods"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "resourcequota-controller",
            [
                rule(("list", "watch"), "*", "*"),
                rule("update", CORE, "resourcequotas/status"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "root-ca-cert-publisher",
            [
                rule(("create", "update"), CORE, "configmaps"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "service-account-controller",
            [
                rule("create", CORE, "serviceaccounts"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "statefulset-controller",
            [
                rule(("list", "watch"), CORE, "pods"),
                rule(READ, APPS, "statefulsets"),
                rule("update", APPS, "statefulsets/status"),
                rule("update", APPS, "statefulsets/finalizers"),
                rule(("create", "delete", "get", "patch", "update"), CORE, "pods"),
                rule(
                    ("create", "delete", "get", "list", "patch", "update", "watch"),
                    APPS,
                    "controllerrevisions",
                ),
                rule(("create", "get", "list", "watch"), CORE, "persistentvolumeclaims"),
                rule(("delete", "update"), CORE, "persistentvolumeclaims"),
                rule("update", CORE, "pods/finalizers"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "ttl-after-finished-controller",
            [
                rule(("delete", "get", "list", "watch"), BATCH, "jobs"),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
        (
            "validatingadmissionpolicy-status-controller",
            [
                rule(READ, ADMISSION_REGISTRATION, "validatingadmissionpolicies"),
                rule(
                    ("get", "patch", "update"),
                    ADMISSION_REGISTRATION,
                    "validatingadmissionpolicies/status",
                ),
                rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            ],
        ),
    )
)

# kapi's own components beside the API server: the controller manager runs as kube's
# does with --use-service-account-credentials (its own user, system:kube-controller-manager,
# with kube's role of that name; each controller as kube-system/NAME with the role above);
# the scheduler is system:kube-scheduler. The node simulator is every kubelet at once: it
# is given kube's system:node role (which kube's Node authorizer narrows to one node's
# objects) through the binding below.
CLUSTER_ROLES = (*CLUSTER_ROLES, *CONTROLLER_ROLES)

CLUSTER_ROLE_BINDINGS: tuple[Obj, ...] = (
    *(
        cluster_binding(
            role["metadata"]["name"],
            "ServiceAccount:kube-system:"
            + role["metadata"]["name"].removeprefix(CONTROLLER_ROLE_PREFIX),
        )
        for role in CONTROLLER_ROLES
    ),
    binding(
        "ClusterRoleBinding",
        "system:kapi:node-simulator",
        "ClusterRole",
        "system:node",
        ("User:system:kapi-node-simulator",),
    ),
    cluster_binding("cluster-admin", "Group:system:masters"),
    cluster_binding("system:basic-user", "Group:system:authenticated"),
    cluster_binding("system:discovery", "Group:system:authenticated"),
    cluster_binding("system:kube-controller-manager", "User:system:kube-controller-manager"),
    cluster_binding("system:kube-dns", "ServiceAccount:kube-system:kube-dns"),
    cluster_binding("system:kube-scheduler", "User:system:kube-scheduler"),
    cluster_binding("system:monitoring", "Group:system:monitoring"),
    cluster_binding("system:node"),
    cluster_binding("system:node-proxier", "User:system:kube-proxy"),
    cluster_binding(
        "system:public-info-viewer", "Group:system:authenticated", "Group:system:unauthenticated"
    ),
    cluster_binding("system:service-account-issuer-discovery", "Group:system:serviceaccounts"),
    cluster_binding("system:volume-scheduler", "User:system:kube-scheduler"),
)

ROLES: tuple[Obj, ...] = (
    _ns_role(
        "kube-system",
        "extension-apiserver-authentication-reader",
        [rule(READ, CORE, "configmaps", names=("extension-apiserver-authentication",))],
    ),
    _ns_role(
        "kube-system",
        "system::leader-locking-kube-controller-manager",
        [
            rule("watch", CORE, "configmaps"),
            rule(("get", "update"), CORE, "configmaps", names=("kube-controller-manager",)),
        ],
    ),
    _ns_role(
        "kube-system",
        "system::leader-locking-kube-scheduler",
        [
            rule("watch", CORE, "configmaps"),
            rule(("get", "update"), CORE, "configmaps", names=("kube-scheduler",)),
        ],
    ),
    _ns_role(
        "kube-system",
        "system:controller:bootstrap-signer",
        [rule(READ, CORE, "secrets")],
    ),
    _ns_role(
        "kube-system",
        "system:controller:cloud-provider",
        [rule(("create", "get", "list", "watch"), CORE, "configmaps")],
    ),
    _ns_role(
        "kube-system",
        "system:controller:token-cleaner",
        [
            rule(("delete", "get", "list", "watch"), CORE, "secrets"),
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
        ],
    ),
    _ns_role(
        "kube-public",
        "system:controller:bootstrap-signer",
        [
            rule(READ, CORE, "configmaps"),
            rule("update", CORE, "configmaps", names=("cluster-info",)),
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
        ],
    ),
)

ROLE_BINDINGS: tuple[Obj, ...] = (
    binding(
        "RoleBinding",
        "system::extension-apiserver-authentication-reader",
        "Role",
        "extension-apiserver-authentication-reader",
        ("User:system:kube-controller-manager", "User:system:kube-scheduler"),
        "kube-system",
    ),
    binding(
        "RoleBinding",
        "system::leader-locking-kube-controller-manager",
        "Role",
        "system::leader-locking-kube-controller-manager",
        (
            "User:system:kube-controller-manager",
            "ServiceAccount:kube-system:kube-controller-manager",
        ),
        "kube-system",
    ),
    binding(
        "RoleBinding",
        "system::leader-locking-kube-scheduler",
        "Role",
        "system::leader-locking-kube-scheduler",
        ("User:system:kube-scheduler", "ServiceAccount:kube-system:kube-scheduler"),
        "kube-system",
    ),
    binding(
        "RoleBinding",
        "system:controller:bootstrap-signer",
        "Role",
        "system:controller:bootstrap-signer",
        ("ServiceAccount:kube-system:bootstrap-signer",),
        "kube-system",
    ),
    binding(
        "RoleBinding",
        "system:controller:cloud-provider",
        "Role",
        "system:controller:cloud-provider",
        ("ServiceAccount:kube-system:cloud-provider",),
        "kube-system",
    ),
    binding(
        "RoleBinding",
        "system:controller:token-cleaner",
        "Role",
        "system:controller:token-cleaner",
        ("ServiceAccount:kube-system:token-cleaner",),
        "kube-system",
    ),
    binding(
        "RoleBinding",
        "system:controller:bootstrap-signer",
        "Role",
        "system:controller:bootstrap-signer",
        ("ServiceAccount:kube-system:bootstrap-signer",),
        "kube-public",
    ),
)
