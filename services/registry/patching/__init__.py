"""Patches: what a PATCH request's body does to the current object, and who owns what.

``apply_patch`` takes the stored object and the body (``decode_patch``) and returns the
new object for the three patch types that are functions of the object alone: JSON patch
(RFC 6902, ``json_patch``), JSON merge patch (RFC 7386) and strategic merge patch
(``strategic``). Server-side apply needs the managers too: it is
``FieldManager.apply`` (``managed_fields``), which also records, on every other write,
the fields each manager changed (``FieldManager.update``).

Errors are StatusErrors worded as kube-apiserver's patch handler words them.

Modules: ``fieldpath`` (paths, field sets, FieldsV1), ``schema`` (what the OpenAPI
definitions say about merging), ``strategic`` (strategic merge patch), ``typed`` (values
through their schema: field sets, compare, merge, removal), ``ownership`` (managers,
conflicts, pruning), ``managed_fields`` (kube's field manager around it), ``policy``
(write options, create on update), ``json_patch`` (RFC 6902 under kube's limits).
The bounds a patch keeps (depth, size, operations, copies) are ``services.registry.limits``.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from kapi import errors, yaml_input
from services.registry import limits
from services.registry.patching import json_patch, policy
from services.registry.patching import schema as schemas
from services.registry.patching.fieldpath import FieldSet, make_path
from services.registry.patching.goformat import json_kind
from services.registry.patching.managed_fields import FieldManager
from services.registry.patching.strategic import PatchError, strategic_merge_patch
from services.registry.patching.typed import Typed

Obj = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "FieldManager",
    "apply_patch",
    "changes_in_place",
    "decode_apply",
    "decode_patch",
    "field_manager",
    "merge_patch",
    "policy",
    "sent_managed_fields",
]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces.

    ``target`` is not changed; values of ``patch`` (freshly decoded, the caller's to give
    up) go into the result as they are, not copied."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _decode_json(patch: bytes) -> Any:
    """A patch body decoded; 400 when it is not JSON or nests deeper than ``MAX_DEPTH``."""
    try:
        decoded = orjson.loads(patch)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from None
    limits.check_patch_depth(decoded)
    return decoded


def _patch_error(exc: PatchError) -> errors.StatusError:
    """kube answers the patch errors it names 400 or 422, and passes any other up as a
    500 with no reason (patch.go ``interpretStrategicMergePatchError``). Each of those is
    still the patch's fault (``{"$setElementOrder/finalizers": null}``: "expected a
    []interface {}, but received a %!s(<nil>)"), so kapi answers them 400 with kube's
    words, as kubernetes/kubernetes#139255 proposes: no 5xx for a client's input."""
    if exc.code == 422:
        return json_patch.rejected()
    return errors.bad_request(exc.message)


def changes_in_place(patch_type: str) -> bool:
    """Whether ``apply_patch`` builds its result by changing (a copy of) the object: JSON
    patch and strategic merge patch do; a merge patch builds new maps along its paths."""
    return patch_type in (JSON_PATCH, STRATEGIC_MERGE_PATCH)


def decode_patch(patch: bytes) -> Any:
    """A JSON, merge or strategic merge patch's body, for ``apply_patch``; 400 when it is
    not JSON or nests deeper than ``limits.MAX_DEPTH``."""
    return _decode_json(patch)


def apply_patch(
    patch_type: str, current: Obj, patch: Any, *, definition: str = "", consume: bool = False
) -> Obj:
    """The object after a JSON, merge or strategic merge patch (``patch``: its body, from
    ``decode_patch``, the caller's to give up: its values go into the result as they are).
    ``current`` is not changed unless ``consume``: then the patch may change it rather than
    a copy, which saves a copy of an object as large as storage holds. ``definition``
    names the OpenAPI schema strategic merge reads (none: lists are replaced, as for types
    without patch metadata). 415 for apply and unknown types: apply goes through
    FieldManager. What the patch produces is the caller's to check
    (``limits.check_patched``)."""
    if patch_type == JSON_PATCH:
        doc = current if consume else json_patch.json_copy(current)
        return json_patch.apply(doc, patch)
    if patch_type == MERGE_PATCH:
        merged = merge_patch(current, patch)
        if not isinstance(merged, dict):
            raise errors.bad_request("the patch did not produce an object")
        return merged
    if patch_type == STRATEGIC_MERGE_PATCH:
        if not isinstance(patch, dict):
            raise errors.bad_request(
                f"json: cannot unmarshal {json_kind(patch)} into Go value of type "
                "map[string]interface {}"
            )
        try:
            return strategic_merge_patch(
                current,
                patch,
                schemas.root(definition),
                consume_original=consume,
                consume_patch=True,
            )
        except PatchError as exc:
            raise _patch_error(exc) from None
    raise errors.unsupported_media_type(patch_type)


def decode_apply(patch: bytes) -> Obj:
    """An apply patch's body (YAML or JSON) as an object; 400 as kube words it.

    The YAML is read as kube's apply handler reads it (sigs.k8s.io/yaml's ``Unmarshal``:
    the first document, go-yaml's alias budget, nesting within what kapi writes back)."""
    try:
        decoded = yaml_input.load(patch).value
    except yaml_input.YAMLError as exc:
        raise errors.bad_request(
            f"error decoding YAML: error converting YAML to JSON: {exc}"
        ) from None
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise errors.bad_request(
            "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
            f"unmarshal {json_kind(decoded)} into Go value of type map[string]interface {{}}"
        )
    return decoded


@functools.cache
def _typed() -> Typed:
    return Typed(schemas.builtin_types())


def reset_fields(definition: str, *, subresource: str, has_status: bool) -> FieldSet | None:
    """The fields the strategy resets, which no manager gains or loses: ``status`` on the
    main resource of a type with a status subresource; on ``/status``, all but status."""
    if subresource == "status":
        root = _typed().atom(schemas.root(definition))
        keep = {"status", "metadata", "apiVersion", "kind"}
        return FieldSet.of(*(make_path(name) for name in root.fields if name not in keep))
    if not subresource and has_status:
        return FieldSet.of(make_path("status"))
    return None


@functools.lru_cache(maxsize=512)
def field_manager(
    definition: str,
    *,
    api_version: str,
    kind: str,
    subresource: str = "",
    has_status: bool = False,
) -> FieldManager:
    """The field manager for objects of ``definition`` (an OpenAPI definition name; ""
    or unknown: the type is deduced from the values)."""
    return FieldManager(
        _typed(),
        schemas.root(definition),
        api_version=api_version,
        kind=kind,
        subresource=subresource,
        ignored=reset_fields(definition, subresource=subresource, has_status=has_status),
    )


def sent_managed_fields(obj: Obj) -> Any:
    """The managedFields a create's body carries (kube keeps them), or None."""
    meta = obj.get("metadata")
    return meta.get("managedFields") if isinstance(meta, dict) else None
