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
    __slots__ = ("bearer_token", "client_certificates", "audiences", "anonymous")
    BEARER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    bearer_token: str
    client_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    audiences: _containers.RepeatedScalarFieldContainer[str]
    anonymous: bool
    def __init__(self, bearer_token: _Optional[str] = ..., client_certificates: _Optional[_Iterable[bytes]] = ..., audiences: _Optional[_Iterable[str]] = ..., anonymous: _Optional[bool] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("authenticated", "user", "audiences", "error", "identity_revision")
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_REVISION_FIELD_NUMBER: _ClassVar[int]
    authenticated: bool
    user: _common_pb2.UserInfo
    audiences: _containers.RepeatedScalarFieldContainer[str]
    error: str
    identity_revision: int
    def __init__(self, authenticated: _Optional[bool] = ..., user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., audiences: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ..., identity_revision: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("decision", "reason", "evaluation_error", "policy_revision")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_ERROR_FIELD_NUMBER: _ClassVar[int]
    POLICY_REVISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    reason: str
    evaluation_error: str
    policy_revision: int
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reason: _Optional[str] = ..., evaluation_error: _Optional[str] = ..., policy_revision: _Optional[int] = ...) -> None: ...

class PolicyRule(_message.Message):
    __slots__ = ("verbs", "api_groups", "resources", "resource_names", "non_resource_urls")
    VERBS_FIELD_NUMBER: _ClassVar[int]
    API_GROUPS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_NAMES_FIELD_NUMBER: _ClassVar[int]
    NON_RESOURCE_URLS_FIELD_NUMBER: _ClassVar[int]
    verbs: _containers.RepeatedScalarFieldContainer[str]
    api_groups: _containers.RepeatedScalarFieldContainer[str]
    resources: _containers.RepeatedScalarFieldContainer[str]
    resource_names: _containers.RepeatedScalarFieldContainer[str]
    non_resource_urls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, verbs: _Optional[_Iterable[str]] = ..., api_groups: _Optional[_Iterable[str]] = ..., resources: _Optional[_Iterable[str]] = ..., resource_names: _Optional[_Iterable[str]] = ..., non_resource_urls: _Optional[_Iterable[str]] = ...) -> None: ...

class RulesForRequest(_message.Message):
    __slots__ = ("user", "namespace")
    USER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    user: _common_pb2.UserInfo
    namespace: str
    def __init__(self, user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class RulesForResponse(_message.Message):
    __slots__ = ("resource_rules", "non_resource_rules", "incomplete", "evaluation_error")
    RESOURCE_RULES_FIELD_NUMBER: _ClassVar[int]
    NON_RESOURCE_RULES_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_ERROR_FIELD_NUMBER: _ClassVar[int]
    resource_rules: _containers.RepeatedCompositeFieldContainer[PolicyRule]
    non_resource_rules: _containers.RepeatedCompositeFieldContainer[PolicyRule]
    incomplete: bool
    evaluation_error: str
    def __init__(self, resource_rules: _Optional[_Iterable[_Union[PolicyRule, _Mapping]]] = ..., non_resource_rules: _Optional[_Iterable[_Union[PolicyRule, _Mapping]]] = ..., incomplete: _Optional[bool] = ..., evaluation_error: _Optional[str] = ...) -> None: ...

class ObjectRef(_message.Message):
    __slots__ = ("name", "uid")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    name: str
    uid: str
    def __init__(self, name: _Optional[str] = ..., uid: _Optional[str] = ...) -> None: ...

class IssueTokenRequest(_message.Message):
    __slots__ = ("namespace", "name", "uid", "audiences", "expiration_seconds", "pod", "secret", "node")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    uid: str
    audiences: _containers.RepeatedScalarFieldContainer[str]
    expiration_seconds: int
    pod: ObjectRef
    secret: ObjectRef
    node: ObjectRef
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., uid: _Optional[str] = ..., audiences: _Optional[_Iterable[str]] = ..., expiration_seconds: _Optional[int] = ..., pod: _Optional[_Union[ObjectRef, _Mapping]] = ..., secret: _Optional[_Union[ObjectRef, _Mapping]] = ..., node: _Optional[_Union[ObjectRef, _Mapping]] = ...) -> None: ...

class IssueTokenResponse(_message.Message):
    __slots__ = ("token", "expiration", "audiences")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    token: str
    expiration: int
    audiences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, token: _Optional[str] = ..., expiration: _Optional[int] = ..., audiences: _Optional[_Iterable[str]] = ...) -> None: ...

class ServiceAccountIssuerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceAccountIssuerResponse(_message.Message):
    __slots__ = ("issuer", "jwks", "signing_algorithms")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    JWKS_FIELD_NUMBER: _ClassVar[int]
    SIGNING_ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    jwks: bytes
    signing_algorithms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, issuer: _Optional[str] = ..., jwks: _Optional[bytes] = ..., signing_algorithms: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchRevisionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Revisions(_message.Message):
    __slots__ = ("policy", "identity")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    policy: int
    identity: int
    def __init__(self, policy: _Optional[int] = ..., identity: _Optional[int] = ...) -> None: ...

class AdmitRequest(_message.Message):
    __slots__ = ("phase", "operation", "user", "group", "version", "kind", "resource", "subresource", "namespace", "name", "object", "old_object", "dry_run", "options", "validate_ahead", "equivalents", "requested")
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
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_AHEAD_FIELD_NUMBER: _ClassVar[int]
    EQUIVALENTS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
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
    options: bytes
    validate_ahead: bool
    equivalents: _containers.RepeatedCompositeFieldContainer[EquivalentResource]
    requested: EquivalentResource
    def __init__(self, phase: _Optional[_Union[AdmissionPhase, str]] = ..., operation: _Optional[str] = ..., user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., group: _Optional[str] = ..., version: _Optional[str] = ..., kind: _Optional[str] = ..., resource: _Optional[str] = ..., subresource: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., object: _Optional[bytes] = ..., old_object: _Optional[bytes] = ..., dry_run: _Optional[bool] = ..., options: _Optional[bytes] = ..., validate_ahead: _Optional[bool] = ..., equivalents: _Optional[_Iterable[_Union[EquivalentResource, _Mapping]]] = ..., requested: _Optional[_Union[EquivalentResource, _Mapping]] = ...) -> None: ...

class EquivalentResource(_message.Message):
    __slots__ = ("group", "version", "resource", "kind")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    group: str
    version: str
    resource: str
    kind: str
    def __init__(self, group: _Optional[str] = ..., version: _Optional[str] = ..., resource: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class AdmitResponse(_message.Message):
    __slots__ = ("object", "warnings", "audit_annotations", "validated", "validation_error", "validation_warnings", "validation_audit_annotations")
    class AuditAnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ValidationAuditAnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ERROR_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_AUDIT_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    object: bytes
    warnings: _containers.RepeatedScalarFieldContainer[str]
    audit_annotations: _containers.ScalarMap[str, str]
    validated: bool
    validation_error: _common_pb2.KubeStatus
    validation_warnings: _containers.RepeatedScalarFieldContainer[str]
    validation_audit_annotations: _containers.ScalarMap[str, str]
    def __init__(self, object: _Optional[bytes] = ..., warnings: _Optional[_Iterable[str]] = ..., audit_annotations: _Optional[_Mapping[str, str]] = ..., validated: _Optional[bool] = ..., validation_error: _Optional[_Union[_common_pb2.KubeStatus, _Mapping]] = ..., validation_warnings: _Optional[_Iterable[str]] = ..., validation_audit_annotations: _Optional[_Mapping[str, str]] = ...) -> None: ...

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
