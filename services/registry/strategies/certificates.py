"""certificates.k8s.io/v1 CertificateSigningRequests (``pkg/apis/certificates/validation``).

kube fills spec.username, uid, groups and extra from the requesting user on create;
the registry's strategies do not see the user, so what the request carries is kept."""

from __future__ import annotations

import base64
import binascii

from kapi import errors
from kapi.errors import FieldError
from services.registry import validation
from services.registry.strategies.common import StatusStrategy, spec_of
from services.registry.strategy import Obj

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

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        out = self.validate(new)
        if spec_of(new) != spec_of(old):
            out.append(errors.invalid_value("spec", spec_of(new), "field is immutable"))
        return out
