"""``python -m services.storage`` flags, with their KAPI_* environment fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapi import pki
from services.storage.__main__ import parse_args, parse_duration
from services.storage.etcd_backend import channel_target

PEER_ENV = {
    "KAPI_PEER_CA_FILE": "/pki/ca.crt",
    "KAPI_PEER_CERT_FILE": "/pki/tls.crt",
    "KAPI_PEER_KEY_FILE": "/pki/tls.key",
}


@pytest.fixture(autouse=True)
def peer_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer certificate every service requires, as compose sets it."""
    for name in ("KAPI_ETCD_CAFILE", "KAPI_ETCD_CERTFILE", "KAPI_ETCD_KEYFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in PEER_ENV.items():
        monkeypatch.setenv(name, value)


def test_peer_tls_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_args([]).tls == pki.TLSFiles(
        Path("/pki/ca.crt"), Path("/pki/tls.crt"), Path("/pki/tls.key")
    )
    monkeypatch.delenv("KAPI_PEER_KEY_FILE")
    with pytest.raises(SystemExit):
        parse_args([])


def test_etcd_tls_flags() -> None:
    config = parse_args(
        [
            "--etcd-endpoints",
            "https://etcd:2379",
            "--etcd-cafile",
            "/e/ca.crt",
            "--etcd-certfile",
            "/e/c.crt",
            "--etcd-keyfile",
            "/e/c.key",
        ]
    )
    assert config.etcd_tls == pki.TLSFiles(Path("/e/ca.crt"), Path("/e/c.crt"), Path("/e/c.key"))
    assert parse_args(["--etcd-endpoints", "https://etcd:2379"]).etcd_tls is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--etcd-endpoints", "http://etcd:2379", "--etcd-cafile", "/e/ca.crt"],  # unused
        ["--etcd-endpoints", "https://etcd:2379", "--etcd-keyfile", "/e/c.key"],  # no cert
        ["--etcd-endpoints", "https://a:2379,http://b:2379"],  # mixed
        ["--etcd-endpoints", "unix:///etcd.sock"],
    ],
)
def test_etcd_tls_flags_rejected(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAPI_LISTEN", "KAPI_ETCD_ENDPOINTS", "KAPI_BACKEND", "KAPI_COMPACTION_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    config = parse_args([])
    assert (config.listen, config.etcd_endpoints, config.backend) == (
        "0.0.0.0:7001",
        ["http://127.0.0.1:2379"],
        "etcd",
    )
    assert config.compaction_interval == 300.0  # kube-apiserver's 5 minutes


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPI_LISTEN", "127.0.0.1:9")
    monkeypatch.setenv("KAPI_ETCD_ENDPOINTS", "http://10.0.0.1:2379, http://10.0.0.2:2379")
    config = parse_args(["--backend", "memory"])
    assert (config.listen, config.etcd_endpoints, config.backend) == (
        "127.0.0.1:9",
        ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
        "memory",
    )


def test_rejects_unknown_backend() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--backend", "sqlite"])


@pytest.mark.parametrize(
    ("endpoints", "target"),
    [
        (["http://127.0.0.1:2379"], "127.0.0.1:2379"),
        (["http://etcd:2379"], "dns:///etcd:2379"),
        (["127.0.0.1:2380"], "127.0.0.1:2380"),
        (["http://10.0.0.1:2379", "http://10.0.0.2:2379"], "ipv4:10.0.0.1:2379,10.0.0.2:2379"),
    ],
)
def test_channel_target(endpoints: list[str], target: str) -> None:
    assert channel_target(endpoints) == target


def test_channel_target_of_https_endpoints() -> None:
    assert channel_target(["https://etcd:2379"]) == "dns:///etcd:2379"
    # One name is verified per channel: the first member only (a DNS name for several).
    assert channel_target(["https://10.0.0.1:2379", "https://10.0.0.2:2379"]) == "10.0.0.1:2379"
    with pytest.raises(ValueError):
        channel_target(["https://127.0.0.1:2379", "http://127.0.0.1:2380"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300.0),
        ("90s", 90.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("250ms", 0.25),
        ("0", 0.0),
        ("12", 12.0),
        ("0.5", 0.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "5x", ""])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_compaction_interval_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAPI_COMPACTION_INTERVAL", raising=False)
    assert parse_args(["--compaction-interval", "10m"]).compaction_interval == 600.0
    assert parse_args(["--compaction-interval", "0"]).compaction_interval == 0.0
    monkeypatch.setenv("KAPI_COMPACTION_INTERVAL", "30s")
    assert parse_args([]).compaction_interval == 30.0
    with pytest.raises(SystemExit):
        parse_args(["--compaction-interval", "soon"])
