from kapi_proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Rendering(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECT: _ClassVar[Rendering]
    TABLE: _ClassVar[Rendering]
    TABLE_V1BETA1: _ClassVar[Rendering]
    METADATA: _ClassVar[Rendering]

class IncludeObject(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCLUDE_METADATA: _ClassVar[IncludeObject]
    INCLUDE_NONE: _ClassVar[IncludeObject]
    INCLUDE_OBJECT: _ClassVar[IncludeObject]
OBJECT: Rendering
TABLE: Rendering
TABLE_V1BETA1: Rendering
METADATA: Rendering
INCLUDE_METADATA: IncludeObject
INCLUDE_NONE: IncludeObject
INCLUDE_OBJECT: IncludeObject

class ConvertRequest(_message.Message):
    __slots__ = ("group", "version", "resource", "objects")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    group: str
    version: str
    resource: str
    objects: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, group: _Optional[str] = ..., version: _Optional[str] = ..., resource: _Optional[str] = ..., objects: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ConvertResponse(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, objects: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RequestTarget(_message.Message):
    __slots__ = ("group", "version", "resource", "subresource", "namespace", "name", "user", "user_agent", "catalog_revision")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBRESOURCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    CATALOG_REVISION_FIELD_NUMBER: _ClassVar[int]
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    user: _common_pb2.UserInfo
    user_agent: str
    catalog_revision: int
    def __init__(self, group: _Optional[str] = ..., version: _Optional[str] = ..., resource: _Optional[str] = ..., subresource: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., user_agent: _Optional[str] = ..., catalog_revision: _Optional[int] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("target", "object", "dry_run", "field_manager", "field_validation", "duplicate_fields")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FIELD_MANAGER_FIELD_NUMBER: _ClassVar[int]
    FIELD_VALIDATION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    target: RequestTarget
    object: bytes
    dry_run: bool
    field_manager: str
    field_validation: str
    duplicate_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, target: _Optional[_Union[RequestTarget, _Mapping]] = ..., object: _Optional[bytes] = ..., dry_run: _Optional[bool] = ..., field_manager: _Optional[str] = ..., field_validation: _Optional[str] = ..., duplicate_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class PatchRequest(_message.Message):
    __slots__ = ("target", "patch_type", "patch", "dry_run", "field_manager", "force", "field_validation")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PATCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FIELD_MANAGER_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    FIELD_VALIDATION_FIELD_NUMBER: _ClassVar[int]
    target: RequestTarget
    patch_type: str
    patch: bytes
    dry_run: bool
    field_manager: str
    force: bool
    field_validation: str
    def __init__(self, target: _Optional[_Union[RequestTarget, _Mapping]] = ..., patch_type: _Optional[str] = ..., patch: _Optional[bytes] = ..., dry_run: _Optional[bool] = ..., field_manager: _Optional[str] = ..., force: _Optional[bool] = ..., field_validation: _Optional[str] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("target", "rendering", "include_object", "label_selector", "field_selector", "limit", "continue_token", "resource_version", "resource_version_match", "allow_bookmarks", "timeout_seconds", "send_initial_events")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    RENDERING_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OBJECT_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_MATCH_FIELD_NUMBER: _ClassVar[int]
    ALLOW_BOOKMARKS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEND_INITIAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    target: RequestTarget
    rendering: Rendering
    include_object: IncludeObject
    label_selector: str
    field_selector: str
    limit: int
    continue_token: str
    resource_version: str
    resource_version_match: str
    allow_bookmarks: bool
    timeout_seconds: int
    send_initial_events: bool
    def __init__(self, target: _Optional[_Union[RequestTarget, _Mapping]] = ..., rendering: _Optional[_Union[Rendering, str]] = ..., include_object: _Optional[_Union[IncludeObject, str]] = ..., label_selector: _Optional[str] = ..., field_selector: _Optional[str] = ..., limit: _Optional[int] = ..., continue_token: _Optional[str] = ..., resource_version: _Optional[str] = ..., resource_version_match: _Optional[str] = ..., allow_bookmarks: _Optional[bool] = ..., timeout_seconds: _Optional[int] = ..., send_initial_events: _Optional[bool] = ...) -> None: ...

class DeleteObjectRequest(_message.Message):
    __slots__ = ("target", "options", "dry_run")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    target: RequestTarget
    options: bytes
    dry_run: bool
    def __init__(self, target: _Optional[_Union[RequestTarget, _Mapping]] = ..., options: _Optional[bytes] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class TypesResponse(_message.Message):
    __slots__ = ("types", "hash", "bootstrapped", "revision")
    TYPES_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAPPED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    types: bytes
    hash: str
    bootstrapped: bool
    revision: int
    def __init__(self, types: _Optional[bytes] = ..., hash: _Optional[str] = ..., bootstrapped: _Optional[bool] = ..., revision: _Optional[int] = ...) -> None: ...

class OpenAPIRequest(_message.Message):
    __slots__ = ("path", "openapi_version")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OPENAPI_VERSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    openapi_version: str
    def __init__(self, path: _Optional[str] = ..., openapi_version: _Optional[str] = ...) -> None: ...

class OpenAPIResponse(_message.Message):
    __slots__ = ("document", "hash")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    hash: str
    def __init__(self, document: _Optional[bytes] = ..., hash: _Optional[str] = ...) -> None: ...

class WriteBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[WriteRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[WriteRequest, _Mapping]]] = ...) -> None: ...

class RenderedOutcome(_message.Message):
    __slots__ = ("object", "error")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    object: RenderedObject
    error: _common_pb2.KubeStatus
    def __init__(self, object: _Optional[_Union[RenderedObject, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.KubeStatus, _Mapping]] = ...) -> None: ...

class ReadBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReadRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[ReadRequest, _Mapping]]] = ...) -> None: ...

class RenderedBatch(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RenderedOutcome]
    def __init__(self, items: _Optional[_Iterable[_Union[RenderedOutcome, _Mapping]]] = ...) -> None: ...

class RenderedObject(_message.Message):
    __slots__ = ("object", "status_code", "warnings", "audit_annotations")
    class AuditAnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    object: bytes
    status_code: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    audit_annotations: _containers.ScalarMap[str, str]
    def __init__(self, object: _Optional[bytes] = ..., status_code: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ..., audit_annotations: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("target", "method", "path", "options")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    target: RequestTarget
    method: str
    path: str
    options: bytes
    def __init__(self, target: _Optional[_Union[RequestTarget, _Mapping]] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., options: _Optional[bytes] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("body", "status_code", "content_type")
    BODY_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    status_code: int
    content_type: str
    def __init__(self, body: _Optional[bytes] = ..., status_code: _Optional[int] = ..., content_type: _Optional[str] = ...) -> None: ...
