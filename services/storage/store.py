"""The storage domain: Kubernetes objects over a revision-keyed backend and its watch cache.

What kube-apiserver's ``storage/etcd3`` store and ``cacher`` do together, minus codecs:
objects are JSON bytes, keys follow ``keys``, ``metadata.resourceVersion`` is the etcd
revision (cleared before writing, set on the way out), updates and deletes are
compare-and-swap, lists paginate at one revision, and watches filter with label and
field selectors.

Where a read is served from, as kube-apiserver decides it:

- ``resourceVersion=""``: a consistent (quorum) read of the backend.
- ``"0"``: any state — the watch cache, and whole: a list ignores ``limit`` there, as
  kube-apiserver 1.32's cacher does (client-go's reflectors list with ``limit=500`` at
  ``"0"`` and get every object in one reply, never a page to continue from etcd).
- ``N`` (``NotOlderThan``, the default): the cache when it has reached N; else the
  backend, once it has reached N. A revision the backend does not reach within
  ``future_wait`` (3 s, as kube-apiserver waits) is ``FutureRevision`` (504).
- ``N`` with ``Exact`` (or, for a paginated list, no match: the legacy rule), and every
  ``continue``: the backend at that revision (``Compacted`` when gone).
- Every watch: the cache (see ``cache.py``); its initial state, when asked for, from the
  cache when fresh enough, else from a backend list at the revision the watch starts.

``current_revision`` is what a consistent read from a copy of a cache one layer up
needs: the backend's revision, read after the call, and a summary of each named cache
once it has reached that revision (see ``WatchCache.summary``).

Knows nothing of gRPC. Raises ``storage_errors`` for what the backend reports
(``KeyNotFound``, ``KeyExists``, ``Conflict``, ``Compacted``, ``ContinueExpired``,
``FutureRevision``, ``PreconditionFailed``, ``TooLarge``, ``Unavailable``) — the adapter
turns them into Status errors with the request's resource — and ``kapi.errors.bad_request``
for malformed input (selectors, tokens, resource versions, names).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import dataclasses
import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import orjson

from kapi import batching, errors, selectors
from services.storage import continue_token as tokens
from services.storage import keys, objects, storage_errors, watch
from services.storage.backend import Backend, KeyValue
from services.storage.cache import CacheConfig, CacheSet, WatchCache
from services.storage.cache_watcher import CacheWatcher, WatcherOptions
from services.storage.cached import CachedObject
from services.storage.compactor import Compactor
from services.storage.metrics import StorageMetrics, type_label
from services.storage.model import (
    Health,
    ObjectList,
    Preconditions,
    ResourceRef,
    StoredObject,
    WatchEvent,
)
from services.storage.predicate import Predicate
from services.storage.write_log import WriteLog

JSON = dict[str, Any]

# A filtered page is filled by reading more keys per round, doubling up to this many.
MAX_FETCH = 10_000

# kube-apiserver's watch cache waits this long for a resourceVersion it has not reached,
# and as long for a consistent read's revision (its cacher's blockTimeout).
DEFAULT_FUTURE_WAIT = 3.0
FRESH_WAIT = 3.0

MATCHES = ("", "NotOlderThan", "Exact")

TryUpdate = Callable[[JSON], JSON | Awaitable[JSON]]


def parse_resource_version(value: str) -> int:
    """``""`` and ``"0"`` are 0 (latest / any); else a positive revision, or BadRequest."""
    if value in ("", "0"):
        return 0
    if value.isascii() and value.isdigit():
        return int(value)
    detail = f"strconv.ParseUint: parsing {errors.quote(value)}: invalid syntax"
    raise errors.bad_request(
        f"invalid resource version: {errors.invalid_value('resourceVersion', value, detail)}"
    )


def _stored(kv: KeyValue) -> StoredObject:
    return StoredObject(objects.stored_with_revision(kv.value, kv.mod_revision), kv.mod_revision)


def _check_size(key: str, obj: bytes) -> None:
    """``TooLarge`` for an object the backend cannot take in one write, refused before it
    is decoded (up to ~32 times its size in Python) or sent. The bytes the registry sends
    are what is stored (compact JSON, no resourceVersion), so this is the stored size."""
    if len(obj) > storage_errors.MAX_VALUE_BYTES:
        raise storage_errors.TooLarge(key)


def _check_preconditions(key: str, current: JSON, preconditions: Preconditions | None) -> None:
    """``storage.Preconditions.Check``, in its words."""
    if preconditions is None:
        return
    metadata = current.get("metadata") or {}
    if preconditions.uid and preconditions.uid != metadata.get("uid"):
        raise storage_errors.PreconditionFailed(
            key,
            f"Precondition failed: UID in precondition: {preconditions.uid}, "
            f"UID in object meta: {metadata.get('uid', '')}",
        )
    wanted = preconditions.resource_version
    if wanted and wanted != metadata.get("resourceVersion"):
        raise storage_errors.PreconditionFailed(
            key,
            f"Precondition failed: ResourceVersion in precondition: {wanted}, "
            f"ResourceVersion in object meta: {metadata.get('resourceVersion', '')}",
        )


class Store:
    """CRUD, list and watch of JSON objects on a ``Backend``, with a watch cache.

    ``start()`` begins periodic compaction (when ``compaction_interval`` > 0);
    ``close()`` stops it and the caches. The backend is the caller's to close.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache: CacheConfig | None = None,
        bookmark_interval: float | None = None,
        future_wait: float = DEFAULT_FUTURE_WAIT,
        compaction_interval: float = 0.0,
        etcd_prefix: str = keys.DEFAULT_PREFIX,
        metrics: StorageMetrics | None = None,
    ) -> None:
        """``bookmark_interval``, when given, overrides ``cache.bookmark_interval``;
        ``etcd_prefix`` is where every key begins (kube-apiserver's ``--etcd-prefix``);
        ``metrics`` (else a registry of its own) counts each etcd call."""
        self._backend = backend
        self._keys = keys.KeyLayout(etcd_prefix)
        config = cache or CacheConfig()
        if bookmark_interval is not None:
            config = dataclasses.replace(config, bookmark_interval=bookmark_interval)
        self._caches = CacheSet(backend, config)
        self._future_wait = future_wait
        self._compactor = Compactor(backend, compaction_interval)
        # Concurrent callers share one read of the backend's revision, made after they
        # all asked (a read begun before a caller asked could miss what it must see).
        self._revisions: batching.Batcher[None, int] = batching.Batcher(self._read_revisions)
        self._writes = WriteLog()  # what this process wrote, for consistent reads
        # Each resource asked about, by its metrics label (key prefix -> label, and back).
        self._labels: dict[ResourceRef, str] = {}
        self._refs: dict[str, ResourceRef] = {}
        self.metrics = metrics if metrics is not None else StorageMetrics()
        self.metrics.bind(self._caches, backend, self._refs, self._keys)

    def _type(self, ref: ResourceRef) -> str:
        """The resource's label in the etcd metrics (``GroupResource.String()``)."""
        label = self._labels.get(ref)
        if label is None:
            label = self._labels[ref] = type_label(ref)
            self._refs[label] = ref
        return label

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def keys(self) -> keys.KeyLayout:
        """Where each resource's objects live in the backend."""
        return self._keys

    @property
    def caches(self) -> CacheSet:
        return self._caches

    @property
    def compactor(self) -> Compactor:
        return self._compactor

    def start(self) -> None:
        self._compactor.start()

    async def close(self) -> None:
        await self._revisions.close()
        await self._compactor.close()
        await self._caches.close()

    async def _read_revisions(self, asks: list[None]) -> list[int]:
        revision = await self._backend.current_revision()
        return [revision] * len(asks)

    async def current_revision(
        self, refs: Sequence[ResourceRef], *, timeout: float = FRESH_WAIT
    ) -> tuple[int, list[tuple[int, int]]]:
        """The backend's revision, read after this call began, and each of ``refs``'s
        cache ``summary()`` once that cache has every change up to the revision
        (``Unavailable`` if one cannot tell within ``timeout``)."""
        revision = await self._revisions.call(None)
        summaries = []
        for ref in refs:
            cache = await self._cache(ref)
            elsewhere = functools.partial(self._writes.only_elsewhere, root=cache.root)
            await cache.wait_fresh(revision, timeout, elsewhere)
            summaries.append(cache.summary())
        return revision, summaries

    async def _cache(self, ref: ResourceRef, from_revision: int = 0) -> WatchCache:
        return await self._caches.get(
            self._keys.root(ref) + "/",
            namespaced=ref.namespaced,
            from_revision=from_revision,
            resource=self._type(ref),
        )

    async def _reach(self, revision: int) -> int:
        """The backend's revision once it is at least ``revision``, waiting up to
        ``future_wait``; ``FutureRevision`` if it does not get there."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._future_wait
        while True:
            current = await self._backend.current_revision()
            if current >= revision:
                return current
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise storage_errors.FutureRevision(revision, current)
            await asyncio.sleep(min(0.05, remaining))

    # --- writes -----------------------------------------------------------------------

    async def create(
        self, ref: ResourceRef, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> StoredObject:
        """Store a new object. ``KeyExists`` if one is there.

        A dry run checks the key is free and returns the object as it would be stored,
        without a resourceVersion (nothing was written).
        """
        key = self._keys.object_key(ref, namespace, name)
        _check_size(key, obj)
        decoded = objects.decode(obj)
        data = objects.for_storage(decoded)
        etcd, type_ = self.metrics.etcd, self._type(ref)
        if dry_run:
            try:
                await etcd("get", type_, self._backend.get(key))
            except storage_errors.KeyNotFound:
                return StoredObject(data, 0)
            raise storage_errors.KeyExists(key)
        revision = await etcd("create", type_, self._backend.create(key, data))
        self._writes.record(revision, key)
        return StoredObject(objects.with_revision(decoded, revision), revision)

    async def update(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> StoredObject:
        """Compare-and-swap: write only if the object is still at ``expected_revision``.

        ``KeyNotFound`` if absent, ``Conflict`` if it moved on. A dry run checks the
        same and returns the object at its current revision.
        """
        key = self._keys.object_key(ref, namespace, name)
        if expected_revision <= 0:
            raise errors.bad_request(
                "storage: an update needs the revision it replaces (expected_revision)"
            )
        _check_size(key, obj)
        decoded = objects.decode(obj)
        data = objects.for_storage(decoded)
        etcd, type_ = self.metrics.etcd, self._type(ref)
        if dry_run:
            current = await etcd("get", type_, self._backend.get(key))
            if current.mod_revision != expected_revision:
                raise storage_errors.Conflict(
                    key, expected=expected_revision, actual=current.mod_revision
                )
            return StoredObject(
                objects.with_revision(decoded, expected_revision), expected_revision
            )
        revision = await etcd("update", type_, self._backend.update(key, data, expected_revision))
        self._writes.record(revision, key)
        return StoredObject(objects.with_revision(decoded, revision), revision)

    async def guaranteed_update(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        try_update: TryUpdate,
        *,
        preconditions: Preconditions | None = None,
    ) -> StoredObject:
        """Read, check ``preconditions``, apply ``try_update``, compare-and-swap; on a
        lost race, again from the latest object (``storage.Interface.GuaranteedUpdate``).

        ``try_update`` gets a copy of the current object (with its resourceVersion) and
        returns the new one (it may raise to abort). When the result is stored as it
        already is, nothing is written and the resourceVersion does not move.
        ``KeyNotFound`` if absent, ``PreconditionFailed`` if a precondition fails.
        """
        key = self._keys.object_key(ref, namespace, name)
        etcd, type_ = self.metrics.etcd, self._type(ref)
        while True:
            kv = await etcd("get", type_, self._backend.get(key))
            current = orjson.loads(objects.stored_with_revision(kv.value, kv.mod_revision))
            _check_preconditions(key, current, preconditions)
            result = try_update(copy.deepcopy(current))
            updated = await result if isinstance(result, Awaitable) else result
            data = objects.for_storage(updated)
            if data == kv.value:
                return _stored(kv)
            _check_size(key, data)
            try:
                revision = await etcd(
                    "update", type_, self._backend.update(key, data, kv.mod_revision)
                )
                self._writes.record(revision, key)
            except storage_errors.Conflict:
                continue
            return StoredObject(objects.stored_with_revision(data, revision), revision)

    async def delete(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        preconditions: Preconditions | None = None,
        dry_run: bool = False,
    ) -> StoredObject:
        """Delete (only at ``expected_revision`` when non-zero); the deleted object.

        With ``preconditions``, the current object must satisfy them: checked on the
        latest object and retried when it changes before the delete lands
        (``PreconditionFailed`` when they do not hold). The returned object carries its
        last resourceVersion; ``resource_version`` is the delete's revision (the dry
        run's: the object's current one).
        """
        key = self._keys.object_key(ref, namespace, name)
        expected = expected_revision or None
        etcd, type_ = self.metrics.etcd, self._type(ref)
        while True:
            if preconditions is not None or dry_run:
                current = await etcd("get", type_, self._backend.get(key))
                if expected is not None and current.mod_revision != expected:
                    raise storage_errors.Conflict(
                        key, expected=expected, actual=current.mod_revision
                    )
                if preconditions is not None:
                    obj = orjson.loads(
                        objects.stored_with_revision(current.value, current.mod_revision)
                    )
                    _check_preconditions(key, obj, preconditions)
                if dry_run:
                    return _stored(current)
                at: int | None = current.mod_revision
            else:
                at = expected
            try:
                previous, revision = await etcd("delete", type_, self._backend.delete(key, at))
                self._writes.record(revision, key)
            except storage_errors.Conflict:
                if preconditions is not None and expected is None:
                    continue  # it changed since we checked: check the latest again
                raise
            return StoredObject(
                objects.stored_with_revision(previous.value, previous.mod_revision), revision
            )

    # --- reads ------------------------------------------------------------------------

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject:
        """The object. ``KeyNotFound`` if absent.

        ``""``: a quorum read. ``"0"``: from the watch cache. ``N``: from the cache
        once it has reached N, else from the backend once that has
        (``FutureRevision`` if it does not within ``future_wait``).
        """
        key = self._keys.object_key(ref, namespace, name)
        minimum = parse_resource_version(resource_version)
        if resource_version == "":
            return _stored(await self.metrics.etcd("get", self._type(ref), self._backend.get(key)))
        cache = await self._cache(ref)
        if cache.revision >= minimum:
            cached = cache.get(key)
            if cached is None:
                raise storage_errors.KeyNotFound(key)
            return StoredObject(cached.data, cached.revision)
        await self._reach(minimum)
        return _stored(await self.metrics.etcd("get", self._type(ref), self._backend.get(key)))

    async def list(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> ObjectList:
        """One page of matching objects, as ``cacher.GetList`` / ``etcd3.store.GetList``.

        See the module docstring for where it is read from. Every page of a paginated
        list is read at the first page's revision, which is the list's
        resourceVersion; an expired token is ``ContinueExpired`` with a token to
        continue inconsistently at the latest revision.
        """
        labels = selectors.parse_label_selector(label_selector)
        fields = selectors.parse_field_selector(field_selector)
        prefix = self._keys.list_prefix(ref, namespace)
        requested = parse_resource_version(resource_version)
        if resource_version_match not in MATCHES:
            raise errors.bad_request(
                f"unknown ResourceVersionMatch value: {resource_version_match}"
            )
        if continue_token:
            if requested:
                raise errors.bad_request(
                    "specifying resource version is not allowed when using continue"
                )
            token = tokens.decode(continue_token, prefix)
            try:
                return await self._list_backend(
                    prefix,
                    labels,
                    fields,
                    limit,
                    start=token.start_key,
                    at=max(token.revision, 0),
                    type_=self._type(ref),
                )
            except storage_errors.Compacted:
                fresh = tokens.encode(token.start_key, prefix, -1)
                raise storage_errors.ContinueExpired(token.revision, fresh) from None
        exact = resource_version_match == "Exact" or (not resource_version_match and limit > 0)
        if resource_version == "0" or (requested and not exact):
            cache = await self._cache(ref)
            if cache.revision >= requested:
                namespace = namespace if ref.namespaced else ""
                predicate = Predicate.build(labels, fields, namespace=namespace)
                page = 0 if resource_version == "0" else limit  # see the module docstring
                return self._list_cache(cache, prefix, predicate, page, ref.namespaced)
        if requested:
            await self._reach(requested)
        return await self._list_backend(
            prefix,
            labels,
            fields,
            limit,
            at=requested if exact else 0,
            minimum=requested,
            type_=self._type(ref),
        )

    @staticmethod
    def _list_cache(
        cache: WatchCache, prefix: str, predicate: Predicate, limit: int, namespaced: bool
    ) -> ObjectList:
        """A list from the cache at its revision: concatenated final JSON, no decoding
        unless a selector reads a field beyond name, namespace and labels."""
        revision = cache.revision
        candidates: list[CachedObject]
        if predicate.name is not None and (not namespaced or predicate.namespace is not None):
            # One object at most (kubectl wait, informers of one object): no scan.
            key = cache.root + (f"{predicate.namespace}/" if namespaced else "") + predicate.name
            one = cache.get(key) if key.startswith(prefix) else None
            candidates = [one] if one is not None else []
        else:
            candidates = cache.objects_under(prefix)
        match_all = predicate.labels.empty and predicate.fields.empty
        if match_all:
            selected = candidates
        else:
            selected = []
            for obj in candidates:
                if predicate.matches(obj, obj.decode):
                    selected.append(obj)
                    if 0 < limit < len(selected):
                        break
        if limit <= 0 or len(selected) <= limit:
            return ObjectList([o.data for o in selected], revision)
        page = selected[:limit]
        last = page[-1].key
        token = tokens.encode(last + "\x00", prefix, revision)
        remaining = len(candidates) - limit if match_all else None
        return ObjectList([o.data for o in page], revision, token, remaining)

    async def _list_backend(
        self,
        prefix: str,
        labels: selectors.LabelSelector,
        fields: selectors.FieldSelector,
        limit: int,
        *,
        start: str = "",
        at: int = 0,
        minimum: int = 0,
        type_: str,
    ) -> ObjectList:
        """A list read from the backend at ``at`` (0: the latest, not older than
        ``minimum``), filled past non-matching keys for a selector."""
        match_all = labels.empty and fields.empty
        paging = limit > 0
        items: list[bytes] = []
        fetch, key, last_key, more = limit, start or prefix, "", False
        while True:
            page = await self.metrics.etcd(
                "list", type_, self._backend.list(prefix, revision=at, start_key=key, limit=fetch)
            )
            if not at:
                at = page.revision  # later rounds and pages read this same snapshot
                if page.revision < minimum:
                    raise storage_errors.FutureRevision(minimum, page.revision)
            more = page.more
            for kv in page.items:
                if paging and len(items) >= limit:
                    more = True
                    break
                last_key = kv.key
                obj = orjson.loads(kv.value)
                if match_all or (labels.matches(obj) and fields.matches(obj)):
                    items.append(objects.with_revision(obj, kv.mod_revision))
            if not more or not paging or len(items) >= limit:
                break
            fetch = min(fetch * 2, MAX_FETCH)
            key = last_key + "\x00"

        if not more:
            return ObjectList(items, at)
        # Selectors make the count of keys left an overestimate: give none rather than a
        # wrong one, as kube-apiserver does.
        remaining = page.count - len(page.items) if match_all else None
        token_out = tokens.encode(last_key + "\x00", prefix, at)
        return ObjectList(items, at, token_out, remaining)

    # --- watch --------------------------------------------------------------------------

    def watch(
        self,
        ref: ResourceRef,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: float = 0,
        send_initial_events: bool = False,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events of matching objects, from the watch cache.

        ``""`` / ``"0"`` (or ``send_initial_events``) first send an ADDED event per
        current object — ``""`` a consistent state, ``"0"`` any, ``N`` with
        ``send_initial_events`` one not older than N — then, with
        ``send_initial_events`` and ``allow_bookmarks``, a BOOKMARK annotated
        ``k8s.io/initial-events-end``. ``N`` alone: the changes after N, or an in-band
        410 Expired when N is older than the cache's window. Selectors and arguments
        are checked before anything is sent.
        """
        labels = selectors.parse_label_selector(label_selector)
        fields = selectors.parse_field_selector(field_selector)
        requested = parse_resource_version(resource_version)
        prefix = self._keys.list_prefix(ref, namespace)
        predicate = Predicate.build(labels, fields, namespace=namespace if ref.namespaced else "")
        config = self._caches.config
        options = WatcherOptions(
            allow_bookmarks=allow_bookmarks,
            bookmark_interval=config.bookmark_interval,
            timeout=max(timeout_seconds, 0),
            buffer=config.watcher_buffer,
        )
        initial = send_initial_events or resource_version in ("", "0")
        return self._watch(
            ref,
            prefix,
            predicate,
            options,
            resource_version=resource_version,
            requested=requested,
            initial=initial,
            end_bookmark=send_initial_events and allow_bookmarks,
        )

    async def _watch(
        self,
        ref: ResourceRef,
        prefix: str,
        predicate: Predicate,
        options: WatcherOptions,
        *,
        resource_version: str,
        requested: int,
        initial: bool,
        end_bookmark: bool,
    ) -> AsyncGenerator[WatchEvent, None]:
        cache = await self._cache(ref, from_revision=0 if initial else requested)
        watcher: CacheWatcher
        if not initial:
            try:
                backlog = cache.events_after(requested)
            except storage_errors.Compacted as exc:
                yield watch.expired_event(requested, exc.compacted_revision)
                return
            watcher = cache.watch(predicate, options, after=requested, backlog=backlog)
        else:
            target = requested
            if resource_version == "":
                target = await self._backend.current_revision()
            if cache.revision >= target:
                revision = cache.revision
                if end_bookmark:
                    options = dataclasses.replace(options, end_bookmark=revision)
                snapshot = cache.objects_under(prefix)
                watcher = cache.watch(predicate, options, after=revision, initial=snapshot)
            else:
                if resource_version != "":  # sendInitialEvents, not older than N
                    try:
                        target = await self._reach(target)
                    except storage_errors.FutureRevision as exc:
                        err = watch.too_large_resource_version(exc.revision, exc.current)
                        yield watch.error_event(err)
                        return
                # Register first, so the events after the backend's snapshot are kept.
                watcher = cache.watch(predicate, options, after=target)
                try:
                    snapshot = await self._snapshot(cache, prefix, target)
                except BaseException:
                    watcher.close()
                    raise
                watcher.set_initial(snapshot, end_bookmark=target if end_bookmark else 0)
        async with contextlib.aclosing(watcher.events()) as events:
            async for event in events:
                yield event

    async def _snapshot(
        self, cache: WatchCache, prefix: str, revision: int
    ) -> builtins.list[CachedObject]:
        """The objects under ``prefix`` at ``revision``, read from the backend."""
        out: builtins.list[CachedObject] = []
        start = prefix
        while True:
            page = await self.metrics.etcd(
                "list",
                cache.resource,
                self._backend.list(prefix, revision=revision, start_key=start, limit=MAX_FETCH),
            )
            out.extend(cache.to_cached(kv) for kv in page.items)
            if not page.more or not page.items:
                return out
            start = page.items[-1].key + "\x00"

    async def health(self) -> Health:
        """Whether the backend answers a linearizable read."""
        try:
            revision = await self._backend.current_revision()
        except storage_errors.StorageError as exc:
            return Health(False, str(exc))
        return Health(True, f"ok (revision {revision})")
