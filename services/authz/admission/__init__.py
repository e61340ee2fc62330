"""Admission: two explicit ordered lists of plugins, mutating then validating."""

from __future__ import annotations

import copy
from collections.abc import Callable
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
    may share its copy with other such plugins; and ``side_effect_free = True``: running
    it changes nothing anywhere (no write, no call out, no count), so it may run ahead of
    the registry's validation on an object that validation may still refuse (see
    ``Chain.may_validate_ahead``). ``may_act(attributes)``, where a plugin has it, says
    cheaply whether it could act on a request at all (a webhook whose rules select it)."""

    operations: frozenset[str]

    def active(self) -> bool:
        """Whether the plugin may act on anything now: a plugin driven by
        configuration objects (policies, webhooks, quotas) is idle while there are none;
        the chain skips an idle plugin, and when every validating plugin is idle, callers
        skip the validating call. Asked per request: it must be cheap."""

    async def admit(self, attributes: Attributes) -> None:
        """Mutate ``attributes.object`` (mutating plugins) or raise a StatusError."""


def _wants(plugin: Plugin) -> Callable[[Attributes], bool] | None:
    """A plugin's optional ``wants(attributes)``: the requests it acts on even while
    idle (PodSecurity validates every namespace write's labels)."""
    found: Callable[[Attributes], bool] | None = getattr(plugin, "wants", None)
    return found


def wanted(plugin: Plugin, attributes: Attributes) -> bool:
    """Whether the chain runs ``plugin`` for this request: for its operation, and active
    or wanting it (``wants``)."""
    if attributes.operation not in plugin.operations:
        return False
    if plugin.active():
        return True
    wants = _wants(plugin)
    return wants is not None and wants(attributes)


class Chain:
    def __init__(self, mutating: list[Plugin], validating: list[Plugin]) -> None:
        self.mutating = mutating
        self.validating = validating
        # Each plugin's hooks looked up once (validating_for runs on every write), again
        # if the list changes.
        self._hooked: list[Plugin] = []
        self._hooks: list[tuple[Plugin, Callable[[Attributes], bool] | None, Any]] = []

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
            if wanted(plugin, attributes):
                await plugin.admit(attributes)

    def validating_for(self, attributes: Attributes) -> list[Plugin]:
        """The validating plugins that may act on this request: for its operation, not
        idle (or ``wants`` it), and (where a plugin can tell cheaply, ``may_act``)
        selecting it."""
        if self._hooked != self.validating:
            self._hooked = list(self.validating)
            self._hooks = [
                (plugin, _wants(plugin), getattr(plugin, "may_act", _may_act))
                for plugin in self._hooked
            ]
        operation = attributes.operation
        return [
            plugin
            for plugin, wants, may_act in self._hooks
            if operation in plugin.operations
            and (plugin.active() or (wants is not None and wants(attributes)))
            and may_act(attributes)
        ]

    def may_validate_ahead(self, attributes: Attributes) -> bool:
        """Whether every validating plugin that would act on this request is free of
        side effects: then the validating phase may run right after the mutating one, on
        the mutated object, and its verdict be used once the registry's own validation
        (which kube runs in between) has passed on that same object. kube calls
        validating webhooks, counts quota and runs unknown code only after validation:
        with any of those acting, the phase waits for its own call."""
        return side_effect_free(self.validating_for(attributes))

    async def run_validating(self, attributes: Attributes, *, owned: bool = False) -> None:
        """Validating plugins see copies: they can reject, never change, the object.
        kapi's own plugins that only read (``reads_only``: CEL, webhooks' JSON, counts)
        share one copy (``owned``: the caller's own, which nothing reads afterwards); any
        other plugin gets its own."""
        shared: Attributes | None = attributes if owned else None
        for plugin in self.validating:
            if not wanted(plugin, attributes):
                continue
            if getattr(plugin, "reads_only", False):
                if shared is None:
                    shared = _view(attributes)
                await plugin.admit(shared)
            else:
                await plugin.admit(_view(attributes))


def side_effect_free(plugins: list[Plugin]) -> bool:
    return all(getattr(plugin, "side_effect_free", False) for plugin in plugins)


def _may_act(attributes: Attributes) -> bool:
    return True


def _view(attributes: Attributes) -> Attributes:
    view = copy.copy(attributes)
    view.object = copy.deepcopy(attributes.object)
    view.old_object = copy.deepcopy(attributes.old_object)
    return view
