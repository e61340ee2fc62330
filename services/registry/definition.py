"""One definition per served resource: everything the layers need to serve it.

A ``Definition`` is a ``ResourceType`` (identity and scope, verbs, subresources, short
names and categories, how it is stored: the part the gateway routes and publishes
discovery from) with the behaviour the registry runs:

- ``strategy``: defaults, create/update preparation and validation (``strategy.py``);
- ``model``: how a body of the type is decoded (unknown fields, Go's decoder), validated
  against its schema, merged by patches and server-side apply, and published in OpenAPI;
- ``printer``: the columns of ``kubectl get`` (kube's Table);
- ``selection``: the field selectors it takes (``field_selection.py``);
- ``scale``: where ``/scale`` reads and writes replicas, when it has that subresource;
- ``converter``: how its objects change between the versions it is served in.

Built-in definitions are declared beside their strategies (``strategies/<group>.py``
``DEFINITIONS``); a custom resource's are built from its CustomResourceDefinition
(``services/registry/crd``). The ``Catalog`` holds the current set at a revision.
Generic code asks a definition what it has and never tests a resource's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapi.errors import FieldError
from services.registry.field_selection import META_ONLY_SELECTION, FieldSelection
from services.registry.patching.managed_fields import FieldManager
from services.registry.printers import TablePrinter
from services.registry.strategy import Strategy
from services.registry.types import ResourceType

Obj = dict[str, Any]


class ObjectModel(Protocol):
    """How the objects of one served version are read and checked against their schema."""

    # The OpenAPI component of the objects (the definition's ``schema``); strategic merge
    # patch reads its patch strategies (none: a custom resource refuses the patch type).
    definition: str
    # The patch types the resource takes (kube's custom resources: no strategic merge).
    patch_types: tuple[str, ...]

    def decode(
        self, obj: Obj, *, kind: str, version: str, directive: str, duplicates: tuple[str, ...]
    ) -> list[str]:
        """A write's body as kube's decoder reads it: mutated in place (unknown fields
        dropped, values coerced); the warnings to send; 400 for what it refuses."""
        ...

    def decode_patched(self, obj: Obj, *, kind: str, version: str, directive: str) -> list[str]:
        """The result of a patch, decoded as kube's patchers decode it."""
        ...

    def validate(self, obj: Obj, old: Obj | None = None) -> list[FieldError]:
        """What the schema says of an object about to be stored (``old`` on update)."""
        ...

    def field_manager(
        self, *, api_version: str, kind: str, subresource: str, has_status: bool
    ) -> FieldManager:
        """Server-side apply and managedFields for objects of this type."""
        ...

    def components(self) -> dict[str, Obj]:
        """OpenAPI v3 component schemas the type adds to the built-in ones (a custom
        resource's object and list), by name; none for a built-in type."""
        ...

    def components_v2(self) -> dict[str, Obj]:
        """The same, as Swagger 2.0 definitions (``/openapi/v2``)."""
        ...


class Converter(Protocol):
    """Version conversion between the served versions of one resource."""

    # Whether stored objects are rewritten when read even in their own version (a
    # custom resource whose schema has defaults: kube defaults what it reads).
    rewrites_reads: bool

    async def convert(self, objects: list[Obj], to_api_version: str) -> list[Obj]:
        """``objects`` (each in the version its ``apiVersion`` names) in
        ``to_api_version``: new objects, the given ones untouched. Several at once: a
        webhook converts a list in one review."""
        ...


@dataclass(frozen=True)
class ScaleFacts:
    """Where ``/scale`` reads and writes: an autoscaling/v1 Scale seen in the object.

    Paths are field names from the root (``("spec", "replicas")``); ``selector`` gives
    the Scale's ``status.selector`` text ("" for none)."""

    spec_replicas: tuple[str, ...]
    status_replicas: tuple[str, ...]
    selector: Callable[[Obj], str]


@dataclass(frozen=True)
class Definition(ResourceType):
    """A served resource with its behaviour. Equal when their descriptors are equal."""

    strategy: Strategy = field(default_factory=Strategy, compare=False, repr=False)
    model: ObjectModel = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    printer: TablePrinter = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    selection: FieldSelection = field(default=META_ONLY_SELECTION, compare=False, repr=False)
    scale: ScaleFacts | None = field(default=None, compare=False, repr=False)
    converter: Converter = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    # The CustomResourceDefinition it comes from ("" for a built-in type), and whether
    # that definition is being deleted (its objects may be read and deleted, not made).
    crd: str = field(default="", compare=False)
    terminating: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        # Built-in defaults, imported here: the built-in machinery is the fallback.
        from services.registry import conversion, object_model, printers

        if self.model is None:
            object.__setattr__(self, "model", object_model.builtin(self.schema))
        if self.printer is None:
            object.__setattr__(self, "printer", printers.for_kind(self.group, self.kind))
        if self.converter is None:
            object.__setattr__(self, "converter", conversion.BuiltinConverter(self.kind))


# --- declaring built-in definitions -----------------------------------------------------


def core(
    resource: str,
    kind: str,
    strategy: Strategy | None = None,
    *,
    namespaced: bool = True,
    **kw: Any,
) -> Definition:
    """A core/v1 resource, schema ``io.k8s.api.core.v1.<Kind>``."""
    return Definition(
        group="",
        version="v1",
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        schema=f"io.k8s.api.core.v1.{kind}",
        strategy=strategy or Strategy(),
        **kw,
    )


def grouped(
    group: str,
    version: str,
    resource: str,
    kind: str,
    strategy: Strategy | None = None,
    *,
    schema_group: str,
    namespaced: bool = True,
    **kw: Any,
) -> Definition:
    """A resource of a named group, schema ``io.k8s.api.<schema_group>.<version>.<Kind>``."""
    return Definition(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        schema=f"io.k8s.api.{schema_group}.{version}.{kind}",
        strategy=strategy or Strategy(),
        **kw,
    )
