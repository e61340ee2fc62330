"""Access control end to end: the real kubectl against `kapi up` — the admin by client
certificate and by token, `kubectl auth whoami` and `auth can-i` (yes/no, `--as`,
`--list`, `-n`), `kubectl create token` and a kubeconfig of that token that reads what its
Role allows and gets kube's Forbidden elsewhere, a deleted ServiceAccount's token refused,
escalation refused, impersonation honoured and refused — and the official Python client's
TokenReview and SubjectAccessReview.

Every kubectl test runs with each kubectl of tests/e2e/conftest.py's `kubectls()` (the one
on PATH, 1.32 as the machine has it, and a 1.37 where one is found).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
import yaml
from kubernetes import client

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"ac-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def whoami(kube: Cluster, *flags: str) -> str:
    return kube.kubectl("auth", "whoami", *flags).stdout


def test_whoami_as_the_admin_by_certificate_and_by_token(kube: Cluster) -> None:
    by_certificate = whoami(kube)
    assert "kapi-admin" in by_certificate
    assert "[system:masters system:authenticated]" in by_certificate
    assert "X509SHA256=" in by_certificate  # the certificate's credential id
    by_token = whoami(kube, "--context", "kapi-token")
    assert "kapi-admin" in by_token and "X509SHA256=" not in by_token
    assert "[system:masters system:authenticated]" in by_token


def test_can_i(kube: Cluster, namespace: str) -> None:
    assert kube.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    refused = kube.kubectl("auth", "can-i", "create", "pods", "--as", "bob", check=False)
    assert (refused.returncode, refused.stdout.strip()) == (1, "no")
    kube.kubectl(
        "-n", namespace, "create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob"
    )
    assert _eventually_yes(kube, "-n", namespace, "get", "pods", "--as", "bob")
    elsewhere = kube.kubectl(
        "-n", "default", "auth", "can-i", "get", "pods", "--as", "bob", check=False
    )
    assert elsewhere.stdout.strip() == "no"
    assert kube.kubectl("auth", "can-i", "get", "/healthz", "--as", "bob").stdout.strip() == "yes"
    listed = kube.kubectl("-n", namespace, "auth", "can-i", "--list", "--as", "bob").stdout
    header, *rows = listed.splitlines()
    assert header.split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert any(row.startswith("pods ") and row.endswith("[get list watch]") for row in rows)
    assert not any(row.split()[0] == "secrets" for row in rows)


def _eventually_yes(kube: Cluster, *args: str) -> bool:
    """`auth can-i` until it says yes (a new binding takes effect when authz's watch has
    it: milliseconds), a bounded number of times."""
    for _ in range(50):
        if kube.kubectl("auth", "can-i", *args, check=False).stdout.strip() == "yes":
            return True
    return False


def _token_kubeconfig(kube: Cluster, token: str, path: Path) -> Cluster:
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["users"] = [{"name": "robot", "user": {"token": token}}]
    config["contexts"] = [{"name": "robot", "context": {"cluster": "kapi", "user": "robot"}}]
    config["current-context"] = "robot"
    path.write_text(yaml.safe_dump(config))
    return dataclasses.replace(kube, kubeconfig=path)


def test_a_service_account_token_reads_what_its_role_allows(
    kube: Cluster, namespace: str, tmp_path: Path
) -> None:
    ns = ["-n", namespace]
    kube.kubectl(*ns, "create", "serviceaccount", "robot")
    kube.kubectl(*ns, "create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps")
    kube.kubectl(
        *ns,
        "create",
        "rolebinding",
        "robot-reads",
        "--role=cm-reader",
        f"--serviceaccount={namespace}:robot",
    )
    kube.kubectl(*ns, "create", "configmap", "c", "--from-literal=a=1")
    token = kube.kubectl(*ns, "create", "token", "robot", "--duration=15m").stdout.strip()
    robot = _token_kubeconfig(kube, token, tmp_path / "robot.kubeconfig")
    me = whoami(robot)
    assert f"system:serviceaccount:{namespace}:robot" in me
    assert f"[system:serviceaccounts system:serviceaccounts:{namespace} system:authenticated]" in me
    listed = ""
    for _ in range(50):  # the binding reaches authz by watch
        result = robot.kubectl(*ns, "get", "configmaps", "-o", "name", check=False)
        if result.returncode == 0:
            listed = result.stdout
            break
    assert "configmap/c" in listed
    user = f"system:serviceaccount:{namespace}:robot"
    assert robot.kubectl_fails(*ns, "get", "pods") == (
        f'Error from server (Forbidden): pods is forbidden: User "{user}" cannot list resource '
        f'"pods" in API group "" in the namespace "{namespace}"'
    )
    assert robot.kubectl_fails("-n", "default", "get", "configmaps") == (
        f'Error from server (Forbidden): configmaps is forbidden: User "{user}" cannot list '
        f'resource "configmaps" in API group "" in the namespace "default"'
    )
    assert robot.kubectl_fails("get", "namespaces") == (
        f'Error from server (Forbidden): namespaces is forbidden: User "{user}" cannot list '
        'resource "namespaces" in API group "" at the cluster scope'
    )
    assert robot.kubectl_fails(*ns, "delete", "configmap", "c") == (
        f'Error from server (Forbidden): configmaps "c" is forbidden: User "{user}" cannot '
        f'delete resource "configmaps" in API group "" in the namespace "{namespace}"'
    )
    # Impersonation needs the impersonate verb, which the robot does not have.
    assert robot.kubectl_fails(*ns, "get", "configmaps", "--as", "alice") == (
        f'Error from server (Forbidden): users "alice" is forbidden: User "{user}" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    )
    # Once the ServiceAccount is gone, so is its token.
    kube.kubectl(*ns, "delete", "serviceaccount", "robot")
    refused = ""
    for _ in range(50):
        result = robot.kubectl(*ns, "get", "configmaps", check=False)
        if result.returncode != 0 and "Unauthorized" in result.stderr:
            refused = result.stderr.strip()
            break
    assert refused == "error: You must be logged in to the server (Unauthorized)"


def test_escalation_is_refused(kube: Cluster, namespace: str) -> None:
    ns = ["-n", namespace]
    kube.kubectl(
        *ns, "create", "role", "role-maker", "--verb=create", "--resource=roles,rolebindings"
    )
    kube.kubectl(*ns, "create", "rolebinding", "carol-makes", "--role=role-maker", "--user=carol")
    assert _eventually_yes(kube, *ns, "create", "roles", "--as", "carol")
    refused = kube.kubectl_fails(
        *ns, "create", "role", "pod-killer", "--verb=delete", "--resource=pods", "--as", "carol"
    )
    assert refused == (
        'Error from server (Forbidden): roles.rbac.authorization.k8s.io "pod-killer" is '
        'forbidden: user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC '
        "permissions not currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}'
    )
    bound = kube.kubectl_fails(
        *ns,
        "create",
        "rolebinding",
        "carol-admin",
        "--clusterrole=admin",
        "--user=carol",
        "--as",
        "carol",
    )
    assert bound.startswith(
        "error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io "
        '"carol-admin" is forbidden: user "carol" (groups=["system:authenticated"]) is '
        "attempting to grant RBAC permissions not currently held:"
    )


def test_impersonation_is_honoured(kube: Cluster) -> None:
    me = whoami(kube, "--as", "alice", "--as-group", "devs")
    assert "alice" in me and "[devs system:authenticated]" in me


def test_the_official_client_reviews_tokens_and_access(cluster: Cluster, namespace: str) -> None:
    api = kubernetes.config.new_client_from_config(
        config_file=str(cluster.kubeconfig), context="kapi-token"
    )
    try:
        core = client.CoreV1Api(api)
        core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot"))
        )
        issued = core.create_namespaced_service_account_token(
            "robot",
            namespace,
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        )
        review = client.AuthenticationV1Api(api).create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token=issued.status.token))
        )
        assert review.status.authenticated is True
        assert review.status.user.username == f"system:serviceaccount:{namespace}:robot"
        bad = client.AuthenticationV1Api(api).create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token="not-a-token"))
        )
        assert not bad.status.authenticated and bad.status.error == "invalid bearer token"
        authz = client.AuthorizationV1Api(api)
        answer = authz.create_subject_access_review(
            client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user=f"system:serviceaccount:{namespace}:robot",
                    groups=["system:serviceaccounts"],
                    non_resource_attributes=client.V1NonResourceAttributes(
                        path="/openid/v1/jwks", verb="get"
                    ),
                )
            )
        )
        assert answer.status.allowed is True
        assert answer.status.reason.startswith(
            'RBAC: allowed by ClusterRoleBinding "system:service-account-issuer-discovery"'
        )
        denied = authz.create_subject_access_review(
            client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user="bob",
                    resource_attributes=client.V1ResourceAttributes(
                        namespace=namespace, verb="delete", resource="secrets"
                    ),
                )
            )
        )
        assert denied.status.allowed is False
    finally:
        api.close()
