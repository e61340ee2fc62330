"""The registry domain: resolves a request to its type and runs it through the strategy,
admission and storage. Knows nothing of gRPC or HTTP.
"""

from __future__ import annotations

import builtins
import copy
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from kapi import errors, selectors
from services.registry import patching, pipeline, printers
from services.registry.ports import AdmissionPort, AdmissionTarget, StoragePort, Where
from services.registry.strategies import strategy_for
from services.registry.strategies.core import ServiceStrategy
from services.registry.types import ResourceType, TypeTable

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RENDERINGS = ("object", "table", "table-v1beta1", "metadata")


@dataclass(frozen=True)
class Target:
    group: str
    version: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user: Any = None


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


def _where(rt: ResourceType) -> Where:
    return Where(
        group=rt.group, resource=rt.resource, key_prefix=rt.etcd_prefix, namespaced=rt.namespaced
    )


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

    # --- resolution ---------------------------------------------------------------

    def resolve(self, target: Target) -> ResourceType:
        rt = self.table.lookup(target.group, target.version, target.resource)
        if rt is None:
            raise errors.not_found_path()
        if target.subresource and target.subresource not in rt.subresources:
            raise errors.not_found_path()
        return rt

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

    async def create(self, target: Target, body: bytes, *, dry_run: bool = False) -> Result:
        rt = self.resolve(target)
        if target.subresource or "create" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "create")
        strategy = strategy_for(rt.group, rt.resource)
        obj = pipeline.prepare_create(rt, strategy, _loads(body), target.namespace)
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
        if rt.resource == "namespaces" and not rt.group and not dry_run:
            await self._after_namespace_created(name, target.user)
        return Result(stored, 201, warnings + strategy.warnings(obj))

    async def _allocate_cluster_ip(self, strategy: ServiceStrategy, obj: Obj) -> None:
        rt = self.table.lookup("", "v1", "services")
        assert rt is not None
        listed = await self.storage.list(_where(rt), "")
        taken = {
            (orjson.loads(item).get("spec") or {}).get("clusterIP", "") for item in listed.items
        }
        strategy.allocate_cluster_ip(obj, taken)

    async def _after_namespace_created(self, namespace: str, user: Any) -> None:
        """What kube's service-account controller does: every namespace has ``default``."""
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        try:
            await self.create(
                Target("", "v1", "serviceaccounts", namespace=namespace, user=user),
                orjson.dumps(sa),
            )
        except errors.StatusError as err:
            if err.reason != "AlreadyExists":
                log.warning("default service account in %s: %s", namespace, err.message)

    async def update(self, target: Target, body: bytes, *, dry_run: bool = False) -> Result:
        rt = self.resolve(target)
        if "update" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "update")
        new = _loads(body)
        pipeline.check_name_matches(new, target.name)
        pipeline.set_namespace(rt, new, target.namespace)
        wanted_rv = str((new.get("metadata") or {}).get("resourceVersion") or "")

        def replace(current: Obj) -> Obj:
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.resource, rt.group, target.name)
            return copy.deepcopy(new)

        return await self._guaranteed_update(
            rt, target, replace, dry_run=dry_run, retry=not wanted_rv
        )

    async def patch(
        self, target: Target, patch_type: str, patch: bytes, *, dry_run: bool = False
    ) -> Result:
        rt = self.resolve(target)
        if "patch" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "patch")
        if patch_type not in patching.PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type)

        def apply(current: Obj) -> Obj:
            patched = patching.apply_patch(patch_type, current, patch)
            meta = patched.get("metadata")
            wanted = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.resource, rt.group, target.name)
            return patched

        return await self._guaranteed_update(rt, target, apply, dry_run=dry_run, retry=True)

    async def _guaranteed_update(
        self,
        rt: ResourceType,
        target: Target,
        change: Callable[[Obj], Obj],
        *,
        dry_run: bool,
        retry: bool,
    ) -> Result:
        """Read, change, prepare, admit, validate, then compare-and-swap on the revision;
        on a conflict, start again from the latest object when ``retry``."""
        strategy = strategy_for(rt.group, rt.resource)
        where = _where(rt)
        namespace = target.namespace if rt.namespaced else ""
        for _attempt in range(5):
            current = _loads(await self.storage.get(where, namespace, target.name))
            current_rv = int(current["metadata"]["resourceVersion"])
            candidate = change(current)
            pipeline.set_namespace(rt, candidate, target.namespace)
            candidate = pipeline.prepare_update(
                rt, strategy, candidate, current, subresource=target.subresource
            )
            admission = self._admission_target(rt, target, "UPDATE", target.name, dry_run)
            mutated, warnings = await self.admission.admit(
                "mutating", admission, candidate, current
            )
            candidate = mutated if mutated is not None else candidate
            pipeline.validate_update(rt, strategy, candidate, current)
            _, more = await self.admission.admit("validating", admission, candidate, current)
            warnings += more
            candidate["metadata"].pop("resourceVersion", None)
            unchanged = {
                **current,
                "metadata": {
                    k: v for k, v in current["metadata"].items() if k != "resourceVersion"
                },
            }
            if candidate == unchanged:
                return Result(orjson.dumps(current), 200, warnings)
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
        rt = self.resolve(target)
        if target.subresource or "delete" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "delete")
        strategy = strategy_for(rt.group, rt.resource)
        where = _where(rt)
        namespace = target.namespace if rt.namespaced else ""
        current = _loads(await self.storage.get(where, namespace, target.name))
        meta = current.get("metadata") or {}
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise errors.conflict(
                rt.resource,
                rt.group,
                target.name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != str(
            meta.get("resourceVersion")
        ):
            raise errors.conflict(
                rt.resource,
                rt.group,
                target.name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                f"{meta.get('resourceVersion')}",
            )
        admission = self._admission_target(rt, target, "DELETE", target.name, dry_run)
        await self.admission.admit("mutating", admission, None, current)
        await self.admission.admit("validating", admission, None, current)
        revision = int(meta["resourceVersion"])
        if rt.resource == "namespaces" and not rt.group:
            deleted = await self._delete_namespace(target, current, dry_run=dry_run)
        elif meta.get("finalizers"):
            deleted = await self._mark_deleted(where, namespace, current, dry_run=dry_run)
            return Result(deleted, 200)
        else:
            deleted = await self.storage.delete(
                where, namespace, target.name, expected_revision=revision, dry_run=dry_run
            )
        if strategy.return_deleted_object:
            return Result(deleted, 200)
        details: Obj = {"name": target.name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.resource
        details["uid"] = meta.get("uid", "")
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
        return Result(orjson.dumps(status), 200)

    async def _mark_deleted(
        self, where: Where, namespace: str, current: Obj, *, dry_run: bool
    ) -> bytes:
        """Objects with finalizers are marked, not removed (graceful deletion)."""
        meta = current["metadata"]
        if meta.get("deletionTimestamp"):
            return orjson.dumps(current)
        marked = copy.deepcopy(current)
        marked["metadata"]["deletionTimestamp"] = pipeline.now_rfc3339()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        revision = int(marked["metadata"].pop("resourceVersion"))
        return await self.storage.update(
            where,
            namespace,
            meta["name"],
            orjson.dumps(marked),
            expected_revision=revision,
            dry_run=dry_run,
        )

    async def _delete_namespace(self, target: Target, current: Obj, *, dry_run: bool) -> bytes:
        """What the namespace controller does, done in the request: mark the namespace
        Terminating, delete its content, then remove it."""
        rt = self.resolve(target)
        where = _where(rt)
        terminating = copy.deepcopy(current)
        terminating["metadata"]["deletionTimestamp"] = pipeline.now_rfc3339()
        terminating.setdefault("status", {})["phase"] = "Terminating"
        revision = int(terminating["metadata"].pop("resourceVersion"))
        marked = await self.storage.update(
            where,
            "",
            target.name,
            orjson.dumps(terminating),
            expected_revision=revision,
            dry_run=dry_run,
        )
        if dry_run:
            return marked
        for content in self.table.types:
            if not content.namespaced:
                continue
            listed = await self.storage.list(_where(content), target.name)
            for item in listed.items:
                name = orjson.loads(item)["metadata"]["name"]
                try:
                    await self.storage.delete(_where(content), target.name, name)
                except errors.StatusError as err:
                    if err.code != 404:
                        raise
        try:
            await self.storage.delete(where, "", target.name)
        except errors.StatusError as err:
            if err.code != 404:
                raise
        return marked

    # --- reads --------------------------------------------------------------------

    async def get(self, target: Target, options: ReadOptions) -> Result:
        rt = self.resolve(target)
        if "get" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "get")
        namespace = target.namespace if rt.namespaced else ""
        data = await self.storage.get(
            _where(rt), namespace, target.name, resource_version=options.resource_version
        )
        if options.rendering == "object":
            return Result(data)
        obj = orjson.loads(data)
        return Result(orjson.dumps(self._render_items(rt, [obj], options, {}, single=True)))

    def _check_field_selector(self, rt: ResourceType, selector: str) -> None:
        allowed = {"metadata.name", "metadata.namespace", *rt.field_selectors}
        for term in filter(None, (t.strip() for t in selector.split(","))):
            match = _FIELD_TERM.match(term)
            field_name = match.group(1) if match else term
            if field_name not in allowed:
                # kube-apiserver's words (ConvertFieldLabel); kubectl itself prefixes them
                # with 'Unable to find "/v1, Resource=pods" that match label selector ...'.
                raise errors.bad_request(f"field label not supported: {field_name}")

    async def list(self, target: Target, options: ReadOptions) -> Result:
        rt = self.resolve(target)
        if "list" not in rt.verbs:
            raise errors.method_not_supported(rt.resource, rt.group, "list")
        self._check_field_selector(rt, options.field_selector)
        listed = await self.storage.list(
            _where(rt),
            target.namespace if rt.namespaced else "",
            label_selector=options.label_selector,
            field_selector=options.field_selector,
            limit=options.limit,
            continue_token=options.continue_token,
            resource_version=options.resource_version,
            resource_version_match=options.resource_version_match,
        )
        list_meta: Obj = {"resourceVersion": str(listed.resource_version)}
        if listed.continue_token:
            list_meta["continue"] = listed.continue_token
        if listed.remaining_item_count is not None:
            list_meta["remainingItemCount"] = listed.remaining_item_count
        if options.rendering == "object":
            head = orjson.dumps(
                {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta}
            )
            return Result(head[:-1] + b',"items":[' + b",".join(listed.items) + b"]}")
        objects = [orjson.loads(item) for item in listed.items]
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
        self._check_field_selector(rt, options.field_selector)
        selectors.parse_label_selector(options.label_selector)
        field_selector = options.field_selector
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
            await self._after_namespace_created(name, user)
