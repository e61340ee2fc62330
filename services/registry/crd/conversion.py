"""Converting a custom resource between its CRD's versions, as apiextensions-apiserver does.

A stored object is read in the storage version: its schema's defaults are set (kube's
storage codec defaults what it decodes), then it is converted to the version asked
for and pruned to that version's schema (kube's ``schemaCoercingConverter``):

- conversion ``None``: only ``apiVersion`` changes;
- conversion ``Webhook``: the objects go to the CRD's webhook in one ConversionReview
  (``apiextensions.k8s.io/v1``, the first of its ``conversionReviewVersions`` kube
  speaks), over HTTPS verified with the ``caBundle`` (the system's roots without one);
  the answer is checked as kube checks it (uid, one object per object sent, the desired
  apiVersion, kind, name, namespace and uid unchanged, metadata changes only in labels
  and annotations). A failure is kube's reasonless 500: ``conversion webhook for
  <group/version>, Kind=<Kind> failed: <why>``.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from kapi import errors
from services.registry.crd import schema

if TYPE_CHECKING:
    from services.registry.crd.model import CustomResourceModel

Obj = dict[str, Any]

WEBHOOK_TIMEOUT = 30.0  # a CRD names no timeout: as long as an admission webhook may take
REVIEW_VERSIONS = ("v1",)
_ALLOWED_META_CHANGES = frozenset({"labels", "annotations"})


@dataclass
class Webhook:
    """Where a CRD's conversion webhook is and how to trust it."""

    url: str
    ca_bundle: bytes = b""
    review_version: str = "v1"
    _client: httpx.AsyncClient | None = field(default=None, repr=False, compare=False)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            context = ssl.create_default_context()
            if self.ca_bundle:
                context = ssl.create_default_context(cadata=self.ca_bundle.decode())
            self._client = httpx.AsyncClient(verify=context, timeout=WEBHOOK_TIMEOUT)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def webhook_from(conversion: Obj) -> tuple[Webhook | None, str]:
    """The webhook a CRD's ``spec.conversion`` names, or why it cannot be called."""
    config = (conversion.get("webhook") or {}).get("clientConfig") or {}
    versions = (conversion.get("webhook") or {}).get("conversionReviewVersions") or []
    review = next((v for v in versions if v in REVIEW_VERSIONS), "")
    if not review:
        return None, f"no supported conversion review versions in {versions}"
    bundle = config.get("caBundle") or ""
    try:
        ca = base64.b64decode(bundle) if bundle else b""
    except (binascii.Error, ValueError):
        return None, "invalid caBundle"
    url = config.get("url")
    if isinstance(url, str) and url:
        return Webhook(url, ca, review), ""
    service = config.get("service")
    if isinstance(service, dict):
        path = str(service.get("path") or "")
        port = int(service.get("port") or 443)
        host = f"{service.get('name')}.{service.get('namespace')}.svc"
        return Webhook(f"https://{host}:{port}{path}", ca, review), ""
    return None, "webhook clientConfig has neither url nor service"


class CustomResourceConverter:
    """Conversion between the versions of one CRD (``definition.Converter``)."""

    def __init__(
        self,
        *,
        group: str,
        kind: str,
        storage_version: str,
        models: dict[str, CustomResourceModel],
        webhook: Webhook | None = None,
        webhook_problem: str = "",
    ) -> None:
        self.group = group
        self.kind = kind
        self.models = models  # by version
        self.webhook = webhook
        self.webhook_problem = webhook_problem
        self.strategy_webhook = webhook is not None or bool(webhook_problem)
        stored = models.get(storage_version)
        # Reads are rewritten even in the stored version when its schema has defaults.
        self.rewrites_reads = bool(stored is not None and stored.has_defaults)
        self.storage_version = storage_version

    def _version(self, api_version: str) -> str:
        return api_version.rpartition("/")[2]

    async def convert(self, objects: list[Obj], to_api_version: str) -> list[Obj]:
        to = self._version(to_api_version)
        out: list[Obj | None] = []
        pending: list[tuple[int, Obj]] = []
        for obj in objects:
            copied: Obj = orjson.loads(orjson.dumps(obj))
            model = self.models.get(self._version(str(copied.get("apiVersion") or "")))
            if model is not None:
                model.default(copied)
            if copied.get("apiVersion") == to_api_version:
                out.append(copied)
            elif not self.strategy_webhook:
                copied["apiVersion"] = to_api_version
                out.append(self._pruned(copied, to))
            else:
                pending.append((len(out), copied))
                out.append(None)
        if pending:
            converted = await self._review([o for _, o in pending], to_api_version)
            for (i, _), obj in zip(pending, converted, strict=True):
                out[i] = self._pruned(obj, to)
        return [o for o in out if o is not None]

    def _pruned(self, obj: Obj, version: str) -> Obj:
        model = self.models.get(version)
        if model is not None and not model.preserve_unknown_fields:
            schema.prune(obj, model.root, root=True)
        return obj

    def _failed(self, to_api_version: str, why: str) -> errors.StatusError:
        """kube answers a conversion error as it answers any error that is not a Status:
        500 with no reason and the error's text (kubectl: ``Error from server: ...``)."""
        return errors.StatusError(
            code=500,
            reason="",
            message=f"conversion webhook for {to_api_version}, Kind={self.kind} failed: {why}",
        )

    async def _review(self, objects: list[Obj], to_api_version: str) -> list[Obj]:
        if self.webhook is None:
            raise self._failed(to_api_version, self.webhook_problem)
        request_uid = str(uuid.uuid4())
        review = {
            "kind": "ConversionReview",
            "apiVersion": f"apiextensions.k8s.io/{self.webhook.review_version}",
            "request": {
                "uid": request_uid,
                "desiredAPIVersion": to_api_version,
                "objects": objects,
            },
        }
        try:
            reply = await self.webhook.client().post(
                self.webhook.url,
                content=orjson.dumps(review),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise self._failed(to_api_version, f'Post "{self.webhook.url}": {exc}') from None
        if reply.status_code != 200:
            raise self._failed(
                to_api_version, f"conversion webhook returned HTTP {reply.status_code}"
            )
        try:
            answer = orjson.loads(reply.content)
        except orjson.JSONDecodeError as exc:
            raise self._failed(to_api_version, f"invalid response: {exc}") from None
        return self._check(answer, request_uid, objects, to_api_version)

    def _check(
        self, answer: Any, request_uid: str, sent: list[Obj], to_api_version: str
    ) -> list[Obj]:
        response = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise self._failed(to_api_version, "no response provided")
        if response.get("uid") != request_uid:
            raise self._failed(
                to_api_version,
                f"expected response.uid={request_uid}, got {response.get('uid')}",
            )
        result = response.get("result") or {}
        if result.get("status") != "Success":
            message = result.get("message") or "conversion failed"
            raise self._failed(to_api_version, f"conversion webhook failed: {message}")
        converted = response.get("convertedObjects")
        if not isinstance(converted, list) or len(converted) != len(sent):
            count = len(converted) if isinstance(converted, list) else 0
            raise self._failed(
                to_api_version,
                f"returned {count} objects, expected {len(sent)}",
            )
        for before, after in zip(sent, converted, strict=True):
            why = _changed_identity(before, after, to_api_version)
            if why:
                raise self._failed(to_api_version, why)
        return [dict(obj) for obj in converted]

    async def close(self) -> None:
        if self.webhook is not None:
            await self.webhook.close()


def _changed_identity(before: Obj, after: Any, to_api_version: str) -> str:
    """Why a converted object is not the one sent (kube's restrictions), or ""."""
    if not isinstance(after, dict):
        return "converted object is not an object"
    if after.get("apiVersion") != to_api_version:
        return (
            f"invalid converted object: expected apiVersion {to_api_version}, "
            f"got {after.get('apiVersion')}"
        )
    if after.get("kind") != before.get("kind"):
        return (
            f"invalid converted object: expected kind {before.get('kind')}, got {after.get('kind')}"
        )
    old_meta = before.get("metadata") or {}
    new_meta = after.get("metadata") or {}
    if not isinstance(new_meta, dict):
        return "invalid converted object: metadata must be an object"
    for key in set(old_meta) | set(new_meta):
        if key in _ALLOWED_META_CHANGES:
            continue
        if old_meta.get(key) != new_meta.get(key):
            return f"invalid converted object: metadata.{key} may not be changed by conversion"
    return ""
