"""The registry domain: resolves a request to its definition (``catalog``) and runs it
through the definition's strategy, schema, admission and storage. Knows nothing of gRPC
or HTTP.

Versions: a built-in type's writes run in the version it is stored in (the body is
converted to it first, as kube converts to the internal version); a custom resource's
run in the version it was sent in and are converted to the CRD's storage version at
storage's door, as kube's custom resource handler does. ``_hub`` names the version a
write runs in; ``_stored_form`` and ``_hub_form`` cross storage's door.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from kapi import errors, selectors
from kapi.json_bytes import ListItems, list_body
from kapi.user import UserInfo
from services.registry import (
    binding,
    component_status,
    connect,
    deletion,
    eviction,
    field_validation,
    limits,
    patching,
    pipeline,
    printers,
    reviews,
)
from services.registry.catalog import Catalog
from services.registry.definition import Definition
from services.registry.ports import (
    AccessPort,
    AdmissionPort,
    AdmissionTarget,
    StoragePort,
    Where,
)
from services.registry.strategies import bootstrap
from services.registry.strategies import scale as scale_subresource
from services.registry.strategy import Strategy
from services.registry.types import ResourceType, TypeTable

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RENDERINGS = ("object", "table", "table-v1beta1", "metadata")
SCALE_SCHEMA = "io.k8s.api.autoscaling.v1.Scale"
SCALE_PRINTER = printers.for_kind("autoscaling", "Scale")
GUARANTEED_UPDATE_ATTEMPTS = 64
# How long a request routed with a newer catalog than this replica's waits for it.
CATALOG_WAIT = 2.0


@dataclass(frozen=True)
class Target:
    group: str
    version: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user: UserInfo | None = None
    user_agent: str = ""  # the default field manager comes from it (patching.policy)
    # The catalog revision the request was routed with (0: any).
    catalog_revision: int = 0


@dataclass(frozen=True)
class ReadOptions:
    rendering: str = "object"
    include_object: str = "Metadata"  # None | Metadata | Object (tables only)
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    allow_bookmarks: bool = False
    timeout_seconds: int = 0
    send_initial_events: bool = False


@dataclass
class Result:
    body: bytes
    code: int = 200
    warnings: list[str] = field(default_factory=list)
    # What admission asked to be recorded in the request's audit event.
    audit_annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Action:
    """A create that acts on another object instead of storing one (kube's Binding and
    Eviction storages): the body's definition, kind and version, and what it does."""

    schema: str
    kind: str
    version: str
    run: Callable[..., Awaitable[bytes]]  # (registry, target, body, *, dry_run) -> 201 body


_BIND = _Action("io.k8s.api.core.v1.Binding", "Binding", "v1", binding.bind)
# By (group, resource, subresource) as served.
ACTIONS: dict[tuple[str, str, str], _Action] = {
    ("", "pods", "binding"): _BIND,
    ("", "bindings", ""): _BIND,
    ("", "pods", "eviction"): _Action(
        "io.k8s.api.policy.v1.Eviction", "Eviction", "v1", eviction.evict
    ),
    **{
        key: _Action(reviews.schema_of(kind), kind, "v1", run)
        for key, (kind, run) in reviews.REVIEWS.items()
    },
}


Change = Callable[[Obj], Awaitable[Obj]]  # the object an update makes of the current one


def _where(rt: ResourceType) -> Where:
    return Where(group=rt.group, resource=rt.resource, namespaced=rt.namespaced)


def _is_missing(err: errors.StatusError, target: Target) -> bool:
    """Whether ``err`` is the NotFound of the object a write names."""
    details = err.details or {}
    return err.code == 404 and err.reason == "NotFound" and details.get("name") == target.name


class _PatchBody:
    """A patch body, decoded before the object is read (holding both while decoding one
    costs the most memory: a 3 MiB body is up to ~96 MiB of dicts), and again for each
    later attempt: an attempt gives what it decoded up to the result, uncopied. A body
    that does not decode is refused when the object is found, as kube reports it (a
    missing object is a 404 first)."""

    _TAKEN: Any = object()

    def __init__(self, decode: Callable[[bytes], Any], data: bytes) -> None:
        self._decode = decode
        self._data = data
        self._error: errors.StatusError | None = None
        self._first: Any = self._TAKEN
        try:
            self._first = decode(data)
        except errors.StatusError as err:
            self._error = err

    def take(self) -> Any:
        if self._error is not None:
            raise self._error
        first, self._first = self._first, self._TAKEN
        return self._decode(self._data) if first is self._TAKEN else first


def _decode_apply(patch: bytes) -> Obj:
    """An apply patch's configuration, refused (400, 413) when it nests too deep or is
    larger than any object storage holds: everything it sets ends up in the object."""
    config = patching.decode_apply(patch)
    limits.check_patch_depth(
        config, prefix="error decoding YAML: error unmarshaling JSON: while decoding JSON: "
    )
    limits.check_size(config)
    return config


def _loads(data: bytes) -> Obj:
    obj = orjson.loads(data)
    if not isinstance(obj, dict):
        raise errors.bad_request("the body must be a JSON object")
    return obj


class Registry:
    def __init__(
        self,
        catalog: Catalog,
        storage: StoragePort,
        admission: AdmissionPort,
        access: AccessPort | None = None,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.admission = admission
        # authz's reviews and token issuing (None: the reviews answer 503).
        self.access = access
        self.bootstrapped = False

    # --- resolution ---------------------------------------------------------------

    @property
    def table(self) -> TypeTable[Definition]:
        """The catalog's current table."""
        return self.catalog.table

    async def resolve(self, target: Target) -> Definition:
        """The definition ``target`` names (404 when none is served). A request routed
        with a catalog newer than this replica's waits a moment for it."""
        rt = self.table.lookup(target.group, target.version, target.resource)
        if rt is None and target.catalog_revision > self.catalog.reached:
            await self.catalog.wait_for(target.catalog_revision, CATALOG_WAIT)
            rt = self.table.lookup(target.group, target.version, target.resource)
        if rt is None:
            raise errors.not_found_path()
        if target.subresource and rt.subresource(target.subresource) is None:
            raise errors.not_found_path()
        return rt

    # --- versions and decoding (conversion.py, field_validation.py) ----------------------

    def stored_type(self, rt: Definition) -> Definition:
        """The definition a write of ``rt`` runs in (its "hub"): ``rt`` itself unless a
        built-in type is served converted (autoscaling/v1 HPAs are written as
        autoscaling/v2, events.k8s.io Events as core v1 ones). A custom resource is
        written in the version it was sent in, converted at storage's door."""
        if rt.crd or not rt.storage_version or rt.storage_version == rt.api_version:
            return rt
        group, _, version = rt.storage_version.rpartition("/")
        stored = self.table.lookup(group, version, rt.resource)
        if stored is None:
            raise errors.internal(f"no storage version {rt.storage_version} for {rt.resource}")
        return stored

    async def _to_served(self, rt: Definition, data: bytes) -> bytes:
        """Stored JSON as the version the client asked for (unchanged if the same)."""
        if rt.stored_api_version == rt.api_version and not rt.converter.rewrites_reads:
            return data
        converted = await rt.converter.convert([orjson.loads(data)], rt.api_version)
        return orjson.dumps(converted[0])

    async def _all_to_served(
        self, rt: Definition, items: builtins.list[bytes]
    ) -> builtins.list[bytes]:
        """A list's stored items as the version asked for (one conversion call)."""
        if not items or (
            rt.stored_api_version == rt.api_version and not rt.converter.rewrites_reads
        ):
            return items
        converted = await rt.converter.convert([orjson.loads(i) for i in items], rt.api_version)
        return [orjson.dumps(obj) for obj in converted]

    async def _stored_form(self, hub: Definition, obj: Obj) -> Obj:
        """An object about to be stored, in the storage version (a custom resource
        written in another version is converted here)."""
        if hub.stored_api_version == hub.api_version:
            return obj
        return (await hub.converter.convert([obj], hub.stored_api_version))[0]

    async def _hub_form(self, hub: Definition, obj: Obj) -> Obj:
        """A stored object in the version a write of ``hub`` runs in (defaulted, as
        kube defaults what it reads, where the type has defaults)."""
        if hub.stored_api_version == hub.api_version and not hub.converter.rewrites_reads:
            return obj
        return (await hub.converter.convert([obj], hub.api_version))[0]

    async def _decode(
        self,
        rt: Definition,
        body: bytes,
        directive: str,
        duplicates: tuple[str, ...],
        subresource: str = "",
    ) -> tuple[Obj, builtins.list[str]]:
        """A write's body decoded as the served type (400 on what kube's decoder refuses,
        unknown fields dropped or refused per fieldValidation), in its stored form.
        A ``scale`` body is an autoscaling/v1 Scale, decoded as one and not converted."""
        obj = _loads(body)
        if subresource == "scale":
            warnings = field_validation.decode(
                obj,
                definition=SCALE_SCHEMA,
                kind="Scale",
                version="v1",
                directive=directive,
                duplicates=duplicates,
            )
            return obj, warnings
        pipeline.check_type_meta(rt, obj)  # another kind or version is refused first
        warnings = rt.model.decode(
            obj, kind=rt.kind, version=rt.version, directive=directive, duplicates=duplicates
        )
        hub = self.stored_type(rt)
        if hub is not rt:
            obj = (await rt.converter.convert([obj], hub.api_version))[0]
        return obj, warnings

    def _admission_target(
        self, rt: Definition, target: Target, operation: str, name: str, dry_run: bool
    ) -> AdmissionTarget:
        return AdmissionTarget(
            operation=operation,
            user=target.user,
            group=rt.group,
            version=rt.version,
            kind=rt.kind,
            resource=rt.resource,
            subresource=target.subresource,
            namespace=target.namespace if rt.namespaced else "",
            name=name,
            dry_run=dry_run,
            equivalents=self._equivalents(rt),
            requested=self._requested(rt, target),
        )

    def _equivalents(self, rt: Definition) -> tuple[tuple[str, str, str, str], ...]:
        """The resource's served versions when it has several (``TypeTable.equivalents``);
        () for the rest, at the cost of one dict lookup."""
        found = self.table.equivalents(rt)
        return tuple((e.group, e.version, e.resource, e.kind) for e in found) if found else ()

    def _requested(self, rt: Definition, target: Target) -> tuple[str, str, str, str] | None:
        """The resource the request was made to, when admission sees the object as
        ``rt`` (another form of it); None when it is ``rt`` itself."""
        if (target.group, target.version, target.resource) == (rt.group, rt.version, rt.resource):
            return None
        served = self.table.lookup(target.group, target.version, target.resource)
        if served is None:
            return None
        return (served.group, served.version, served.resource, served.kind)

    def _storage_definition(self, rt: Definition) -> Definition:
        """The definition of the version ``rt``'s objects are stored in."""
        group, _, version = rt.stored_api_version.rpartition("/")
        return self.table.lookup(group, version, rt.resource) or rt

    async def convert(
        self, group: str, version: str, resource: str, objects: builtins.list[Obj]
    ) -> builtins.list[Obj]:
        """``objects`` of a resource (each in the version its apiVersion names) in
        another served version of it: for admission's webhooks and policies registered
        for that version (kube's matchPolicy Equivalent). 404 for a version not served."""
        rt = self.table.lookup(group, version, resource)
        if rt is None:
            raise errors.not_found_path()
        return await rt.converter.convert(objects, rt.api_version)

    # --- writes -------------------------------------------------------------------

    async def create(
        self,
        target: Target,
        body: bytes,
        *,
        dry_run: bool = False,
        field_validation: str = "",
        duplicate_fields: tuple[str, ...] = (),
        field_manager: str = "",
        managed_fields: builtins.list[Obj] | None = None,
    ) -> Result:
        """``managed_fields``: the entries an apply computed (else the creator's are)."""
        rt = await self.resolve(target)
        action = ACTIONS.get((rt.group, rt.resource, target.subresource))
        if action is not None:
            return await self._act(
                action, target, body, field_validation, duplicate_fields, dry_run
            )
        if target.subresource or "create" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "create")
        if rt.terminating:
            raise errors.method_not_supported(
                rt.resource,
                rt.group,
                "create",
                message="create not allowed while custom resource definition is terminating",
            )
        patching.policy.check_write_options("CreateOptions", field_manager)
        decoded, decode_warnings = await self._decode(
            rt, body, field_validation, duplicate_fields, target.subresource
        )
        served, rt = rt, self.stored_type(rt)
        strategy = served.strategy  # the served group's rules
        sent_fields = patching.sent_managed_fields(decoded)  # prepare_create drops them
        obj = pipeline.prepare_create(rt, strategy, decoded, target.namespace, user=target.user)
        obj = self._track_create(rt, target, obj, sent_fields, field_manager, managed_fields)
        name = obj["metadata"].get("name") or ""
        admission = self._admission_target(rt, target, "CREATE", name, dry_run)
        mutated, warnings = await self.admission.admit("mutating", admission, obj)
        obj = mutated if mutated is not None else obj
        await self._allocate(rt, strategy, obj)
        pipeline.validate_create(rt, strategy, obj)
        _, more = await self.admission.admit("validating", admission, obj)
        warnings += more
        stored = await self.storage.create(
            _where(rt),
            obj["metadata"].get("namespace", ""),
            name,
            orjson.dumps(await self._stored_form(rt, obj)),
            dry_run=dry_run,
        )
        return Result(
            await self._to_served(served, stored),
            201,
            decode_warnings + warnings + strategy.warnings(obj),
            admission.audit_annotations,
        )

    async def _act(
        self,
        action: _Action,
        target: Target,
        body: bytes,
        directive: str,
        duplicates: tuple[str, ...],
        dry_run: bool,
    ) -> Result:
        """A Binding or an Eviction: decoded as its own kind, then done (201 Success)."""
        obj = _loads(body)
        warnings = field_validation.decode(
            obj,
            definition=action.schema,
            kind=action.kind,
            version=action.version,
            directive=directive,
            duplicates=duplicates,
        )
        return Result(await action.run(self, target, obj, dry_run=dry_run), 201, warnings)

    async def _allocate(self, rt: Definition, strategy: Strategy, obj: Obj) -> None:
        """What the strategy allocates among the resource's objects (a Service's cluster
        IP and node ports), from every other object of the resource."""
        if not strategy.allocates:
            return
        listed = await self.storage.list(_where(rt), "")
        meta = obj.get("metadata") or {}
        others = [
            other
            for other in (orjson.loads(item) for item in listed.items)
            if (other["metadata"].get("namespace"), other["metadata"].get("name"))
            != (meta.get("namespace"), meta.get("name"))
        ]
        problems = strategy.allocate(obj, others)
        if problems:
            raise errors.invalid(rt.kind, rt.group, str(meta.get("name") or ""), problems)

    async def update(
        self,
        target: Target,
        body: bytes,
        *,
        dry_run: bool = False,
        field_validation: str = "",
        duplicate_fields: tuple[str, ...] = (),
        field_manager: str = "",
    ) -> Result:
        rt = await self.resolve(target)
        if "update" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "update")
        patching.policy.check_write_options("UpdateOptions", field_manager)
        manager = patching.policy.manager_for(field_manager, target.user_agent)
        new, decode_warnings = await self._decode(
            rt, body, field_validation, duplicate_fields, target.subresource
        )
        served, rt = rt, self.stored_type(rt)
        pipeline.check_name_matches(new, target.name)
        pipeline.set_namespace(rt, new, target.namespace)
        wanted_rv = str((new.get("metadata") or {}).get("resourceVersion") or "")
        # kube's rest.Update takes the body's uid as a precondition of the write.
        wanted_uid = str((new.get("metadata") or {}).get("uid") or "")
        # An attempt changes the object it is given: the first gets the body, a retry (only
        # without a resourceVersion) a copy. A deep copy of an object as large as storage
        # holds would cost up to ~48 MiB, and as much again for deepcopy's memo.
        kept = b"" if wanted_rv else orjson.dumps(new)
        bodies = [new]

        async def replace(current: Obj) -> Obj:
            uid = str(current["metadata"].get("uid") or "")
            if wanted_uid and wanted_uid != uid:
                raise errors.conflict(
                    rt.resource,
                    rt.group,
                    target.name,
                    f"Precondition failed: UID in precondition: {wanted_uid}, "
                    f"UID in object meta: {uid}",
                )
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.resource, rt.group, target.name)
            return bodies.pop() if bodies else _loads(kept)

        if target.subresource == "scale":
            return await self._scale_update(
                rt,
                target,
                replace,
                dry_run=dry_run,
                retry=not wanted_rv,
                manager=manager,
                strategy=served.strategy,
            )
        try:
            result = await self._guaranteed_update(
                rt,
                target,
                replace,
                dry_run=dry_run,
                retry=not wanted_rv,
                manager=manager,
                strategy=served.strategy,
            )
        except errors.StatusError as err:
            if not self._creates_on_update(served, target, err):
                raise
            return await self.create(
                dataclasses.replace(target, name=""),
                body,
                dry_run=dry_run,
                field_validation=field_validation,
                duplicate_fields=duplicate_fields,
                field_manager=field_manager,
            )
        result.body = await self._to_served(served, result.body)
        result.warnings = decode_warnings + result.warnings
        return result

    async def patch(
        self,
        target: Target,
        patch_type: str,
        patch: bytes,
        *,
        dry_run: bool = False,
        field_validation: str = "",
        field_manager: str = "",
        force: bool = False,
    ) -> Result:
        """JSON, merge and strategic merge patches of an existing object (404 when it is
        missing), and server-side apply, which creates a missing object (201)."""
        rt = await self.resolve(target)
        if "patch" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "patch")
        if patch_type not in patching.PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type)
        if patch_type not in rt.model.patch_types:
            raise errors.unsupported_media_type(patch_type, rt.model.patch_types)
        is_apply = patch_type == patching.APPLY_PATCH
        patching.policy.check_patch_options(is_apply=is_apply, field_manager=field_manager)
        manager = patching.policy.manager_for(field_manager, target.user_agent)
        fields = None
        if is_apply and target.subresource == "scale":  # applied to the autoscaling/v1 Scale
            fields = patching.field_manager(
                SCALE_SCHEMA, api_version="autoscaling/v1", kind="Scale", subresource="scale"
            )
        elif is_apply:
            fields = self._field_manager(rt, target.subresource)
        definition = SCALE_SCHEMA if target.subresource == "scale" else rt.model.definition
        body = _PatchBody(_decode_apply if is_apply else patching.decode_patch, patch)
        # JSON and strategic merge patches change the object they are given: it is theirs
        # (_guaranteed_update decodes the stored one again), which saves a copy of it.
        consumes = not is_apply and patching.changes_in_place(patch_type)

        async def apply(current: Obj) -> Obj:
            current_rv = current["metadata"]["resourceVersion"]
            if fields is not None:
                patched = fields.apply(current, body.take(), field_manager, force=force)
            else:
                patched = patching.apply_patch(
                    patch_type, current, body.take(), definition=definition, consume=consumes
                )
            limits.check_patched(patched)  # before anything else spends memory on it
            meta = patched.get("metadata")
            wanted = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
            if wanted and wanted != current_rv:
                raise errors.conflict(rt.resource, rt.group, target.name)
            if target.subresource != "scale":
                pipeline.check_name_matches(patched, target.name)
            return patched

        stored = self.stored_type(rt)
        # An apply records its own managers; on /scale only spec.replicas reaches the
        # parent, recorded there as the manager's change through the subresource.
        tracked = None if is_apply and target.subresource != "scale" else manager
        if target.subresource == "scale":
            return await self._scale_update(
                stored,
                target,
                apply,
                dry_run=dry_run,
                retry=True,
                manager=tracked,
                strategy=rt.strategy,
            )
        decode_warnings: builtins.list[str] = []
        change: Change = apply
        if target.subresource in ("", "status"):
            change = self._served_change(rt, apply, field_validation, decode_warnings)
        try:
            result = await self._guaranteed_update(
                stored,
                target,
                change,
                dry_run=dry_run,
                retry=True,
                manager=tracked,
                consumes=consumes,
                strategy=rt.strategy,
            )
        except errors.StatusError as err:
            if fields is None or target.subresource or not _is_missing(err, target):
                raise
            return await self._apply_create(
                target,
                fields,
                body.take(),
                field_manager,
                force=force,
                dry_run=dry_run,
                field_validation=field_validation,
            )
        result.body = await self._to_served(rt, result.body)
        result.warnings = decode_warnings + result.warnings
        return result

    async def _apply_create(
        self,
        target: Target,
        fields: patching.FieldManager,
        config: Obj,
        field_manager: str,
        *,
        force: bool,
        dry_run: bool,
        field_validation: str,
    ) -> Result:
        """Server-side apply of a missing object: the configuration applied to nothing,
        then created with its managedFields (kube's applyPatcher.createNewObject)."""
        uid = (config.get("metadata") or {}).get("uid") if isinstance(config, dict) else None
        if uid:
            rt = await self.resolve(target)
            raise errors.conflict(
                rt.resource,
                rt.group,
                target.name,
                f"uid mismatch: the provided object specified uid {uid}, and no existing "
                "object was found",
            )
        obj = fields.apply(None, config, field_manager, force=force)
        pipeline.check_name_matches(obj, target.name)
        managed = obj.get("metadata", {}).pop("managedFields", None) or []
        return await self.create(
            dataclasses.replace(target, name=""),
            orjson.dumps(obj),
            dry_run=dry_run,
            field_validation=field_validation,
            field_manager=field_manager,
            managed_fields=managed,
        )

    # --- managedFields (patching.managed_fields) -------------------------------------------

    def _field_manager(self, rt: Definition, subresource: str) -> patching.FieldManager:
        return rt.model.field_manager(
            api_version=rt.api_version,
            kind=rt.kind,
            subresource=subresource,
            has_status=rt.subresource("status") is not None,
        )

    def _track_create(
        self,
        rt: Definition,
        target: Target,
        obj: Obj,
        sent: Any,
        field_manager: str,
        preset: builtins.list[Obj] | None,
    ) -> Obj:
        """A new object's managedFields: those an apply computed, else the creator's
        fields on top of any the body carried."""
        meta = obj["metadata"]
        if preset is not None:
            if preset:
                meta["managedFields"] = preset
            return obj
        if sent is not None:
            meta["managedFields"] = sent
        manager = patching.policy.manager_for(field_manager, target.user_agent)
        return self._field_manager(rt, "").update({}, obj, manager)

    def _creates_on_update(self, rt: Definition, target: Target, err: errors.StatusError) -> bool:
        """A PUT of a missing object creates it where kube's strategy allows it."""
        return (
            not target.subresource
            and _is_missing(err, target)
            and patching.policy.allows_create_on_update(rt.group, rt.resource, rt.strategy)
        )

    def _served_change(
        self,
        rt: Definition,
        change: Change,
        directive: str,
        warnings: builtins.list[str],
    ) -> Change:
        """``change`` (a patch) applied to the stored object as the client sees it (its
        version), the result decoded as a write body is (unknown fields dropped or refused
        per fieldValidation; the warnings of the last attempt in ``warnings``), then back
        in the stored form."""
        hub = self.stored_type(rt)

        async def run(current: Obj) -> Obj:
            shown = current
            if hub is not rt:
                shown = (await rt.converter.convert([current], rt.api_version))[0]
            changed = await change(shown)
            warnings[:] = rt.model.decode_patched(
                changed, kind=rt.kind, version=rt.version, directive=directive
            )
            if hub is not rt:
                changed = (await rt.converter.convert([changed], hub.api_version))[0]
            return changed

        return run

    async def _scale_update(
        self,
        rt: Definition,
        target: Target,
        change_scale: Change,
        *,
        dry_run: bool,
        retry: bool,
        strategy: Strategy,
        manager: str | None = None,
    ) -> Result:
        """PUT or PATCH of ``/scale``: ``change_scale`` (the body, or the patch) applied to
        the parent's autoscaling/v1 Scale; only its spec.replicas reaches the parent, which
        is then prepared, admitted, validated and stored as any update. Answers the Scale."""
        facts = rt.scale
        if facts is None:
            raise errors.not_found_path()

        async def change(current: Obj) -> Obj:
            wanted = await change_scale(scale_subresource.to_scale(facts, current))
            scale_subresource.check_type_meta(wanted)
            problems = scale_subresource.validate(wanted)
            if problems:
                raise errors.invalid(
                    scale_subresource.KIND, scale_subresource.GROUP, target.name, problems
                )
            return scale_subresource.apply(facts, current, wanted)

        result = await self._guaranteed_update(
            rt, target, change, dry_run=dry_run, retry=retry, manager=manager, strategy=strategy
        )
        shown = await self._hub_form(rt, _loads(result.body))
        scaled = scale_subresource.to_scale(facts, shown)
        return Result(orjson.dumps(scaled), 200, result.warnings, result.audit_annotations)

    async def _guaranteed_update(
        self,
        rt: Definition,
        target: Target,
        change: Change,
        *,
        dry_run: bool,
        retry: bool,
        strategy: Strategy,
        manager: str | None = None,
        consumes: bool = False,
    ) -> Result:
        """Read, change, prepare, admit, validate, then compare-and-swap on the revision;
        on a conflict, start again from the latest object when ``retry``. The fields the
        change makes are recorded under ``manager`` in managedFields (not when ``None``:
        an apply records its own). With ``consumes``, ``change`` may change the object it
        is given (it gets the only copy; the stored one is decoded again after it).
        ``rt`` is the definition the write runs in; ``strategy`` the served group's rules."""
        where = _where(rt)
        namespace = target.namespace if rt.namespaced else ""
        # kube's storage retries a conflicting update until it lands; bounded here.
        for _attempt in range(GUARANTEED_UPDATE_ATTEMPTS if retry else 1):
            data = await self.storage.get(where, namespace, target.name)
            current = await self._hub_form(rt, _loads(data))
            current_rv = int(current["metadata"]["resourceVersion"])
            candidate = await change(current)
            if consumes:
                current = await self._hub_form(rt, _loads(data))
            pipeline.set_namespace(rt, candidate, target.namespace)
            candidate = pipeline.prepare_update(
                rt, strategy, candidate, current, subresource=target.subresource
            )
            if manager is not None:
                fields = self._field_manager(rt, target.subresource)
                candidate = fields.update(current, candidate, manager)
            if not target.subresource:
                await self._allocate(rt, strategy, candidate)
            admission = self._admission_target(rt, target, "UPDATE", target.name, dry_run)
            mutated, warnings = await self.admission.admit(
                "mutating", admission, candidate, current
            )
            candidate = mutated if mutated is not None else candidate
            pipeline.validate_update(
                rt, strategy, candidate, current, subresource=target.subresource
            )
            _, more = await self.admission.admit("validating", admission, candidate, current)
            warnings += more
            # A new metadata map: the candidate's may be the stored object's (a patch that
            # left metadata alone shares it), whose resourceVersion a no-op answers with.
            candidate = {
                **candidate,
                "metadata": {
                    k: v for k, v in candidate["metadata"].items() if k != "resourceVersion"
                },
            }
            unchanged = {
                **current,
                "metadata": {
                    k: v for k, v in current["metadata"].items() if k != "resourceVersion"
                },
            }
            if candidate == unchanged:
                return Result(orjson.dumps(current), 200, warnings, admission.audit_annotations)
            if strategy.finalized(candidate) and deletion.delete_during_update(
                candidate["metadata"], current["metadata"]
            ):
                # The last finalizer of an object marked for deletion went: it goes now.
                try:
                    deleted = await self.storage.delete(
                        where,
                        namespace,
                        target.name,
                        expected_revision=current_rv,
                        dry_run=dry_run,
                    )
                except errors.StatusError as err:
                    if err.reason == "Conflict" and retry:
                        continue
                    raise
                return Result(deleted, 200, warnings, admission.audit_annotations)
            try:
                stored = await self.storage.update(
                    where,
                    namespace,
                    target.name,
                    orjson.dumps(await self._stored_form(rt, candidate)),
                    expected_revision=current_rv,
                    dry_run=dry_run,
                )
            except errors.StatusError as err:
                if err.reason == "Conflict" and retry:
                    continue
                raise
            return Result(stored, 200, warnings, admission.audit_annotations)
        raise errors.conflict(rt.resource, rt.group, target.name)

    async def delete(self, target: Target, options: Obj, *, dry_run: bool = False) -> Result:
        """kube's store.Delete: graceful deletion, propagation finalizers and finalizers
        decide whether the object goes now or is only marked (``deletion``)."""
        rt = await self.resolve(target)
        if target.subresource or "delete" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "delete")
        deletion.validate_options(options)
        strategy = rt.strategy
        where = _where(rt)
        namespace = target.namespace if rt.namespaced else ""
        for _attempt in range(GUARANTEED_UPDATE_ATTEMPTS):
            current = _loads(await self.storage.get(where, namespace, target.name))
            meta = current.get("metadata") or {}
            self._check_delete_preconditions(rt, target.name, meta, options)
            # The object as stored: admitted in the storage version's form.
            admission = self._admission_target(
                self._storage_definition(rt), target, "DELETE", target.name, dry_run
            )
            await self.admission.admit("mutating", admission, None, current)
            await self.admission.admit("validating", admission, None, current)
            revision = int(meta["resourceVersion"])
            if rt.resource == "namespaces" and not rt.group:
                kept = await self._terminate_namespace(where, current, options, dry_run=dry_run)
                if kept is not None:
                    return Result(kept, 200)
                plan = deletion.plan(
                    current, options, grace_period=None, default_policy=strategy.default_gc_policy
                )
            else:
                # The finalizers the owner's cleanup needs (a CRD's), then kube's rules.
                marked = (
                    None if meta.get("deletionTimestamp") else strategy.mark_for_deletion(current)
                )
                plan = deletion.plan(
                    marked if marked is not None else current,
                    options,
                    grace_period=strategy.grace_period(current, options),
                    default_policy=strategy.default_gc_policy,
                )
            try:
                if plan.action == "pending":
                    return self._deleted_reply(rt, strategy, target.name, plan.obj)
                if plan.action == "update" and plan.obj == current:
                    return Result(await self._to_served(rt, orjson.dumps(current)), 200)
                if plan.action == "update":
                    changed = copy.deepcopy(plan.obj)
                    changed["metadata"].pop("resourceVersion", None)
                    stored = await self.storage.update(
                        where,
                        namespace,
                        target.name,
                        orjson.dumps(changed),
                        expected_revision=revision,
                        dry_run=dry_run,
                    )
                    return Result(await self._to_served(rt, stored), 200)
                deleted = await self.storage.delete(
                    where, namespace, target.name, expected_revision=revision, dry_run=dry_run
                )
            except errors.StatusError as err:
                if err.reason == "Conflict":
                    continue
                raise
            return self._deleted_reply(rt, strategy, target.name, _loads(deleted))
        raise errors.conflict(rt.resource, rt.group, target.name)

    @staticmethod
    def _check_delete_preconditions(rt: ResourceType, name: str, meta: Obj, options: Obj) -> None:
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise errors.conflict(
                rt.resource,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != str(
            meta.get("resourceVersion")
        ):
            raise errors.conflict(
                rt.resource,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                f"{meta.get('resourceVersion')}",
            )

    @staticmethod
    def _deleted_reply(rt: ResourceType, strategy: Any, name: str, obj: Obj) -> Result:
        """finalizeDelete: the object, or a Status "Success" naming it."""
        if strategy.return_deleted_object:
            return Result(orjson.dumps(obj), 200)
        details: Obj = {"name": name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.resource
        details["uid"] = (obj.get("metadata") or {}).get("uid", "")
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
        return Result(orjson.dumps(status), 200)

    async def _terminate_namespace(
        self, where: Where, current: Obj, options: Obj, *, dry_run: bool
    ) -> bytes | None:
        """kube's namespace REST Delete: the first DELETE marks the namespace Terminating
        (and sets the orphan/foreground finalizers its options ask for); it stays while
        ``spec.finalizers`` is not empty: the namespace controller deletes its content,
        empties them through ``/finalize`` and deletes it again. ``None``: delete it now."""
        meta = current["metadata"]
        name = meta["name"]
        if not meta.get("deletionTimestamp"):
            marked = copy.deepcopy(current)
            marked_meta = marked["metadata"]
            marked_meta["deletionTimestamp"] = pipeline.now_rfc3339()
            marked.setdefault("status", {})["phase"] = "Terminating"
            finalizers = deletion.namespace_gc_finalizers(marked_meta, options)
            if finalizers is not None:
                if finalizers:
                    marked_meta["finalizers"] = finalizers
                else:
                    marked_meta.pop("finalizers", None)
            revision = int(marked_meta.pop("resourceVersion"))
            stored = await self.storage.update(
                where,
                "",
                name,
                orjson.dumps(marked),
                expected_revision=revision,
                dry_run=dry_run,
            )
            if (marked.get("spec") or {}).get("finalizers"):
                return stored
            return None if not dry_run else stored
        if (current.get("spec") or {}).get("finalizers"):
            return orjson.dumps(current)
        return None

    async def _lease(self, name: str) -> Obj | None:
        """A leader election Lease in kube-system (component statuses), or None."""
        rt = await self.resolve(Target("coordination.k8s.io", "v1", "leases"))
        try:
            return _loads(await self.storage.get(_where(rt), "kube-system", name))
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise

    # --- reads --------------------------------------------------------------------

    async def get(self, target: Target, options: ReadOptions) -> Result:
        rt = await self.resolve(target)
        if "get" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "get")
        if not rt.stored:
            obj = await component_status.read(target.name, self.storage.health, self._lease)
            return self._computed(rt, [obj], options, single=True)
        namespace = target.namespace if rt.namespaced else ""
        data = await self._to_served(
            rt,
            await self.storage.get(
                _where(rt), namespace, target.name, resource_version=options.resource_version
            ),
        )
        printer = rt.printer
        if target.subresource == "scale":
            if rt.scale is None:
                raise errors.not_found_path()
            data = orjson.dumps(scale_subresource.to_scale(rt.scale, _loads(data)))
            printer = SCALE_PRINTER
        if options.rendering == "object":
            return Result(data)
        obj = orjson.loads(data)
        return Result(orjson.dumps(self._render_items(printer, [obj], options, {}, single=True)))

    def _computed(
        self, rt: Definition, objects: builtins.list[Obj], options: ReadOptions, *, single: bool
    ) -> Result:
        """Objects computed when read (component statuses: the only resource kapi lists
        without storing it), rendered as asked, with kube's deprecation warning."""
        warnings = [component_status.DEPRECATED]
        if options.rendering != "object":
            rendered = self._render_items(rt.printer, objects, options, {}, single=single)
            return Result(orjson.dumps(rendered), warnings=warnings)
        if single:
            return Result(orjson.dumps(objects[0]), warnings=warnings)
        listed = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": {}}
        return Result(orjson.dumps({**listed, "items": objects}), warnings=warnings)

    async def connect(
        self, target: Target, method: str, path: str, options: dict[str, builtins.list[str]]
    ) -> connect.Answer:
        """A connect subresource (logs, exec, attach, port forwarding, proxies) of the
        object ``target`` names: kube-apiserver's answer where no kubelet serves it."""
        rt = await self.resolve(target)
        sub = rt.subresource(target.subresource)
        answer = connect.CONNECTERS.get((rt.group, rt.resource))
        if sub is None or not sub.connect or answer is None:
            raise errors.not_found_path()
        name = connect.split_name(target.name, rt.singular) if sub.path else target.name
        namespace = target.namespace if rt.namespaced else ""
        obj = _loads(await self.storage.get(_where(rt), namespace, name))
        return answer(sub.name, obj, target.name, options)

    async def list(self, target: Target, options: ReadOptions) -> Result:
        rt = await self.resolve(target)
        if "list" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "list")
        fields = rt.selection.for_storage(options.field_selector)
        if not rt.stored:
            labels = selectors.parse_label_selector(options.label_selector)
            chosen = selectors.parse_field_selector(fields)
            objects = [
                obj
                for obj in await component_status.read_all(self.storage.health, self._lease)
                if labels.matches(obj) and chosen.matches(obj)
            ]
            return self._computed(rt, objects, options, single=False)
        listed = await self.storage.list(
            _where(rt),
            target.namespace if rt.namespaced else "",
            label_selector=options.label_selector,
            field_selector=fields,
            limit=options.limit,
            continue_token=options.continue_token,
            resource_version=options.resource_version,
            resource_version_match=options.resource_version_match,
        )
        items = await self._all_to_served(rt, listed.items)
        list_meta: Obj = {"resourceVersion": str(listed.resource_version)}
        if listed.continue_token:
            list_meta["continue"] = listed.continue_token
        if listed.remaining_item_count is not None:
            list_meta["remainingItemCount"] = listed.remaining_item_count
        if options.rendering == "object":
            head = orjson.dumps(
                {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta}
            )
            if not rt.custom:  # typed lists' items carry no type (kubernetes#3030)
                items = [*map(ListItems(rt.kind, rt.api_version), items)]
            return Result(list_body(head, items))
        objects = [orjson.loads(item) for item in items]
        return Result(orjson.dumps(self._render_items(rt.printer, objects, options, list_meta)))

    def _render_items(
        self,
        printer: printers.TablePrinter,
        objects: builtins.list[Obj],
        options: ReadOptions,
        list_meta: Obj,
        *,
        single: bool = False,
        with_columns: bool = True,
    ) -> Obj:
        if options.rendering == "metadata":
            items = [printers.partial_metadata(o) for o in objects]
            if single:
                return items[0]
            return {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta,
                "items": items,
            }
        api_version = (
            "meta.k8s.io/v1beta1" if options.rendering == "table-v1beta1" else ("meta.k8s.io/v1")
        )
        return printers.table(
            printer,
            objects,
            now=datetime.now(UTC),
            list_metadata=list_meta,
            include_object=options.include_object,
            api_version=api_version,
            with_columns=with_columns,
        )

    async def open_watch(
        self, target: Target, options: ReadOptions
    ) -> AsyncIterator[tuple[str, bytes]]:
        """Validate the request, then give its events as (type, rendered object JSON).

        Errors in the request raise here, before any event, so the gateway can answer
        them as a plain Status; later failures arrive as in-band ERROR events.
        """
        rt = await self.resolve(target)
        if "watch" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "watch")
        field_selector = rt.selection.for_storage(options.field_selector)
        selectors.parse_label_selector(options.label_selector)
        if target.name:
            by_name = f"metadata.name={target.name}"
            field_selector = f"{field_selector},{by_name}" if field_selector else by_name
        events = self.storage.watch(
            _where(rt),
            target.namespace if rt.namespaced else "",
            label_selector=options.label_selector,
            field_selector=field_selector,
            resource_version=options.resource_version,
            allow_bookmarks=options.allow_bookmarks,
            timeout_seconds=options.timeout_seconds,
            send_initial_events=options.send_initial_events,
        )
        if rt.custom:
            events = self._while_served(rt, events)
        return self._render_events(rt, options, events)

    async def _while_served(
        self, rt: Definition, events: AsyncIterator[tuple[str, bytes]]
    ) -> AsyncIterator[tuple[str, bytes]]:
        """The events of a custom resource's watch until its CRD changes what is served
        (or goes): then the watch ends, as kube's CRD handler ends the watches of the
        storage it replaces, and the client watches again under the new definition."""
        replaced = asyncio.ensure_future(self.catalog.replaced(rt))
        events = aiter(events)
        try:
            while True:
                following = asyncio.ensure_future(anext(events))
                await asyncio.wait({following, replaced}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():
                    following.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await following
                    return
                try:
                    yield following.result()
                except StopAsyncIteration:
                    return
        finally:
            replaced.cancel()
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _render_events(
        self, rt: Definition, options: ReadOptions, events: AsyncIterator[tuple[str, bytes]]
    ) -> AsyncIterator[tuple[str, bytes]]:
        first = True
        try:
            async for kind, data in events:
                if kind == "ERROR":
                    yield kind, data
                    continue
                if kind == "BOOKMARK":
                    bookmark = orjson.loads(data)
                    bookmark["kind"], bookmark["apiVersion"] = rt.kind, rt.api_version
                    yield kind, orjson.dumps(bookmark)
                    continue
                data = await self._to_served(rt, data)
                if options.rendering == "object":
                    yield kind, data
                    continue
                rendered = self._render_items(
                    rt.printer, [orjson.loads(data)], options, {}, single=True, with_columns=first
                )
                first = False
                yield kind, orjson.dumps(rendered)
        except errors.StatusError as err:
            yield "ERROR", err.to_json()

    # --- bootstrap ----------------------------------------------------------------

    async def ensure_system_namespaces(self, user: Any) -> None:
        """kube-apiserver's system namespaces controller: these exist from the start."""
        for name in SYSTEM_NAMESPACES:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            try:
                await self.create(Target("", "v1", "namespaces", user=user), orjson.dumps(body))
            except errors.StatusError as err:
                if err.reason != "AlreadyExists":
                    raise
        for group, version, resource, namespace, obj in bootstrap.BOOTSTRAP:
            try:
                await self.create(
                    Target(group, version, resource, namespace=namespace, user=user),
                    orjson.dumps(obj),
                )
            except errors.StatusError as err:
                if err.reason != "AlreadyExists":
                    raise
