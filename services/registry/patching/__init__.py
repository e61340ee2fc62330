"""Patches: what a PATCH request's body does to the current object.

``apply_patch`` takes the stored object and the body as sent and returns the new object
(a fresh dict; the current one is not mutated). Errors are StatusErrors worded as
kube-apiserver's patch handler words them.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import orjson

from kapi import errors

Obj = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _decode_json(patch: bytes) -> Any:
    try:
        return orjson.loads(patch)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from None


def apply_patch(patch_type: str, current: Obj, patch: bytes) -> Obj:
    """The object after the patch; 415 for patch types not served (yet)."""
    if patch_type == JSON_PATCH:
        operations = _decode_json(patch)
        if not isinstance(operations, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        try:
            result = jsonpatch.JsonPatch(operations).apply(current, in_place=False)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise errors.StatusError(
                code=422,
                reason="Invalid",
                message=f"the server rejected our request due to an error in our request: {exc}",
                details={},
            ) from None
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise errors.StatusError(
                code=422,
                reason="Invalid",
                message=f"the server rejected our request due to an error in our request: {exc}",
                details={},
            ) from None
        if not isinstance(result, dict):
            raise errors.bad_request("the patch did not produce an object")
        return result
    if patch_type == MERGE_PATCH:
        merged = merge_patch(current, _decode_json(patch))
        if not isinstance(merged, dict):
            raise errors.bad_request("the patch did not produce an object")
        return merged
    raise errors.unsupported_media_type(patch_type)
