"""Kubernetes' opaque CEL types (``kubernetes.Quantity``, ``kubernetes.URL``, ``net.IP``,
``net.CIDR``) as protobuf messages cel-cpp can carry.

cel-expr-python converts a Python function's result by the declared CEL type and cannot
carry an abstract (opaque) type, but it carries protobuf messages. Each Kubernetes type is
therefore a one-field message (``value``: the canonical text of the value) in a descriptor
pool of its own, declared with the type name kube-apiserver uses, so compile errors read
as kube's (``found no matching overload for '_+_' applied to '(kubernetes.Quantity,
int)'``). Equality of two values is message equality, hence of their canonical text.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

QUANTITY = "kubernetes.Quantity"
URL = "kubernetes.URL"
IP = "net.IP"
CIDR = "net.CIDR"

POOL = descriptor_pool.DescriptorPool()


def _add(package: str, names: list[str]) -> None:
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"kapi/cel/{package}.proto", package=package, syntax="proto3"
    )
    for name in names:
        msg = fdp.message_type.add(name=name)
        msg.field.add(
            name="value",
            number=1,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    POOL.Add(fdp)


AUTHORIZER = "kubernetes.authorization.Authorizer"
PATH_CHECK = "kubernetes.authorization.PathCheck"
GROUP_CHECK = "kubernetes.authorization.GroupCheck"
RESOURCE_CHECK = "kubernetes.authorization.ResourceCheck"
DECISION = "kubernetes.authorization.Decision"

_add("kubernetes", ["Quantity", "URL"])
_add("net", ["IP", "CIDR"])
_add(
    "kubernetes.authorization",
    ["Authorizer", "PathCheck", "GroupCheck", "ResourceCheck", "Decision"],
)

_CLASSES: dict[str, Any] = {
    name: message_factory.GetMessageClass(POOL.FindMessageTypeByName(name))
    for name in (
        QUANTITY,
        URL,
        IP,
        CIDR,
        AUTHORIZER,
        PATH_CHECK,
        GROUP_CHECK,
        RESOURCE_CHECK,
        DECISION,
    )
}


def new(type_name: str, value: str) -> Any:
    """A message of the opaque type ``type_name`` holding ``value``."""
    return _CLASSES[type_name](value=value)


def text(message: Any) -> str:
    """The canonical text a message holds."""
    return str(message.value)


def cel_type(type_name: str) -> cel.Type:
    return cel.Type(type_name)
