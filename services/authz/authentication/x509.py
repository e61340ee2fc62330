"""Client certificates: the subject's CN is the user, its O values the groups.

kube's x509 request authenticator (k8s.io/apiserver/pkg/authentication/request/x509)
with ``CommonNameUserConversion``: a request without a certificate is not its to judge;
a certificate is verified against the client CA (``--client-ca-file``: signature,
validity, the clientAuth usage) and a failure is 401; a certificate without a CN is
not applicable. The user carries the certificate's SHA-256 as its credential id.

The gateway's TLS already verified the chain against the same CA when the connection
was made; authz checks again because it trusts only its own CA, not its caller.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kapi.user import CREDENTIAL_ID_KEY, UserInfo
from services.authz.authentication import Authenticated, Credentials, Failed, Outcome


class ClientCertificates:
    def __init__(self, authorities: Sequence[x509.Certificate]) -> None:
        self.authorities = tuple(authorities)

    @classmethod
    def from_pem(cls, pem: bytes) -> ClientCertificates:
        return cls(x509.load_pem_x509_certificates(pem))

    async def authenticate(self, credentials: Credentials) -> Outcome:
        if not credentials.client_certificates:
            return None
        try:
            leaf = x509.load_der_x509_certificate(credentials.client_certificates[0])
        except ValueError as exc:
            return Failed(f"verifying certificate failed: {exc}")
        problem = self._verify(leaf)
        if problem:
            return Failed(f"verifying certificate {_identify(leaf)} failed: {problem}")
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        if not common_name:
            return None
        groups = tuple(
            str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        )
        fingerprint = hashlib.sha256(credentials.client_certificates[0]).hexdigest()
        return Authenticated(
            UserInfo(common_name, "", groups, {CREDENTIAL_ID_KEY: (f"X509SHA256={fingerprint}",)})
        )

    def _verify(self, leaf: x509.Certificate) -> str:
        """Go's x509 Verify, as far as a directly issued client certificate goes: "" if
        good, else why not."""
        now = datetime.datetime.now(datetime.UTC)
        if now < leaf.not_valid_before_utc or now > leaf.not_valid_after_utc:
            return (
                "x509: certificate has expired or is not yet valid: current time "
                f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')} is outside the certificate's validity"
            )
        try:
            usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if (
            usage is not None
            and ExtendedKeyUsageOID.CLIENT_AUTH not in usage
            and (ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usage)
        ):
            return "x509: certificate specifies an incompatible key usage"
        for authority in self.authorities:
            try:
                leaf.verify_directly_issued_by(authority)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return ""
        return "x509: certificate signed by unknown authority"


def _identify(cert: x509.Certificate) -> str:
    """certificateIdentifier's gist: the subject and serial a log can find it by."""
    return f'"{cert.subject.rfc4514_string()}" [serial number={cert.serial_number}]'
