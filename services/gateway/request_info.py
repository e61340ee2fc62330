"""Parse a Kubernetes API path into what it addresses, as k8s' RequestInfoFactory does.

``/api/v1/namespaces/demo/configmaps/c`` -> group "", version v1, namespace demo,
resource configmaps, name c; the HTTP method and ``?watch`` give the verb.
"""

from __future__ import annotations

from dataclasses import dataclass

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    path: str
    verb: str
    is_resource_request: bool = False
    prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


# Subresources of a namespace itself: /namespaces/{name}/status is not a resource "status".
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def _truthy(value: str | None) -> bool:
    """apimachinery's query bool: present and not "0" / "false" (any case) is true."""
    return value is not None and value != "0" and value.lower() != "false"


def parse(method: str, path: str, *, watch: str | None = None) -> RequestInfo:
    """What the path addresses; a non-resource path (discovery, /version) is marked so."""
    segments = tuple(s for s in path.strip("/").split("/") if s)
    lower_method = method.upper()
    plain_verb = lower_method.lower()
    if not segments or segments[0] not in ("api", "apis"):
        return RequestInfo(path=path, verb=plain_verb)
    prefix = segments[0]
    rest = list(segments[1:])
    if prefix == "api":
        if not rest:
            return RequestInfo(path=path, verb=plain_verb, prefix=prefix)
        group, version, rest = "", rest[0], rest[1:]
    else:
        if len(rest) < 2:
            return RequestInfo(
                path=path, verb=plain_verb, prefix=prefix, group=rest[0] if rest else ""
            )
        group, version, rest = rest[0], rest[1], rest[2:]
    if not rest:
        return RequestInfo(path=path, verb=plain_verb, prefix=prefix, group=group, version=version)
    watch_verb = False
    if rest[0] == "watch":  # deprecated /watch/ paths
        watch_verb, rest = True, rest[1:]
    namespace = ""
    # /namespaces/{ns}/{resource}...; /namespaces, /namespaces/{name} and its /status and
    # /finalize address the namespace resource itself.
    if rest[:1] == ["namespaces"] and len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if resource == "namespaces" and name and not subresource:
        namespace = ""
    if resource == "namespaces" and name:
        namespace = name  # kube sets the namespace of a namespace request to its name
    if lower_method in ("GET", "HEAD"):
        verb = "watch" if watch_verb or _truthy(watch) else "get" if name else "list"
    elif lower_method == "DELETE" and not name:
        verb = "deletecollection"
    else:
        verb = _VERBS.get(lower_method, plain_verb)
    return RequestInfo(
        path=path,
        verb=verb,
        is_resource_request=True,
        prefix=prefix,
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        parts=tuple(rest),
    )
