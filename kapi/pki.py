"""The certificates a kapi control plane needs, created once and reused.

kubectl sends a bearer token only over TLS, so even a laptop control plane serves
HTTPS. ``kapi up`` and ``kapi init`` keep a private CA under ``DIR/pki`` and issue the
gateway's serving certificate from it; the kubeconfig trusts that CA. Everything is
reused on later runs, so a kubeconfig handed out once keeps working; the serving
certificate alone is reissued when it no longer covers the requested host names, was
signed by another CA, or is close to expiry.

The inside is closed the same way (``ensure_internal``): the services speak mutual TLS
with certificates from a services CA, and etcd accepts only clients with a certificate
from an etcd CA, which signs one for storage alone. Both CAs are apart from the cluster
CA, which also signs users' client certificates: a user's certificate opens neither the
services nor etcd. kube-apiserver's deployments keep etcd's CA apart the same way
(kubeadm's ``etcd/ca``). Under ``DIR/pki``, one directory per holder, so that compose
can give each container only its own (one volume each)::

    ca.crt ca.key gateway.crt gateway.key      cluster CA, the gateway's HTTPS certificate
    authority/                                 services-ca.*, etcd-ca.*, front-proxy-ca.*
    etcd/                                      ca.crt, server.crt, server.key
    services/NAME/                             ca.crt, tls.crt, tls.key (NAME: the four)
    services/storage/                          + etcd-ca.crt, etcd-client.crt, .key
    services/gateway/                          + front-proxy-client.crt, .key
    services/registry/, services/metrics/      + front-proxy-ca.crt
    services/authz/                            + sa.key, sa.pub (ServiceAccount tokens)
    admin.crt admin.key                        the admin's client certificate

The front-proxy CA is kube's ``--requestheader-client-ca-file`` (kubeadm's
``front-proxy-ca``): the gateway presents its ``front-proxy-client`` certificate when it
proxies a request to an extension API server (an APIService with a service), which
trusts the user named in ``X-Remote-User`` only from a client with that certificate.
The registry publishes the CA in ``kube-system/extension-apiserver-authentication``;
kapi's own metrics server (an extension API server) trusts it. The metrics server's
certificate, of the services CA, also names ``metrics-server.kube-system.svc``.

Rotation is by restarting: every ``kapi up`` and ``kapi init`` reissues a certificate
that is missing, unreadable, signed by another CA, short of a host name, or within
``RENEW_BEFORE`` of its end (leaves live ``LEAF_VALIDITY``); a running service keeps
the certificate it started with.

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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "ca"
SERVING_NAME = "gateway"

# The services that hold a certificate of the services CA, and their compose names.
SERVICE_NAMES = ("storage", "authz", "registry", "gateway", "metrics")
# Names a service's certificate is also good for: the metrics server is reached by the
# aggregator as its Service's name, as metrics-server is.
SERVICE_HOSTS = {"metrics": ("metrics-server.kube-system.svc",)}
# The services that check the front proxy's certificate: a copy of its CA each.
FRONT_PROXY_TRUSTING = ("registry", "metrics")
ETCD_NAME = "etcd"
# kubeadm's name for the front proxy's client certificate: the common name extension
# API servers are told to accept (``requestheader-allowed-names``).
FRONT_PROXY_CLIENT_NAME = "front-proxy-client"
# Every internal certificate is good for these, so `kapi up`'s peers on loopback and
# compose's by service name both verify.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

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


@dataclass(frozen=True)
class TLSFiles:
    """One end of a TLS connection: the CA its peer must be signed by, and the
    certificate and key it presents itself.

    kapi's services always have all three (mutual TLS, ``mutual``). An external etcd
    may be reached with a CA only (no client certificate) or with the system's roots
    (no CA), as kube-apiserver's ``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile``.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a certificate file and its key file go together")

    @property
    def mutual(self) -> bool:
        """Whether both the peer is verified (a CA) and we present a certificate."""
        return self.ca_file is not None and self.cert_file is not None

    def read(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """The PEM bytes of (CA, key, certificate), each ``None`` where not set."""

        def pem(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return pem(self.ca_file), pem(self.key_file), pem(self.cert_file)

    @classmethod
    def from_flags(cls, ca: str | None, cert: str | None, key: str | None) -> TLSFiles | None:
        """From three optional flag values ("" or None: unset); ``None`` when all unset."""
        if not (ca or cert or key):
            return None
        return cls(
            ca_file=Path(ca) if ca else None,
            cert_file=Path(cert) if cert else None,
            key_file=Path(key) if key else None,
        )


@dataclass(frozen=True)
class InternalPKI:
    """Where the inside's certificates live under ``DIR/pki`` (see the module docstring)."""

    pki_dir: Path

    @property
    def authority_dir(self) -> Path:
        return self.pki_dir / "authority"

    @property
    def services_ca(self) -> KeyPair:
        return paths(self.authority_dir, "services-ca")

    @property
    def etcd_ca(self) -> KeyPair:
        return paths(self.authority_dir, "etcd-ca")

    def service_dir(self, name: str) -> Path:
        """The directory holding everything service ``name`` needs (one compose volume)."""
        return self.pki_dir / "services" / name

    def service(self, name: str) -> TLSFiles:
        """Service ``name``'s identity towards its peers, and the CA it trusts for them."""
        folder = self.service_dir(name)
        return TLSFiles(folder / "ca.crt", folder / "tls.crt", folder / "tls.key")

    @property
    def front_proxy_ca(self) -> KeyPair:
        return paths(self.authority_dir, "front-proxy-ca")

    @property
    def front_proxy_client(self) -> KeyPair:
        """The gateway's certificate towards extension API servers (kube-apiserver's
        ``--proxy-client-cert-file`` and ``--proxy-client-key-file``)."""
        return paths(self.service_dir("gateway"), FRONT_PROXY_CLIENT_NAME)

    @property
    def front_proxy_ca_copy(self) -> Path:
        """The front-proxy CA as the registry reads it, to publish it
        (``--requestheader-client-ca-file``)."""
        return self.front_proxy_ca_for("registry")

    def front_proxy_ca_for(self, name: str) -> Path:
        """The front-proxy CA in service ``name``'s directory (one of
        ``FRONT_PROXY_TRUSTING``)."""
        return self.service_dir(name) / "front-proxy-ca.crt"

    @property
    def etcd_dir(self) -> Path:
        return self.pki_dir / ETCD_NAME

    @property
    def etcd_server(self) -> TLSFiles:
        """etcd's serving (and peer) certificate, and the CA its clients must come from."""
        return TLSFiles(
            self.etcd_dir / "ca.crt", self.etcd_dir / "server.crt", self.etcd_dir / "server.key"
        )

    @property
    def etcd_client(self) -> TLSFiles:
        """Storage's certificate towards etcd: the only etcd client key there is."""
        folder = self.service_dir("storage")
        return TLSFiles(
            folder / "etcd-ca.crt", folder / "etcd-client.crt", folder / "etcd-client.key"
        )


def ensure_internal(pki_dir: Path) -> InternalPKI:
    """The services CA, the etcd CA and every certificate they sign, issued or renewed.

    Each service's certificate is good for serving and as a client, for loopback and its
    compose service name; etcd's for loopback and ``etcd``.
    """
    layout = InternalPKI(pki_dir)
    services_ca = ensure_ca(
        layout.authority_dir, name="services-ca", common_name="kapi-services-ca", renew=True
    )
    etcd_ca = ensure_ca(
        layout.authority_dir, name="etcd-ca", common_name="kapi-etcd-ca", renew=True
    )
    both = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
    for name in SERVICE_NAMES:
        _ensure_leaf(
            layout.service(name),
            services_ca,
            common_name=f"kapi-{name}",
            hosts=[*LOOPBACK_HOSTS, name, *SERVICE_HOSTS.get(name, ())],
            usages=both,
        )
    # etcd's certificate also serves as its peer certificate and its own health checks'
    # client certificate (etcdctl in compose), hence both usages.
    _ensure_leaf(
        layout.etcd_server,
        etcd_ca,
        common_name="kapi-etcd",
        hosts=[*LOOPBACK_HOSTS, ETCD_NAME],
        usages=both,
    )
    _ensure_leaf(
        layout.etcd_client,
        etcd_ca,
        common_name="kapi-storage",
        hosts=[],
        usages=(ExtendedKeyUsageOID.CLIENT_AUTH,),
    )
    front_proxy_ca = ensure_ca(
        layout.authority_dir,
        name="front-proxy-ca",
        common_name="kapi-front-proxy-ca",
        renew=True,
    )
    _ensure_leaf(
        TLSFiles(
            layout.front_proxy_ca_copy,
            layout.front_proxy_client.cert_path,
            layout.front_proxy_client.key_path,
        ),
        front_proxy_ca,
        common_name=FRONT_PROXY_CLIENT_NAME,
        hosts=[],
        usages=(ExtendedKeyUsageOID.CLIENT_AUTH,),
    )
    for name in FRONT_PROXY_TRUSTING:
        copy = layout.front_proxy_ca_for(name)
        if not copy.exists() or copy.read_bytes() != front_proxy_ca.cert_pem:
            write_atomic(copy, front_proxy_ca.cert_pem, mode=0o644)
    return layout


def _ensure_leaf(
    files: TLSFiles,
    ca: KeyPair,
    *,
    common_name: str,
    hosts: Sequence[str],
    usages: Sequence[x509.ObjectIdentifier],
) -> None:
    """``files``' certificate (reused while good, see ``_reusable``) and a copy of the CA."""
    assert files.ca_file is not None and files.cert_file is not None
    assert files.key_file is not None
    ca_pem = ca.cert_pem
    if not files.ca_file.exists() or files.ca_file.read_bytes() != ca_pem:
        write_atomic(files.ca_file, ca_pem, mode=0o644)
    pair = KeyPair(files.cert_file, files.key_file)
    if _reusable(pair, ca, hosts=hosts):
        return
    dns, ips = _split_hosts(hosts)
    san: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    san += [x509.IPAddress(i) for i in ips]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    _issue(pair, ca, subject=subject, usage=usages, san=san)


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


def ensure_ca(
    pki_dir: Path, *, common_name: str = "kapi-ca", name: str = CA_NAME, renew: bool = False
) -> KeyPair:
    """The CA ``name`` under ``pki_dir``; created on first use, reused afterwards.

    ``renew``: also replaced when unreadable or within ``RENEW_BEFORE`` of its end (for
    the internal CAs, which no kubeconfig holds: their leaves are then reissued too).
    """
    pair = paths(pki_dir, name)
    if pair.cert_path.exists() and pair.key_path.exists() and not (renew and _stale_ca(pair)):
        return pair
    pki_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
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
        usage=(ExtendedKeyUsageOID.SERVER_AUTH,),
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
    _issue(pair, ca, subject=subject, usage=(ExtendedKeyUsageOID.CLIENT_AUTH,), san=[])
    return pair


SERVICE_ACCOUNT_KEY = "sa"


def service_account_key(directory: Path) -> KeyPair:
    """Where the ServiceAccount signing key lives in ``directory`` (the public key in
    ``cert_path``)."""
    return KeyPair(
        cert_path=directory / f"{SERVICE_ACCOUNT_KEY}.pub",
        key_path=directory / f"{SERVICE_ACCOUNT_KEY}.key",
    )


def ensure_service_account_key(directory: Path) -> KeyPair:
    """The key pair that signs ServiceAccount tokens (``sa.key``, ``sa.pub``: kubeadm's
    names), RSA 2048 as kubeadm's: RS256 is what every OIDC relying party accepts.
    Created once and kept — a new key would invalidate every token issued — in
    authz's own directory (``services/authz``), the only service that signs."""
    pair = service_account_key(directory)
    if pair.key_path.exists() and pair.cert_path.exists():
        return pair
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_private(
        pair.key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_atomic(
        pair.cert_path,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        mode=0o644,
    )
    return pair


def _issue(
    pair: KeyPair,
    ca: KeyPair,
    *,
    subject: x509.Name,
    usage: Sequence[x509.ObjectIdentifier],
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
        .add_extension(x509.ExtendedKeyUsage(list(usage)), critical=False)
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


def _stale_ca(pair: KeyPair) -> bool:
    try:
        cert, key = pair.load_cert(), pair.load_key()
    except (ValueError, TypeError):
        return True
    return cert.public_key() != key.public_key() or (
        cert.not_valid_after_utc - _now() < RENEW_BEFORE
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
