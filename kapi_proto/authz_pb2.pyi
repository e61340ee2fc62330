from kapi_proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENY: _ClassVar[Decision]
    ALLOW: _ClassVar[Decision]
    NO_OPINION: _ClassVar[Decision]

class AdmissionPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MUTATING: _ClassVar[AdmissionPhase]
    VALIDATING: _ClassVar[AdmissionPhase]
DENY: Decision
ALLOW: Decision
NO_OPINION: Decision
MUTATING: AdmissionPhase
VALIDATING: AdmissionPhase

class AuthenticateRequest(_message.Message):
    __slots__ = ("bearer_token", "client_cert_common_name", "client_cert_organizations")
    BEARER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERT_COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERT_ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    bearer_token: str
    client_cert_common_name: str
    client_cert_organizations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bearer_token: _Optional[str] = ..., client_cert_common_name: _Optional[str] = ..., client_cert_organizations: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("user", "verb", "api_group", "api_version", "resource", "subresource", "namespace", "name", "resource_request", "path")
    USER_FIELD_NUMBER: _ClassVar[int]
    VERB_FIELD_NUMBER: _ClassVar[int]
    API_GROUP_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBRESOURCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    user: _common_pb2.UserInfo
    verb: str
    api_group: str
    api_version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    resource_request: bool
    path: str
    def __init__(self, user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., verb: _Optional[str] = ..., api_group: _Optional[str] = ..., api_version: _Optional[str] = ..., resource: _Optional[str] = ..., subresource: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., resource_request: _Optional[bool] = ..., path: _Optional[str] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("decision", "reason")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    reason: str
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class AdmitRequest(_message.Message):
    __slots__ = ("phase", "operation", "user", "group", "version", "kind", "resource", "subresource", "namespace", "name", "object", "old_object", "dry_run")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBRESOURCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    OLD_OBJECT_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    phase: AdmissionPhase
    operation: str
    user: _common_pb2.UserInfo
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    object: bytes
    old_object: bytes
    dry_run: bool
    def __init__(self, phase: _Optional[_Union[AdmissionPhase, str]] = ..., operation: _Optional[str] = ..., user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., group: _Optional[str] = ..., version: _Optional[str] = ..., kind: _Optional[str] = ..., resource: _Optional[str] = ..., subresource: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., object: _Optional[bytes] = ..., old_object: _Optional[bytes] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class AdmitResponse(_message.Message):
    __slots__ = ("object", "warnings", "validating_plugins")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    VALIDATING_PLUGINS_FIELD_NUMBER: _ClassVar[int]
    object: bytes
    warnings: _containers.RepeatedScalarFieldContainer[str]
    validating_plugins: bool
    def __init__(self, object: _Optional[bytes] = ..., warnings: _Optional[_Iterable[str]] = ..., validating_plugins: _Optional[bool] = ...) -> None: ...

class AdmitBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AdmitRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[AdmitRequest, _Mapping]]] = ...) -> None: ...

class AdmitOutcome(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: AdmitResponse
    error: _common_pb2.KubeStatus
    def __init__(self, response: _Optional[_Union[AdmitResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.KubeStatus, _Mapping]] = ...) -> None: ...

class AdmitBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AdmitOutcome]
    def __init__(self, items: _Optional[_Iterable[_Union[AdmitOutcome, _Mapping]]] = ...) -> None: ...
