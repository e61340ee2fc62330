"""Content negotiation: what a client sent (JSON, YAML, Protobuf) and what it accepts
(an object, a Table, PartialObjectMetadata; JSON or YAML)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kapi import errors
from services.gateway.codec import k8s_protobuf

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's --max-request-body-bytes default

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
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
    media = (content_type or JSON).split(";")[0].strip().lower() or JSON
    return media in (JSON, "*/*")


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
    """"json" or "protobuf" for ``/openapi/v2``, by the first media range of the Accept
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


def decode_body(body: bytes, content_type: str | None, *, kind: str, version: str) -> Any:
    """A request body as a dict, or a 400/413/415 Status."""
    if len(body) > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(f"limit is {MAX_BODY_BYTES}")
    media = (content_type or JSON).split(";")[0].strip().lower() or JSON
    unrecognized = f"the object provided is unrecognized (must be of type {kind})"
    if media == PROTOBUF:
        return k8s_protobuf.decode(body)
    if media in (
        JSON,
        "*/*",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(
                f"{unrecognized}: couldn't get version/kind; json parse error: {exc}"
            ) from None
    if media in (YAML, "application/x-yaml", "text/yaml", "application/apply-patch+yaml"):
        try:
            docs = list(yaml.safe_load_all(body))
        except yaml.YAMLError as exc:
            raise errors.bad_request(
                f"{unrecognized}: couldn't get version/kind; yaml parse error: {exc}"
            ) from None
        docs = [d for d in docs if d is not None]
        if len(docs) != 1:
            raise errors.bad_request(f"{unrecognized}: expected exactly one YAML document")
        return orjson.loads(orjson.dumps(docs[0], default=str))
    raise errors.unsupported_media_type(media)


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
