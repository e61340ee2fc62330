"""``kapi.rpc``'s servers and channels speak mutual TLS, and every service insists on it."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from kapi import config, pki, rpc

SERVICES = ("storage", "authz", "registry", "gateway")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_requires_its_peer_certificate(
    service: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in list(os.environ):
        if var.startswith("KAPI_"):
            monkeypatch.delenv(var)
    parser = importlib.import_module(f"services.{service}.__main__").build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([])
    missing = capsys.readouterr().err
    assert all(flag in missing for flag in config.PEER_TLS_FLAGS), missing
    files = dict(zip(config.PEER_TLS_FLAGS, ("ca.crt", "tls.crt", "tls.key"), strict=True))
    args = parser.parse_args([x for kv in files.items() for x in kv])
    assert config.peer_tls(args) == pki.TLSFiles(Path("ca.crt"), Path("tls.crt"), Path("tls.key"))


@pytest.mark.parametrize(
    "tls",
    [
        pki.TLSFiles(ca_file=Path("ca.crt")),  # nothing to present
        pki.TLSFiles(cert_file=Path("tls.crt"), key_file=Path("tls.key")),  # nothing to trust
    ],
)
def test_servers_and_channels_refuse_half_a_tls_identity(tls: pki.TLSFiles) -> None:
    with pytest.raises(ValueError):
        rpc.server("127.0.0.1:0", tls=tls)
    with pytest.raises(ValueError):
        rpc.channel("127.0.0.1:1", tls)
