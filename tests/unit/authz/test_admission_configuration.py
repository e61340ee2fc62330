"""--admission-control-config-file (services/authz/admission/configuration.py): an
AdmissionConfiguration's plugins, configured inline or by a path relative to the file, as
k8s.io/apiserver's admission/config.go reads them; and authz's PodSecurity from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.authz.admission import configuration
from services.authz.server import AuthzConfig, pod_security_config

INLINE = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: v1.25}
    exemptions: {namespaces: [kube-system]}
- name: EventRateLimit
  path: limits.yaml
"""


def test_inline_and_path(tmp_path: Path) -> None:
    (tmp_path / "limits.yaml").write_text("kind: Configuration\nlimits: []\n")
    (tmp_path / "admission.yaml").write_text(INLINE)
    plugins = configuration.load(str(tmp_path / "admission.yaml"))
    assert set(plugins) == {"PodSecurity", "EventRateLimit"}
    assert plugins["EventRateLimit"] == {"kind": "Configuration", "limits": []}
    found = pod_security_config(
        AuthzConfig(
            listen="", storage="", admission_control_config_file=str(tmp_path / "admission.yaml")
        )
    )
    assert found is not None
    assert str(found.defaults.enforce) == "baseline:v1.25"
    assert str(found.defaults.warn) == "privileged:latest"
    assert found.exempt_namespaces == {"kube-system"}


def test_none_given() -> None:
    assert configuration.load("") == {}
    assert pod_security_config(AuthzConfig(listen="", storage="")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Other\n", "not an AdmissionConfiguration"),
        ("apiVersion: v9\nkind: AdmissionConfiguration\n", "apiVersion 'v9'"),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
            "plugins:\n- name: PodSecurity\n",
            "plugin PodSecurity: no configuration",
        ),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
            "plugins:\n- name: PodSecurity\n  path: missing.yaml\n",
            "missing.yaml",
        ),
        ("{unclosed", "admission configuration"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "admission.yaml").write_text(text)
    with pytest.raises(ValueError, match="admission configuration") as caught:
        configuration.load(str(tmp_path / "admission.yaml"))
    assert message in str(caught.value)
