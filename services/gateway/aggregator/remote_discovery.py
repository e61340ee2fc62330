"""The extension servers' discovery, fetched and kept for the merged documents.

As kube-aggregator's discovery manager (``handler_discovery.go``): for each remote
APIService the aggregator asks its server for aggregated discovery (``GET /apis``, as
``system:kube-aggregator``), keeps the reply per Service (one server may serve several
APIServices), and takes out the APIService's group-version; a server that does not
speak aggregated discovery is asked for the legacy ``/apis/GROUP/VERSION`` instead. A
fetch that fails (the APIService unavailable: the proxy's 503) keeps the last entry,
marked ``freshness: Stale`` (an empty version if there never was one): kubectl then
skips that group-version and says so. Each APIService is fetched again when it changes
and every ``REFRESH`` seconds.

``groups()`` gives the merged documents what they need: each remote group with its
priority and versions (``services/gateway/discovery.py`` merges them with the local
ones); ``generation`` changes whenever that does, so documents are rebuilt only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from kapi import informer
from services.gateway.aggregator import proxy as proxying
from services.gateway.aggregator.proxy import FetchError, Proxy
from services.gateway.aggregator.state import Remote, State, remote_of

log = logging.getLogger(__name__)

REFRESH = 60.0
AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
)

# What _fetch says of a server that does not speak aggregated discovery.
LEGACY = "legacy"

Obj = dict[str, Any]
ServiceKey = tuple[str, str, int]


@dataclass(frozen=True)
class RemoteVersion:
    version: str
    priority: int
    entry: Obj  # an APIVersionDiscovery, freshness included


@dataclass(frozen=True)
class RemoteGroup:
    name: str
    priority: int
    versions: tuple[RemoteVersion, ...]


@dataclass
class _Cached:
    discovery: dict[tuple[str, str], Obj]
    etag: str = ""


@dataclass
class _Known:
    remote: Remote
    entry: Obj = field(default_factory=dict)


class RemoteDiscovery:
    def __init__(self, state: State, proxy: Proxy, *, refresh: float = REFRESH) -> None:
        self.state = state
        self.proxy = proxy
        self.refresh = refresh
        self.generation = 0
        self._known: dict[str, _Known] = {}  # by APIService name
        self._cache: dict[ServiceKey, _Cached] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        informer.on_each_object(self.state.apiservices, self._changed)
        self._tasks = [
            asyncio.create_task(self._work(), name="remote discovery"),
            asyncio.create_task(self._tick(), name="remote discovery refresh"),
        ]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _changed(self, kind: str, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        remote = remote_of(obj) if kind != "DELETED" else None
        known = self._known.get(name)
        if remote is None:
            if known is not None:
                del self._known[name]
                self._bump()
            return
        if known is not None and known.remote == remote:
            return
        self._known[name] = _Known(remote, known.entry if known else {})
        self._bump()  # listed (Stale) until fetched
        self._mark(name)

    def _mark(self, name: str) -> None:
        self._dirty.add(name)
        self._wake.set()

    def _bump(self) -> None:
        self.generation += 1

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            for name in list(self._known):
                self._mark(name)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            names, self._dirty = self._dirty, set()
            fetched: dict[ServiceKey, tuple[_Cached | None, str]] = {}
            for name in sorted(names):
                known = self._known.get(name)
                if known is not None:
                    try:
                        await self.sync(known, fetched)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("discovery of %s failed", name)

    async def sync(
        self, known: _Known, fetched: dict[ServiceKey, tuple[_Cached | None, str]]
    ) -> None:
        """Fetch (once per Service per pass) and take out ``known``'s group-version."""
        remote = known.remote
        key = (remote.namespace, remote.service, remote.port)
        if key not in fetched:
            fetched[key] = await self._fetch(remote, key)
        cached, problem = fetched[key]
        if problem == LEGACY:
            found, problem = await self._legacy(remote)
        else:
            found = cached.discovery.get((remote.group, remote.version)) if cached else None
        if problem:
            log.info("discovery of %s is stale: %s", remote.name, problem)
            previous = {k: v for k, v in known.entry.items() if k != "freshness"}
            entry = {**(found or previous or {"version": remote.version}), "freshness": "Stale"}
        else:
            entry = {**(found or {"version": remote.version}), "freshness": "Current"}
        if entry != known.entry:
            known.entry = entry
            self._bump()

    async def _fetch(self, remote: Remote, key: ServiceKey) -> tuple[_Cached | None, str]:
        """The Service's aggregated discovery (cached, "") or why not: the last one kept
        and the problem, or "legacy" when the server does not speak it."""
        cached = self._cache.get(key)
        headers = [("Accept", AGGREGATED_ACCEPT)]
        if cached is not None and cached.etag:
            headers.append(("If-None-Match", cached.etag))
        try:
            reply = await proxying.fetch(self.proxy, remote, "/apis", headers)
        except FetchError as exc:
            return cached, str(exc) or "unreachable"
        if reply.status_code == 304 and cached is not None:
            return cached, ""
        if reply.status_code == 503:
            return (
                cached,
                f"service {key[0]}/{key[1]}:{key[2]} returned non-success response code: 503",
            )
        media = reply.headers.get("content-type", "")
        if reply.status_code == 200 and "as=APIGroupDiscoveryList" in media.replace(" ", ""):
            try:
                document = orjson.loads(reply.content)
                found = {
                    (str(group["metadata"]["name"]), str(version["version"])): version
                    for group in document.get("items") or []
                    for version in group.get("versions") or []
                }
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                return cached, "the aggregated discovery document could not be read"
            cached = _Cached(found, reply.headers.get("etag", ""))
            self._cache[key] = cached
            return cached, ""
        return None, LEGACY

    async def _legacy(self, remote: Remote) -> tuple[Obj | None, str]:
        """kube's fallback: the group-version's APIResourceList, converted (or why not)."""
        path = remote.discovery_path
        try:
            reply = await proxying.fetch(self.proxy, remote, path, [("Accept", "application/json")])
        except FetchError as exc:
            return None, str(exc) or "unreachable"
        if reply.status_code != 200:
            return None, f"failed to download legacy discovery for {path}"
        try:
            resources = convert_resource_list(orjson.loads(reply.content))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return None, f"failed to read legacy discovery for {path}"
        return {"version": remote.version, "resources": resources}, ""

    def groups(self) -> list[RemoteGroup]:
        """The remote groups, each with its versions by priority (kube's order)."""
        by_group: dict[str, list[_Known]] = {}
        for known in self._known.values():
            by_group.setdefault(known.remote.group, []).append(known)
        out = []
        for name, members in by_group.items():
            versions = tuple(
                RemoteVersion(
                    k.remote.version,
                    k.remote.version_priority,
                    k.entry or {"version": k.remote.version, "freshness": "Stale"},
                )
                for k in members
            )
            priority = max(k.remote.group_priority for k in members)
            out.append(RemoteGroup(name, priority, versions))
        return out


def convert_resource_list(resource_list: Obj) -> list[Obj]:
    """An APIResourceList as aggregated discovery's resources (apiserver's
    ConvertGroupVersionIntoToDiscovery): subresources folded into their parents."""
    group_version = str(resource_list.get("groupVersion") or "")
    group, _, version = group_version.rpartition("/")
    parents: dict[str, Obj] = {}
    subresources: list[Obj] = []
    for item in resource_list.get("resources") or []:
        name = str(item["name"])
        kind = {
            "group": item.get("group", group) or group,
            "version": item.get("version", version) or version,
            "kind": item.get("kind", ""),
        }
        if "/" in name:
            owner, _, sub = name.partition("/")
            subresources.append(
                {"parent": owner, "subresource": sub, "responseKind": kind,
                 "verbs": list(item.get("verbs") or [])}
            )  # fmt: skip
            continue
        entry: Obj = {
            "resource": name,
            "responseKind": kind,
            "scope": "Namespaced" if item.get("namespaced") else "Cluster",
            "singularResource": item.get("singularName", ""),
            "verbs": list(item.get("verbs") or []),
        }
        if item.get("shortNames"):
            entry["shortNames"] = list(item["shortNames"])
        if item.get("categories"):
            entry["categories"] = list(item["categories"])
        parents[name] = entry
    for subresource in subresources:
        found = parents.get(subresource.pop("parent"))
        if found is not None:
            found.setdefault("subresources", []).append(subresource)
    return list(parents.values())
