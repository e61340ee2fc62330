"""etcd key layout, exactly as kube-apiserver lays it out. Nothing outside storage builds keys.

A resource's objects live under ``{prefix}/{resource root}``: ``{root}/{namespace}/{name}``
for a namespaced object, ``{root}/{name}`` for a cluster-scoped one; a list of all
namespaces ranges over ``{root}/``. ``prefix`` is kube-apiserver's ``--etcd-prefix``
(``/registry``). The resource root is kube's storage factory's choice:

- the groups kube-apiserver itself serves keep a resource under its plural alone
  (``/registry/deployments``, ``/registry/events`` for core and events.k8s.io Events
  alike), except the few ``specialDefaultResourcePrefixes`` (services under
  ``services/specs``, endpoints under ``services/endpoints``, nodes under ``minions``,
  replication controllers under ``controllers``, ingresses under ``ingress``);
- every other group — apiextensions-apiserver's CustomResourceDefinitions, the custom
  resources they define, aggregated APIServices — under ``{group}/{resource}``
  (``/registry/apiextensions.k8s.io/customresourcedefinitions``,
  ``/registry/stable.example.com/crontabs``).

So ``etcdctl get --prefix /registry/`` reads as it does on a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from kapi import errors
from services.storage.model import ResourceRef

DEFAULT_PREFIX = "/registry"

# The API groups kube-apiserver's own storage factory lays out (pkg/kubeapiserver's
# DefaultAPIResourceConfigSource groups): their resources' keys carry no group.
KUBE_APISERVER_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "extensions",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)

# kube's specialDefaultResourcePrefixes (pkg/kubeapiserver/default_storage_factory_builder.go).
SPECIAL_PREFIXES: dict[tuple[str, str], str] = {
    ("", "replicationcontrollers"): "controllers",
    ("", "endpoints"): "services/endpoints",
    ("", "nodes"): "minions",
    ("", "services"): "services/specs",
    ("extensions", "ingresses"): "ingress",
    ("networking.k8s.io", "ingresses"): "ingress",
}

_MAY_NOT_BE = (".", "..")
_MAY_NOT_CONTAIN = ("/", "%")


def path_segment_problems(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: why ``name`` cannot be one segment of a key."""
    if name in _MAY_NOT_BE:
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in _MAY_NOT_CONTAIN if c in name]


def resource_path(group: str, resource: str) -> str:
    """Where a resource lives below the prefix: ``deployments``, ``services/specs``,
    ``stable.example.com/crontabs``."""
    special = SPECIAL_PREFIXES.get((group, resource))
    if special is not None:
        return special
    if group in KUBE_APISERVER_GROUPS:
        return resource
    return f"{group}/{resource}"


@dataclass(frozen=True)
class KeyLayout:
    """The keys of every resource under one ``--etcd-prefix``."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/"):
            raise ValueError(f"the etcd prefix must start with '/': {self.prefix!r}")
        object.__setattr__(self, "prefix", self.prefix.rstrip("/"))

    def root(self, ref: ResourceRef) -> str:
        """The resource's key prefix, without a trailing slash."""
        if not ref.resource or any(path_segment_problems(part) for part in ref.resource.split("/")):
            raise errors.bad_request(
                f"storage: no valid resource named {errors.quote(ref.resource)}"
            )
        return f"{self.prefix}/{resource_path(ref.group, ref.resource)}"

    def object_key(self, ref: ResourceRef, namespace: str, name: str) -> str:
        """The key of one object (``registry/generic/registry.NamespaceKeyFunc``)."""
        key = self.root(ref)
        if ref.namespaced:
            if not namespace:
                raise errors.bad_request("Namespace parameter required.")
            if problems := path_segment_problems(namespace):
                raise errors.bad_request(
                    f"Namespace parameter invalid: {errors.quote(namespace)}: {';'.join(problems)}"
                )
            key = f"{key}/{namespace}"
        if not name:
            raise errors.bad_request("Name parameter required.")
        if problems := path_segment_problems(name):
            raise errors.bad_request(
                f"Name parameter invalid: {errors.quote(name)}: {';'.join(problems)}"
            )
        return f"{key}/{name}"

    def list_prefix(self, ref: ResourceRef, namespace: str = "") -> str:
        """The range a list or watch covers: one namespace, or all (and cluster-scoped)."""
        key = self.root(ref)
        if ref.namespaced and namespace:
            if problems := path_segment_problems(namespace):
                raise errors.bad_request(
                    f"Namespace parameter invalid: {errors.quote(namespace)}: {';'.join(problems)}"
                )
            key = f"{key}/{namespace}"
        return key + "/"


DEFAULT_LAYOUT = KeyLayout()
