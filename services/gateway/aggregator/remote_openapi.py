"""The extension servers' OpenAPI v3, merged into ``/openapi/v3``.

As kube-aggregator's OpenAPI v3 aggregation (``controllers/openapiv3``): for each
available remote APIService the gateway reads its server's ``/openapi/v3`` index and
the document of the APIService's own group-version (``apis/GROUP/VERSION``), and serves
that document itself, as the server wrote it (its PATCH operations keep their
``fieldValidation`` parameter and ``x-kubernetes-group-version-kind``, which is what
lets ``kubectl create -f`` validate on the server and ``kubectl explain`` find the
kind). Its hash is the gateway's own (uppercase hex SHA-512 of the bytes, as for every
document), so the index pins it as kube's does. Fetched again when the APIService
changes and every ``REFRESH`` seconds; dropped while the APIService is unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import orjson

from kapi import informer
from services.gateway.aggregator import proxy as proxying
from services.gateway.aggregator.proxy import FetchError, Proxy
from services.gateway.aggregator.state import Remote, State, remote_of

log = logging.getLogger(__name__)

REFRESH = 60.0

Obj = dict[str, Any]


def openapi_path(remote: Remote) -> str:
    """The group-version's key in ``/openapi/v3``'s index: ``apis/GROUP/VERSION``."""
    return f"apis/{remote.group}/{remote.version}" if remote.group else f"api/{remote.version}"


class RemoteOpenAPI:
    def __init__(self, state: State, proxy: Proxy, *, refresh: float = REFRESH) -> None:
        self.state = state
        self.proxy = proxy
        self.refresh = refresh
        self.documents: dict[str, tuple[bytes, str]] = {}  # path -> (JSON, hash)
        self._remotes: dict[str, Remote] = {}  # by APIService name
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        informer.on_each_object(self.state.apiservices, self._changed)
        self._tasks = [
            asyncio.create_task(self._work(), name="remote openapi"),
            asyncio.create_task(self._tick(), name="remote openapi refresh"),
        ]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def index_entries(self) -> dict[str, Obj]:
        """The remote group-versions' entries of ``/openapi/v3``."""
        return {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
            for path, (_, digest) in self.documents.items()
        }

    def _changed(self, kind: str, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        remote = remote_of(obj) if kind != "DELETED" else None
        previous = self._remotes.pop(name, None)
        if previous is not None and (
            remote is None or openapi_path(previous) != openapi_path(remote)
        ):
            self.documents.pop(openapi_path(previous), None)
        if remote is None:
            return
        self._remotes[name] = remote
        if previous != remote:
            self._dirty.add(name)
            self._wake.set()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            self._dirty.update(self._remotes)
            self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            names, self._dirty = self._dirty, set()
            for name in sorted(names):
                remote = self._remotes.get(name)
                if remote is None:
                    continue
                try:
                    await self.sync(remote)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("openapi of %s failed", name)

    async def sync(self, remote: Remote) -> None:
        path = openapi_path(remote)
        if not remote.available:
            self.documents.pop(path, None)
            return
        try:
            index = await proxying.fetch(self.proxy, remote, "/openapi/v3")
            listed = (
                orjson.loads(index.content).get("paths") or {} if index.status_code == 200 else {}
            )
            if path not in listed:
                log.info("%s serves no OpenAPI v3 document for %s", remote.name, path)
                self.documents.pop(path, None)
                return
            reply = await proxying.fetch(
                self.proxy, remote, f"/openapi/v3/{path}", [("Accept", "application/json")]
            )
        except (FetchError, orjson.JSONDecodeError, AttributeError) as exc:
            log.info("openapi of %s not fetched: %s", remote.name, exc)
            return  # keep what was there: the next pass tries again
        if reply.status_code != 200:
            log.info("openapi of %s: %d from its server", remote.name, reply.status_code)
            return
        digest = hashlib.sha512(reply.content).hexdigest().upper()
        self.documents[path] = (reply.content, digest)
