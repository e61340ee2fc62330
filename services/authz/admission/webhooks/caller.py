"""Calling one admission webhook: an AdmissionReview over HTTPS, its answer checked as
kube's ``webhook/request.VerifyAdmissionResponse`` checks it.

The webhook is ``clientConfig.url``, or a Service reached through its EndpointSlices
(``ServiceResolver``) with the certificate checked against ``NAME.NAMESPACE.svc``;
``caBundle`` is the only trust (the system's roots without one). The call is bounded by
the webhook's ``timeoutSeconds``, sent as client-go sends it (``?timeout=10s``).

Every failure to get a good answer is a ``CallingError`` whose text is what kube puts
after ``failed calling webhook "NAME": `` (``failed to call webhook: Post "URL": ...``,
``received invalid webhook response: ...``).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Protocol

import aiohttp
import orjson

from kapi import errors
from services.authz.admission.webhooks.configuration import Hook

Obj = dict[str, Any]
REVIEW_VERSIONS = ("v1", "v1beta1")  # what kapi speaks, kube's preference order
KEEP_ALIVE = 100  # idle connections kept per client (kube: MaxIdleConnsPerHost 100)


class CallingError(Exception):
    """The webhook could not be called or answered badly (kube's ErrCallingWebhook)."""


class ServiceResolver(Protocol):
    async def resolve(self, service: Obj) -> tuple[str, str]:
        """(URL, server name) of a ``clientConfig.service``: one ready endpoint of the
        Service, with the stanza's ``path``, and the name its certificate must carry.
        A Service that leads nowhere raises ``errors.StatusError`` (404 / 503)."""


def review_version(hook: Hook) -> str | None:
    return next((v for v in hook.review_versions if v in REVIEW_VERSIONS), None)


def _timeout_text(seconds: float) -> str:
    whole = int(seconds) if seconds == int(seconds) else int(seconds) + 1
    return f"{whole}s"


class WebhookCaller:
    """HTTPS sessions, one per trust (caBundle), kept for the service's life.

    aiohttp (kapi's HTTPS client elsewhere, ``kapi/kube``) rather than httpx: a call
    costs a third of the CPU. Connections are kept for reuse, as kube's webhook
    transport keeps 100 per host: a TLS handshake per call would cost more than the
    call."""

    def __init__(self, resolver: ServiceResolver) -> None:
        self.resolver = resolver
        self._sessions: dict[bytes, aiohttp.ClientSession] = {}

    def _session(self, ca_bundle: bytes) -> aiohttp.ClientSession:
        session = self._sessions.get(ca_bundle)
        if session is None or session.closed:
            context = (
                ssl.create_default_context(cadata=ca_bundle.decode())
                if ca_bundle
                else ssl.create_default_context()
            )
            connector = aiohttp.TCPConnector(ssl=context, limit=0, limit_per_host=KEEP_ALIVE)
            session = self._sessions[ca_bundle] = aiohttp.ClientSession(
                connector=connector, json_serialize=lambda v: orjson.dumps(v).decode()
            )
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.close() for s in sessions))

    async def call(self, hook: Hook, request: Obj, *, mutating: bool) -> Obj:
        """The webhook's AdmissionResponse to ``request`` (an AdmissionRequest)."""
        if hook.problem:
            raise CallingError(hook.problem)
        version = review_version(hook)
        if version is None:
            raise CallingError(
                f"webhook does not accept known AdmissionReview versions {list(REVIEW_VERSIONS)}"
            )
        try:
            body = orjson.dumps(
                {
                    "kind": "AdmissionReview",
                    "apiVersion": f"admission.k8s.io/{version}",
                    "request": request,
                }
            )
        except TypeError as exc:
            raise CallingError(f"could not encode the AdmissionReview: {exc}") from None
        server_name = ""
        if hook.url:
            url = hook.url
        elif hook.service is not None:
            try:
                url, server_name = await self.resolver.resolve(hook.service)
            except Exception as exc:  # a StatusError: the Service leads nowhere
                raise CallingError(
                    f"failed to call webhook: {getattr(exc, 'message', exc)}"
                ) from None
        else:
            raise CallingError("webhook clientConfig has neither url nor service")
        target = f"{url}?timeout={_timeout_text(hook.timeout)}"
        try:
            async with asyncio.timeout(hook.timeout):
                async with self._session(hook.ca_bundle).post(
                    target,
                    data=body,
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    server_hostname=server_name or None,
                ) as reply:
                    status = reply.status
                    content = await reply.read()
        except TimeoutError:
            raise CallingError(
                f'failed to call webhook: Post "{target}": context deadline exceeded'
            ) from None
        except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            raise CallingError(f'failed to call webhook: Post "{target}": {exc}') from None
        if not 200 <= status < 300:
            text = content.decode(errors="replace").strip()[:512]
            raise CallingError(
                f"failed to call webhook: an error on the server ({text!r}) has prevented the "
                "request from succeeding"
                if text
                else f"failed to call webhook: the server responded with the status code "
                f"{status} but did not return more information"
            )
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise CallingError(f"received invalid webhook response: {exc}") from None
        return verify(answer, str(request["uid"]), version, mutating=mutating)


def verify(answer: Any, uid: str, version: str, *, mutating: bool) -> Obj:
    """VerifyAdmissionResponse: the response, or ``CallingError`` with kube's words."""

    def invalid(why: str) -> CallingError:
        return CallingError(f"received invalid webhook response: {why}")

    if not isinstance(answer, dict):
        raise invalid("webhook response was absent")
    response = answer.get("response")
    if not isinstance(response, dict):
        raise invalid("webhook response was absent")
    if response.get("uid") != uid:
        got = str(response.get("uid") or "")
        raise invalid(f"expected response.uid={errors.quote(uid)}, got {errors.quote(got)}")
    want = f"admission.k8s.io/{version}"
    if version == "v1" and (answer.get("apiVersion"), answer.get("kind")) != (
        want,
        "AdmissionReview",
    ):
        got_group, _, got_version = str(answer.get("apiVersion") or "").rpartition("/")
        raise invalid(
            f"expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
            f"{got_group}/{got_version}, Kind={answer.get('kind') or ''}"
        )
    patch, patch_type = response.get("patch") or "", response.get("patchType") or ""
    if patch and not patch_type:
        raise invalid("webhook returned response.patch but not response.patchType")
    if patch_type and not patch:
        raise invalid("webhook returned response.patchType but not response.patch")
    if patch_type and not mutating:
        raise invalid("validating webhook may not return response.patch or response.patchType")
    if patch_type and patch_type != "JSONPatch":
        raise invalid(f'invalid webhook response.patchType "{patch_type}"')
    return response
