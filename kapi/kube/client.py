"""JSON over HTTPS to the gateway: requests, and watch streams read line by line.

Every failure is a ``kapi.errors.StatusError``: the server's own ``Status`` when it sent
one, else one built as client-go's ``NewGenericServerResponse`` builds it from the code;
a connection that fails is a 503 ``ServiceUnavailable`` (client-go retries those the
same way as a server's 503). Objects are plain dicts, decoded with orjson.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from kapi import errors
from kapi.kube.connection import Connection
from kapi.kube.resources import Resource

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Params = Mapping[str, str | int | bool]
# A bearer token that may change (a ServiceAccount's, renewed before it expires).
TokenSource = Callable[[], Awaitable[str]]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# client-go's reasons for a code the server sent no Status with (NewGenericServerResponse).
_GENERIC_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _query(params: Params | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif value != "":
            out[key] = str(value)
    return out


def _error(code: int, body: bytes) -> errors.StatusError:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return errors.StatusError.from_status(decoded)
    reason = _GENERIC_REASONS.get(code, "InternalError" if code >= 500 else "")
    text = body.decode(errors="replace").strip()[:1024]
    return errors.StatusError(
        code=code, reason=reason, message=text or f"the server responded with {code}"
    )


class ApiClient:
    """One connection pool to one API server; ``close()`` when done.

    ``max_in_flight`` bounds concurrent requests (watches not counted), so a controller
    that enqueues 10,000 syncs does not open 10,000 connections.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        user_agent: str = "kapi",
        max_in_flight: int = 32,
        timeout: float = 30.0,
        token_source: TokenSource | None = None,
    ) -> None:
        self.connection = connection
        self.user_agent = user_agent
        # Asked before every request (client-go's transport with a token source).
        self.token_source = token_source
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_in_flight)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                ssl=self.connection.ssl_context(), limit=0, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                base_url=self.connection.server,
                connector=connector,
                headers={
                    **self.connection.headers(),
                    "User-Agent": self.user_agent,
                    "Accept": JSON,
                },
                json_serialize=lambda value: orjson.dumps(value).decode(),
                auto_decompress=True,
            )
        return self._session

    async def _auth(self) -> dict[str, str]:
        if self.token_source is None:
            return {}
        return {"Authorization": f"Bearer {await self.token_source()}"}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,
    ) -> Obj:
        """One call; the decoded JSON reply (a dict), or a ``StatusError``."""
        session = self._open()
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        headers.update(await self._auth())
        async with self._slots:
            try:
                async with session.request(
                    method,
                    path,
                    params=_query(params),
                    data=data,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout or self._timeout),
                ) as resp:
                    raw = await resp.read()
                    if resp.status >= 300:
                        raise _error(resp.status, raw)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise errors.service_unavailable(
                    f"{method} {path}: {type(exc).__name__}: {exc}"
                ) from None
        if not raw:
            return {}
        decoded = orjson.loads(raw)
        return decoded if isinstance(decoded, dict) else {"value": decoded}

    async def text(self, path: str, *, params: Params | None = None) -> str:
        """A GET whose reply is text (pods/log)."""
        session = self._open()
        async with self._slots:
            try:
                async with session.get(
                    path,
                    params=_query(params),
                    headers=await self._auth(),
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                ) as resp:
                    raw = await resp.read()
                    if resp.status >= 300:
                        raise _error(resp.status, raw)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise errors.service_unavailable(f"GET {path}: {exc}") from None
        return raw.decode(errors="replace")

    async def stream(
        self, path: str, *, params: Params | None = None, timeout: float | None = None
    ) -> AsyncIterator[Obj]:
        """A watch: one decoded event per line until the server ends the response
        (``timeout``: give up on a stream the server should have ended by then).

        Lines are split here rather than by aiohttp's ``readline``, which refuses a line
        over 128 KiB (an object may be up to 1.5 MiB).
        """
        session = self._open()
        try:
            async with session.get(
                path,
                params=_query(params),
                headers=await self._auth(),
                timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=self._timeout),
            ) as resp:
                if resp.status >= 300:
                    raise _error(resp.status, await resp.read())
                buffer = b""
                async for chunk in resp.content.iter_any():
                    buffer += chunk
                    while True:
                        end = buffer.find(b"\n")
                        if end < 0:
                            break
                        line, buffer = buffer[:end], buffer[end + 1 :]
                        if line.strip():
                            yield orjson.loads(line)
                if buffer.strip():
                    yield orjson.loads(buffer)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise errors.service_unavailable(f"watch {path}: {type(exc).__name__}: {exc}") from None

    # --- typed calls ---------------------------------------------------------------

    async def get(self, res: Resource, namespace: str, name: str, subresource: str = "") -> Obj:
        return await self.request("GET", res.path(namespace, name, subresource))

    async def list(self, res: Resource, namespace: str = "", **params: str | int | bool) -> Obj:
        return await self.request("GET", res.path(namespace), params=params)

    async def create(
        self, res: Resource, namespace: str, obj: Obj, *, subresource: str = "", name: str = ""
    ) -> Obj:
        """POST; with ``subresource`` (binding, eviction) to ``.../NAME/SUB``."""
        path = res.path(namespace, name, subresource) if subresource else res.path(namespace)
        return await self.request("POST", path, body=obj)

    async def update(self, res: Resource, obj: Obj, *, subresource: str = "") -> Obj:
        """PUT with the object's resourceVersion: a stale one is a 409 Conflict."""
        meta = obj["metadata"]
        path = res.path(meta.get("namespace", ""), meta["name"], subresource)
        return await self.request("PUT", path, body=obj)

    async def patch(
        self,
        res: Resource,
        namespace: str,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str = "",
        params: Params | None = None,
    ) -> Obj:
        return await self.request(
            "PATCH",
            res.path(namespace, name, subresource),
            body=patch,
            content_type=content_type,
            params=params,
        )

    async def delete(
        self,
        res: Resource,
        namespace: str,
        name: str,
        *,
        propagation: str = "",
        grace_period: int | None = None,
        preconditions: Obj | None = None,
    ) -> Obj:
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            options["propagationPolicy"] = propagation
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        if preconditions:
            options["preconditions"] = preconditions
        return await self.request("DELETE", res.path(namespace, name), body=options)
