"""The storage domain: Kubernetes objects over a revision-keyed backend.

What kube-apiserver's ``storage/etcd3`` store does, minus codecs: objects are JSON
bytes, keys follow ``keys``, ``metadata.resourceVersion`` is the etcd revision (cleared
before writing, set on the way out), updates and deletes are compare-and-swap, lists
paginate at one revision, and watches filter with label and field selectors.

Knows nothing of gRPC. Raises ``storage_errors`` for what the backend reports
(``KeyNotFound``, ``KeyExists``, ``Conflict``, ``Compacted``, ``FutureRevision``,
``Unavailable``) — the adapter turns them into Status errors with the request's
resource — and ``kapi.errors.bad_request`` for malformed input (selectors, tokens,
resource versions, names).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson

from kapi import errors, selectors
from services.storage import continue_token as tokens
from services.storage import keys, objects, storage_errors, watch
from services.storage.backend import Backend
from services.storage.model import Health, ObjectList, ResourceRef, StoredObject, WatchEvent

# A filtered page is filled by reading more keys per round, doubling up to this many.
MAX_FETCH = 10_000

DEFAULT_BOOKMARK_INTERVAL = 60.0


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


class Store:
    """CRUD, list and watch of JSON objects on a ``Backend``."""

    def __init__(
        self, backend: Backend, *, bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL
    ) -> None:
        self._backend = backend
        self._bookmark_interval = bookmark_interval

    @property
    def backend(self) -> Backend:
        return self._backend

    async def create(
        self, ref: ResourceRef, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> StoredObject:
        """Store a new object. ``KeyExists`` if one is there.

        A dry run checks the key is free and returns the object as it would be stored,
        without a resourceVersion (nothing was written).
        """
        key = keys.object_key(ref, namespace, name)
        decoded = objects.decode(obj)
        data = objects.for_storage(decoded)
        if dry_run:
            try:
                await self._backend.get(key)
            except storage_errors.KeyNotFound:
                return StoredObject(data, 0)
            raise storage_errors.KeyExists(key)
        revision = await self._backend.create(key, data)
        return StoredObject(objects.with_revision(decoded, revision), revision)

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, resource_version: str = ""
    ) -> StoredObject:
        """The object, read from etcd's quorum. ``KeyNotFound`` if absent.

        A non-zero ``resource_version`` asks for state not older than it:
        ``FutureRevision`` when the store has not reached it.
        """
        key = keys.object_key(ref, namespace, name)
        minimum = parse_resource_version(resource_version)
        kv = await self._backend.get(key)
        if minimum:
            current = await self._backend.current_revision()
            if current < minimum:
                raise storage_errors.FutureRevision(minimum, current)
        return StoredObject(
            objects.stored_with_revision(kv.value, kv.mod_revision), kv.mod_revision
        )

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
        """One page of matching objects, as ``etcd3.store.GetList``.

        ``resource_version`` "" reads the latest state (quorum), "0" any state (here the
        latest too); N with match ``Exact`` (or with a limit, the legacy behaviour)
        reads at N, otherwise state not older than N. Every page of a paginated list is
        read at the first page's revision, which is the list's resourceVersion.
        """
        labels = selectors.parse_label_selector(label_selector)
        fields = selectors.parse_field_selector(field_selector)
        match_all = labels.empty and fields.empty
        prefix = keys.list_prefix(ref, namespace)
        requested = parse_resource_version(resource_version)
        paging = limit > 0
        start, at, minimum = prefix, 0, 0
        if continue_token:
            if requested:
                raise errors.bad_request(
                    "specifying resource version is not allowed when using continue"
                )
            token = tokens.decode(continue_token, prefix)
            start, at = token.start_key, max(token.revision, 0)
        elif requested:
            if resource_version_match == "Exact" or (not resource_version_match and paging):
                at = requested
            elif resource_version_match in ("", "NotOlderThan"):
                minimum = requested
            else:
                raise errors.bad_request(
                    f"unknown ResourceVersionMatch value: {resource_version_match}"
                )

        items: list[bytes] = []
        fetch, key, last_key, more = limit, start, "", False
        while True:
            page = await self._backend.list(prefix, revision=at, start_key=key, limit=fetch)
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
        key = keys.object_key(ref, namespace, name)
        if expected_revision <= 0:
            raise errors.bad_request(
                "storage: an update needs the revision it replaces (expected_revision)"
            )
        decoded = objects.decode(obj)
        data = objects.for_storage(decoded)
        if dry_run:
            current = await self._backend.get(key)
            if current.mod_revision != expected_revision:
                raise storage_errors.Conflict(
                    key, expected=expected_revision, actual=current.mod_revision
                )
            return StoredObject(
                objects.with_revision(decoded, expected_revision), expected_revision
            )
        revision = await self._backend.update(key, data, expected_revision)
        return StoredObject(objects.with_revision(decoded, revision), revision)

    async def delete(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        dry_run: bool = False,
    ) -> StoredObject:
        """Delete (only at ``expected_revision`` when non-zero); the deleted object.

        The returned object carries its last resourceVersion; ``resource_version`` is
        the delete's revision (the dry run's: the object's current one).
        """
        key = keys.object_key(ref, namespace, name)
        expected = expected_revision or None
        if dry_run:
            current = await self._backend.get(key)
            if expected is not None and current.mod_revision != expected:
                raise storage_errors.Conflict(key, expected=expected, actual=current.mod_revision)
            return StoredObject(
                objects.stored_with_revision(current.value, current.mod_revision),
                current.mod_revision,
            )
        previous, revision = await self._backend.delete(key, expected)
        return StoredObject(
            objects.stored_with_revision(previous.value, previous.mod_revision), revision
        )

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
        """Events of matching objects after ``resource_version``; see ``watch.stream``.

        ``""``/``"0"`` (or ``send_initial_events``) first sends an ADDED event per
        current object. Selectors and arguments are checked before anything is sent.
        """
        labels = selectors.parse_label_selector(label_selector)
        fields = selectors.parse_field_selector(field_selector)
        return watch.stream(
            self._backend,
            keys.list_prefix(ref, namespace),
            watch.Options(
                labels=labels,
                fields=fields,
                resource_version=parse_resource_version(resource_version),
                initial_events=resource_version in ("", "0") or send_initial_events,
                initial_events_end_bookmark=send_initial_events and allow_bookmarks,
                allow_bookmarks=allow_bookmarks,
                bookmark_interval=self._bookmark_interval,
                timeout=max(timeout_seconds, 0),
            ),
        )

    async def health(self) -> Health:
        """Whether the backend answers a linearizable read."""
        try:
            revision = await self._backend.current_revision()
        except storage_errors.StorageError as exc:
            return Health(False, str(exc))
        return Health(True, f"ok (revision {revision})")
