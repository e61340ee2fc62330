"""The CA and serving certificate that ``kapi up`` and ``kapi init`` create."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kapi import pki


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(san.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_serving_cert_is_signed_by_the_ca_for_the_requested_hosts(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path)
    hosts = pki.default_hosts("10.9.8.7", extra=["gateway"])
    serving = pki.ensure_serving_cert(tmp_path, ca, hosts=hosts)

    cert = serving.load_cert()
    cert.verify_directly_issued_by(ca.load_cert())
    dns, ips = _sans(cert)
    assert {"localhost", "gateway", socket.gethostname()} <= dns
    assert {"127.0.0.1", "::1", "10.9.8.7"} <= ips
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.load_cert().extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_wildcard_bind_address_is_not_a_san(tmp_path: Path) -> None:
    hosts = pki.default_hosts("0.0.0.0")
    assert "0.0.0.0" not in hosts
    assert {"localhost", "127.0.0.1", "::1"} <= set(hosts)


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        ca = pki.ensure_ca(tmp_path)
        serving = pki.ensure_serving_cert(tmp_path, ca, hosts=["localhost"])
    finally:
        os.umask(old)
    assert _mode(ca.key_path) == 0o600
    assert _mode(serving.key_path) == 0o600
    assert _mode(ca.cert_path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ca.crt",
        "ca.key",
        "gateway.crt",
        "gateway.key",
    ]


def test_second_run_reuses_everything(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path)
    serving = pki.ensure_serving_cert(tmp_path, ca, hosts=pki.default_hosts("127.0.0.1"))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    ca2 = pki.ensure_ca(tmp_path)
    serving2 = pki.ensure_serving_cert(tmp_path, ca2, hosts=pki.default_hosts("127.0.0.1"))

    assert (ca2, serving2) == (ca, serving)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_serving_cert_is_reissued_for_new_hosts_with_the_same_ca(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path)
    serving = pki.ensure_serving_cert(tmp_path, ca, hosts=["localhost", "127.0.0.1"])
    ca_pem, old_pem = ca.cert_path.read_bytes(), serving.cert_path.read_bytes()

    pki.ensure_serving_cert(tmp_path, pki.ensure_ca(tmp_path), hosts=["localhost", "192.0.2.1"])

    assert ca.cert_path.read_bytes() == ca_pem
    assert serving.cert_path.read_bytes() != old_pem
    _, ips = _sans(serving.load_cert())
    assert "192.0.2.1" in ips


def test_serving_cert_from_another_ca_is_replaced(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path / "one")
    pki.ensure_serving_cert(tmp_path / "two", ca, hosts=["localhost"])
    other_ca = pki.ensure_ca(tmp_path / "two")

    serving = pki.ensure_serving_cert(tmp_path / "two", other_ca, hosts=["localhost"])

    serving.load_cert().verify_directly_issued_by(other_ca.load_cert())


def test_client_cert_carries_user_and_groups(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path)
    pair = pki.issue_client_cert(
        tmp_path, ca, name="admin", user="kapi-admin", groups=["system:masters"]
    )
    cert = pair.load_cert()
    cert.verify_directly_issued_by(ca.load_cert())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kapi-admin"
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert _mode(pair.key_path) == 0o600
    pem = pair.cert_path.read_bytes()
    assert (
        pki.issue_client_cert(
            tmp_path, ca, name="admin", user="kapi-admin", groups=["system:masters"]
        ).cert_path.read_bytes()
        == pem
    )


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_tls_client_trusting_the_ca_accepts_the_gateway(
    tmp_path: Path, server_hostname: str
) -> None:
    """A real handshake, with hostname checking, as kubectl would do it."""
    ca = pki.ensure_ca(tmp_path)
    serving = pki.ensure_serving_cert(tmp_path, ca, hosts=pki.default_hosts("127.0.0.1"))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(serving.cert_path, serving.key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(ca.cert_path))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        assert tls.recv(5) == b"hello"
    thread.join(10)
    listener.close()


def test_ip_hosts_become_ip_sans(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path)
    cert = pki.ensure_serving_cert(tmp_path, ca, hosts=["::1", "example.test"]).load_cert()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("::1")]
    assert san.get_values_for_type(x509.DNSName) == ["example.test"]


# --- the inside: services CA, etcd CA ---------------------------------------------------


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_internal_certificates_per_holder(tmp_path: Path) -> None:
    layout = pki.ensure_internal(tmp_path)
    services_ca = layout.services_ca.load_cert()
    etcd_ca = layout.etcd_ca.load_cert()
    cluster_ca = pki.ensure_ca(tmp_path).load_cert()
    keys = [ca.public_key() for ca in (services_ca, etcd_ca, cluster_ca)]
    assert keys[0] != keys[1] and keys[1] != keys[2] and keys[0] != keys[2]
    both = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    for name in pki.SERVICE_NAMES:
        files = layout.service(name)
        assert files.mutual and files.ca_file and files.cert_file and files.key_file
        assert files.ca_file.read_bytes() == layout.services_ca.cert_pem
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        cert.verify_directly_issued_by(services_ca)
        extra = set(pki.SERVICE_HOSTS.get(name, ()))
        assert _sans(cert) == ({"localhost", name, *extra}, {"127.0.0.1", "::1"})
        assert _usages(cert) == both
        assert _mode(files.key_file) == 0o600
    assert layout.etcd_server.cert_file and layout.etcd_client.cert_file
    server = x509.load_pem_x509_certificate(layout.etcd_server.cert_file.read_bytes())
    server.verify_directly_issued_by(etcd_ca)
    assert _sans(server) == ({"localhost", "etcd"}, {"127.0.0.1", "::1"})
    client = x509.load_pem_x509_certificate(layout.etcd_client.cert_file.read_bytes())
    client.verify_directly_issued_by(etcd_ca)
    assert _usages(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    # Storage's directory holds the one etcd client key; no other service's does.
    assert layout.etcd_client.key_file is not None
    assert layout.etcd_client.key_file.parent == layout.service_dir("storage")
    # Besides their own: the gateway's front-proxy client certificate, the front-proxy CA
    # the registry publishes for extension API servers.
    extra = {
        "authz": [],
        "registry": ["front-proxy-ca.crt"],
        "gateway": ["front-proxy-client.crt", "front-proxy-client.key"],
        "metrics": ["front-proxy-ca.crt"],  # an extension API server: it checks the proxy
    }
    for name, more in extra.items():
        assert sorted(p.name for p in layout.service_dir(name).iterdir()) == sorted(
            ["ca.crt", "tls.crt", "tls.key", *more]
        )
    front_proxy_ca = layout.front_proxy_ca.load_cert()
    assert front_proxy_ca.public_key() not in keys
    assert layout.front_proxy_ca_copy.read_bytes() == layout.front_proxy_ca.cert_pem
    front_proxy = layout.front_proxy_client.load_cert()
    front_proxy.verify_directly_issued_by(front_proxy_ca)
    assert _usages(front_proxy) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert front_proxy.subject.rfc4514_string() == "CN=front-proxy-client"
    assert _mode(layout.front_proxy_client.key_path) == 0o600
    assert sorted(p.name for p in layout.etcd_dir.iterdir()) == [
        "ca.crt",
        "server.crt",
        "server.key",
    ]


def test_internal_certificates_are_reused(tmp_path: Path) -> None:
    pki.ensure_internal(tmp_path)
    before = _files(tmp_path)
    pki.ensure_internal(tmp_path)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("damage", ["missing", "near expiry", "another CA"])
def test_a_leaf_is_reissued_on_the_next_run(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotation by restarting: a missing, expiring or foreign certificate is replaced
    (signed by the same CA); the others stay as they were."""
    target = pki.InternalPKI(tmp_path).service("authz")
    assert target.cert_file is not None and target.key_file is not None
    layout = pki.ensure_internal(tmp_path)
    if damage == "near expiry":  # authz's alone was issued for a short while
        target.cert_file.unlink()
        monkeypatch.setattr(pki, "LEAF_VALIDITY", pki.RENEW_BEFORE / 2)
        pki.ensure_internal(tmp_path)
        monkeypatch.undo()
    if damage == "missing":
        target.cert_file.unlink()
    elif damage == "another CA":
        other = pki.ensure_internal(tmp_path / "other").service("authz")
        assert other.cert_file is not None
        target.cert_file.write_bytes(other.cert_file.read_bytes())
        assert other.key_file is not None
        target.key_file.write_bytes(other.key_file.read_bytes())
    untouched = layout.service("registry").cert_file
    assert untouched is not None
    kept = untouched.read_bytes()
    old = target.cert_file.read_bytes() if target.cert_file.exists() else b""

    pki.ensure_internal(tmp_path)

    cert = x509.load_pem_x509_certificate(target.cert_file.read_bytes())
    assert target.cert_file.read_bytes() != old
    cert.verify_directly_issued_by(layout.services_ca.load_cert())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > pki.RENEW_BEFORE
    assert untouched.read_bytes() == kept


def test_an_expiring_internal_ca_is_renewed_with_its_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pki, "CA_VALIDITY", pki.RENEW_BEFORE / 2)
    layout = pki.ensure_internal(tmp_path)
    cluster = pki.ensure_ca(tmp_path).cert_pem
    monkeypatch.undo()
    old_ca = layout.etcd_ca.cert_pem

    pki.ensure_internal(tmp_path)

    assert layout.etcd_ca.cert_pem != old_ca
    new_ca = layout.etcd_ca.load_cert()
    for files in (layout.etcd_server, layout.etcd_client):
        assert files.cert_file is not None and files.ca_file is not None
        x509.load_pem_x509_certificate(files.cert_file.read_bytes()).verify_directly_issued_by(
            new_ca
        )
        assert files.ca_file.read_bytes() == layout.etcd_ca.cert_pem
    assert pki.ensure_ca(tmp_path).cert_pem == cluster  # the kubeconfig's CA is never renewed


def test_tls_files_pair_a_certificate_with_its_key() -> None:
    with pytest.raises(ValueError):
        pki.TLSFiles(ca_file=Path("ca.crt"), cert_file=Path("tls.crt"))
    assert not pki.TLSFiles(ca_file=Path("ca.crt")).mutual
    assert pki.TLSFiles.from_flags("", None, "") is None
