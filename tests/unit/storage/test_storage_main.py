"""``python -m services.storage`` flags, with their KAPI_* environment fallbacks."""

from __future__ import annotations

import pytest

from services.storage.__main__ import parse_args, parse_duration
from services.storage.etcd_backend import channel_target


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


def test_channel_target_rejects_tls() -> None:
    with pytest.raises(ValueError):
        channel_target(["https://127.0.0.1:2379"])


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
