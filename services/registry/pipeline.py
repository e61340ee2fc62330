"""The fixed order of a write, as kube-apiserver's ``rest.BeforeCreate`` / ``BeforeUpdate``.

system metadata -> namespace -> defaults -> strategy prepare -> resource validation ->
generic ObjectMeta validation -> warnings. Pure functions over plain dicts: no I/O.
"""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from kapi import errors
from kapi.errors import FieldError
from services.registry import schema_validation, validation
from services.registry.definition import Definition
from services.registry.strategy import Strategy
from services.registry.types import ResourceType

Obj = dict[str, Any]

# kube's name generator alphabet: no vowels, no confusable characters.
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATE_SUFFIX = 5
_MAX_GENERATED_PREFIX = 63 - _GENERATE_SUFFIX


def now_rfc3339() -> str:
    """Now, to the second, as kube writes a ``metav1.Time`` (formatted once a second)."""
    return _rfc3339(int(time.time()))


@functools.lru_cache(maxsize=1)
def _rfc3339(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` at half its cost."""
    return uid_text(os.urandom(16))


def uid_text(raw: bytes) -> str:
    """``str(uuid.UUID(bytes=raw, version=4))``: version and variant bits set, 8-4-4-4-12."""
    data = bytearray(raw)
    data[6] = (data[6] & 0x0F) | 0x40
    data[8] = (data[8] & 0x3F) | 0x80
    h = data.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def generate_name(prefix: str) -> str:
    suffix = "".join(random.choice(_GENERATE_ALPHABET) for _ in range(_GENERATE_SUFFIX))
    return prefix[:_MAX_GENERATED_PREFIX] + suffix


def check_type_meta(rt: ResourceType, obj: Obj) -> None:
    """400 when the body names another group-version or kind than the URL."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if api_version and api_version != rt.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version})"
        )
    if kind and kind != rt.kind:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind


def metadata_of(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata: must be an object")
    return meta


def set_namespace(rt: ResourceType, obj: Obj, namespace: str) -> None:
    """The object's namespace must be the request's (kube's EnsureObjectNamespaceMatches…)."""
    meta = metadata_of(obj)
    if not rt.namespaced:
        meta.pop("namespace", None)
        return
    given = meta.get("namespace")
    if given and given != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    meta["namespace"] = namespace


@dataclass(frozen=True)
class Requester:
    """Who is asking (kube's ``user.Info`` from the request context), as plain values."""

    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def requester(user: Any) -> Requester:
    """The requesting user of a ``Target`` as plain values. The user is the transport's
    own record (opaque to the domain), read by attribute: ``username``, ``uid``,
    ``groups`` and ``extra`` (each value a list, or a message holding one in ``values``)."""
    if user is None:
        return Requester()
    extra = getattr(user, "extra", None) or {}
    return Requester(
        username=str(getattr(user, "username", "") or ""),
        uid=str(getattr(user, "uid", "") or ""),
        groups=tuple(str(g) for g in getattr(user, "groups", None) or ()),
        extra={
            str(key): tuple(str(v) for v in getattr(values, "values", values))
            for key, values in extra.items()
        },
    )


@runtime_checkable
class RecordsRequester(Protocol):
    """A strategy whose create preparation records who asked (kube's PrepareForCreate
    reading the user from the request context: a CertificateSigningRequest's spec)."""

    def record_requester(self, obj: Obj, requester: Requester) -> None: ...


def prepare_create(
    rt: ResourceType, strategy: Strategy, obj: Obj, namespace: str, *, user: Any = None
) -> Obj:
    """System metadata, namespace, defaults and the strategy's create preparation;
    ``user`` is the requesting user (``requester``), for strategies that record it."""
    check_type_meta(rt, obj)
    set_namespace(rt, obj, namespace)
    meta = metadata_of(obj)
    for key in (
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ):
        meta.pop(key, None)
    if not meta.get("name") and isinstance(meta.get("generateName"), str) and meta["generateName"]:
        meta["name"] = generate_name(meta["generateName"])
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_rfc3339()
    meta.pop("generation", None)
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    # What isinstance(strategy, RecordsRequester) checks, without the cost of a
    # runtime Protocol check on every create.
    record = getattr(strategy, "record_requester", None)
    if record is not None:
        record(obj, requester(user))
    return obj


def validate_create(rt: Definition, strategy: Strategy, obj: Obj) -> None:
    """Resource rules first, then the schema's, then ObjectMeta, as one 422 Invalid."""
    problems: list[FieldError] = strategy.validate(obj)
    problems = schema_validation.merge(problems, rt.model.validate(obj))
    problems += validation.validate_object_meta(
        metadata_of(obj),
        namespaced=rt.namespaced,
        name_validator=strategy.validate_name,
        kube_finalizer_names=strategy.kube_finalizer_names,
    )
    if problems:
        raise errors.invalid(rt.kind, rt.group, _name_for_error(obj), problems)


def prepare_update(
    rt: ResourceType, strategy: Strategy, new: Obj, old: Obj, *, subresource: str = ""
) -> Obj:
    """Carry system metadata over from ``old``; the strategy keeps status or spec.

    As kube's ``rest.BeforeUpdate``: a uid the update leaves out is the old one, while a
    uid it changes stays changed, for ``validate_update`` to refuse (422, field is
    immutable); ``selfLink`` is never stored (kube 1.20+ drops it on every write)."""
    check_type_meta(rt, new)
    meta = metadata_of(new)
    old_meta = old.get("metadata") or {}
    meta.pop("selfLink", None)
    if not meta.get("uid") and "uid" in old_meta:
        meta["uid"] = old_meta["uid"]
    for key in (
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if rt.namespaced:
        meta["namespace"] = old_meta.get("namespace")
    strategy.default(new)
    if subresource:
        strategy.prepare_for_subresource_update(subresource, new, old)
    else:
        strategy.prepare_for_update(new, old)
    return new


def validate_update(
    rt: Definition, strategy: Strategy, new: Obj, old: Obj, *, subresource: str = ""
) -> None:
    problems = (
        strategy.validate_subresource_update(subresource, new, old)
        if subresource
        else strategy.validate_update(new, old)
    )
    problems = schema_validation.merge(problems, rt.model.validate(new, old))
    meta = metadata_of(new)
    problems += validation.validate_object_meta(
        meta,
        namespaced=rt.namespaced,
        name_validator=strategy.validate_name,
        kube_finalizer_names=strategy.kube_finalizer_names,
    )
    problems += validation.validate_object_meta_update(meta, old.get("metadata") or {})
    if problems:
        raise errors.invalid(rt.kind, rt.group, _name_for_error(new), problems)


def _name_for_error(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or ""
    return name if isinstance(name, str) else str(name)


def check_name_matches(obj: Obj, name: str) -> None:
    """PUT: the body's name must be the URL's."""
    given = metadata_of(obj).get("name")
    if given != name:
        raise errors.bad_request(
            "the name of the object ("
            + ("" if given is None else str(given))  # Go prints a missing name as ""
            + ") does not match the name on the URL ("
            + name
            + ")"
        )
