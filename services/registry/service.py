"""The registry domain: resolves a request to its type and runs it through the strategy,
admission and storage. Knows nothing of gRPC or HTTP.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from kapi import errors, selectors
from kapi.json_bytes import ListItems, list_body
from services.registry import (
    binding,
    component_status,
    connect,
    conversion,
    deletion,
    eviction,
    field_validation,
    limits,
    patching,
    pipeline,
    printers,
)
from services.registry.ports import AdmissionPort, AdmissionTarget, StoragePort, Where
from services.registry.strategies import bootstrap, selectable_terms, strategy_for
from services.registry.strategies import scale as scale_subresource
from services.registry.strategies.core import ServiceStrategy
from services.registry.types import (
    ResourceType,
    TypeTable,
    field_selector_error,
    field_selector_path,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RENDERINGS = ("object", "table", "table-v1beta1", "metadata")
SCALE_SCHEMA = "io.k8s.api.autoscaling.v1.Scale"
GUARANTEED_UPDATE_ATTEMPTS = 64


@dataclass(frozen=True)
class Target:
    group: str
    version: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user: Any = None
    user_agent: str = ""  # the default field manager comes from it (patching.policy)


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


_FIELD_TERM = re.compile(r"^\s*([^!=\s]+)\s*(==|!=|=)")


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
}


def _where(rt: ResourceType) -> Where:
    return Where(
        group=rt.group, resource=rt.resource, key_prefix=rt.etcd_prefix, namespaced=rt.namespaced
    )


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
    def __init__(self, table: TypeTable, storage: StoragePort, admission: AdmissionPort) -> None:
        self.table = table
        self.storage = storage
        self.admission = admission
        self.bootstrapped = False

    # --- resolution ---------------------------------------------------------------

    def resolve(self, target: Target) -> ResourceType:
        rt = self.table.lookup(target.group, target.version, target.resource)
        if rt is None:
            raise errors.not_found_path()
        if target.subresource and rt.subresource(target.subresource) is None:
            raise errors.not_found_path()
        return rt

    # --- versions and decoding (conversion.py, field_validation.py) ----------------------

    def stored_type(self, rt: ResourceType) -> ResourceType:
        """The ResourceType whose form is kept in storage: ``rt`` unless it is served
        converted (autoscaling/v1 HPAs are stored as autoscaling/v2)."""
        if not rt.storage_version or rt.storage_version == rt.api_version:
            return rt
        group, _, version = rt.storage_version.rpartition("/")
        stored = self.table.lookup(group, version, rt.resource)
        if stored is None:
            raise errors.internal(f"no storage version {rt.storage_version} for {rt.resource}")
        return stored

    def _to_served(self, rt: ResourceType, data: bytes) -> bytes:
        """Stored JSON as the version the client asked for (unchanged if the same)."""
        if not rt.storage_version or rt.storage_version == rt.api_version:
            return data
        return conversion.convert_json(
            data, kind=rt.kind, from_api_version=rt.storage_version, to_api_version=rt.api_version
        )

    def _decode(
        self,
        rt: ResourceType,
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
        warnings = field_validation.decode(
            obj,
            definition=rt.schema,
            kind=rt.kind,
            version=rt.version,
            directive=directive,
            duplicates=duplicates,
        )
        if rt.storage_version and rt.storage_version != rt.api_version:
            obj = conversion.convert(
                obj,
                kind=rt.kind,
                from_api_version=rt.api_version,
                to_api_version=rt.storage_version,
            )
        return obj, warnings

    def _admission_target(
        self, rt: ResourceType, target: Target, operation: str, name: str, dry_run: bool
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
        )

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
        rt = self.resolve(target)
        action = ACTIONS.get((rt.group, rt.resource, target.subresource))
        if action is not None:
            return await self._act(
                action, target, body, field_validation, duplicate_fields, dry_run
            )
        if target.subresource or "create" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "create")
        patching.policy.check_write_options("CreateOptions", field_manager)
        decoded, decode_warnings = self._decode(
            rt, body, field_validation, duplicate_fields, target.subresource
        )
        served, rt = rt, self.stored_type(rt)
        strategy = strategy_for(served.group, served.resource)  # the served group's rules
        sent_fields = patching.sent_managed_fields(decoded)  # prepare_create drops them
        obj = pipeline.prepare_create(rt, strategy, decoded, target.namespace, user=target.user)
        obj = self._track_create(rt, target, obj, sent_fields, field_manager, managed_fields)
        name = obj["metadata"].get("name") or ""
        admission = self._admission_target(rt, target, "CREATE", name, dry_run)
        mutated, warnings = await self.admission.admit("mutating", admission, obj)
        obj = mutated if mutated is not None else obj
        if isinstance(strategy, ServiceStrategy):
            await self._allocate_cluster_ip(strategy, obj)
        pipeline.validate_create(rt, strategy, obj)
        _, more = await self.admission.admit("validating", admission, obj)
        warnings += more
        stored = await self.storage.create(
            _where(rt),
            obj["metadata"].get("namespace", ""),
            name,
            orjson.dumps(obj),
            dry_run=dry_run,
        )
        return Result(
            self._to_served(served, stored),
            201,
            decode_warnings + warnings + strategy.warnings(obj),
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

    async def _allocate_cluster_ip(self, strategy: ServiceStrategy, obj: Obj) -> None:
        """Cluster IP and node ports: free ones from what the other services hold (an
        address or port is released when its service is deleted or changes type)."""
        rt = self.table.lookup("", "v1", "services")
        assert rt is not None
        listed = await self.storage.list(_where(rt), "")
        meta = obj.get("metadata") or {}
        others = [
            service
            for service in (orjson.loads(item) for item in listed.items)
            if (service["metadata"].get("namespace"), service["metadata"].get("name"))
            != (meta.get("namespace"), meta.get("name"))
        ]
        taken = {(s.get("spec") or {}).get("clusterIP", "") for s in others}
        strategy.allocate_cluster_ip(obj, taken)
        ports = {
            port["nodePort"]
            for s in others
            for port in (s.get("spec") or {}).get("ports") or []
            if isinstance(port, dict) and port.get("nodePort")
        }
        problems = strategy.allocate_node_ports(obj, ports)
        if problems:
            raise errors.invalid("Service", "", str(meta.get("name") or ""), problems)

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
        rt = self.resolve(target)
        if "update" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "update")
        patching.policy.check_write_options("UpdateOptions", field_manager)
        manager = patching.policy.manager_for(field_manager, target.user_agent)
        new, decode_warnings = self._decode(
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

        def replace(current: Obj) -> Obj:
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
                rt, target, replace, dry_run=dry_run, retry=not wanted_rv, manager=manager
            )
        try:
            result = await self._guaranteed_update(
                rt, target, replace, dry_run=dry_run, retry=not wanted_rv, manager=manager
            )
        except errors.StatusError as err:
            if not self._creates_on_update(rt, target, err):
                raise
            return await self.create(
                dataclasses.replace(target, name=""),
                body,
                dry_run=dry_run,
                field_validation=field_validation,
                duplicate_fields=duplicate_fields,
                field_manager=field_manager,
            )
        result.body = self._to_served(served, result.body)
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
        rt = self.resolve(target)
        if "patch" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "patch")
        if patch_type not in patching.PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type)
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
        definition = SCALE_SCHEMA if target.subresource == "scale" else rt.schema
        body = _PatchBody(_decode_apply if is_apply else patching.decode_patch, patch)
        # JSON and strategic merge patches change the object they are given: it is theirs
        # (_guaranteed_update decodes the stored one again), which saves a copy of it.
        consumes = not is_apply and patching.changes_in_place(patch_type)

        def apply(current: Obj) -> Obj:
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
                stored, target, apply, dry_run=dry_run, retry=True, manager=tracked
            )
        decode_warnings: builtins.list[str] = []
        change: Callable[[Obj], Obj] = apply
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
        result.body = self._to_served(rt, result.body)
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
            rt = self.resolve(target)
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

    def _field_manager(self, rt: ResourceType, subresource: str) -> patching.FieldManager:
        return patching.field_manager(
            rt.schema,
            api_version=rt.api_version,
            kind=rt.kind,
            subresource=subresource,
            has_status=rt.subresource("status") is not None,
        )

    def _track_create(
        self,
        rt: ResourceType,
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

    def _creates_on_update(self, rt: ResourceType, target: Target, err: errors.StatusError) -> bool:
        """A PUT of a missing object creates it where kube's strategy allows it."""
        return (
            not target.subresource
            and _is_missing(err, target)
            and patching.policy.allows_create_on_update(
                rt.group, rt.resource, strategy_for(rt.group, rt.resource)
            )
        )

    def _served_change(
        self,
        rt: ResourceType,
        change: Callable[[Obj], Obj],
        directive: str,
        warnings: builtins.list[str],
    ) -> Callable[[Obj], Obj]:
        """``change`` (a patch) applied to the stored object as the client sees it (its
        version), the result decoded as a write body is (unknown fields dropped or refused
        per fieldValidation; the warnings of the last attempt in ``warnings``), then back
        in the stored form."""
        stored = self.stored_type(rt)

        def run(current: Obj) -> Obj:
            shown = conversion.convert(
                current,
                kind=rt.kind,
                from_api_version=stored.api_version,
                to_api_version=rt.api_version,
            )
            changed = change(shown)
            warnings[:] = field_validation.decode_patched(
                changed,
                definition=rt.schema,
                kind=rt.kind,
                version=rt.version,
                directive=directive,
            )
            return conversion.convert(
                changed,
                kind=rt.kind,
                from_api_version=rt.api_version,
                to_api_version=stored.api_version,
            )

        return run

    async def _scale_update(
        self,
        rt: ResourceType,
        target: Target,
        change_scale: Callable[[Obj], Obj],
        *,
        dry_run: bool,
        retry: bool,
        manager: str | None = None,
    ) -> Result:
        """PUT or PATCH of ``/scale``: ``change_scale`` (the body, or the patch) applied to
        the parent's autoscaling/v1 Scale; only its spec.replicas reaches the parent, which
        is then prepared, admitted, validated and stored as any update. Answers the Scale."""
        if (rt.group, rt.resource) not in scale_subresource.SCALABLE:
            raise errors.not_found_path()

        def change(current: Obj) -> Obj:
            wanted = change_scale(scale_subresource.to_scale(rt.group, rt.resource, current))
            scale_subresource.check_type_meta(wanted)
            problems = scale_subresource.validate(wanted)
            if problems:
                raise errors.invalid(
                    scale_subresource.KIND, scale_subresource.GROUP, target.name, problems
                )
            return scale_subresource.apply(current, wanted)

        result = await self._guaranteed_update(
            rt, target, change, dry_run=dry_run, retry=retry, manager=manager
        )
        scaled = scale_subresource.to_scale(rt.group, rt.resource, _loads(result.body))
        return Result(orjson.dumps(scaled), 200, result.warnings)

    async def _guaranteed_update(
        self,
        rt: ResourceType,
        target: Target,
        change: Callable[[Obj], Obj],
        *,
        dry_run: bool,
        retry: bool,
        manager: str | None = None,
        consumes: bool = False,
    ) -> Result:
        """Read, change, prepare, admit, validate, then compare-and-swap on the revision;
        on a conflict, start again from the latest object when ``retry``. The fields the
        change makes are recorded under ``manager`` in managedFields (not when ``None``:
        an apply records its own). With ``consumes``, ``change`` may change the object it
        is given (it gets the only copy; the stored one is decoded again after it)."""
        strategy = strategy_for(target.group, target.resource)  # the served group's rules
        where = _where(rt)
        namespace = target.namespace if rt.namespaced else ""
        # kube's storage retries a conflicting update until it lands; bounded here.
        for _attempt in range(GUARANTEED_UPDATE_ATTEMPTS if retry else 1):
            data = await self.storage.get(where, namespace, target.name)
            current = _loads(data)
            current_rv = int(current["metadata"]["resourceVersion"])
            candidate = change(current)
            if consumes:
                current = _loads(data)
            pipeline.set_namespace(rt, candidate, target.namespace)
            candidate = pipeline.prepare_update(
                rt, strategy, candidate, current, subresource=target.subresource
            )
            if manager is not None:
                fields = self._field_manager(rt, target.subresource)
                candidate = fields.update(current, candidate, manager)
            if isinstance(strategy, ServiceStrategy) and not target.subresource:
                await self._allocate_cluster_ip(strategy, candidate)
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
                return Result(orjson.dumps(current), 200, warnings)
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
                return Result(deleted, 200, warnings)
            try:
                stored = await self.storage.update(
                    where,
                    namespace,
                    target.name,
                    orjson.dumps(candidate),
                    expected_revision=current_rv,
                    dry_run=dry_run,
                )
            except errors.StatusError as err:
                if err.reason == "Conflict" and retry:
                    continue
                raise
            return Result(stored, 200, warnings)
        raise errors.conflict(rt.resource, rt.group, target.name)

    async def delete(self, target: Target, options: Obj, *, dry_run: bool = False) -> Result:
        """kube's store.Delete: graceful deletion, propagation finalizers and finalizers
        decide whether the object goes now or is only marked (``deletion``)."""
        rt = self.resolve(target)
        if target.subresource or "delete" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "delete")
        deletion.validate_options(options)
        strategy = strategy_for(rt.group, rt.resource)
        where = _where(rt)
        namespace = target.namespace if rt.namespaced else ""
        for _attempt in range(GUARANTEED_UPDATE_ATTEMPTS):
            current = _loads(await self.storage.get(where, namespace, target.name))
            meta = current.get("metadata") or {}
            self._check_delete_preconditions(rt, target.name, meta, options)
            admission = self._admission_target(rt, target, "DELETE", target.name, dry_run)
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
                plan = deletion.plan(
                    current,
                    options,
                    grace_period=strategy.grace_period(current, options),
                    default_policy=strategy.default_gc_policy,
                )
            try:
                if plan.action == "pending":
                    return self._deleted_reply(rt, strategy, target.name, plan.obj)
                if plan.action == "update" and plan.obj == current:
                    return Result(orjson.dumps(current), 200)  # nothing changes: no write
                if plan.action == "update":
                    marked = copy.deepcopy(plan.obj)
                    marked["metadata"].pop("resourceVersion", None)
                    stored = await self.storage.update(
                        where,
                        namespace,
                        target.name,
                        orjson.dumps(marked),
                        expected_revision=revision,
                        dry_run=dry_run,
                    )
                    return Result(stored, 200)
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
        rt = self.resolve(Target("coordination.k8s.io", "v1", "leases"))
        try:
            return _loads(await self.storage.get(_where(rt), "kube-system", name))
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise

    # --- reads --------------------------------------------------------------------

    async def get(self, target: Target, options: ReadOptions) -> Result:
        rt = self.resolve(target)
        if "get" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "get")
        if not rt.stored:
            obj = await component_status.read(target.name, self.storage.health, self._lease)
            return self._computed(rt, [obj], options, single=True)
        namespace = target.namespace if rt.namespaced else ""
        data = self._to_served(
            rt,
            await self.storage.get(
                _where(rt), namespace, target.name, resource_version=options.resource_version
            ),
        )
        if target.subresource == "scale":
            if (rt.group, rt.resource) not in scale_subresource.SCALABLE:
                raise errors.not_found_path()
            scaled = scale_subresource.to_scale(rt.group, rt.resource, _loads(data))
            data = orjson.dumps(scaled)
            rt = dataclasses.replace(rt, group="autoscaling", version="v1", kind="Scale")
        if options.rendering == "object":
            return Result(data)
        obj = orjson.loads(data)
        return Result(orjson.dumps(self._render_items(rt, [obj], options, {}, single=True)))

    def _computed(
        self, rt: ResourceType, objects: builtins.list[Obj], options: ReadOptions, *, single: bool
    ) -> Result:
        """Objects computed when read (component statuses: the only resource kapi lists
        without storing it), rendered as asked, with kube's deprecation warning."""
        warnings = [component_status.DEPRECATED]
        if options.rendering != "object":
            rendered = self._render_items(rt, objects, options, {}, single=single)
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
        rt = self.resolve(target)
        sub = rt.subresource(target.subresource)
        answer = connect.CONNECTERS.get((rt.group, rt.resource))
        if sub is None or not sub.connect or answer is None:
            raise errors.not_found_path()
        name = connect.split_name(target.name, rt.singular) if sub.path else target.name
        namespace = target.namespace if rt.namespaced else ""
        obj = _loads(await self.storage.get(_where(rt), namespace, name))
        return answer(sub.name, obj, target.name, options)

    def _check_field_selector(self, rt: ResourceType, selector: str) -> str:
        """400 for a field the type cannot be selected by; the selector storage applies
        (labels that are not the stored object's paths translated, as kube's
        field label conversion and ToSelectableFields do; a boolean field absent from
        the stored JSON reads "false", as kube prints it: ``selectable_terms``)."""
        allowed = {"metadata.name", "metadata.namespace", *rt.field_selectors}
        for term in filter(None, (t.strip() for t in selector.split(","))):
            match = _FIELD_TERM.match(term)
            field_name = match.group(1) if match else term
            if field_name not in allowed:
                # kube-apiserver's words (ConvertFieldLabel); kubectl itself prefixes them
                # with 'Unable to find "/v1, Resource=pods" that match label selector ...'.
                raise errors.bad_request(field_selector_error(rt, field_name))
        parsed = selectors.parse_field_selector(selector)
        paths = tuple(
            dataclasses.replace(t, path=field_selector_path(rt, t.path)) for t in parsed.terms
        )
        terms = selectable_terms(rt.group, rt.resource, paths)
        if terms == parsed.terms:
            return selector
        return str(selectors.FieldSelector(terms))

    async def list(self, target: Target, options: ReadOptions) -> Result:
        rt = self.resolve(target)
        if "list" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "list")
        fields = self._check_field_selector(rt, options.field_selector)
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
        items = [self._to_served(rt, item) for item in listed.items]
        list_meta: Obj = {"resourceVersion": str(listed.resource_version)}
        if listed.continue_token:
            list_meta["continue"] = listed.continue_token
        if listed.remaining_item_count is not None:
            list_meta["remainingItemCount"] = listed.remaining_item_count
        if options.rendering == "object":
            head = orjson.dumps(
                {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta}
            )
            return Result(list_body(head, [*map(ListItems(rt.kind, rt.api_version), items)]))
        objects = [orjson.loads(item) for item in items]
        return Result(orjson.dumps(self._render_items(rt, objects, options, list_meta)))

    def _render_items(
        self,
        rt: ResourceType,
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
            rt,
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
        rt = self.resolve(target)
        if "watch" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "watch")
        field_selector = self._check_field_selector(rt, options.field_selector)
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
        return self._render_events(rt, options, events)

    async def _render_events(
        self, rt: ResourceType, options: ReadOptions, events: AsyncIterator[tuple[str, bytes]]
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
                data = self._to_served(rt, data)
                if options.rendering == "object":
                    yield kind, data
                    continue
                rendered = self._render_items(
                    rt, [orjson.loads(data)], options, {}, single=True, with_columns=first
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
