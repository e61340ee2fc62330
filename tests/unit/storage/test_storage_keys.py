"""Key layout: exactly kube-apiserver's, so etcdctl reads it as on a real cluster."""

from __future__ import annotations

import pytest

from kapi import errors
from services.storage import keys
from services.storage.model import ResourceRef

LAYOUT = keys.DEFAULT_LAYOUT
PODS = ResourceRef("", "pods", namespaced=True)
NODES = ResourceRef("", "nodes", namespaced=False)
WIDGETS = ResourceRef("example.com", "widgets", True)


@pytest.mark.parametrize(
    ("ref", "namespace", "name", "key"),
    [
        (PODS, "default", "web", "/registry/pods/default/web"),
        (WIDGETS, "ns", "w", "/registry/example.com/widgets/ns/w"),
        (ResourceRef("", "services", True), "ns", "s", "/registry/services/specs/ns/s"),
        (ResourceRef("apps", "deployments", True), "ns", "d", "/registry/deployments/ns/d"),
        (ResourceRef("events.k8s.io", "events", True), "ns", "e", "/registry/events/ns/e"),
        (ResourceRef("networking.k8s.io", "ingresses", True), "ns", "i", "/registry/ingress/ns/i"),
        (
            ResourceRef("apiextensions.k8s.io", "customresourcedefinitions", False),
            "",
            "crontabs.stable.example.com",
            "/registry/apiextensions.k8s.io/customresourcedefinitions/crontabs.stable.example.com",
        ),
        (NODES, "", "n1", "/registry/minions/n1"),
        (NODES, "ignored", "n1", "/registry/minions/n1"),  # cluster-scoped: no namespace
    ],
)
def test_object_key(ref: ResourceRef, namespace: str, name: str, key: str) -> None:
    assert LAYOUT.object_key(ref, namespace, name) == key


@pytest.mark.parametrize(
    ("ref", "namespace", "prefix"),
    [
        (PODS, "", "/registry/pods/"),
        (PODS, "default", "/registry/pods/default/"),
        (NODES, "", "/registry/minions/"),
        (NODES, "default", "/registry/minions/"),
    ],
)
def test_list_prefix(ref: ResourceRef, namespace: str, prefix: str) -> None:
    assert LAYOUT.list_prefix(ref, namespace) == prefix


@pytest.mark.parametrize(
    ("ref", "namespace", "name", "message"),
    [
        (PODS, "", "web", "Namespace parameter required."),
        (PODS, "ns", "", "Name parameter required."),
        (PODS, "ns", "a/b", """Name parameter invalid: "a/b": may not contain '/'"""),
        (PODS, "ns", "..", """Name parameter invalid: "..": may not be '..'"""),
        (
            PODS,
            "ns",
            "a%/b",
            """Name parameter invalid: "a%/b": may not contain '/';"""
            """may not contain '%'""",
        ),
        (PODS, "..", "a", """Namespace parameter invalid: "..": may not be '..'"""),
        (
            ResourceRef("", "a/../b", False),
            "",
            "a",
            'storage: no valid resource named "a/../b"',
        ),
    ],
)
def test_object_key_rejects(ref: ResourceRef, namespace: str, name: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as err:
        LAYOUT.object_key(ref, namespace, name)
    assert (err.value.code, err.value.message) == (400, message)


def test_another_etcd_prefix() -> None:
    layout = keys.KeyLayout("/kapi-test/")
    assert layout.object_key(PODS, "ns", "p") == "/kapi-test/pods/ns/p"
    with pytest.raises(ValueError):
        keys.KeyLayout("registry")
