from kapi_proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CurrentRevisionRequest(_message.Message):
    __slots__ = ("refs",)
    REFS_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.RepeatedCompositeFieldContainer[_common_pb2.ResourceRef]
    def __init__(self, refs: _Optional[_Iterable[_Union[_common_pb2.ResourceRef, _Mapping]]] = ...) -> None: ...

class RevisionAsk(_message.Message):
    __slots__ = ("id", "refs", "audit_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_IDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    refs: _containers.RepeatedCompositeFieldContainer[_common_pb2.ResourceRef]
    audit_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., refs: _Optional[_Iterable[_Union[_common_pb2.ResourceRef, _Mapping]]] = ..., audit_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RevisionAnswer(_message.Message):
    __slots__ = ("id", "freshness", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    FRESHNESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    freshness: _common_pb2.Freshness
    error: _common_pb2.KubeStatus
    def __init__(self, id: _Optional[int] = ..., freshness: _Optional[_Union[_common_pb2.Freshness, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.KubeStatus, _Mapping]] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("ref", "namespace", "name", "object", "dry_run")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ResourceRef
    namespace: str
    name: str
    object: bytes
    dry_run: bool
    def __init__(self, ref: _Optional[_Union[_common_pb2.ResourceRef, _Mapping]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., object: _Optional[bytes] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class CreateBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CreateRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[CreateRequest, _Mapping]]] = ...) -> None: ...

class StoredOutcome(_message.Message):
    __slots__ = ("object", "error")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    object: StoredObject
    error: _common_pb2.KubeStatus
    def __init__(self, object: _Optional[_Union[StoredObject, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.KubeStatus, _Mapping]] = ...) -> None: ...

class GetBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[GetRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[GetRequest, _Mapping]]] = ...) -> None: ...

class StoredBatch(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[StoredOutcome]
    def __init__(self, items: _Optional[_Iterable[_Union[StoredOutcome, _Mapping]]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("ref", "namespace", "name", "resource_version")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ResourceRef
    namespace: str
    name: str
    resource_version: str
    def __init__(self, ref: _Optional[_Union[_common_pb2.ResourceRef, _Mapping]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., resource_version: _Optional[str] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("ref", "namespace", "label_selector", "field_selector", "limit", "continue_token", "resource_version", "resource_version_match")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_MATCH_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ResourceRef
    namespace: str
    label_selector: str
    field_selector: str
    limit: int
    continue_token: str
    resource_version: str
    resource_version_match: str
    def __init__(self, ref: _Optional[_Union[_common_pb2.ResourceRef, _Mapping]] = ..., namespace: _Optional[str] = ..., label_selector: _Optional[str] = ..., field_selector: _Optional[str] = ..., limit: _Optional[int] = ..., continue_token: _Optional[str] = ..., resource_version: _Optional[str] = ..., resource_version_match: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("items", "resource_version", "continue_token", "remaining_item_count")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REMAINING_ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedScalarFieldContainer[bytes]
    resource_version: int
    continue_token: str
    remaining_item_count: int
    def __init__(self, items: _Optional[_Iterable[bytes]] = ..., resource_version: _Optional[int] = ..., continue_token: _Optional[str] = ..., remaining_item_count: _Optional[int] = ...) -> None: ...

class UpdateRequest(_message.Message):
    __slots__ = ("ref", "namespace", "name", "object", "expected_revision", "dry_run")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ResourceRef
    namespace: str
    name: str
    object: bytes
    expected_revision: int
    dry_run: bool
    def __init__(self, ref: _Optional[_Union[_common_pb2.ResourceRef, _Mapping]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., object: _Optional[bytes] = ..., expected_revision: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("ref", "namespace", "name", "expected_revision", "dry_run")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ResourceRef
    namespace: str
    name: str
    expected_revision: int
    dry_run: bool
    def __init__(self, ref: _Optional[_Union[_common_pb2.ResourceRef, _Mapping]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., expected_revision: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("ref", "namespace", "label_selector", "field_selector", "resource_version", "allow_bookmarks", "timeout_seconds", "send_initial_events")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_BOOKMARKS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEND_INITIAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    ref: _common_pb2.ResourceRef
    namespace: str
    label_selector: str
    field_selector: str
    resource_version: str
    allow_bookmarks: bool
    timeout_seconds: int
    send_initial_events: bool
    def __init__(self, ref: _Optional[_Union[_common_pb2.ResourceRef, _Mapping]] = ..., namespace: _Optional[str] = ..., label_selector: _Optional[str] = ..., field_selector: _Optional[str] = ..., resource_version: _Optional[str] = ..., allow_bookmarks: _Optional[bool] = ..., timeout_seconds: _Optional[int] = ..., send_initial_events: _Optional[bool] = ...) -> None: ...

class StoredObject(_message.Message):
    __slots__ = ("object", "resource_version")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    object: bytes
    resource_version: int
    def __init__(self, object: _Optional[bytes] = ..., resource_version: _Optional[int] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("ok", "message")
    OK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    message: str
    def __init__(self, ok: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...
