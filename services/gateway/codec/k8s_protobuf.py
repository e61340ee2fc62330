"""Decode the protobuf request bodies kubectl sends into the JSON objects kube-apiserver sees.

Why: kubectl 1.32 sends the bodies of its typed-client commands (``kubectl create
namespace|configmap|secret|deployment|job|...``, ``create token``, ``auth can-i``, ``auth
whoami``) as ``application/vnd.kubernetes.protobuf`` and does not retry with JSON when the
server answers 415. Everything behind the gateway works on the JSON form, so this module turns
such a body into the dict kube-apiserver would produce from it with Go's ``encoding/json``.

How: a body is the magic ``k8s\\x00`` then a ``runtime.Unknown`` (TypeMeta, the object's own
protobuf bytes, content encoding, content type). A small wire-format reader (varint, fixed32,
fixed64, length-delimited) walks the object's bytes, driven by ``k8s_proto_messages.json``:
the field numbers, names and types of upstream's generated.proto files, extracted by
``scripts/gen_k8s_proto_table.py``. No generated protobuf code is involved.

Go's JSON differs from a plain protobuf-to-JSON mapping in ways the .proto files do not say;
the tables below hold those facts:

* gogo-protobuf always writes non-pointer scalar fields, zero or not, and pointer fields only
  when set; Go's ``omitempty`` then drops zero non-pointer fields. So a zero scalar is dropped
  unless the field is a pointer (``_POINTER_FIELDS``: an explicit ``replicas: 0`` stays) or has no
  ``omitempty`` (``"containerPort": 0``, ``"allowed": false``). Upstream's ``+optional``
  marker stands for ``omitempty``; ``_OMITEMPTY`` corrects the fields where it does not.
* ``omitempty`` never drops a struct: a message present on the wire is an object even when
  empty (``"resources": {}``, ``"status": {}``), as ``kubectl create --dry-run=client -o json``
  prints it.
* Embedded structs (``_INLINE``: ``Volume.volumeSource``, ``Probe.handler``...) are inlined.
* Well-known types have their own JSON: ``metav1.Time`` is RFC 3339 in seconds, ``MicroTime``
  in microseconds, ``Duration`` Go's ``1h2m3s``, ``resource.Quantity`` its string,
  ``IntOrString`` an int or a string, ``RawExtension`` and ``FieldsV1`` embedded JSON,
  ``[]byte`` base64, ``ExtraValue`` a plain list of strings.

Deliberate differences from Go: a zero ``metav1.Time`` (``"creationTimestamp": null``) is left
out, and so are nil slices and maps of fields without ``omitempty`` (Go prints ``null``); the
server sets or ignores them either way. Quantities are checked against the quantity syntax but
not re-canonicalised (Go clients already send the canonical form). Unknown field numbers are
skipped, as gogo-protobuf skips them, so newer clients still decode.

Malformed input of any kind raises ``kapi.errors.bad_request`` (400 BadRequest), worded as
kube-apiserver words it; no other exception escapes ``decode``.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from kapi.errors import StatusError, bad_request

JSON = dict[str, Any]

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
TABLE_PATH = Path(__file__).with_name("k8s_proto_messages.json")

# --- Go facts the .proto files do not carry -------------------------------------------------
# Keys are "<message>.<proto field name>", messages named as in k8s_proto_messages.json.

# Scalar fields declared as Go pointers (*int32, *bool, *string, *SomeStringType): kept when
# present on the wire even if zero. Pointer *message* fields need no entry: a message is
# emitted exactly when present.
_POINTER_FIELDS: dict[str, tuple[str, ...]] = {
    "meta.v1.ObjectMeta": ("deletionGracePeriodSeconds",),
    "meta.v1.OwnerReference": ("controller", "blockOwnerDeletion"),
    "core.v1.AppArmorProfile": ("localhostProfile",),
    "core.v1.AzureDiskVolumeSource": ("cachingMode", "fsType", "readOnly", "kind"),
    "core.v1.CSIVolumeSource": ("readOnly", "fsType"),
    "core.v1.ClientIPConfig": ("timeoutSeconds",),
    "core.v1.ClusterTrustBundleProjection": ("name", "signerName", "optional"),
    "core.v1.ConfigMap": ("immutable",),
    "core.v1.ConfigMapEnvSource": ("optional",),
    "core.v1.ConfigMapKeySelector": ("optional",),
    "core.v1.ConfigMapProjection": ("optional",),
    "core.v1.ConfigMapVolumeSource": ("defaultMode", "optional"),
    "core.v1.Container": ("restartPolicy",),
    "core.v1.ContainerStatus": ("started", "stopSignal"),
    "core.v1.DownwardAPIVolumeFile": ("mode",),
    "core.v1.DownwardAPIVolumeSource": ("defaultMode",),
    "core.v1.EphemeralContainerCommon": ("restartPolicy",),
    "core.v1.FileKeySelector": ("optional",),
    "core.v1.GRPCAction": ("service",),
    "core.v1.HostPathVolumeSource": ("type",),
    "core.v1.ISCSIVolumeSource": ("initiatorName",),
    "core.v1.KeyToPath": ("mode",),
    "core.v1.Lifecycle": ("stopSignal",),
    "core.v1.LoadBalancerIngress": ("ipMode",),
    "core.v1.PersistentVolumeClaimSpec": (
        "storageClassName",
        "volumeMode",
        "volumeAttributesClassName",
    ),
    "core.v1.PodCertificateProjection": ("maxExpirationSeconds",),
    "core.v1.PodDNSConfigOption": ("value",),
    "core.v1.PodResourceClaim": ("resourceClaimName", "resourceClaimTemplateName"),
    "core.v1.PodResourceClaimStatus": ("resourceClaimName",),
    "core.v1.PodSecurityContext": (
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "fsGroup",
        "fsGroupChangePolicy",
        "supplementalGroupsPolicy",
        "seLinuxChangePolicy",
    ),
    "core.v1.PodSpec": (
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "automountServiceAccountToken",
        "shareProcessNamespace",
        "priority",
        "runtimeClassName",
        "enableServiceLinks",
        "preemptionPolicy",
        "setHostnameAsFQDN",
        "hostUsers",
        "hostnameOverride",
    ),
    "core.v1.PortStatus": ("error",),
    "core.v1.Probe": ("terminationGracePeriodSeconds",),
    "core.v1.ProjectedVolumeSource": ("defaultMode",),
    "core.v1.SeccompProfile": ("localhostProfile",),
    "core.v1.Secret": ("immutable",),
    "core.v1.SecretEnvSource": ("optional",),
    "core.v1.SecretKeySelector": ("optional",),
    "core.v1.SecretProjection": ("optional",),
    "core.v1.SecretVolumeSource": ("defaultMode", "optional"),
    "core.v1.SecurityContext": (
        "privileged",
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "procMount",
    ),
    "core.v1.ServiceAccount": ("automountServiceAccountToken",),
    "core.v1.ServiceAccountTokenProjection": ("expirationSeconds",),
    "core.v1.ServicePort": ("appProtocol",),
    "core.v1.ServiceSpec": (
        "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts",
        "loadBalancerClass",
        "internalTrafficPolicy",
        "trafficDistribution",
    ),
    "core.v1.Toleration": ("tolerationSeconds",),
    "core.v1.TopologySpreadConstraint": ("minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"),
    "core.v1.TypedLocalObjectReference": ("apiGroup",),
    "core.v1.TypedObjectReference": ("apiGroup", "namespace"),
    "core.v1.VolumeMount": ("mountPropagation", "recursiveReadOnly"),
    "core.v1.VolumeMountStatus": ("recursiveReadOnly",),
    "core.v1.WindowsSecurityContextOptions": (
        "gmsaCredentialSpecName",
        "gmsaCredentialSpec",
        "runAsUserName",
        "hostProcess",
    ),
    "apps.v1.DeploymentSpec": ("replicas", "revisionHistoryLimit", "progressDeadlineSeconds"),
    "apps.v1.DeploymentStatus": ("collisionCount",),
    "batch.v1.CronJobSpec": (
        "timeZone",
        "startingDeadlineSeconds",
        "suspend",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ),
    "batch.v1.JobSpec": (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "manualSelector",
        "ttlSecondsAfterFinished",
        "completionMode",
        "suspend",
        "podReplacementPolicy",
        "managedBy",
    ),
    "batch.v1.JobStatus": ("terminating", "failedIndexes", "ready"),
    "batch.v1.PodFailurePolicyOnExitCodesRequirement": ("containerName",),
    "batch.v1.SuccessPolicyRule": ("succeededIndexes", "succeededCount"),
    "networking.v1.HTTPIngressPath": ("pathType",),
    "networking.v1.IngressPortStatus": ("error",),
    "networking.v1.IngressSpec": ("ingressClassName",),
    "policy.v1.PodDisruptionBudgetSpec": ("unhealthyPodEvictionPolicy",),
    "scheduling.v1.PriorityClass": ("preemptionPolicy",),
    "authentication.v1.TokenRequestSpec": ("expirationSeconds",),
}

# Where upstream's +optional marker disagrees with the Go json tag: True means the tag has
# omitempty (zero is dropped), False means it does not (zero is printed).
_OMITEMPTY: dict[str, bool] = {
    "rbac.v1.RoleRef.apiGroup": False,  # `json:"apiGroup"`, though marked +optional
    "authorization.v1.SelfSubjectRulesReviewSpec.namespace": True,
    "apps.v1.DeploymentCondition.reason": True,
    "apps.v1.DeploymentCondition.message": True,
    "meta.v1.ManagedFieldsEntry.manager": True,
    "meta.v1.ManagedFieldsEntry.operation": True,
    "meta.v1.ManagedFieldsEntry.apiVersion": True,
    "meta.v1.ManagedFieldsEntry.fieldsType": True,
    "meta.v1.ManagedFieldsEntry.subresource": True,
    "core.v1.EphemeralContainerCommon.image": True,
    "core.v1.PodDNSConfigOption.name": True,
    "core.v1.PhotonPersistentDiskVolumeSource.fsType": True,
    "core.v1.PortworxVolumeSource.fsType": True,
    "core.v1.ResourceHealth.health": True,
    "core.v1.ScaleIOVolumeSource.volumeName": True,
    "core.v1.StorageOSVolumeSource.volumeName": True,
}

# Embedded Go structs (`json:",inline"`): their fields belong to the enclosing object.
_INLINE = frozenset(
    {
        "core.v1.ConfigMapEnvSource.localObjectReference",
        "core.v1.ConfigMapKeySelector.localObjectReference",
        "core.v1.ConfigMapProjection.localObjectReference",
        "core.v1.ConfigMapVolumeSource.localObjectReference",
        "core.v1.EphemeralContainer.ephemeralContainerCommon",
        "core.v1.Probe.handler",
        "core.v1.SecretEnvSource.localObjectReference",
        "core.v1.SecretKeySelector.localObjectReference",
        "core.v1.SecretProjection.localObjectReference",
        "core.v1.Volume.volumeSource",
        "networking.v1.IngressRule.ingressRuleValue",
    }
)

# Proto field names that differ from the JSON name.
_JSON_NAMES: dict[str, str] = {"authentication.v1.BoundObjectReference.uID": "uid"}

# Messages whose JSON is the list of their single `repeated string items = 1`.
# (certificates.v1's: a CSR a client certificate's user made carries its credential id as
# an extra, and `kubectl certificate approve` sends the CSR back as Protobuf.)
_LIST_WRAPPERS = frozenset(
    {
        "authentication.v1.ExtraValue",
        "authorization.v1.ExtraValue",
        "certificates.v1.ExtraValue",
    }
)

# --- wire format ----------------------------------------------------------------------------

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_U32, _U64 = (1 << 32) - 1, (1 << 64) - 1
_MAX_DEPTH = 64

_WIRE_TYPES: dict[str, int] = {
    "int32": _VARINT,
    "int64": _VARINT,
    "uint32": _VARINT,
    "uint64": _VARINT,
    "sint32": _VARINT,
    "sint64": _VARINT,
    "bool": _VARINT,
    "fixed64": _FIXED64,
    "sfixed64": _FIXED64,
    "double": _FIXED64,
    "fixed32": _FIXED32,
    "sfixed32": _FIXED32,
    "float": _FIXED32,
    "string": _BYTES,
    "bytes": _BYTES,
}
_STRUCT_FORMATS = {
    "fixed64": "<Q",
    "sfixed64": "<q",
    "double": "<d",
    "fixed32": "<I",
    "sfixed32": "<i",
    "float": "<f",
}
_ZERO: dict[str, Any] = {name: 0 for name in _WIRE_TYPES} | {
    "bool": False,
    "string": "",
    "bytes": "",
    "double": 0.0,
    "float": 0.0,
}

Wire = int | bytes


class _DecodeError(Exception):
    """The bytes do not decode; the message says why, in gogo-protobuf's words."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise _DecodeError("unexpected EOF")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _U64, pos
    raise _DecodeError("proto: integer overflow")


def _take(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    end = pos + size
    if end > len(data):
        raise _DecodeError("unexpected EOF")
    return data[pos:end], end


def _fields(data: bytes) -> Iterator[tuple[int, int, Wire]]:
    """(field number, wire type, value) for each field; a varint value is an int."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number <= 0:
            raise _DecodeError(f"proto: illegal tag {number} (wire type {wire})")
        value: Wire
        if wire == _VARINT:
            value, pos = _varint(data, pos)
        elif wire == _FIXED64:
            value, pos = _take(data, pos, 8)
        elif wire == _FIXED32:
            value, pos = _take(data, pos, 4)
        elif wire == _BYTES:
            size, pos = _varint(data, pos)
            value, pos = _take(data, pos, size)
        else:
            raise _DecodeError(f"proto: illegal wireType {wire}")
        yield number, wire, value


def _signed(value: int, mask: int) -> int:
    value &= mask
    return value - (mask + 1) if value > mask >> 1 else value


def _zigzag(value: int, mask: int) -> int:
    value &= mask
    return (value >> 1) ^ -(value & 1)


def _from_varint(type_: str, value: int) -> int | bool:
    if type_ == "bool":
        return value != 0
    if type_ == "int32":
        return _signed(value, _U32)
    if type_ == "int64":
        return _signed(value, _U64)
    if type_ == "sint32":
        return _zigzag(value, _U32)
    if type_ == "sint64":
        return _zigzag(value, _U64)
    return value & (_U32 if type_ == "uint32" else _U64)


def _scalar(type_: str, wire: int, value: Wire, where: str) -> Any:
    """The JSON value of one scalar; ``where`` names the field in errors."""
    if wire != _WIRE_TYPES[type_]:
        raise _DecodeError(f"proto: wrong wireType = {wire} for field {where}")
    if isinstance(value, int):
        return _from_varint(type_, value)
    if type_ == "string":
        return value.decode("utf-8", "replace")
    if type_ == "bytes":
        return base64.b64encode(value).decode("ascii")
    return struct.unpack(_STRUCT_FORMATS[type_], value)[0]


def _packed(type_: str, data: bytes, where: str) -> list[Any]:
    """The elements of a packed repeated numeric field."""
    wire = _WIRE_TYPES[type_]
    values: list[Any] = []
    pos = 0
    while pos < len(data):
        item: Wire
        if wire == _VARINT:
            item, pos = _varint(data, pos)
        else:
            item, pos = _take(data, pos, 8 if wire == _FIXED64 else 4)
        values.append(_scalar(type_, wire, item, where))
    return values


def _payload(wire: int, value: Wire, where: str) -> bytes:
    if wire != _BYTES or not isinstance(value, bytes):
        raise _DecodeError(f"proto: wrong wireType = {wire} for field {where}")
    return value


def _last(data: bytes, number: int, type_: str, where: str) -> Any:
    """The last value of one scalar field of ``data``, or None when absent."""
    found = None
    for n, wire, value in _fields(data):
        if n == number:
            found = _scalar(type_, wire, value, where)
    return found


def _last_bytes(data: bytes, number: int, where: str) -> bytes:
    found = b""
    for n, wire, value in _fields(data):
        if n == number:
            found = _payload(wire, value, where)
    return found


# --- the field table ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    number: int
    name: str  # JSON name
    type: str  # scalar, or message; of the elements / values for repeated and map fields
    shape: str  # "single", "repeated" or "map"
    key: str  # map key type
    omitempty: bool
    pointer: bool
    inline: bool


@dataclass(frozen=True, slots=True)
class _Schema:
    kinds: dict[str, str]  # "<apiVersion>/<Kind>" -> message
    messages: dict[str, tuple[_Field, ...]]


def _parse_type(spec: str) -> tuple[str, str, str]:
    """(shape, key, type) of a table type: ``T``, ``repeated T`` or ``map<K,V>``."""
    if spec.startswith("repeated "):
        return "repeated", "", spec.removeprefix("repeated ")
    if spec.startswith("map<") and spec.endswith(">"):
        key, _, value = spec[4:-1].partition(",")
        return "map", key, value
    return "single", "", spec


def _make_field(message: str, entry: list[Any]) -> _Field:
    number, proto_name, spec, optional = entry
    shape, key, type_ = _parse_type(spec)
    qualified = f"{message}.{proto_name}"
    return _Field(
        number=int(number),
        name=_JSON_NAMES.get(qualified, proto_name),
        type=type_,
        shape=shape,
        key=key,
        omitempty=_OMITEMPTY.get(qualified, bool(optional)),
        pointer=proto_name in _POINTER_FIELDS.get(message, ()),
        inline=qualified in _INLINE,
    )


@cache
def _schema() -> _Schema:
    table = orjson.loads(TABLE_PATH.read_bytes())
    messages = {
        name: tuple(_make_field(name, entry) for entry in entries)
        for name, entries in table["messages"].items()
    }
    return _Schema(kinds=dict(table["kinds"]), messages=messages)


# --- well-known types -----------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = -62135596800  # time.Time{}.Unix(): 0001-01-01T00:00:00Z
_QUANTITY = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?")
_QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def _rfc3339(seconds: int, nanos: int, micro: bool) -> str | None:
    """Go's Time/MicroTime MarshalJSON in UTC; None (JSON null) for the zero time."""
    whole, fraction = divmod(seconds * 1_000_000_000 + nanos, 1_000_000_000)
    if whole == _GO_ZERO_TIME and fraction == 0:
        return None
    try:
        t = _EPOCH + timedelta(seconds=whole)
    except OverflowError:
        raise _DecodeError("Time.MarshalJSON: year outside of range [0,9999]") from None
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if micro:
        text += f".{fraction // 1000:06d}"
    return text + "Z"


def _time(data: bytes) -> str | None:
    # metav1.Time keeps whole seconds only; no bytes at all is the zero time.
    if not data:
        return None
    return _rfc3339(_last(data, 1, "int64", "seconds") or 0, 0, micro=False)


def _micro_time(data: bytes) -> str | None:
    if not data:
        return None
    seconds = _last(data, 1, "int64", "seconds") or 0
    return _rfc3339(seconds, _last(data, 2, "int32", "nanos") or 0, micro=True)


def _fraction(value: int, digits: int) -> str:
    """``value / 10**digits`` as Go prints it: no trailing zeros, no point if whole."""
    whole, frac = divmod(value, 10**digits)
    tail = f"{frac:0{digits}d}".rstrip("0") if frac else ""
    return f"{whole}.{tail}" if tail else str(whole)


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    sign = "-" if nanoseconds < 0 else ""
    u = abs(nanoseconds)
    if u == 0:
        return "0s"
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_fraction(u, 6)}ms"
    seconds, nanos = divmod(u, 1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{_fraction(secs * 1_000_000_000 + nanos, 9)}s"
    if hours:
        text = f"{hours}h{minutes}m{text}"
    elif minutes:
        text = f"{minutes}m{text}"
    return sign + text


def _duration(data: bytes) -> str:
    return go_duration(_last(data, 1, "int64", "duration") or 0)


def _quantity(data: bytes) -> str:
    text = _last(data, 1, "string", "string")
    if text is None:
        return "0"  # the zero Quantity
    if not _QUANTITY.fullmatch(text):
        raise _DecodeError(_QUANTITY_ERROR)
    return str(text)


def _int_or_string(data: bytes) -> int | str:
    kind = _last(data, 1, "int64", "type") or 0
    if kind == 0:
        return int(_last(data, 2, "int32", "intVal") or 0)
    if kind == 1:
        return str(_last(data, 3, "string", "strVal") or "")
    raise _DecodeError("impossible IntOrString.Type")


def _embedded_json(data: bytes) -> Any:
    """RawExtension and FieldsV1: their bytes are the JSON itself; nothing is null."""
    raw = _last_bytes(data, 1, "raw")
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _DecodeError("embedded object is not valid JSON") from None


def _string_list(data: bytes) -> list[str]:
    return [_scalar("string", wire, value, "items") for n, wire, value in _fields(data) if n == 1]


_SPECIAL = {
    "meta.v1.Time": _time,
    "meta.v1.MicroTime": _micro_time,
    "meta.v1.Duration": _duration,
    "meta.v1.FieldsV1": _embedded_json,
    "runtime.RawExtension": _embedded_json,
    "resource.Quantity": _quantity,
    "intstr.IntOrString": _int_or_string,
}


# --- messages -------------------------------------------------------------------------------


def _message_value(type_: str, data: bytes, depth: int) -> Any:
    special = _SPECIAL.get(type_)
    if special is not None:
        return special(data)
    if type_ in _LIST_WRAPPERS:
        return _string_list(data)
    return _decode_message(type_, data, depth)


def _decode_message(name: str, data: bytes, depth: int) -> JSON:
    if depth > _MAX_DEPTH:
        raise _DecodeError("proto: message nested too deeply")
    fields = _schema().messages.get(name)
    if fields is None:
        raise _DecodeError(f"no field table for {name}")
    found: dict[int, list[tuple[int, Wire]]] = {}
    for number, wire, value in _fields(data):
        found.setdefault(number, []).append((wire, value))
    out: JSON = {}
    for f in fields:
        _emit(out, f, found.get(f.number, []), depth)
    return out


def _emit(out: JSON, f: _Field, occurrences: list[tuple[int, Wire]], depth: int) -> None:
    if f.shape == "map":
        entries = _map(f, occurrences, depth)
        if entries:
            out[f.name] = entries
    elif f.shape == "repeated":
        items = _repeated(f, occurrences, depth)
        if items:
            out[f.name] = items
    elif f.type in _WIRE_TYPES:
        _emit_scalar(out, f, occurrences)
    elif occurrences:
        _emit_message(out, f, occurrences, depth)


def _emit_scalar(out: JSON, f: _Field, occurrences: list[tuple[int, Wire]]) -> None:
    if not occurrences:
        if not f.pointer and not f.omitempty:
            out[f.name] = _ZERO[f.type]
        return
    value = None
    for wire, raw in occurrences:  # each is checked; the last one wins
        value = _scalar(f.type, wire, raw, f.name)
    if value or f.pointer or not f.omitempty:
        out[f.name] = value


def _emit_message(out: JSON, f: _Field, occurrences: list[tuple[int, Wire]], depth: int) -> None:
    # Repeated occurrences of a message field merge, which is what concatenation does.
    data = b"".join(_payload(wire, raw, f.name) for wire, raw in occurrences)
    value = _message_value(f.type, data, depth + 1)
    if f.inline and isinstance(value, dict):
        out.update(value)
    elif value is not None:
        out[f.name] = value


def _repeated(f: _Field, occurrences: list[tuple[int, Wire]], depth: int) -> list[Any]:
    items: list[Any] = []
    scalar_wire = _WIRE_TYPES.get(f.type)
    for wire, raw in occurrences:
        if scalar_wire is None:
            items.append(_message_value(f.type, _payload(wire, raw, f.name), depth + 1))
        elif wire == _BYTES and scalar_wire != _BYTES and isinstance(raw, bytes):
            items.extend(_packed(f.type, raw, f.name))
        else:
            items.append(_scalar(f.type, wire, raw, f.name))
    return items


def _map(f: _Field, occurrences: list[tuple[int, Wire]], depth: int) -> JSON:
    entries: JSON = {}
    for wire, raw in occurrences:
        key, value = _map_entry(f, _payload(wire, raw, f.name), depth)
        entries[key] = value
    return entries


def _map_entry(f: _Field, data: bytes, depth: int) -> tuple[str, Any]:
    key: Any = _ZERO.get(f.key, "")
    value: Any = _ZERO.get(f.type)
    pieces: list[bytes] = []  # a message value given in pieces merges: joined once, at the end
    for number, wire, raw in _fields(data):
        if number == 1:
            key = _scalar(f.key, wire, raw, f"{f.name} key")
        elif number == 2 and f.type in _WIRE_TYPES:
            value = _scalar(f.type, wire, raw, f"{f.name} value")
        elif number == 2:
            pieces.append(_payload(wire, raw, f"{f.name} value"))
    if f.type not in _WIRE_TYPES:
        value = _message_value(f.type, b"".join(pieces), depth + 1)
    return str(key), value


# --- the envelope ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Envelope:
    api_version: str = ""
    kind: str = ""
    raw: bytes = b""
    content_encoding: str = ""
    content_type: str = ""

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def cannot_handle(self, detail: str) -> StatusError:
        return bad_request(
            f'{self.kind} in version "{self.version}" cannot be handled as a {self.kind}: {detail}'
        )


def _envelope_field(env: _Envelope, number: int, wire: int, value: Wire) -> None:
    if number == 1:
        type_meta = _payload(wire, value, "typeMeta")
        for n, w, v in _fields(type_meta):
            if n == 1:
                env.api_version = _scalar("string", w, v, "apiVersion")
            elif n == 2:
                env.kind = _scalar("string", w, v, "kind")
    elif number == 2:
        env.raw = _payload(wire, value, "raw")
    elif number == 3:
        env.content_encoding = _scalar("string", wire, value, "contentEncoding")
    elif number == 4:
        env.content_type = _scalar("string", wire, value, "contentType")


def _read_envelope(body: bytes) -> _Envelope:
    body = bytes(body)  # a bytearray or memoryview would slice into non-bytes values
    if not body.startswith(MAGIC):
        expected = " ".join(str(b) for b in MAGIC)
        raise bad_request(
            f"provided data does not appear to be a protobuf message, expected prefix [{expected}]"
        )
    env = _Envelope()
    try:
        for number, wire, value in _fields(body[len(MAGIC) :]):
            _envelope_field(env, number, wire, value)
    except _DecodeError as exc:
        if env.kind and env.api_version:
            raise env.cannot_handle(str(exc)) from None
        raise bad_request(
            f"the protobuf envelope (runtime.Unknown) does not decode: {exc}"
        ) from None
    _check_envelope(env)
    return env


def _check_envelope(env: _Envelope) -> None:
    if not env.kind:
        raise bad_request("Object 'Kind' is missing in the protobuf envelope")
    if not env.api_version:
        raise bad_request("Object 'apiVersion' is missing in the protobuf envelope")
    if env.content_encoding:
        raise env.cannot_handle(f"unsupported content encoding {env.content_encoding!r}")
    if env.content_type not in ("", CONTENT_TYPE):
        raise env.cannot_handle(f"unsupported content type {env.content_type!r}")


# --- public API -----------------------------------------------------------------------------


def decode_type_meta(body: bytes) -> tuple[str, str]:
    """(apiVersion, kind) of a protobuf body; 400 BadRequest when the envelope is malformed."""
    env = _read_envelope(body)
    return env.api_version, env.kind


def is_supported(api_version: str, kind: str) -> bool:
    """Whether ``decode`` knows the fields of this kind."""
    return f"{api_version}/{kind}" in _schema().kinds


def decode(body: bytes) -> JSON:
    """The JSON object (as kube-apiserver would serialise it) of a Kubernetes protobuf body.

    Raises ``StatusError`` 400 BadRequest for anything malformed or of an unknown kind.
    """
    env = _read_envelope(body)
    message = _schema().kinds.get(f"{env.api_version}/{env.kind}")
    if message is None:
        raise bad_request(f'no kind "{env.kind}" is registered for version "{env.api_version}"')
    try:
        obj = _decode_message(message, env.raw, 0)
    except _DecodeError as exc:
        raise env.cannot_handle(str(exc)) from None
    return {"kind": env.kind, "apiVersion": env.api_version, **obj}
