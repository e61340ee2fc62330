"""OpenAPI v3 documents (``/openapi/v3``, ``/openapi/v3/<group-version>``), as kube-apiserver 1.32.

Why: kubectl ``create -f``/``apply -f``/``replace``/``edit`` look for the type's PATCH
operation in ``/openapi/v3/<gv>``; when it carries ``x-kubernetes-group-version-kind`` and
a ``fieldValidation`` query parameter, kubectl leaves validation to the server (and sends
``fieldValidation=Strict``) instead of falling back to protobuf ``/openapi/v2``.
``kubectl explain`` and client-side strategic merge read the component schemas.

Everything is driven by the catalog's table: one document per served group-version, with
the operations each definition's verbs and subresources allow (the operation ids, actions,
parameters and responses kube-apiserver's installer publishes), and only the component
schemas those operations reach (see ``openapi_schemas``; a custom resource's come from its
CRD's schema, ``services/registry/crd``), so each document stays small. When the catalog
changes, only the documents of the group-versions whose definitions changed are rebuilt,
and their hashes change with them.

Documents are serialised once per process, with sorted keys, so their bytes — and the
hash in the index, kube's uppercase hex SHA-512 of the document — are stable across
processes and restarts; kubectl caches a document on disk for as long as its hash holds.
For the builtin table that takes ~15 ms (reading the definitions ~6 ms; converting,
serialising and hashing api/v1 (545 kB) and apis/apps/v1 (261 kB) ~9 ms).

Not published (kube has them): the deprecated ``/watch/`` paths, and subresources other
than ``status`` and ``scale``. DELETE answers are declared as ``Status``; kube declares the
object instead for the few stores that return it (pods, services).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import orjson

from services.registry import openapi_schemas
from services.registry.openapi_schemas import REF_PREFIX, Definitions, Overlay
from services.registry.types import ResourceType, TypeTable

Obj = dict[str, Any]

INFO = {"title": "Kubernetes", "version": "v1.32.0"}
SECURITY_SCHEMES = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
PATCH_SCHEMA = _META + "Patch"
DELETE_OPTIONS_SCHEMA = _META + "DeleteOptions"
STATUS_SCHEMA = _META + "Status"
API_RESOURCE_LIST_SCHEMA = _META + "APIResourceList"

OBJECT_MEDIA_TYPES = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
LIST_MEDIA_TYPES = (
    *OBJECT_MEDIA_TYPES,
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
)
PATCH_MEDIA_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)

# Subresources served as get/replace/patch of a whole object. ``status`` carries the
# resource's own kind; ``scale`` is autoscaling/v1 Scale, as kube's. Other subresources
# (log, exec, token, ...) have bespoke shapes and are not described.
_SUBRESOURCE_KINDS: dict[str, tuple[str, str, str, str] | None] = {
    "status": None,
    "scale": ("io.k8s.api.autoscaling.v1.Scale", "autoscaling", "v1", "Scale"),
}

# --- parameters, with kube-apiserver's descriptions ---------------------------------

_WRITE_FIELD_MANAGER = (
    "fieldManager is a name associated with the actor or entity that is making these changes. "
    "The value must be less than or 128 characters long, and only contain printable "
    "characters, as defined by https://golang.org/pkg/unicode/#IsPrint."
)
_DESCRIPTIONS = {
    "pretty": (
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the "
        "user-agent indicates a browser or command-line HTTP tool (curl and wget)."
    ),
    "namespace": "object name and auth scope, such as for teams and projects",
    "fieldManager": _WRITE_FIELD_MANAGER,
    "fieldManager/patch": _WRITE_FIELD_MANAGER
    + (
        " This field is required for apply requests (application/apply-patch) but optional "
        "for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch)."
    ),
    "fieldValidation": (
        "fieldValidation instructs the server on how to handle objects in the request "
        "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: "
        "This will ignore any unknown fields that are silently dropped from the object, and "
        "will ignore all but the last duplicate field that the decoder encounters. This is "
        "the default behavior prior to v1.23. - Warn: This will send a warning via the "
        "standard warning response header for each unknown field that is dropped from the "
        "object, and for each duplicate field that is encountered. The request will still "
        "succeed if there are no other errors, and will only persist the last of any "
        "duplicate fields. This is the default in v1.23+ - Strict: This will fail the "
        "request with a BadRequest error if any unknown fields would be dropped from the "
        "object, or if any duplicate fields are present. The error returned from the server "
        "will contain all unknown and duplicate fields encountered."
    ),
    "force": (
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting '
        "fields owned by other people. Force flag must be unset for non-apply patch requests."
    ),
    "allowWatchBookmarks": (
        'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not '
        "implement bookmarks may ignore this flag and bookmarks are sent at the server's "
        "discretion. Clients should not assume bookmarks are returned at any specific "
        "interval, nor may they assume the server will send any BOOKMARK event during a "
        "session. If this is not a watch, this field is ignored."
    ),
    "continue": (
        "The continue option should be set when retrieving more results from the server. "
        "Since this value is server defined, clients may only use the continue value from a "
        "previous query result with identical query parameters (except for the value of "
        "continue) and the server may reject a continue value it does not recognize. If the "
        "specified continue value is no longer valid whether due to expiration (generally "
        "five to fifteen minutes) or a configuration change on the server, the server will "
        "respond with a 410 ResourceExpired error together with a continue token. If the "
        "client needs a consistent list, it must restart their list without the continue "
        "field. Otherwise, the client may send another list request with the token received "
        "with the 410 error, the server will respond with a list starting from the next key, "
        "but from the latest snapshot, which is inconsistent from the previous list results "
        "- objects that are created, modified, or deleted after the first list request will "
        'be included in the response, as long as their keys are after the "next key".\n\n'
        "This field is not supported when watch is true. Clients may start a watch from the "
        "last resourceVersion value returned by the server and not miss any modifications."
    ),
    "fieldSelector": (
        "A selector to restrict the list of returned objects by their fields. Defaults to "
        "everything."
    ),
    "labelSelector": (
        "A selector to restrict the list of returned objects by their labels. Defaults to "
        "everything."
    ),
    "limit": (
        "limit is a maximum number of responses to return for a list call. If more items "
        "exist, the server will set the `continue` field on the list metadata to a value that "
        "can be used with the same initial query to retrieve the next set of results. Setting "
        "a limit may return fewer than the requested amount of items (up to zero items) in "
        "the event all requested objects are filtered out and clients should only use the "
        "presence of the continue field to determine whether more results are available. "
        "Servers may choose not to support the limit argument and will return all of the "
        "available results. If limit is specified and the continue field is empty, clients "
        "may assume that no more results are available. This field is not supported if watch "
        "is true.\n\nThe server guarantees that the objects returned when using continue will "
        "be identical to issuing a single list call without a limit - that is, no objects "
        "created, modified, or deleted after the first request is issued will be included in "
        "any subsequent continued requests. This is sometimes referred to as a consistent "
        "snapshot, and ensures that a client that is using limit to receive smaller chunks of "
        "a very large result can ensure they see all possible objects. If objects are updated "
        "during a chunked list the version of the object that was present at the time the "
        "first list result was calculated is returned."
    ),
    "resourceVersion": (
        "resourceVersion sets a constraint on what resource versions a request may be served "
        "from. See https://kubernetes.io/docs/reference/using-api/api-concepts/"
        "#resource-versions for details.\n\nDefaults to unset"
    ),
    "resourceVersionMatch": (
        "resourceVersionMatch determines how resourceVersion is applied to list calls. It is "
        "highly recommended that resourceVersionMatch be set for list calls where "
        "resourceVersion is set See https://kubernetes.io/docs/reference/using-api/"
        "api-concepts/#resource-versions for details.\n\nDefaults to unset"
    ),
    "sendInitialEvents": (
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the "
        "watch stream will begin with synthetic events to produce the current state of "
        "objects in the collection. Once all such events have been sent, a synthetic "
        '"Bookmark" event  will be sent. The bookmark will report the ResourceVersion (RV) '
        'corresponding to the set of objects, and be marked with `"k8s.io/initial-events-end":'
        ' "true"` annotation. Afterwards, the watch stream will proceed as usual, sending '
        "watch events corresponding to changes (subsequent to the RV) to objects watched.\n\n"
        "When `sendInitialEvents` option is set, we require `resourceVersionMatch` option to "
        "also be set. The semantic of the watch request is as following: - "
        '`resourceVersionMatch` = NotOlderThan\n  is interpreted as "data at least as new as '
        'the provided `resourceVersion`"\n  and the bookmark event is send when the state is '
        "synced\n  to a `resourceVersion` at least as fresh as the one provided by the "
        'ListOptions.\n  If `resourceVersion` is unset, this is interpreted as "consistent '
        'read" and the\n  bookmark event is send when the state is synced at least to the '
        "moment\n  when request started being processed.\n- `resourceVersionMatch` set to any "
        "other value or unset\n  Invalid error is returned.\n\nDefaults to true if "
        '`resourceVersion=""` or `resourceVersion="0"` (for backward compatibility reasons) '
        "and to false otherwise."
    ),
    "timeoutSeconds": (
        "Timeout for the list/watch call. This limits the duration of the call, regardless of "
        "any activity or inactivity."
    ),
    "watch": (
        "Watch for changes to the described resources and return them as a stream of add, "
        "update, and remove notifications. Specify resourceVersion."
    ),
}
# Delete parameters mirror DeleteOptions fields; their text comes from that definition.
_DELETE_OPTION_FIELDS = (
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
)
_PARAM_TYPES = {
    "allowWatchBookmarks": "boolean",
    "force": "boolean",
    "gracePeriodSeconds": "integer",
    "ignoreStoreReadErrorWithClusterBreakingPotential": "boolean",
    "limit": "integer",
    "orphanDependents": "boolean",
    "sendInitialEvents": "boolean",
    "timeoutSeconds": "integer",
    "watch": "boolean",
}
_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_PARAMS = ("dryRun", "fieldManager/patch", "fieldValidation", "force")
_DELETE_PARAMS = _DELETE_OPTION_FIELDS
_DELETE_COLLECTION_PARAMS = tuple(
    sorted(
        {
            *_DELETE_OPTION_FIELDS,
            *(p for p in _LIST_PARAMS if p not in ("allowWatchBookmarks", "watch")),
        }
    )
)


def operation_id_part(text: str, *, capitalize: bool) -> str:
    """kube-apiserver's ToValidOperationID: drop separators, capitalise what follows them."""
    out: list[str] = []
    upper = capitalize
    for i, char in enumerate(text):
        if char.isalpha() or char == "_" or (i != 0 and char.isdigit()):
            out.append(char.upper() if upper else char)
            upper = False
        else:
            upper = True
    return "".join(out)


def _gv_names(group: str, version: str) -> tuple[str, str]:
    """(``CoreV1``, ``core_v1``): the operation-id infix and the tag, as kube derives them."""
    trimmed = (group or "core").removesuffix(".k8s.io")
    infix = operation_id_part(trimmed, capitalize=True) + operation_id_part(
        version, capitalize=True
    )
    tag = (
        operation_id_part(trimmed, capitalize=False)
        + "_"
        + operation_id_part(version, capitalize=False)
    )
    return infix, tag


def _article(noun: str) -> str:
    """kube's GetArticleForNoun: "a"/"an", none for plurals (but "class")."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return ""
    return "an " if noun[:1].lower() in "aeiou" else "a "


def _ref(name: str) -> Obj:
    return {"$ref": REF_PREFIX + name}


def _content(schema: str, media_types: tuple[str, ...]) -> Obj:
    return {media: {"schema": _ref(schema)} for media in media_types}


def _response(
    description: str,
    schema: str,
    media_types: tuple[str, ...] = OBJECT_MEDIA_TYPES,
) -> Obj:
    return {"content": _content(schema, media_types), "description": description}


_UNAUTHORIZED = {"description": "Unauthorized"}


class _DocumentBuilder:
    """Paths and reachable component schemas of one group-version document."""

    def __init__(self, definitions: Definitions, group: str, version: str) -> None:
        self.definitions = definitions
        self.group = group
        self.version = version
        self.prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        self.infix, self.tag = _gv_names(group, version)
        self.paths: Obj = {}
        self.patch_media_types: tuple[str, ...] = PATCH_MEDIA_TYPES

    # -- parameters ------------------------------------------------------------------

    def param(self, key: str, *, location: str = "query", description: str | None = None) -> Obj:
        name = key.split("/", 1)[0]
        if description is None:
            if name in _DELETE_OPTION_FIELDS and key not in _DESCRIPTIONS:
                description = self.definitions.field_description(DELETE_OPTIONS_SCHEMA, name)
            else:
                description = _DESCRIPTIONS[key]
        out: Obj = {
            "description": description,
            "in": location,
            "name": name,
            "schema": {"type": _PARAM_TYPES.get(name, "string"), "uniqueItems": True},
        }
        if location == "path":
            out["required"] = True
        return out

    def params(self, keys: tuple[str, ...]) -> list[Obj]:
        return sorted((self.param(key) for key in keys), key=lambda p: str(p["name"]))

    # -- operations ------------------------------------------------------------------

    def operation(
        self,
        *,
        action: str,
        op_id: str,
        description: str,
        gvk: tuple[str, str, str],
        responses: Obj,
        params: tuple[str, ...] = (),
        body: Obj | None = None,
    ) -> Obj:
        out: Obj = {
            "description": description,
            "operationId": op_id,
            "responses": {**responses, "401": _UNAUTHORIZED},
            "tags": [self.tag],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {
                "group": gvk[0],
                "version": gvk[1],
                "kind": gvk[2],
            },
        }
        if params:
            out["parameters"] = self.params(params)
        if body is not None:
            out["requestBody"] = body
        return out

    def add_path(self, path: str, operations: Obj, parameters: list[Obj]) -> None:
        if operations:
            self.paths[path] = {**operations, "parameters": parameters}

    def add_root(self) -> None:
        self.paths[self.prefix + "/"] = {
            "get": {
                "description": "get available resources",
                "operationId": f"get{self.infix}APIResources",
                "responses": {
                    "200": _response("OK", API_RESOURCE_LIST_SCHEMA),
                    "401": _UNAUTHORIZED,
                },
                "tags": [self.tag],
            }
        }

    def add_resource(self, rt: ResourceType) -> None:
        """The collection, item, all-namespaces and subresource paths of one resource."""
        model = getattr(rt, "model", None)  # a definition's: the patch types it takes
        self.patch_media_types = tuple(
            m for m in PATCH_MEDIA_TYPES if model is None or m in model.patch_types
        )
        if rt.schema not in self.definitions:
            raise LookupError(
                f"no Kubernetes 1.32 OpenAPI definition {rt.schema!r} for {rt.resource}"
            )
        verbs = set(rt.verbs)
        list_schema = self.definitions.by_gvk(rt.group, rt.version, rt.list_kind) or ""
        if not list_schema and "list" in verbs:  # a Binding is only ever created
            raise LookupError(f"no OpenAPI list definition for {rt.api_version} {rt.list_kind}")
        kind, schema = rt.kind, rt.schema
        gvk = (rt.group, rt.version, kind)
        scope = "Namespaced" if rt.namespaced else ""
        name = f"{scope}{kind}"
        article = _article(kind)
        ns_segment = "/namespaces/{namespace}" if rt.namespaced else ""
        collection = f"{self.prefix}{ns_segment}/{rt.resource}"
        item = collection + "/{name}"
        pretty = self.param("pretty")
        scope_params = [self.param("namespace", location="path")] if rt.namespaced else []
        name_param = self.param("name", location="path", description=f"name of the {kind}")

        ops: Obj = {}
        if "list" in verbs:
            ops["get"] = self.operation(
                action="list",
                op_id=f"list{self.infix}{name}",
                gvk=gvk,
                description=f"list or watch objects of kind {kind}",
                params=_LIST_PARAMS,
                responses={"200": _response("OK", list_schema, LIST_MEDIA_TYPES)},
            )
        if "create" in verbs:
            ops["post"] = self.operation(
                action="post",
                op_id=f"create{self.infix}{name}",
                gvk=gvk,
                description=f"create {article}{kind}",
                params=_WRITE_PARAMS,
                body=self.body(schema),
                responses={
                    "200": _response("OK", schema),
                    "201": _response("Created", schema),
                    "202": _response("Accepted", schema),
                },
            )
        if "deletecollection" in verbs:
            ops["delete"] = self.operation(
                action="deletecollection",
                op_id=f"delete{self.infix}Collection{name}",
                gvk=gvk,
                description=f"delete collection of {kind}",
                params=_DELETE_COLLECTION_PARAMS,
                body=self.delete_body(),
                responses={"200": _response("OK", STATUS_SCHEMA)},
            )
        self.add_path(collection, ops, [*scope_params, pretty])

        ops = {}
        if "delete" in verbs:
            ops["delete"] = self.operation(
                action="delete",
                op_id=f"delete{self.infix}{name}",
                gvk=gvk,
                description=f"delete {article}{kind}",
                params=_DELETE_PARAMS,
                body=self.delete_body(),
                responses={
                    "200": _response("OK", STATUS_SCHEMA),
                    "202": _response("Accepted", STATUS_SCHEMA),
                },
            )
        ops.update(
            self.object_operations(
                verbs, op_name=name, of="the specified", schema=schema, gvk=gvk, kind=kind
            )
        )
        self.add_path(item, ops, [name_param, *scope_params, pretty])

        if rt.namespaced and "list" in verbs:
            self.add_path(
                f"{self.prefix}/{rt.resource}",
                {
                    "get": self.operation(
                        action="list",
                        op_id=f"list{self.infix}{kind}ForAllNamespaces",
                        gvk=gvk,
                        description=f"list or watch objects of kind {kind}",
                        responses={"200": _response("OK", list_schema, LIST_MEDIA_TYPES)},
                    )
                },
                self.params((*_LIST_PARAMS, "pretty")),
            )

        for sub in (s.name for s in rt.subresources):
            if sub not in _SUBRESOURCE_KINDS:
                continue
            sub_kind = _SUBRESOURCE_KINDS[sub]
            sub_schema, sub_gvk = (schema, gvk) if sub_kind is None else (sub_kind[0], sub_kind[1:])
            ops = self.object_operations(
                verbs,
                op_name=name + sub[:1].upper() + sub[1:],
                of=f"{sub} of the specified",
                schema=sub_schema,
                gvk=sub_gvk,
                kind=kind,
            )
            self.add_path(f"{item}/{sub}", ops, [name_param, *scope_params, pretty])

    def object_operations(
        self,
        verbs: set[str],
        *,
        op_name: str,
        of: str,
        schema: str,
        gvk: tuple[str, str, str],
        kind: str,
    ) -> Obj:
        """read/replace/patch of one object (or one object's subresource)."""
        ops: Obj = {}
        if "get" in verbs:
            ops["get"] = self.operation(
                action="get",
                op_id=f"read{self.infix}{op_name}",
                gvk=gvk,
                description=f"read {of} {kind}",
                responses={"200": _response("OK", schema)},
            )
        if "update" in verbs:
            ops["put"] = self.operation(
                action="put",
                op_id=f"replace{self.infix}{op_name}",
                gvk=gvk,
                description=f"replace {of} {kind}",
                params=_WRITE_PARAMS,
                body=self.body(schema),
                responses={"200": _response("OK", schema), "201": _response("Created", schema)},
            )
        if "patch" in verbs:
            ops["patch"] = self.operation(
                action="patch",
                op_id=f"patch{self.infix}{op_name}",
                gvk=gvk,
                description=f"partially update {of} {kind}",
                params=_PATCH_PARAMS,
                body={
                    "content": _content(PATCH_SCHEMA, self.patch_media_types),
                    "required": True,
                },
                responses={"200": _response("OK", schema), "201": _response("Created", schema)},
            )
        return ops

    @staticmethod
    def body(schema: str) -> Obj:
        return {"content": {"*/*": {"schema": _ref(schema)}}, "required": True}

    @staticmethod
    def delete_body() -> Obj:
        return {"content": {"*/*": {"schema": _ref(DELETE_OPTIONS_SCHEMA)}}}

    def document(self) -> Obj:
        schemas = self.definitions.closure(openapi_schemas.refs_in(self.paths))
        return {
            "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
            "info": INFO,
            "openapi": "3.0.0",
            "paths": self.paths,
        }


def build_document(definitions: Definitions, resources: list[ResourceType]) -> Obj:
    """The OpenAPI v3 document of one group-version (all ``resources`` share it)."""
    first = resources[0]
    builder = _DocumentBuilder(definitions, first.group, first.version)
    builder.add_root()
    for rt in resources:
        builder.add_resource(rt)
    return builder.document()


def serialize(document: Obj) -> tuple[bytes, str]:
    """Deterministic bytes (sorted keys, compact) and kube's hash: uppercase hex SHA-512."""
    data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return data, hashlib.sha512(data).hexdigest().upper()


TableSource = TypeTable[Any] | Callable[[], TypeTable[Any]]


def _source(table: TableSource) -> Callable[[], TypeTable[Any]]:
    if isinstance(table, TypeTable):
        return lambda: table
    return table


def with_components(definitions: Definitions, resources: list[ResourceType]) -> Definitions:
    """``definitions`` with the component schemas ``resources`` bring (custom resources')."""
    v3: Obj = {}
    v2: Obj = {}
    for rt in resources:
        model = getattr(rt, "model", None)
        if model is not None:
            v3.update(model.components())
            v2.update(model.components_v2())
    return Overlay(definitions, v3, v2) if v3 else definitions


class OpenAPIV3:
    """The ``/openapi/v3`` index and its per-group-version documents for the current table
    of ``source`` (a table, or a function giving the catalog's current one).

    A document is built when first asked for after its group-version's definitions
    changed (the built-in ones, once per process: ~15 ms; call ``index()`` at startup to
    take that off the first request), then served from memory. Thread-safe.
    """

    def __init__(self, source: TableSource, *, definitions: Definitions | None = None) -> None:
        self._source = _source(source)
        self._definitions = definitions
        # path -> (the definitions it was built from, by identity; JSON; hash)
        self._documents: dict[str, tuple[tuple[int, ...], bytes, str]] = {}
        self._built_for: TypeTable[Any] | None = None
        self._lock = threading.Lock()

    def _built(self) -> dict[str, tuple[tuple[int, ...], bytes, str]]:
        table = self._source()
        if self._built_for is table:
            return self._documents
        with self._lock:
            if self._built_for is not table:
                self._documents = self._build(table)
                self._built_for = table
            return self._documents

    def _build(self, table: TypeTable[Any]) -> dict[str, tuple[tuple[int, ...], bytes, str]]:
        definitions = self._definitions or openapi_schemas.builtin()
        out: dict[str, tuple[tuple[int, ...], bytes, str]] = {}
        for group, version in table.group_versions():
            resources = table.in_group_version(group, version)
            if not resources:
                continue
            path = resources[0].group_version_path
            key = tuple(id(rt) for rt in resources)
            known = self._documents.get(path)
            if known is not None and known[0] == key:
                out[path] = known
                continue
            document = build_document(with_components(definitions, resources), resources)
            data, digest = serialize(document)
            out[path] = (key, data, digest)
        return out

    def index(self) -> dict[str, Any]:
        """``GET /openapi/v3``: every served group-version with its hash-pinned URL."""
        return {
            "paths": {
                path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
                for path, (_, _, digest) in self._built().items()
            }
        }

    def document(self, path: str) -> tuple[bytes, str] | None:
        """``GET /openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``): (JSON, hash) or None."""
        found = self._built().get(path.strip("/"))
        return None if found is None else (found[1], found[2])


# --- /openapi/v2 (Swagger 2.0) -------------------------------------------------------

SWAGGER_SECURITY_DEFINITIONS = SECURITY_SCHEMES


def _v2_ref(node: Any) -> Any:
    """A v3 ``$ref`` (``#/components/schemas/X``) as v2's (``#/definitions/X``)."""
    ref = node.get("$ref", "") if isinstance(node, dict) else ""
    if ref.startswith(REF_PREFIX):
        return {"$ref": openapi_schemas.REF_PREFIX_V2 + ref[len(REF_PREFIX) :]}
    return node


def _v2_parameter(param: Obj) -> Obj:
    """A v3 parameter (``schema: {type}``) as v2's (``type`` inline)."""
    out: Obj = {key: value for key, value in param.items() if key != "schema"}
    out.update(param.get("schema") or {})
    return dict(sorted(out.items()))


def _v2_operation(op: Obj) -> Obj:
    out: Obj = {key: value for key, value in op.items() if key not in ("requestBody", "responses")}
    body = op.get("requestBody")
    consumes = ["*/*"]
    parameters = [_v2_parameter(p) for p in op.get("parameters", ())]
    if body is not None:
        content = body.get("content") or {}
        consumes = list(content) if "*/*" not in content else ["*/*"]
        schema = _v2_ref(next(iter(content.values()))["schema"])
        body_param: Obj = {"in": "body", "name": "body", "schema": schema}
        if body.get("required"):
            body_param["required"] = True
        parameters.insert(0, body_param)
    if parameters:
        out["parameters"] = parameters
    produces: list[str] = []
    responses: Obj = {}
    for code, answer in op["responses"].items():
        content = answer.get("content")
        entry: Obj = {"description": answer.get("description", "")}
        if content:
            for media in content:
                if media not in produces:
                    produces.append(media)
            entry["schema"] = _v2_ref(next(iter(content.values()))["schema"])
        responses[code] = entry
    out["consumes"] = consumes
    out["produces"] = produces
    out["responses"] = responses
    out["schemes"] = ["https"]
    return out


def v2_paths(paths: Obj) -> Obj:
    """The paths of a v3 document in Swagger 2.0 form."""
    out: Obj = {}
    for path, item in paths.items():
        converted: Obj = {}
        for key, value in item.items():
            if key == "parameters":
                converted[key] = [_v2_parameter(p) for p in value]
            else:
                converted[key] = _v2_operation(value)
        out[path] = converted
    return out


def build_v2_document(definitions: Definitions, table: TypeTable[Any]) -> Obj:
    """``/openapi/v2``: every served group-version's operations and the definitions they
    reach, as one Swagger 2.0 document (what ``kubectl`` falls back to, and what older
    clients read). Definitions carry ``x-kubernetes-group-version-kind`` and the patch
    strategy extensions, converted from the same shipped definitions as v3."""
    paths: Obj = {}
    roots: set[str] = set()
    all_v3: Obj = {}
    all_v2: Obj = {}
    for group, version in table.group_versions():
        resources = table.in_group_version(group, version)
        if not resources:
            continue
        gv_definitions = with_components(definitions, resources)
        builder = _DocumentBuilder(gv_definitions, group, version)
        builder.add_root()
        for rt in resources:
            builder.add_resource(rt)
        roots |= openapi_schemas.refs_in(builder.paths)
        paths.update(v2_paths(builder.paths))
        if isinstance(gv_definitions, Overlay):
            all_v3.update(gv_definitions.extra)
            all_v2.update(gv_definitions.extra_v2)
    if all_v3:
        definitions = Overlay(definitions, all_v3, all_v2)
    names = definitions.closure(roots)
    return {
        "definitions": {name: definitions.schema_v2(name) for name in sorted(names)},
        "info": INFO,
        "paths": paths,
        "security": [{"BearerToken": []}],
        "securityDefinitions": SWAGGER_SECURITY_DEFINITIONS,
        "swagger": "2.0",
    }


class OpenAPIV2:
    """The ``/openapi/v2`` JSON document for the current table of ``source``, built on
    first use after each change and kept (serialised with sorted keys, hashed as kube
    does: uppercase hex SHA-512)."""

    def __init__(self, source: TableSource, *, definitions: Definitions | None = None) -> None:
        self._source = _source(source)
        self._definitions = definitions
        self._document: tuple[bytes, str] | None = None
        self._built_for: TypeTable[Any] | None = None
        self._lock = threading.Lock()

    def document(self) -> tuple[bytes, str]:
        table = self._source()
        found = self._document
        if found is None or self._built_for is not table:
            with self._lock:
                if self._document is None or self._built_for is not table:
                    definitions = self._definitions or openapi_schemas.builtin()
                    self._document = serialize(build_v2_document(definitions, table))
                    self._built_for = table
                found = self._document
        return found
