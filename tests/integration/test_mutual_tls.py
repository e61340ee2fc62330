"""The inside is closed: storage, authz, registry and etcd answer only to a client
presenting a certificate from their CA.

Each is knocked on in three ways that must fail — plaintext, TLS without a client
certificate, TLS with a certificate from another CA (the cluster CA's certificate for a
``system:masters`` user, which the gateway would accept as that user) — and once with
the right certificate, which must be answered, before and after (the refusals are the
credentials', and they leave the server serving). etcd also refuses the services' own
certificates: only storage holds a certificate etcd accepts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kapi import pki
from tests.conftest import EtcdProcess
from tests.integration.conftest import ControlPlane
from tests.mtls import Attempt, grpc_answers, http_answers, refused_attempts

pytestmark = pytest.mark.integration

SERVICES = ("storage", "authz", "registry")


@pytest.fixture
def user_certificate(tmp_path: Path) -> pki.TLSFiles:
    """A client certificate of the cluster CA: a user, not a service."""
    ca = pki.ensure_ca(tmp_path)
    pair = pki.issue_client_cert(
        tmp_path, ca, name="admin", user="kapi-admin", groups=["system:masters"]
    )
    return pki.TLSFiles(ca.cert_path, pair.cert_path, pair.key_path)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_answers_only_its_peers(
    control_plane: ControlPlane, service: str, user_certificate: pki.TLSFiles
) -> None:
    address = control_plane.addresses[service]
    own = control_plane.pki.service("gateway")  # any peer: the gateway dials all three
    assert await asyncio.to_thread(grpc_answers, address, own)
    ca_file = control_plane.pki.service(service).ca_file
    assert ca_file is not None
    for attempt in refused_attempts(ca_file, user_certificate):
        answered = await asyncio.to_thread(grpc_answers, address, attempt.tls)
        assert not answered, f"{service} answered {attempt.name}"
    assert await asyncio.to_thread(grpc_answers, address, own)
    ready = await control_plane.api.get("/readyz")
    assert ready.status_code == 200, ready.text


def _etcd_address(etcd: EtcdProcess) -> str:
    return f"127.0.0.1:{etcd.client_port}"


def test_etcd_answers_only_storage(etcd: EtcdProcess, user_certificate: pki.TLSFiles) -> None:
    assert grpc_answers(_etcd_address(etcd), etcd.tls)
    assert http_answers("127.0.0.1", etcd.client_port, etcd.tls)
    ca_file = etcd.tls.ca_file
    assert ca_file is not None
    # The services' certificates are good for each other, not for etcd.
    registry = etcd.pki.service("registry")
    service_cert = pki.TLSFiles(ca_file, registry.cert_file, registry.key_file)
    attempts = [
        *refused_attempts(ca_file, user_certificate),
        Attempt("tls with a service's certificate", service_cert),
    ]
    for attempt in attempts:
        assert not grpc_answers(_etcd_address(etcd), attempt.tls), attempt.name
        assert not http_answers("127.0.0.1", etcd.client_port, attempt.tls), attempt.name
    assert grpc_answers(_etcd_address(etcd), etcd.tls)


def test_etcd_peer_port_is_closed_too(etcd: EtcdProcess, user_certificate: pki.TLSFiles) -> None:
    """A single member never dials a peer, but it listens: the same rules there."""
    server = etcd.pki.etcd_server
    assert http_answers("127.0.0.1", etcd.peer_port, server, path="/version")
    assert server.ca_file is not None
    for attempt in refused_attempts(server.ca_file, user_certificate):
        assert not http_answers("127.0.0.1", etcd.peer_port, attempt.tls, "/version"), attempt.name
