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
from services.registry import validation
from services.registry.pipeline import Requester
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj

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
