"""Kinds and their schemas as the API server publishes them: kube's RESTMapper
(``KindsFor``) over discovery, and ``ClientDiscoveryResolver``
(k8s.io/apiserver/pkg/cel/openapi/resolver/discovery.go) over ``/openapi/v3`` — what the
ValidatingAdmissionPolicy type checker needs to type ``object`` and ``params``.

A group-version's OpenAPI document is fetched by the URL the ``/openapi/v3`` index gives
it, which carries the document's hash: a document is kept (and its kinds' CEL types
with it) for as long as the index names the same URL, so a new CRD version or schema is
seen on the next check, and an unchanged one is not fetched again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from kapi import errors
from kapi.cel import schema, schema_refs
from kapi.cel.typecheck import GroupVersionKind
from kapi.kube.client import ApiClient

Obj = dict[str, Any]
MAX_DOCUMENTS = 64


def gv_path(group: str, version: str) -> str:
    """The group-version's discovery path and OpenAPI v3 index key (``apis/apps/v1``)."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


class SchemaResolver:
    """Kinds by resource and CEL types by kind, read through the API server."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._documents: dict[str, Obj] = {}  # server-relative URL (with hash) -> document
        self._types: dict[tuple[str, GroupVersionKind], schema.DeclType | None] = {}

    async def kinds(self, group: str, version: str) -> dict[str, GroupVersionKind]:
        """The group-version's resources and their kinds (subresources left out); empty
        for a group-version the server does not serve."""
        try:
            listing = await self.client.request("GET", "/" + gv_path(group, version))
        except errors.StatusError as err:
            if err.code == 404:
                return {}
            raise
        out: dict[str, GroupVersionKind] = {}
        for item in listing.get("resources") or []:
            name = str(item.get("name") or "")
            if name and "/" not in name:
                out[name] = GroupVersionKind(group, version, str(item.get("kind") or ""))
        return out

    async def _document(self, group: str, version: str) -> tuple[str, Obj] | None:
        index = await self.client.request("GET", "/openapi/v3")
        entry = (index.get("paths") or {}).get(gv_path(group, version))
        url = str((entry or {}).get("serverRelativeURL") or "")
        if not url:
            return None
        found = self._documents.get(url)
        if found is None:
            path, _, query = url.partition("?")
            found = await self.client.request("GET", path, params=dict(parse_qsl(query)))
            if len(self._documents) >= MAX_DOCUMENTS:
                self._documents.clear()
                self._types.clear()
            self._documents[url] = found
        return url, found

    async def decl_type(self, gvk: GroupVersionKind) -> schema.DeclType | None:
        """The CEL type of the kind's objects, or None where the server publishes no
        schema for it (kube's ErrSchemaNotFound: the kind is not checked)."""
        located = await self._document(gvk.group, gvk.version)
        if located is None:
            return None
        url, document = located
        key = (url, gvk)
        if key not in self._types:
            ref = schema_refs.find_kind(document, gvk.group, gvk.version, gvk.kind)
            resolved = None
            if ref is not None:
                try:
                    resolved = schema_refs.populate(schema_refs.components(document), ref)
                except schema_refs.SchemaNotFound:
                    resolved = None
            self._types[key] = schema.decl_type(resolved, True) if resolved else None
        return self._types[key]
