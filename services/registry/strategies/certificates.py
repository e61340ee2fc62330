"""certificates.k8s.io/v1 CertificateSigningRequests (``pkg/apis/certificates/validation``,
``pkg/registry/certificates/certificates/strategy.go``).

Who asked for a certificate is the API server's to say: on create, spec.username, uid,
groups and extra are those of the requesting user whatever the body said, and the status
starts empty (no pre-approved requests). The spec never changes afterwards: an update
keeps the stored one, as kube's PrepareForUpdate does."""

from __future__ import annotations

import base64
import binascii
import copy

from kapi import errors
from kapi.errors import FieldError
from services.registry import types, validation
from services.registry.definition import Definition, grouped
from services.registry.pipeline import Requester, now_rfc3339
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj
from services.registry.types import Subresource

_REQUESTER_FIELDS = ("username", "uid", "groups", "extra")

_USAGES = (
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
)


class CertificateSigningRequestStrategy(StatusStrategy):
    def record_requester(self, obj: Obj, requester: Requester) -> None:
        """PrepareForCreate: the requesting user replaces any user the body names (Go's
        omitempty leaves out what the user lacks)."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        for key in _REQUESTER_FIELDS:
            spec.pop(key, None)
        if requester.username:
            spec["username"] = requester.username
        if requester.uid:
            spec["uid"] = requester.uid
        if requester.groups:
            spec["groups"] = list(requester.groups)
        if requester.extra:
            spec["extra"] = {key: list(values) for key, values in requester.extra.items()}

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> None:
        """/approval changes status.conditions only; /status changes the status but not
        the Approved and Denied conditions (kube's csrApprovalStrategy and
        csrStatusStrategy); both keep the spec and stamp new conditions' times."""
        if subresource not in ("approval", "status"):
            super().prepare_for_subresource_update(subresource, new, old)
            return
        super().prepare_for_subresource_update("status", new, old)
        new_status = _status_of(new)
        old_status = _status_of(old)
        conditions = _conditions(new_status)
        if subresource == "status":
            for kind in APPROVAL_CONDITIONS:
                _preserve_instances(conditions, _conditions(old_status), kind)
        _stamp(conditions, _conditions(old_status))
        if subresource == "approval":
            status = copy.deepcopy(old_status)
            status["conditions"] = conditions
            new["status"] = status
        elif conditions or "conditions" in new_status:
            new_status["conditions"] = conditions
            new["status"] = new_status

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> list[FieldError]:
        """kube's ValidateCertificateSigningRequest{Approval,Status}Update: valid
        conditions; Approved, Denied and Failed ones never removed, and Approved and
        Denied ones set through /approval only."""
        if subresource not in ("approval", "status"):
            return super().validate_subresource_update(subresource, new, old)
        old_conditions = _conditions(_status_of(old))
        new_conditions = _conditions(_status_of(new))
        out = _validate_conditions(new_conditions, old_conditions)
        path = "status.conditions"
        for kind in ("Approved", "Denied", "Failed"):
            before = [c for c in old_conditions if c.get("type") == kind]
            after = [c for c in new_conditions if c.get("type") == kind]
            if len(after) < len(before):
                out.append(
                    errors.forbidden_field(
                        path, f"updates may not remove a condition of type {errors.quote(kind)}"
                    )
                )
            elif subresource == "status" and kind in APPROVAL_CONDITIONS:
                if len(after) > len(before):
                    detail = f"updates may not add a condition of type {errors.quote(kind)}"
                    out.append(errors.forbidden_field(path, detail))
                elif after != before:
                    detail = f"updates may not modify a condition of type {errors.quote(kind)}"
                    out.append(errors.forbidden_field(path, detail))
        return out

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """The spec is immutable: an update keeps the stored one (status too)."""
        super().prepare_for_update(new, old)
        if "spec" in old:
            new["spec"] = copy.deepcopy(old["spec"])
        else:
            new.pop("spec", None)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = spec_of(obj)
        out: list[FieldError] = []
        request = spec.get("request")
        if not request:
            out.append(
                errors.invalid_value(
                    "spec.request", [], "PEM block type must be CERTIFICATE REQUEST"
                )
            )
        elif isinstance(request, str):
            try:
                pem = base64.b64decode(request, validate=True)
            except (binascii.Error, ValueError):
                pem = b""
            if b"CERTIFICATE REQUEST" not in pem:
                out.append(
                    errors.invalid_value(
                        "spec.request", [], "PEM block type must be CERTIFICATE REQUEST"
                    )
                )
        signer = spec.get("signerName")
        if not signer:
            out.append(errors.required("spec.signerName"))
        elif isinstance(signer, str):
            domain = signer.split("/", 1)[0]
            if "/" not in signer or validation.dns1123_subdomain(domain):
                out.append(
                    errors.invalid_value(
                        "spec.signerName",
                        signer,
                        "must be a fully qualified domain and path of the form "
                        "'example.com/signer-name'",
                    )
                )
        usages = spec.get("usages")
        if not usages:
            out.append(errors.required("spec.usages"))
        for i, usage in enumerate(usages or []):
            if usage not in _USAGES:
                out.append(errors.not_supported(f"spec.usages[{i}]", usage, _USAGES))
        seconds = spec.get("expirationSeconds")
        if isinstance(seconds, int) and seconds < 600:
            out.append(
                errors.invalid_value(
                    "spec.expirationSeconds",
                    seconds,
                    "may not specify a duration less than 600 seconds (10 minutes)",
                )
            )
        return out


APPROVAL_CONDITIONS = ("Approved", "Denied")
# Condition types that may only be "True" (kube's trueConditionTypes).
_TRUE_ONLY = ("Approved", "Denied", "Failed")


def _status_of(obj: Obj) -> Obj:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _conditions(status: Obj) -> list[Obj]:
    found = status.get("conditions") if isinstance(status, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _preserve_instances(new: list[Obj], old: list[Obj], kind: str) -> None:
    """kube's preserveConditionInstances: the stored conditions of ``kind`` kept as they
    were, when the update has as many of them (validation rejects the rest)."""
    old_found = [c for c in old if c.get("type") == kind]
    indices = [i for i, c in enumerate(new) if c.get("type") == kind]
    if len(indices) == len(old_found):
        for index, kept in zip(indices, old_found, strict=True):
            new[index] = copy.deepcopy(kept)


def _stamp(new: list[Obj], old: list[Obj]) -> None:
    """kube's populateConditionTimestamps: lastUpdateTime when missing; lastTransitionTime
    from a stored condition of the same type and status, else now."""
    now = now_rfc3339()
    for condition in new:
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if not condition.get("lastTransitionTime"):
            previous = next(
                (
                    c["lastTransitionTime"]
                    for c in old
                    if c.get("type") == condition.get("type")
                    and c.get("status") == condition.get("status")
                    and c.get("lastTransitionTime")
                ),
                now,
            )
            condition["lastTransitionTime"] = previous


def _validate_conditions(conditions: list[Obj], old: list[Obj]) -> list[FieldError]:
    """kube's validateConditions, with its allowances for data that already broke them."""
    out: list[FieldError] = []
    old_types = [c.get("type") for c in old]
    allow_empty_type = any(not t for t in old_types)
    allow_duplicates = len(old_types) != len(set(old_types))
    allow_both = "Approved" in old_types and "Denied" in old_types
    seen: set[str] = set()
    approved = denied = False
    for i, condition in enumerate(conditions):
        path = f"status.conditions[{i}]"
        kind = str(condition.get("type") or "")
        status = condition.get("status")
        if not kind and not allow_empty_type:
            out.append(errors.required(f"{path}.type"))
        allowed = ("True",) if kind in _TRUE_ONLY else ("False", "True", "Unknown")
        if not status:
            out.append(errors.required(f"{path}.status"))
        elif status not in allowed:
            out.append(errors.not_supported(f"{path}.status", status, allowed))
        if not allow_both:
            if kind == "Approved":
                approved = True
                if denied:
                    out.append(errors.invalid_value(f"{path}.type", kind, _EXCLUSIVE))
            elif kind == "Denied":
                denied = True
                if approved:
                    out.append(errors.invalid_value(f"{path}.type", kind, _EXCLUSIVE))
        if not allow_duplicates:
            if kind in seen:
                out.append(errors.duplicate(f"{path}.type", kind))
            seen.add(kind)
    return out


_EXCLUSIVE = "Approved and Denied conditions are mutually exclusive"


DEFINITIONS: tuple[Definition, ...] = (
    grouped(
        "certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
        CertificateSigningRequestStrategy(), schema_group="certificates", namespaced=False,
        short_names=("csr",),
        subresources=(Subresource("approval", types.GET_PATCH_UPDATE), *types.STATUS),
    ),
)  # fmt: skip
