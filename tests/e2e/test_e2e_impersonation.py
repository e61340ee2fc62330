"""`kubectl --as`: the real kubectl's impersonation headers against `kapi up`. The request
runs as the impersonated user, so a CSR — whose strategy records its requester — names
that user, its groups and uid, as on kube-apiserver. (The impersonated users are put in
system:masters, so that they may create CSRs whatever the authorizer.)
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_e2e_builtin_gaps import _csr_request

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("flags", "username", "uid", "groups"),
    [
        (
            ["--as=alice", "--as-group=devs", "--as-group=system:masters", "--as-uid=uid-alice"],
            "alice",
            "uid-alice",
            ["devs", "system:masters", "system:authenticated"],
        ),
        (
            ["--as=system:serviceaccount:default:default", "--as-group=system:masters"],
            "system:serviceaccount:default:default",
            None,
            ["system:masters", "system:authenticated"],
        ),
    ],
    ids=["user", "serviceaccount"],
)
def test_kubectl_as_another_user_is_that_user(
    cluster: Cluster, flags: list[str], username: str, uid: str | None, groups: list[str]
) -> None:
    name = f"as-{uuid.uuid4().hex[:6]}"
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": _csr_request(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }
    cluster.kubectl(*flags, "create", "-f", "-", input=json.dumps(csr))
    try:
        stored = json.loads(cluster.kubectl("get", "csr", name, "-o", "json").stdout)
        spec = stored["spec"]
        assert spec["username"] == username
        assert spec.get("uid") == uid
        assert spec["groups"] == groups
    finally:
        cluster.kubectl("delete", "csr", name, check=False)
