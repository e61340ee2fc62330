"""Content negotiation: what a client sent (JSON, YAML, Protobuf) and what it accepts
(an object, a Table, PartialObjectMetadata; JSON or YAML)."""

from __future__ import annotations

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
