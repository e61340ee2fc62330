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

# kapi's own components beside the API server (services/controllers, services/nodes;
# the scheduler has kube's system:kube-scheduler). kapi's controller manager runs every
# controller as system:kube-controller-manager, where kube-controller-manager gives each
# controller a ServiceAccount and a system:controller:* role: their union — the garbage
# collector and the namespace controller alone act on every resource — is this role. The
# node simulator is every kubelet at once: kube's system:node (which kube's Node
# authorizer narrows to one node's objects), with the node leases it renews and the
# nodes and pods it lists.
KAPI_CLUSTER_ROLES: tuple[Obj, ...] = (
    cluster_role(
        "system:kapi:controller-manager",
        [rule(READ_WRITE, "*", "*")],
    ),
    cluster_role(
        "system:kapi:node-simulator",
        [
            rule(READ_WRITE, CORE, ("nodes", "pods")),
            rule(("patch", "update"), CORE, ("nodes/status", "pods/status")),
            rule("create", CORE, "pods/eviction"),
            rule(READ_WRITE, COORDINATION, "leases"),
            rule(EVENTS, (CORE, EVENTS_GROUP), "events"),
            rule(READ, CORE, ("configmaps", "secrets", "services", "endpoints")),
            rule(READ, NODE, "runtimeclasses"),
        ],
    ),
)

CLUSTER_ROLES = (*CLUSTER_ROLES, *KAPI_CLUSTER_ROLES)

CLUSTER_ROLE_BINDINGS: tuple[Obj, ...] = (
    cluster_binding("system:kapi:controller-manager", "User:system:kube-controller-manager"),
    cluster_binding("system:kapi:node-simulator", "User:system:kapi-node-simulator"),
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
