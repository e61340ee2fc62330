"""Paths parsed as k8s.io/apiserver's RequestInfoFactory parses them
(endpoints/request/requestinfo.go): what the authorizer and the handlers see.
"""

from __future__ import annotations

import pytest

from services.gateway.request_info import RequestInfo, parse

# (method, path, watch query) -> (verb, group, version, namespace, resource, subresource, name)
Expected = tuple[str, str, str, str, str, str, str]


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        # namespaced collections and objects
        ("GET", "/api/v1/namespaces/ns/pods", None, ("list", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods/p", None, ("get", "", "v1", "ns", "pods", "", "p")),
        ("POST", "/api/v1/namespaces/ns/pods", None, ("create", "", "v1", "ns", "pods", "", "")),
        ("PUT", "/api/v1/namespaces/ns/pods/p", None, ("update", "", "v1", "ns", "pods", "", "p")),
        ("PATCH", "/api/v1/namespaces/ns/pods/p", None, ("patch", "", "v1", "ns", "pods", "", "p")),
        (
            "DELETE",
            "/api/v1/namespaces/ns/pods/p",
            None,
            ("delete", "", "v1", "ns", "pods", "", "p"),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/ns/pods",
            None,
            ("deletecollection", "", "v1", "ns", "pods", "", ""),
        ),
        ("HEAD", "/api/v1/namespaces/ns/pods/p", None, ("get", "", "v1", "ns", "pods", "", "p")),
        # grouped resources and subresources
        (
            "GET",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            None,
            ("get", "apps", "v1", "ns", "deployments", "scale", "d"),
        ),
        (
            "PUT",
            "/api/v1/namespaces/ns/pods/p/status",
            None,
            ("update", "", "v1", "ns", "pods", "status", "p"),
        ),
        # all namespaces, cluster-scoped
        ("GET", "/api/v1/pods", None, ("list", "", "v1", "", "pods", "", "")),
        (
            "GET",
            "/apis/apps/v1/deployments",
            None,
            ("list", "apps", "v1", "", "deployments", "", ""),
        ),
        (
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
            None,
            ("get", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "admin"),
        ),
        # the namespace object itself: its namespace is its name
        ("GET", "/api/v1/namespaces", None, ("list", "", "v1", "", "namespaces", "", "")),
        ("POST", "/api/v1/namespaces", None, ("create", "", "v1", "", "namespaces", "", "")),
        (
            "GET",
            "/api/v1/namespaces/team",
            None,
            ("get", "", "v1", "team", "namespaces", "", "team"),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/team",
            None,
            ("delete", "", "v1", "team", "namespaces", "", "team"),
        ),
        (
            "PUT",
            "/api/v1/namespaces/team/status",
            None,
            ("update", "", "v1", "team", "namespaces", "status", "team"),
        ),
        (
            "PUT",
            "/api/v1/namespaces/team/finalize",
            None,
            ("update", "", "v1", "team", "namespaces", "finalize", "team"),
        ),
        # a configmap named "status" is not a namespace subresource
        (
            "GET",
            "/api/v1/namespaces/team/configmaps/status",
            None,
            ("get", "", "v1", "team", "configmaps", "", "status"),
        ),
        # watches: ?watch and the deprecated /watch/ prefix
        ("GET", "/api/v1/namespaces/ns/pods", "true", ("watch", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", "1", ("watch", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", "", ("watch", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", "on", ("watch", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", "false", ("list", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", "False", ("list", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", "0", ("list", "", "v1", "ns", "pods", "", "")),
        ("GET", "/api/v1/watch/pods", None, ("watch", "", "v1", "", "pods", "", "")),
        (
            "GET",
            "/api/v1/watch/namespaces/ns/pods",
            None,
            ("watch", "", "v1", "ns", "pods", "", ""),
        ),
        (
            "GET",
            "/apis/apps/v1/watch/namespaces/ns/deployments/d",
            None,
            ("watch", "apps", "v1", "ns", "deployments", "", "d"),
        ),
        (
            "GET",
            "/api/v1/watch/namespaces/team",
            None,
            ("watch", "", "v1", "team", "namespaces", "", "team"),
        ),
        # a trailing slash changes nothing
        ("GET", "/api/v1/namespaces/ns/pods/", None, ("list", "", "v1", "ns", "pods", "", "")),
    ],
)
def test_resource_requests(method: str, path: str, watch: str | None, expected: Expected) -> None:
    info = parse(method, path, watch=watch)
    assert info.is_resource_request
    assert (
        info.verb,
        info.group,
        info.version,
        info.namespace,
        info.resource,
        info.subresource,
        info.name,
    ) == expected
    assert info.path == path
    assert info.prefix == path.split("/")[1]


def test_parts_are_relative_to_the_resource() -> None:
    info = parse("GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale")
    assert info.parts == ("deployments", "d", "scale")
    deeper = parse("GET", "/api/v1/namespaces/ns/pods/p/log/extra")
    assert deeper.parts == ("pods", "p", "log", "extra")  # the gateway 404s these


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("GET", "/version", "get"),
        ("GET", "/healthz", "get"),
        ("GET", "/api", "get"),
        ("GET", "/api/v1", "get"),
        ("GET", "/apis", "get"),
        ("GET", "/apis/apps", "get"),
        ("GET", "/apis/apps/v1", "get"),
        ("POST", "/openapi/v3", "post"),
        ("GET", "/", "get"),
    ],
)
def test_non_resource_requests(method: str, path: str, verb: str) -> None:
    info = parse(method, path)
    assert not info.is_resource_request
    assert (info.verb, info.path, info.resource, info.name) == (verb, path, "", "")


def test_discovery_paths_keep_their_group_and_version() -> None:
    assert parse("GET", "/apis/apps") == RequestInfo(
        path="/apis/apps", verb="get", prefix="apis", group="apps"
    )
    assert parse("GET", "/apis/apps/v1") == RequestInfo(
        path="/apis/apps/v1", verb="get", prefix="apis", group="apps", version="v1"
    )
    assert parse("GET", "/api/v1") == RequestInfo(
        path="/api/v1", verb="get", prefix="api", version="v1"
    )
