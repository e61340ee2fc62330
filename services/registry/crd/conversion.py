"""Converting a custom resource between its CRD's versions, as apiextensions-apiserver does.

A stored object is read in the storage version: its schema's defaults are set (kube's
storage codec defaults what it decodes), then it is converted to the version asked
for and pruned to that version's schema (kube's ``schemaCoercingConverter``):

- conversion ``None``: only ``apiVersion`` changes;
- conversion ``Webhook``: the objects go to the CRD's webhook in one ConversionReview
  (``apiextensions.k8s.io/v1``, the first of its ``conversionReviewVersions`` kube
  speaks), over HTTPS verified with the ``caBundle`` (the system's roots without one),
  at the ``clientConfig``'s ``url``, or at its ``service``: an endpoint of that Service
  (``ServiceResolver``), the certificate checked for ``<name>.<namespace>.svc`` as
  kube-apiserver's webhook client checks it. The answer is checked as kube checks it
  (``webhook_converter.go``: the review's kind and uid, one object per object sent, the
  desired apiVersion, the kind, name, namespace and uid unchanged); the metadata is the
  object's own again but for the labels and annotations the webhook set
  (``restoreObjectMeta``). A failure is kube's reasonless 500 naming the object's
  group/version/kind before conversion: ``conversion webhook for <group/version>,
  Kind=<Kind> failed: <why>``.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import orjson

from kapi import errors, service_resolution
from services.registry.crd import schema

if TYPE_CHECKING:
    from services.registry.crd.model import CustomResourceModel

Obj = dict[str, Any]

# kube-apiserver's webhook clients time out after 30 s and say so in the URL they call.
WEBHOOK_TIMEOUT = 30.0
REVIEW_VERSIONS = ("v1",)
REVIEW_GVK = "apiextensions.k8s.io/v1, Kind=ConversionReview"


class ServiceResolver(Protocol):
    """Where a Service's port is served: how a webhook named by ``service`` is reached."""

    async def endpoint(self, ref: service_resolution.ServiceRef) -> service_resolution.Endpoint:
        """One ready endpoint of the referenced Service port. Raises a ``StatusError``
        whose message says why there is none, in kube's words (``kapi.service_resolution``:
        the Service not found, no such port, no endpoints available)."""
        ...


@dataclass
class Webhook:
    """Where a CRD's conversion webhook is and how to trust it. ``url`` is the URL kube
    names in its errors; with ``service``, the request goes to an endpoint of it."""

    url: str
    ca_bundle: bytes = b""
    review_version: str = "v1"
    service: service_resolution.ServiceRef | None = None
    _client: httpx.AsyncClient | None = field(default=None, repr=False, compare=False)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            context = ssl.create_default_context()
            if self.ca_bundle:
                context = ssl.create_default_context(cadata=self.ca_bundle.decode())
            self._client = httpx.AsyncClient(verify=context, timeout=WEBHOOK_TIMEOUT)
        return self._client

    async def post(self, body: bytes, resolver: ServiceResolver | None) -> httpx.Response:
        """POST ``body``; the URL of a service webhook is one of its endpoints, its TLS
        server name and Host the service's. Raises ``StatusError`` when no endpoint is
        found, ``httpx.HTTPError`` when the call fails."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.service is None:
            return await self.client().post(self.url, content=body, headers=headers)
        if resolver is None:
            raise errors.service_unavailable("no service resolver")
        ref = self.service
        endpoint = await resolver.endpoint(ref)
        headers["Host"] = f"{ref.server_name}:{ref.port}"
        return await self.client().post(
            endpoint.url(f"{ref.path}?timeout={int(WEBHOOK_TIMEOUT)}s"),
            content=body,
            headers=headers,
            extensions={"sni_hostname": ref.server_name},
        )

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
        return None, "no supported conversion review versions"
    bundle = config.get("caBundle") or ""
    try:
        ca = base64.b64decode(bundle) if bundle else b""
    except (binascii.Error, ValueError):
        return None, "invalid caBundle"
    url = config.get("url")
    timeout = f"timeout={int(WEBHOOK_TIMEOUT)}s"
    if isinstance(url, str) and url:
        return Webhook(f"{url}{'&' if '?' in url else '?'}{timeout}", ca, review), ""
    ref = service_resolution.service_ref(config.get("service"))
    if ref is not None:
        url = f"https://{ref.server_name}:{ref.port}{ref.path}?{timeout}"
        return Webhook(url, ca, review, service=ref), ""
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
        resolver: ServiceResolver | None = None,
    ) -> None:
        self.group = group
        self.kind = kind
        self.models = models  # by version
        self.webhook = webhook
        self.webhook_problem = webhook_problem
        self.resolver = resolver
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

    def _failed(self, sent: Obj, why: str, *, verb: str = "failed:") -> errors.StatusError:
        """kube answers a conversion error as it answers any error that is not a Status:
        500 with no reason and the error's text (kubectl: ``Error from server: ...``),
        naming the group/version/kind of the object it converted (kube converts one
        object at a time as it decodes them)."""
        gvk = f"{sent.get('apiVersion')}, Kind={sent.get('kind') or self.kind}"
        return errors.StatusError(
            code=500, reason="", message=f"conversion webhook for {gvk} {verb} {why}"
        )

    async def _review(self, objects: list[Obj], to_api_version: str) -> list[Obj]:
        if self.webhook is None:
            raise errors.StatusError(code=500, reason="", message=self.webhook_problem)
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
        first = objects[0]
        try:
            reply = await self.webhook.post(orjson.dumps(review), self.resolver)
        except (httpx.HTTPError, errors.StatusError) as exc:
            why = exc.message if isinstance(exc, errors.StatusError) else str(exc)
            raise self._failed(first, f'Post "{self.webhook.url}": {why}') from None
        if reply.status_code != 200:
            raise self._failed(first, f"conversion webhook returned HTTP {reply.status_code}")
        try:
            answer = orjson.loads(reply.content)
        except orjson.JSONDecodeError as exc:
            raise self._failed(first, f"invalid response: {exc}") from None
        converted = self._converted(answer, request_uid, first)
        if len(converted) != len(objects):
            if len(objects) == 1:
                raise self._failed(first, "no objects returned", verb="failed,")
            raise self._failed(
                first, f"{len(converted)} objects, expected {len(objects)}", verb="returned"
            )
        return [
            self._checked(before, after, to_api_version)
            for before, after in zip(objects, converted, strict=True)
        ]

    def _converted(self, answer: Any, request_uid: str, first: Obj) -> list[Any]:
        """The converted objects of a review v1, as ``getConvertedObjectsFromResponse``."""
        if not isinstance(answer, dict):
            answer = {}
        got = f"{answer.get('apiVersion') or ''}, Kind={answer.get('kind') or ''}"
        if got != REVIEW_GVK:
            raise self._failed(first, f"expected webhook response of {REVIEW_GVK}, got {got}")
        response = answer.get("response")
        if not isinstance(response, dict):
            raise self._failed(first, "no response provided")
        uid = response.get("uid") or ""
        if uid != request_uid:
            raise self._failed(
                first, f"expected response.uid={_quoted(request_uid)}, got {_quoted(str(uid))}"
            )
        result = response.get("result") or {}
        if not isinstance(result, dict) or result.get("status") != "Success":
            result = result if isinstance(result, dict) else {}
            message = result.get("message") or (
                f"response.result.status was '{result.get('status') or ''}', not 'Success'"
            )
            raise self._failed(first, str(message))
        converted = response.get("convertedObjects") or []
        return converted if isinstance(converted, list) else []

    def _checked(self, before: Obj, after: Any, to_api_version: str) -> Obj:
        """``after`` if it is ``before`` converted (kube's checks, one object at a time),
        with ``before``'s metadata but the labels and annotations ``after`` has."""
        if not isinstance(after, dict):
            raise self._failed(before, f"unexpected type {type(after).__name__} at index 0")
        got = str(after.get("apiVersion") or "")
        if got != to_api_version:
            raise self._failed(
                before,
                f"invalid object at index 0: invalid groupVersion (expected {to_api_version}, "
                f"received {got})",
                verb="returned",
            )
        if after.get("kind") != before.get("kind"):
            raise self._failed(
                before,
                f"invalid object at index 0: invalid kind (expected {before.get('kind')}, "
                f"received {after.get('kind') or ''})",
                verb="returned",
            )
        old_meta = before.get("metadata") or {}
        new_meta = after.get("metadata")
        for key, what in (("name", "name"), ("namespace", "namespace"), ("uid", "UID")):
            if (old_meta.get(key) or "") != ((new_meta or {}).get(key) or ""):
                raise self._failed(
                    before,
                    f"invalid object: must have the same {what}: {old_meta.get(key) or ''} != "
                    f"{(new_meta or {}).get(key) or ''}",
                    verb="returned",
                )
        why = _restore_meta(before, after)
        if why:
            raise self._failed(before, f"invalid metadata: {why}", verb="returned")
        return after

    async def close(self) -> None:
        if self.webhook is not None:
            await self.webhook.close()


def _quoted(text: str) -> str:
    """Go's ``%q`` of a plain string."""
    return orjson.dumps(text).decode()


def _go_type(value: Any) -> str:
    """The Go type a JSON value decodes to (kube's ``%T`` of an unstructured value)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "int64" if isinstance(value, int) else "float64"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "string" if isinstance(value, str) else "<nil>"


def _restore_meta(before: Obj, after: Obj) -> str:
    """Give ``after`` the metadata of ``before`` but for the labels and annotations the
    webhook set (``restoreObjectMeta``); why it cannot, or ""."""
    meta = after.get("metadata")
    if meta is None:
        return "missing metadata in converted object"
    if not isinstance(meta, dict):
        return f"invalid metadata of type {_go_type(meta)} in converted object"
    restored: Obj = orjson.loads(orjson.dumps(before.get("metadata") or {}))
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            restored.pop(key, None)
            continue
        if not isinstance(value, dict):
            return f"invalid metadata.{key} of type {_go_type(value)} in converted object"
        for k, v in value.items():
            if not isinstance(v, str):
                return (
                    f"metadata.{key}[{k}] must be a string, but is {_go_type(v)} "
                    "in converted object"
                )
        restored[key] = value
    after["metadata"] = restored
    return ""
