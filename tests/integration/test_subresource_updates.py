"""Updates through subresources that change one part of an object, through HTTP:
namespaces/finalize (spec.finalizers), certificatesigningrequests/approval (the
Approved/Denied conditions) and /status of a CSR (anything but those), as kube's
namespaceFinalizeStrategy, csrApprovalStrategy and csrStatusStrategy do."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def certificate_request(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


async def make_csr(cp: ControlPlane) -> dict[str, Any]:
    name = f"csr-{uuid.uuid4().hex[:6]}"
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": certificate_request("alice"),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }
    reply = await cp.api.post(CSRS, json=body)
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


APPROVED = {"type": "Approved", "status": "True", "reason": "Test", "message": "ok"}


async def test_approval_sets_conditions_only(control_plane: ControlPlane) -> None:
    cp = control_plane
    csr = await make_csr(cp)
    name = csr["metadata"]["name"]
    csr["status"] = {"conditions": [APPROVED], "certificate": base64.b64encode(b"x").decode()}
    csr["spec"]["usages"] = ["server auth"]
    reply = await cp.api.put(f"{CSRS}/{name}/approval", json=csr)
    assert reply.status_code == 200, reply.text
    stored = (await cp.api.get(f"{CSRS}/{name}")).json()
    (condition,) = stored["status"]["conditions"]
    assert (condition["type"], condition["status"]) == ("Approved", "True")
    assert condition["lastUpdateTime"] and condition["lastTransitionTime"]
    assert "certificate" not in stored["status"]
    assert stored["spec"]["usages"] == ["client auth"]
    # once approved, the condition stays
    stored["status"]["conditions"] = []
    removed = await cp.api.put(f"{CSRS}/{name}/approval", json=stored)
    assert removed.status_code == 422
    assert removed.json()["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": 'Forbidden: updates may not remove a condition of type "Approved"',
            "field": "status.conditions",
        }
    ]


async def test_approved_and_denied_exclude_each_other(control_plane: ControlPlane) -> None:
    cp = control_plane
    csr = await make_csr(cp)
    name = csr["metadata"]["name"]
    csr["status"] = {"conditions": [APPROVED, {"type": "Denied", "status": "True"}]}
    reply = await cp.api.put(f"{CSRS}/{name}/approval", json=csr)
    assert reply.status_code == 422
    assert "Approved and Denied conditions are mutually exclusive" in reply.json()["message"]


async def test_status_cannot_approve(control_plane: ControlPlane) -> None:
    cp = control_plane
    csr = await make_csr(cp)
    name = csr["metadata"]["name"]
    csr["status"] = {"conditions": [APPROVED]}
    reply = await cp.api.put(f"{CSRS}/{name}/status", json=csr)
    assert reply.status_code == 422
    assert reply.json()["details"]["causes"][0]["message"] == (
        'Forbidden: updates may not add a condition of type "Approved"'
    )
    stored = (await cp.api.get(f"{CSRS}/{name}")).json()
    assert not stored["status"].get("conditions")


async def test_finalize_changes_the_finalizers_only(control_plane: ControlPlane) -> None:
    cp = control_plane
    name = f"fin-{uuid.uuid4().hex[:6]}"
    created = await cp.api.post(
        "/api/v1/namespaces",
        json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    assert created.status_code == 201
    ns = created.json()
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    ns["spec"]["finalizers"] = ["example.com/hold"]
    ns["status"] = {"phase": "Terminating"}
    reply = await cp.api.put(f"/api/v1/namespaces/{name}/finalize", json=ns)
    assert reply.status_code == 200, reply.text
    stored = (await cp.api.get(f"/api/v1/namespaces/{name}")).json()
    assert stored["spec"]["finalizers"] == ["example.com/hold"]
    assert stored["status"] == {"phase": "Active"}
    # a plain update leaves the finalizers alone, as kube's namespace strategy does
    stored["spec"]["finalizers"] = []
    plain = await cp.api.put(f"/api/v1/namespaces/{name}", json=stored)
    assert plain.json()["spec"]["finalizers"] == ["example.com/hold"]
    plain_ns = plain.json()
    plain_ns["spec"]["finalizers"] = ["bogus"]
    bad = await cp.api.put(f"/api/v1/namespaces/{name}/finalize", json=plain_ns)
    assert bad.status_code == 422
    assert bad.json()["message"] == (
        f'Namespace "{name}" is invalid: spec.finalizers[0]: Invalid value: "bogus": '
        "name is neither a standard finalizer name nor is it fully qualified"
    )
