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
