"""``metadata.managedFields``: who owns which fields, kept on every write as kube does.

This is kube-apiserver's field manager (k8s.io/apiserver ``endpoints/handlers/fieldmanager``
and ``managedfields``) around ``ownership.Updater``, layer by layer:

- the entries are decoded from / encoded to ``metadata.managedFields`` (``FieldsV1``,
  sorted Apply before Update, then by time, manager, version, subresource); a manager is
  identified by (name, operation, apiVersion for updaters, subresource);
- on an update, the entries sent with the object are honoured (that is how clients edit
  them; ``[{}]`` resets them), else the live ones are kept; subresources always keep the
  live ones; the changed fields go to the manager, whose timestamp moves only when it
  changed something;
- ``apiVersion``, ``kind`` and the system metadata (name, namespace, uid,
  resourceVersion, generation, creationTimestamp, managedFields, selfLink) are owned by
  nobody;
- more than ten update managers are folded, oldest first, into ``ancient-changes``;
- an apply must name the object's kind and version and may not carry managedFields; its
  conflicts are a 409 worded as kube words it; ``kubectl`` applying over a client-side
  applied object takes the fields its last-applied annotation proves it set (the
  client-side to server-side upgrade) and keeps that annotation current.

A failure to track an update never fails the write: the object is stored without
managedFields, as kube's ``UpdateNoErrors`` does.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from kapi import errors
from services.registry.patching import fieldpath
from services.registry.patching.created import CreatedFields
from services.registry.patching.fieldpath import FieldsError, FieldSet
from services.registry.patching.ownership import (
    Conflict,
    ConflictsError,
    Managers,
    Updater,
    VersionedSet,
    conflict_paths,
)
from services.registry.patching.typed import Typed, TypeRef, drop_nulls

log = logging.getLogger(__name__)

Obj = dict[str, Any]

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_CURRENT_OPERATION = "\x00current-operation"

# What nobody owns (kube's stripMetaManager).
STRIPPED = FieldSet.of(
    fieldpath.make_path("apiVersion"),
    fieldpath.make_path("kind"),
    fieldpath.make_path("metadata"),
    *(
        fieldpath.make_path("metadata", name)
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ),
)


def now_rfc3339() -> str:
    """Now, to the second, as kube writes a ``metav1.Time`` (formatted once a second)."""
    return _rfc3339(int(time.time()))


@functools.lru_cache(maxsize=1)
def _rfc3339(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manager_from_user_agent(user_agent: str) -> str:
    """kube's default field manager: the User-Agent up to its first "/", printable
    characters only, at most 128 bytes (``kubectl/v1.32.4 (linux/amd64)`` → ``kubectl``)."""
    out = ""
    size = 0
    for char in user_agent.split("/", 1)[0]:
        if not char.isprintable():
            continue
        width = len(char.encode())
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out += char
        size += width
    return out


@dataclass(frozen=True)
class Identity:
    """A manager as kube tells managers apart (the time is not part of it; appliers are
    one manager whatever version they apply)."""

    manager: str
    operation: str
    api_version: str = ""
    subresource: str = ""

    @classmethod
    def of(cls, manager: str, operation: str, api_version: str, subresource: str) -> Identity:
        return cls(
            manager or "unknown",
            operation,
            "" if operation == APPLY else api_version,
            subresource,
        )

    def describe(self) -> str:
        """kube's ``printManager``: how a conflict names this manager."""
        text = orjson.dumps(self.manager).decode()
        if self.subresource:
            text += f" with subresource {orjson.dumps(self.subresource).decode()}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


def _identity_key(identity: Identity) -> str:
    return orjson.dumps(
        [identity.manager, identity.operation, identity.api_version, identity.subresource]
    ).decode()


@dataclass
class Managed:
    """Decoded managedFields: sets and times by manager identity."""

    sets: dict[Identity, VersionedSet] = field(default_factory=dict)
    times: dict[Identity, str | None] = field(default_factory=dict)

    def copy(self) -> Managed:
        return Managed(dict(self.sets), dict(self.times))


class ManagedFieldsError(ValueError):
    pass


def decode(entries: Any) -> Managed:
    """``metadata.managedFields`` → ``Managed``; ``ManagedFieldsError`` on a bad entry."""
    managed = Managed()
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ManagedFieldsError(f"managed fields entry {position} must be an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType")
        if not fields_type:
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {position}")
        if fields_type != FIELDS_V1:
            raise ManagedFieldsError(
                f'invalid fieldsType "{fields_type}" in managed fields entry {position}'
            )
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        except FieldsError as exc:
            raise ManagedFieldsError(f"error decoding versioned set: {exc}") from None
        identity = Identity(
            str(entry.get("manager") or ""),
            operation,
            "" if operation == APPLY else api_version,
            str(entry.get("subresource") or ""),
        )
        managed.sets[identity] = VersionedSet(fields, api_version, operation == APPLY)
        stamp = entry.get("time")
        managed.times[identity] = stamp if isinstance(stamp, str) else None
    return managed


def encode(managed: Managed) -> list[Obj]:
    entries: list[tuple[tuple[Any, ...], Obj]] = []
    for identity, versioned in managed.sets.items():
        operation = APPLY if versioned.applied else UPDATE
        entry: Obj = {"manager": identity.manager, "operation": operation}
        entry["apiVersion"] = versioned.api_version
        stamp = managed.times.get(identity)
        if stamp:
            entry["time"] = stamp
        entry["fieldsType"] = FIELDS_V1
        entry["fieldsV1"] = versioned.fields.to_fields_v1()
        if identity.subresource:
            entry["subresource"] = identity.subresource
        seconds = _unix(stamp)
        order = (operation, seconds, identity.manager, versioned.api_version, identity.subresource)
        entries.append((order, entry))
    entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


@functools.lru_cache(maxsize=256)
def _unix(stamp: str | None) -> int:
    if not stamp:
        return 0
    try:
        return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return 0


def is_reset(entries: Any) -> bool:
    """``[{}]``: the request asks to clear managedFields."""
    return isinstance(entries, list) and len(entries) == 1 and entries[0] == {}


def _without_managed_fields(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _set_managed(obj: Obj, managed: Managed) -> Obj:
    meta = obj.setdefault("metadata", {})
    entries = encode(managed)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    return obj


def _go_json(value: Any) -> str:
    """``json.NewEncoder(w).Encode(v)`` as Go writes it: sorted keys, HTML characters
    escaped, a trailing newline."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text + "\n"


def _annotation_size(annotations: dict[str, Any]) -> int:
    return sum(len(k) + len(str(v)) for k, v in annotations.items())


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def conflict_error(conflicts: list[Conflict], describe: Callable[[str], str]) -> errors.StatusError:
    """409 Conflict with FieldManagerConflict causes, in kube's words."""
    causes = [
        {
            "type": "FieldManagerConflict",
            "message": f"conflict with {describe(c.manager)}",
            "field": fieldpath.path_string(c.path),
        }
        for c in conflicts
    ]
    if len(conflicts) == 1:
        only = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {describe(only.manager)}: "
            f"{fieldpath.path_string(only.path)}"
        )
    else:
        by_manager: dict[str, list[str]] = {}
        for c in conflicts:
            by_manager.setdefault(c.manager, []).append(fieldpath.path_string(c.path))
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {describe(manager)}:")
            lines.extend(f"- {p}" for p in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.StatusError(
        code=409, reason="Conflict", message=message, details={"causes": causes}
    )


class FieldManager:
    """Field ownership for one resource type (and subresource), in one API version."""

    def __init__(
        self,
        typed: Typed,
        root: TypeRef,
        *,
        api_version: str,
        kind: str,
        subresource: str = "",
        ignored: FieldSet | None = None,
        now: Callable[[], str] = now_rfc3339,
        max_update_managers: int = MAX_UPDATE_MANAGERS,
    ) -> None:
        self.typed = typed
        self.root = root
        self.api_version = api_version
        self.kind = kind
        self.subresource = subresource
        self.updater = Updater(typed, root, ignored)
        self.now = now
        self.max_update_managers = max_update_managers

    # --- identities --------------------------------------------------------------------

    def _to_keys(self, managed: Managed) -> tuple[Managers, dict[str, Identity]]:
        keys = {_identity_key(i): i for i in managed.sets}
        return {k: managed.sets[i] for k, i in keys.items()}, keys

    def _describe_key(self, keys: dict[str, Identity]) -> Callable[[str], str]:
        def describe(key: str) -> str:
            identity = keys.get(key)
            return identity.describe() if identity else orjson.dumps(key).decode()

        return describe

    # --- updates -----------------------------------------------------------------------

    def update(self, live: Obj, new: Obj, manager: str) -> Obj:
        """``new`` with its managedFields after ``manager`` changed ``live`` into it.
        ``live`` is ``{}`` on a create. Never raises."""
        try:
            return self._update(live, new, manager)
        except Exception:
            log.exception("failed to update managedFields of %s %s", self.kind, _name(new))
            meta = new.get("metadata")
            if isinstance(meta, dict):
                meta.pop("managedFields", None)
            return new

    def _update(self, live: Obj, new: Obj, manager: str) -> Obj:
        meta = new.get("metadata")
        if (
            not live
            and not self.subresource
            and isinstance(meta, dict)
            and not meta.get("managedFields")
            and self._created is not None
        ):
            return self._update_created(new, meta, manager)
        return self._update_general(live, new, manager)

    @functools.cached_property
    def _created(self) -> CreatedFields | None:
        try:
            return CreatedFields(
                self.typed,
                self.root,
                zero=self._zero(),
                ignored=self.updater.ignored,
                stripped=STRIPPED,
            )
        except ValueError:  # an empty object with lists: the general path handles it
            return None

    def _update_created(self, new: Obj, meta: Obj, manager: str) -> Obj:
        """``_update_general`` of a create whose body carried no managedFields (so no
        other manager, nothing to cap or sort): the creator's one entry, its FieldsV1
        computed in one walk (``created``). ``test_patching_created`` compares the two,
        byte for byte, on every manifest the tests use and on random objects."""
        assert self._created is not None
        meta.pop("managedFields", None)
        fields_v1 = self._created.fields_v1(new)
        if fields_v1:
            entry: Obj = {"manager": manager or "unknown", "operation": UPDATE}
            entry["apiVersion"] = self.api_version
            stamp = self.now()
            if stamp:
                entry["time"] = stamp
            entry["fieldsType"] = FIELDS_V1
            entry["fieldsV1"] = fields_v1
            meta["managedFields"] = [entry]
        return new

    def _update_general(self, live: Obj, new: Obj, manager: str) -> Obj:
        """Any write: the managers decoded, compared, updated, capped and encoded."""
        managed = self._decode_live_or_new(live, new)
        meta = new.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        before = _without_managed_fields(live) if live else self._zero()
        identity = Identity.of(manager, UPDATE, self.api_version, self.subresource)
        sets, keys = self._to_keys(managed)
        sets = self.updater.update(before, new, self.api_version, sets, _CURRENT_OPERATION)
        current = sets.pop(_CURRENT_OPERATION, None)
        if current is not None:
            current = VersionedSet(
                current.fields.difference(STRIPPED), current.api_version, current.applied
            )
        result = Managed({keys[k]: v for k, v in sets.items()}, managed.times)
        result.times = {i: t for i, t in managed.times.items() if i in result.sets}
        if current is not None and not current.fields.empty():
            previous = result.sets.get(identity)
            fields = current.fields if previous is None else current.fields.union(previous.fields)
            result.sets[identity] = VersionedSet(fields, self.api_version, False)
            result.times[identity] = self.now()
        self._cap(result)
        return _set_managed(new, result)

    def _decode_live_or_new(self, live: Obj, new: Obj) -> Managed:
        live_entries = (live.get("metadata") or {}).get("managedFields") if live else None
        if self.subresource:
            return _decode_or_empty(live_entries)
        new_entries = (new.get("metadata") or {}).get("managedFields")
        if is_reset(new_entries):
            return Managed()
        try:
            managed = decode(new_entries)
        except ManagedFieldsError:
            managed = Managed()
        if not managed.sets:
            return _decode_or_empty(live_entries)
        return managed

    def _zero(self) -> Obj:
        """The object a create starts from: what kube's new, empty typed object of the
        kind serializes to. Its struct-valued ``metadata``/``spec``/``status`` and
        required fields are there (``{}`` or null), so a create owns what it sets in
        them, not the containers themselves."""
        zero = self._zero_of(self.root, depth=0)
        return zero if isinstance(zero, dict) else {"metadata": {}}

    def _zero_of(self, ref: TypeRef, *, depth: int) -> Any:
        atom = self.typed.atom(ref)
        if atom.kind != "map" or not atom.fields or depth > 6:
            return None
        out: Obj = {}
        for name, sub in atom.fields.items():
            sub_atom = self.typed.atom(sub)
            if name in ("metadata", "spec", "status") and sub_atom.kind == "map":
                out[name] = self._zero_of(sub, depth=depth + 1) or {}
            elif name in atom.required and sub_atom.kind in ("map", "list"):
                out[name] = self._zero_of(sub, depth=depth + 1) if sub_atom.fields else None
        if "uid" in atom.fields and "creationTimestamp" in atom.fields:  # ObjectMeta
            out["creationTimestamp"] = None
        return out

    def _cap(self, managed: Managed) -> None:
        """Fold the oldest update managers into ``ancient-changes`` beyond the cap."""
        updaters = [i for i, v in managed.sets.items() if not v.applied]
        if len(updaters) <= self.max_update_managers:
            return
        updaters.sort(key=lambda i: (_unix(managed.times.get(i)), _identity_key(i)))
        for identity in updaters:
            count = sum(1 for v in managed.sets.values() if not v.applied)
            if count <= self.max_update_managers:
                break
            versioned = managed.sets[identity]
            bucket = Identity.of(ANCIENT_CHANGES, UPDATE, versioned.api_version, "")
            if bucket == identity:
                continue
            previous = managed.sets.get(bucket)
            fields = (
                versioned.fields if previous is None else versioned.fields.union(previous.fields)
            )
            managed.sets[bucket] = VersionedSet(fields, versioned.api_version, False)
            managed.times[bucket] = managed.times.get(identity)
            del managed.sets[identity]
            managed.times.pop(identity, None)

    # --- apply --------------------------------------------------------------------------

    def apply(self, live: Obj | None, config: Obj, manager: str, *, force: bool) -> Obj:
        """The object after ``manager`` applies ``config`` to ``live`` (``None`` when the
        object does not exist yet), managedFields included. Raises StatusError: 400 for a
        configuration of another kind or carrying managedFields, 409 for conflicts, 500
        for a configuration the schema refuses (kube's words and codes)."""
        try:
            managed = decode((live or {}).get("metadata", {}).get("managedFields"))
        except ManagedFieldsError as exc:
            raise errors.internal(f"failed to decode managed fields: {exc}") from None
        api_version = config.get("apiVersion")
        kind = config.get("kind")
        if api_version != self.api_version or kind != self.kind:
            raise errors.bad_request(
                "invalid object type: "
                + _gvk_string(api_version if isinstance(api_version, str) else "", str(kind or ""))
            )
        meta = config.get("metadata")
        if isinstance(meta, dict) and meta.get("managedFields") is not None:
            raise errors.bad_request("metadata.managedFields must be nil")
        problems = self.typed.validate(config, self.root)
        if problems:
            # kube passes this up as a 500 with no reason (structuredmerge.go); it is the
            # configuration's fault, so kapi answers 400 with kube's words.
            raise errors.bad_request(
                f"failed to create typed patch object ({_gvknn(config)}): "
                + (problems[0] if len(problems) == 1 else "errors:\n  " + "\n  ".join(problems))
            )
        base = _without_managed_fields(live) if live else {}
        try:
            result, managed = self._apply_allowing_upgrade(base, config, manager, managed, force)
        except ConflictsError as exc:
            describe = self._describe_key(self._to_keys(managed)[1])
            raise conflict_error(exc.conflicts, describe) from None
        if manager == "kubectl" and _has_last_applied(result):
            _set_last_applied(result, _last_applied_of(config))
        return _set_managed(result, managed)

    def _apply_allowing_upgrade(
        self, live: Obj, config: Obj, manager: str, managed: Managed, force: bool
    ) -> tuple[Obj, Managed]:
        """kube's lastAppliedManager: ``kubectl`` may take the fields it set with
        client-side apply (those its last-applied annotation still matches)."""
        try:
            return self._apply(live, config, manager, managed, force)
        except ConflictsError as exc:
            if manager != "kubectl":
                raise
            allowed = self._allowed_from_last_applied(live)
            if allowed is None:
                raise
            remaining = [c for c in exc.conflicts if not allowed.has(c.path)]
            if remaining:
                raise ConflictsError(remaining) from None
            return self._apply(live, config, manager, managed, True)

    def _allowed_from_last_applied(self, live: Obj) -> FieldSet | None:
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        text = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
        if not isinstance(text, str) or not text:
            return None
        try:
            last_applied = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(last_applied, dict) or self.typed.validate(last_applied, self.root):
            return None
        fields = self.typed.to_field_set(last_applied, self.root)
        compare = self.typed.compare(last_applied, live, self.root)
        return (
            fields.difference(compare.modified)
            .difference(compare.added)
            .difference(compare.removed)
        )

    def _apply(
        self, live: Obj, config: Obj, manager: str, managed: Managed, force: bool
    ) -> tuple[Obj, Managed]:
        identity = Identity.of(manager, APPLY, self.api_version, self.subresource)
        key = _identity_key(identity)
        sets, keys = self._to_keys(managed)
        keys[key] = identity
        merged, sets = self.updater.apply(live, config, self.api_version, sets, key, force=force)
        result = Managed({keys[k]: v for k, v in sets.items()}, {})
        result.times = {i: t for i, t in managed.times.items() if i in result.sets}
        applied = result.sets.get(identity)
        if applied is not None:
            stripped = applied.fields.difference(STRIPPED)
            if stripped.empty():
                del result.sets[identity]
                result.times.pop(identity, None)
            else:
                result.sets[identity] = VersionedSet(stripped, applied.api_version, True)
        if merged is None:
            # Nothing to merge: the live object, shared but for its metadata, which is all
            # the caller changes (a deep copy of an object as large as storage holds would
            # cost up to ~48 MiB, and as much again for deepcopy's memo).
            meta = live.get("metadata")
            obj = {**live, "metadata": dict(meta) if isinstance(meta, dict) else {}}
        else:
            obj = drop_nulls(merged)
            if identity in result.sets:
                result.times[identity] = self.now()
        self._cap(result)
        if not isinstance(obj, dict):
            obj = {}
        return obj, result


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return decode(entries)
    except ManagedFieldsError:
        return Managed()


def _name(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, dict) else ""


def _gvknn(obj: Obj) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    api_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else ""
    assert isinstance(api_version, str)
    return (
        f"{meta.get('namespace', '')}/{meta.get('name', '')}; "
        f"{_gvk_string(api_version, str(obj.get('kind') or ''))}"
    )


def _has_last_applied(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return isinstance(annotations, dict) and bool(annotations.get(LAST_APPLIED))


def _last_applied_of(config: Obj) -> str:
    """The configuration as its own last-applied annotation: without that annotation
    (copied along the path to it only: the configuration may be as large as an object)."""
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
        config = {**config, "metadata": {**meta, "annotations": annotations}}
    return _go_json(config)


def _set_last_applied(obj: Obj, value: str) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED] = value
    if _annotation_size(annotations) > TOTAL_ANNOTATION_SIZE_LIMIT:
        del annotations[LAST_APPLIED]
    meta["annotations"] = annotations


__all__ = [
    "APPLY",
    "LAST_APPLIED",
    "UPDATE",
    "FieldManager",
    "Identity",
    "Managed",
    "conflict_error",
    "conflict_paths",
    "decode",
    "encode",
    "manager_from_user_agent",
]
