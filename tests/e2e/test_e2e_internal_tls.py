"""``kapi up``'s inside is closed: every port but the gateway's refuses a client
without a certificate from the right CA.

The ports are the ones ``state.json`` lists (storage, authz, registry, the embedded
etcd's client and peer ports); the certificates those of the data directory. Each
must refuse plaintext, TLS without a client certificate and TLS with a user's
certificate from the cluster CA, and answer the certificate ``kapi up`` gave its clients.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kapi import pki
from tests.e2e.conftest import Cluster
from tests.mtls import grpc_answers, http_answers, refused_attempts

pytestmark = pytest.mark.e2e


@pytest.fixture
def user_certificate(cluster: Cluster, tmp_path: Path) -> pki.TLSFiles:
    ca = pki.ensure_ca(cluster.data_dir / "pki")
    pair = pki.issue_client_cert(
        tmp_path, ca, name="admin", user="kapi-admin", groups=["system:masters"]
    )
    return pki.TLSFiles(ca.cert_path, pair.cert_path, pair.key_path)


def _ports(cluster: Cluster) -> dict[str, int]:
    ports = cluster.state()["ports"]
    assert isinstance(ports, dict)
    return {str(k): int(v) for k, v in ports.items()}


@pytest.mark.parametrize("service", ["storage", "authz", "registry"])
def test_services_answer_only_their_peers(
    cluster: Cluster, service: str, user_certificate: pki.TLSFiles
) -> None:
    layout = pki.InternalPKI(cluster.data_dir / "pki")
    address = f"127.0.0.1:{_ports(cluster)[service]}"
    assert grpc_answers(address, layout.service("gateway"))
    for attempt in refused_attempts(layout.services_ca.cert_path, user_certificate):
        assert not grpc_answers(address, attempt.tls), f"{service} answered {attempt.name}"
    cluster.kubectl("get", "namespaces")  # still serving


def test_embedded_etcd_answers_only_storage(
    cluster: Cluster, user_certificate: pki.TLSFiles
) -> None:
    layout = pki.InternalPKI(cluster.data_dir / "pki")
    ports = _ports(cluster)
    client, peer = ports["etcd_client"], ports["etcd_peer"]
    assert grpc_answers(f"127.0.0.1:{client}", layout.etcd_client)
    assert http_answers("127.0.0.1", peer, layout.etcd_server, "/version")
    gateway = layout.service("gateway")
    service_cert = pki.TLSFiles(layout.etcd_ca.cert_path, gateway.cert_file, gateway.key_file)
    for attempt in refused_attempts(layout.etcd_ca.cert_path, user_certificate):
        assert not grpc_answers(f"127.0.0.1:{client}", attempt.tls), attempt.name
        assert not http_answers("127.0.0.1", client, attempt.tls), attempt.name
        assert not http_answers("127.0.0.1", peer, attempt.tls, "/version"), attempt.name
    assert not grpc_answers(f"127.0.0.1:{client}", service_cert)
    cluster.kubectl("get", "namespaces")  # still serving
