"""Admission: two explicit ordered lists of plugins, mutating then validating."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapi.user import UserInfo


@dataclass(frozen=True)
class Served:
    """One served (group, version, resource) with its kind: the request's own, or an
    equivalent of it (another version of the resource, kept in the same storage)."""

    group: str
    version: str
    resource: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass
class Reinvocation:
    """kube's ReinvocationContext: a mutating plugin that changed the object after an
    earlier one that asked to see later changes (``reinvocationPolicy: IfNeeded``) sets
    ``should_reinvoke``; the chain then runs its mutating plugins once more, with
    ``is_reinvoke`` set. ``values``: each plugin's state across the two runs."""

    should_reinvoke: bool = False
    is_reinvoke: bool = False
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attributes:
    """What admission sees of a request. ``object`` is the plugin's own copy."""

    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    user: UserInfo
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    # Audit annotations for the request's audit event (shared by the plugins' views).
    audit_annotations: dict[str, str] = field(default_factory=dict)
    # The operation's options (CreateOptions, UpdateOptions, DeleteOptions) as JSON.
    options: dict[str, Any] | None = None
    reinvocation: Reinvocation = field(default_factory=Reinvocation)
    # The resource's served versions (the request's included) when it has several:
    # kube's EquivalentResourceMapper, for matchPolicy Equivalent.
    equivalents: tuple[Served, ...] = ()
    # The resource the request was made to when the fields above name another form of
    # it, the one the objects are in (a built-in type served converted: autoscaling/v1
    # HPAs are admitted as autoscaling/v2; a delete's stored object). None: the same.
    requested: Served | None = None

    @property
    def served(self) -> Served:
        """The group, version, resource and kind the objects are in."""
        return Served(self.group, self.version, self.resource, self.kind)

    @property
    def request_as(self) -> Served:
        """The resource the request was made to (webhooks and policies match it)."""
        return self.requested or self.served

    def annotate(self, key: str, value: str) -> None:
        """An audit annotation; a key keeps its first value (kube's AddAnnotation)."""
        self.audit_annotations.setdefault(key, value)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


class Plugin(Protocol):
    """``admit`` mutates ``attributes.object`` (mutating plugins) or raises. A validating
    plugin may also say ``reads_only = True``: it never changes what it is shown, so it
    may share its copy with other such plugins."""

    operations: frozenset[str]

    def active(self) -> bool:
        """Whether the plugin may act on anything now: a plugin driven by
        configuration objects (policies, webhooks, quotas) is idle while there are none;
        the chain skips an idle plugin, and when every validating plugin is idle, callers
        skip the validating call. Asked per request: it must be cheap."""

    async def admit(self, attributes: Attributes) -> None:
        """Mutate ``attributes.object`` (mutating plugins) or raise a StatusError."""


class Chain:
    def __init__(self, mutating: list[Plugin], validating: list[Plugin]) -> None:
        self.mutating = mutating
        self.validating = validating

    async def run_mutating(self, attributes: Attributes) -> None:
        """The mutating plugins in order; run once more, all of them (kube's
        ``admission/reinvocation.go``: in-tree plugins are reinvoked too), when a
        webhook asked for it."""
        await self._mutate(attributes)
        if attributes.reinvocation.should_reinvoke:
            attributes.reinvocation.is_reinvoke = True
            await self._mutate(attributes)

    async def _mutate(self, attributes: Attributes) -> None:
        for plugin in self.mutating:
            if attributes.operation in plugin.operations and plugin.active():
                await plugin.admit(attributes)

    def validating_active(self) -> bool:
        return any(plugin.active() for plugin in self.validating)

    async def run_validating(self, attributes: Attributes) -> None:
        """Validating plugins see copies: they can reject, never change, the object.
        kapi's own plugins that only read (``reads_only``: CEL, webhooks' JSON, counts)
        share one copy; any other plugin gets its own."""
        shared: Attributes | None = None
        for plugin in self.validating:
            if attributes.operation not in plugin.operations or not plugin.active():
                continue
            if getattr(plugin, "reads_only", False):
                if shared is None:
                    shared = _view(attributes)
                await plugin.admit(shared)
            else:
                await plugin.admit(_view(attributes))


def _view(attributes: Attributes) -> Attributes:
    view = copy.copy(attributes)
    view.object = copy.deepcopy(attributes.object)
    view.old_object = copy.deepcopy(attributes.old_object)
    return view
