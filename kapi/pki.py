"""The certificates a kapi control plane needs, created once and reused.

kubectl sends a bearer token only over TLS, so even a laptop control plane serves
HTTPS. ``kapi up`` and ``kapi init`` keep a private CA under ``DIR/pki`` and issue the
gateway's serving certificate from it; the kubeconfig trusts that CA. Everything is
reused on later runs, so a kubeconfig handed out once keeps working; the serving
certificate alone is reissued when it no longer covers the requested host names, was
signed by another CA, or is close to expiry.

Keys are ECDSA P-256: quick to generate, accepted by kubectl, Python's ssl and every
Kubernetes client. Private keys are written 0600, atomically.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "ca"
SERVING_NAME = "gateway"

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
# A leaf this close to its end is reissued on the next run.
RENEW_BEFORE = datetime.timedelta(days=30)
# Tolerate clocks a little behind the one that issued the certificate.
BACKDATE = datetime.timedelta(minutes=5)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its key on disk."""

    cert_path: Path
    key_path: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def load_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    def load_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.key_path}: expected an EC private key")
        return key


def paths(pki_dir: Path, name: str) -> KeyPair:
    """Where the certificate and key called ``name`` live (``NAME.crt``, ``NAME.key``)."""
    return KeyPair(cert_path=pki_dir / f"{name}.crt", key_path=pki_dir / f"{name}.key")


def default_hosts(bind_address: str, *, extra: Iterable[str] = ()) -> list[str]:
    """The names a local client may use for the gateway: loopback, the bind address, us.

    A wildcard bind address (``0.0.0.0``, ``::``) names no host and is left out.
    """
    hosts = ["localhost", "127.0.0.1", "::1"]
    if bind_address not in ("", "0.0.0.0", "::"):
        hosts.append(bind_address)
    hostname = socket.gethostname()
    if hostname and hostname.isascii():
        hosts.append(hostname)
    hosts.extend(extra)
    return list(dict.fromkeys(hosts))  # ordered, unique


def ensure_ca(pki_dir: Path, *, common_name: str = "kapi-ca") -> KeyPair:
    """The CA under ``pki_dir``; created on first use, reused afterwards."""
    pair = paths(pki_dir, CA_NAME)
    if pair.cert_path.exists() and pair.key_path.exists():
        return pair
    pki_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(pair, cert, key)
    return pair


def ensure_serving_cert(
    pki_dir: Path, ca: KeyPair, *, hosts: Sequence[str], name: str = SERVING_NAME
) -> KeyPair:
    """A server certificate for ``hosts`` (DNS names and IP addresses) signed by ``ca``.

    The one on disk is kept when it is signed by ``ca``, covers every host and is not
    about to expire; otherwise a new one replaces it.
    """
    pair = paths(pki_dir, name)
    if _reusable(pair, ca, hosts=hosts):
        return pair
    dns, ips = _split_hosts(hosts)
    san: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    san += [x509.IPAddress(i) for i in ips]
    _issue(
        pair,
        ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=san,
    )
    return pair


def issue_client_cert(
    pki_dir: Path,
    ca: KeyPair,
    *,
    name: str,
    user: str,
    groups: Sequence[str] = (),
) -> KeyPair:
    """A client certificate as kube-apiserver reads one: CN is the user, O the groups.

    Reused when one for the same user and groups, signed by ``ca``, already exists.
    """
    pair = paths(pki_dir, name)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, user)]
        + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    )
    if _reusable(pair, ca, hosts=()) and pair.load_cert().subject == subject:
        return pair
    _issue(pair, ca, subject=subject, usage=ExtendedKeyUsageOID.CLIENT_AUTH, san=[])
    return pair


def _issue(
    pair: KeyPair,
    ca: KeyPair,
    *,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    san: list[x509.GeneralName],
) -> None:
    ca_cert, ca_key = ca.load_cert(), ca.load_key()
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    _write(pair, builder.sign(ca_key, hashes.SHA256()), key)


def _reusable(pair: KeyPair, ca: KeyPair, *, hosts: Sequence[str]) -> bool:
    if not (pair.cert_path.exists() and pair.key_path.exists()):
        return False
    try:
        cert = pair.load_cert()
        ca_cert = ca.load_cert()
        cert.verify_directly_issued_by(ca_cert)
        key = pair.load_key()
    except (ValueError, TypeError, InvalidSignature):
        return False
    if cert.public_key() != key.public_key():
        return False
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    if not hosts:
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    dns, ips = _split_hosts(hosts)
    return set(dns) <= set(san.get_values_for_type(x509.DNSName)) and set(ips) <= set(
        san.get_values_for_type(x509.IPAddress)
    )


def _split_hosts(hosts: Iterable[str]) -> tuple[list[str], list[IPAddress]]:
    dns: list[str] = []
    ips: list[IPAddress] = []
    for host in dict.fromkeys(hosts):
        try:
            ips.append(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            dns.append(host)
    return dns, ips


def _write(pair: KeyPair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Key first: a certificate on disk always has its key beside it.
    write_private(pair.key_path, key_pem)
    write_atomic(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret: mode 0600 from the moment the file exists, replaced atomically."""
    write_atomic(path, data, mode=0o600)


def write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file created with ``mode``.

    Readers (a service starting, a second ``kapi``) never see a half-written file, and
    a secret is never readable by others, not even for an instant.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask may have narrowed it
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
