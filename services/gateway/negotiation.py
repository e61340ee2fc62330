"""Content negotiation: what a client sent (JSON, YAML, Protobuf) and what it accepts
(an object, a Table, PartialObjectMetadata; JSON or YAML).

A body becomes the JSON the registry is sent, within the limits kube-apiserver holds:
3 MiB (413), YAML through ``kapi.yaml_input`` (go-yaml's alias budget), nesting no deeper
than every layer writes back (``kapi.json_depth``), and 400 BadRequest worded by kube's
``transformDecodeError`` for anything else. ``decode`` and ``decode_patch`` do the work
off the event loop when the body is large (``codec.offload``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import yaml

from kapi import errors, json_depth, yaml_input
from services.gateway.codec import k8s_protobuf, offload

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's --max-request-body-bytes default

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
)


@dataclass(frozen=True)
class MediaRange:
    type: str
    params: dict[str, str]


def parse_accept(header: str | None) -> list[MediaRange]:
    if not header:
        return [MediaRange("*/*", {})]
    out = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = {}
        for f in fields[1:]:
            if "=" in f:
                k, v = f.split("=", 1)
                params[k.strip()] = v.strip().strip('"')
        out.append(MediaRange(fields[0].lower(), params))
    return out or [MediaRange("*/*", {})]


@dataclass(frozen=True)
class Rendering:
    """How to answer: the registry's rendering and the serialisation."""

    rendering: str  # object | table | table-v1beta1 | metadata
    media_type: str  # application/json | application/yaml


def negotiate(header: str | None, *, allow_table: bool = True) -> Rendering:
    """The first acceptable offer, in the client's order, as kube's negotiation picks."""
    for media in parse_accept(header):
        kind = media.params.get("as", "")
        group = media.params.get("g", "")
        version = media.params.get("v", "")
        if media.type in (PROTOBUF,):
            continue  # we answer Protobuf clients in JSON, which they accept
        if media.type not in (JSON, YAML, "application/*", "*/*"):
            continue
        serial = YAML if media.type == YAML else JSON
        if not kind:
            return Rendering("object", serial)
        if group != "meta.k8s.io" or not allow_table:
            continue
        if kind == "Table" and version in ("v1", "v1beta1"):
            return Rendering("table" if version == "v1" else "table-v1beta1", serial)
        if kind in ("PartialObjectMetadata", "PartialObjectMetadataList") and version in (
            "v1",
            "v1beta1",
        ):
            return Rendering("metadata", serial)
    accepted = [m.type for m in parse_accept(header)]
    if PROTOBUF in accepted:
        return Rendering("object", JSON)  # kubectl's typed clients also take JSON replies
    raise errors.not_acceptable(
        "only the following media types are accepted: application/json, application/yaml"
    )


def is_json(content_type: str | None) -> bool:
    """Whether a request body is JSON (no Content-Type counts: kubectl scale sends none)."""
    return _media(content_type) in _PLAIN_JSON


def accepts_json(header: str | None) -> bool:
    """Whether a client takes a JSON reply (an absent Accept does)."""
    return any(media.type in (JSON, "application/*", "*/*") for media in parse_accept(header))


# /openapi/v2's Protobuf form (gnostic's openapi_v2.Document): kubectl asks with the
# first name, kube-openapi answers with the second for either.
OPENAPI_V2_PROTOBUF = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)


def openapi_v2_format(header: str | None) -> str | None:
    """ "json" or "protobuf" for ``/openapi/v2``, by the first media range of the Accept
    header that either matches (a wildcard is JSON, as kube-openapi's handler has it);
    None when none does (406)."""
    for media in parse_accept(header):
        if media.params.get("q", "").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if media.type in OPENAPI_V2_PROTOBUF:
            return "protobuf"
        if media.type in (JSON, "application/*", "*/*"):
            return "json"
    return None


class Decoded(NamedTuple):
    """A request body: its value, its JSON (what the registry is sent) and, for a JSON
    body when asked, the fields it gives twice."""

    value: Any
    json: bytes
    duplicates: tuple[str, ...] = ()


_PLAIN_JSON = (JSON, "*/*")  # object bodies whose duplicate keys are looked for
JSON_BODIES = (
    JSON,
    "*/*",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
YAML_BODIES = (YAML, "application/x-yaml", "text/yaml", APPLY_PATCH)


def _media(content_type: str | None) -> str:
    return (content_type or JSON).split(";")[0].strip().lower() or JSON


def _summary(body: bytes) -> str:
    """kube's ``summarizeData(body, 30)``: a JSON object's first 30 bytes, else hex."""
    if not body:
        return "<empty>"
    head, more = body[:30], " ..." if len(body) > 30 else ""
    if body[:1] == b"{":
        return head.decode("utf-8", "replace") + more
    return head.hex() + more


async def decode(
    body: bytes,
    content_type: str | None,
    *,
    kind: str,
    version: str,
    find_duplicates: bool = False,
) -> Decoded:
    """``decode_body``, off the event loop when the body is large."""
    media = _media(content_type)
    if offload.inline(len(body), json=media in JSON_BODIES):
        return _decode(body, media, kind, find_duplicates)
    return await offload.off_loop(_decode, body, media, kind, find_duplicates)


def decode_body(
    body: bytes,
    content_type: str | None,
    *,
    kind: str,
    version: str,
    find_duplicates: bool = False,
) -> Decoded:
    """A request body decoded, or a 400/413/415 Status."""
    return _decode(body, _media(content_type), kind, find_duplicates)


def _decode(body: bytes, media: str, kind: str, find_duplicates: bool) -> Decoded:
    if len(body) > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(f"limit is {MAX_BODY_BYTES}")
    unrecognized = f"the object provided is unrecognized (must be of type {kind})"
    if media in JSON_BODIES:
        try:
            value = orjson.loads(body)
            encoded = json_depth.dumps(value)
        except (orjson.JSONDecodeError, json_depth.TooDeep) as exc:
            raise errors.bad_request(
                f"{unrecognized}: couldn't get version/kind; json parse error: {exc} "
                f"({_summary(body)})"
            ) from None
        if find_duplicates and media in _PLAIN_JSON:
            return Decoded(value, encoded, tuple(duplicate_fields(body, encoded)))
        return Decoded(value, encoded)
    if media == PROTOBUF:
        obj = k8s_protobuf.decode(body)
        try:
            return Decoded(obj, json_depth.dumps(obj))
        except json_depth.TooDeep as exc:
            raise errors.bad_request(
                f'{obj["kind"]} in version "{obj["apiVersion"].rpartition("/")[2]}" cannot '
                f"be handled as a {kind}: {exc}"
            ) from None
    if media in YAML_BODIES:
        try:
            docs = [d for d in yaml_input.load_all(body) if d.value is not None]
        except yaml_input.YAMLError as exc:
            raise errors.bad_request(f"{unrecognized}: {exc} ({_summary(body)})") from None
        if len(docs) != 1:
            raise errors.bad_request(
                f"{unrecognized}: expected exactly one YAML document ({_summary(body)})"
            )
        return Decoded(docs[0].value, docs[0].json)
    raise errors.unsupported_media_type(media)


async def decode_patch(body: bytes, patch_type: str) -> bytes:
    """``patch_body``, off the event loop when the body is large."""
    if offload.inline(len(body), json=patch_type != APPLY_PATCH):
        return patch_body(body, patch_type)
    return await offload.off_loop(patch_body, body, patch_type)


def patch_body(body: bytes, patch_type: str) -> bytes:
    """What a PATCH forwards to the registry: a JSON patch body as sent, once it is known
    to nest no deeper than ``json_depth.MAX_DEPTH``; an apply body as its JSON, decoded
    here within go-yaml's limits (the registry reads JSON without a YAML parser). 400 as
    kube's patch handler words it; a malformed JSON patch is the registry's to word."""
    if len(body) > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(f"limit is {MAX_BODY_BYTES}")
    if patch_type == APPLY_PATCH:
        try:
            return yaml_input.load(body).json
        except yaml_input.YAMLError as exc:
            raise errors.bad_request(
                f"error decoding YAML: error converting YAML to JSON: {exc}"
            ) from None
    try:
        json_depth.dumps(orjson.loads(body))
    except orjson.JSONDecodeError:
        pass
    except json_depth.TooDeep as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from None
    return body


def encode(obj_json: bytes, media_type: str) -> bytes:
    if media_type == YAML:
        return yaml.safe_dump(orjson.loads(obj_json), sort_keys=False).encode()
    return obj_json


class _Duplicate(Exception):
    """A JSON object with a key given twice (the fast scan stops at the first)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


class _Pairs(list[tuple[str, Any]]):
    """A JSON object kept as its key-value pairs, duplicates included."""


def _duplicate_paths(node: Any, path: str, out: list[str]) -> None:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, value in node:
            sub = f"{path}.{key}" if path else key
            if key in seen and sub not in out:
                out.append(sub)
            seen.add(key)
            _duplicate_paths(value, sub, out)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _duplicate_paths(item, f"{path}[{i}]", out)


def duplicate_fields(body: bytes, forwarded: bytes) -> list[str]:
    """The fields a JSON body gives more than once, as kube names them in
    ``duplicate field "spec.template.spec.containers[0].image"``, in document order.

    ``forwarded`` is the body as re-serialised after parsing (the last value of each key
    kept). Compact JSON without duplicates, as kubectl sends, serialises back to itself:
    then there is nothing to look for. Otherwise the stdlib parser scans for a repeated
    key (~50 µs for a Deployment) and, only when it finds one, a second parse keeping
    every pair names them.
    """
    if forwarded == body:
        return []
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _Duplicate:
        pass
    except ValueError:
        return []
    else:
        return []
    out: list[str] = []
    _duplicate_paths(json.loads(body, object_pairs_hook=_Pairs), "", out)
    return out
