"""The audit log file (services/gateway/auditing/log_file.py) rotated as lumberjack
rotates kube-apiserver's (gopkg.in/natefinch/lumberjack.v2, lumberjack_test.go's cases:
open-existing, rotation on the write that would overflow, too-long writes, backup names,
MaxBackups, MaxAge, compression). Sizes are counted in bytes here, as lumberjack's tests
shrink its megabyte."""

from __future__ import annotations

import gzip
import os
import stat
import time
from pathlib import Path

import pytest

from services.gateway.auditing.log_file import RotatingFile

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def log(tmp_path: Path, max_bytes: int, **options: object) -> tuple[RotatingFile, Clock]:
    clock = Clock()
    rotating = RotatingFile(tmp_path / "audit.log", clock=clock, **options)  # type: ignore[arg-type]
    rotating.max_bytes = max_bytes
    return rotating, clock


def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the cleanup did not run"
        time.sleep(0.01)


def names(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_a_new_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    rotating, _ = log(tmp_path, 100)
    assert rotating.write([b"a\n", b"b\n"]) == [None, None]
    rotating.close()
    path = tmp_path / "audit.log"
    assert path.read_bytes() == b"a\nb\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_appended_to(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(b"old\n")
    rotating, _ = log(tmp_path, 100)
    rotating.write([b"new\n"])
    rotating.close()
    assert (tmp_path / "audit.log").read_bytes() == b"old\nnew\n"
    assert names(tmp_path) == ["audit.log"]


def test_an_existing_file_the_first_write_would_fill_is_rotated_first(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(b"0123456")
    rotating, _ = log(tmp_path, 10)
    rotating.write([b"abc"])  # 7 + 3 >= 10: lumberjack rotates on open
    rotating.close()
    assert (tmp_path / "audit.log").read_bytes() == b"abc"
    assert (tmp_path / "audit-2023-11-14T22-13-20.000.log").read_bytes() == b"0123456"


def test_the_write_that_would_overflow_goes_to_a_new_file(tmp_path: Path) -> None:
    rotating, clock = log(tmp_path, 10)
    assert rotating.write([b"12345", b"6789"]) == [None, None]  # 9 bytes
    clock.now += 1.5
    assert rotating.write([b"ab"]) == [None]  # 9 + 2 > 10
    rotating.close()
    assert (tmp_path / "audit.log").read_bytes() == b"ab"
    assert (tmp_path / "audit-2023-11-14T22-13-21.500.log").read_bytes() == b"123456789"


def test_a_line_longer_than_the_maximum_is_refused_and_the_rest_written(tmp_path: Path) -> None:
    rotating, _ = log(tmp_path, 10)
    results = rotating.write([b"ok\n", b"x" * 11, b"ok\n"])
    rotating.close()
    assert results[0] is None and results[2] is None
    assert str(results[1]) == "write length 11 exceeds maximum file size 10"
    assert (tmp_path / "audit.log").read_bytes() == b"ok\nok\n"


def test_a_rotated_file_keeps_the_mode_it_had(tmp_path: Path) -> None:
    rotating, clock = log(tmp_path, 4)
    rotating.write([b"abcd"])
    os.chmod(tmp_path / "audit.log", 0o640)
    clock.now += 1
    rotating.write([b"e"])
    rotating.close()
    assert stat.S_IMODE((tmp_path / "audit.log").stat().st_mode) == 0o640


def test_max_backups_keeps_the_newest(tmp_path: Path) -> None:
    rotating, clock = log(tmp_path, 2, max_backups=2)
    for line in (b"a1", b"b2", b"c3", b"d4"):
        rotating.write([line])
        clock.now += 1
    rotating.close()
    wait_for(lambda: len(names(tmp_path)) == 3)
    assert names(tmp_path) == [
        "audit-2023-11-14T22-13-22.000.log",
        "audit-2023-11-14T22-13-23.000.log",
        "audit.log",
    ]
    assert (tmp_path / "audit.log").read_bytes() == b"d4"


def test_max_age_removes_backups_older_than_its_days(tmp_path: Path) -> None:
    (tmp_path / "audit-2023-11-01T00-00-00.000.log").write_bytes(b"old")  # 13 days before
    (tmp_path / "audit-2023-11-13T00-00-00.000.log").write_bytes(b"recent")
    (tmp_path / "audit-notatime.log").write_bytes(b"not ours")
    (tmp_path / "other.log").write_bytes(b"not ours")
    rotating, _ = log(tmp_path, 100, max_age_days=7)
    rotating.write([b"x"])
    rotating.close()
    wait_for(lambda: not (tmp_path / "audit-2023-11-01T00-00-00.000.log").exists())
    assert names(tmp_path) == [
        "audit-2023-11-13T00-00-00.000.log",
        "audit-notatime.log",
        "audit.log",
        "other.log",
    ]


def test_compress_gzips_the_backups(tmp_path: Path) -> None:
    rotating, clock = log(tmp_path, 3, compress=True)
    rotating.write([b"one"])
    clock.now += 1
    rotating.write([b"two"])
    rotating.close()
    backup = tmp_path / "audit-2023-11-14T22-13-21.000.log.gz"
    wait_for(backup.exists)
    wait_for(lambda: not (tmp_path / "audit-2023-11-14T22-13-21.000.log").exists())
    assert gzip.decompress(backup.read_bytes()) == b"one"


def test_a_compressed_backup_counts_once_against_max_backups(tmp_path: Path) -> None:
    (tmp_path / "audit-2023-11-14T20-00-00.000.log.gz").write_bytes(gzip.compress(b"a"))
    (tmp_path / "audit-2023-11-14T21-00-00.000.log").write_bytes(b"b")
    rotating, _ = log(tmp_path, 100, max_backups=1)
    rotating.mill_once()
    assert names(tmp_path) == ["audit-2023-11-14T21-00-00.000.log"]


@pytest.mark.parametrize("path", ["audit", "audit.json.log"])
def test_backup_names_put_the_time_before_the_extension(tmp_path: Path, path: str) -> None:
    rotating = RotatingFile(tmp_path / path, clock=lambda: START + 0.25)
    expected = {
        "audit": "audit-2023-11-14T22-13-20.250",
        "audit.json.log": "audit.json-2023-11-14T22-13-20.250.log",
    }[path]
    assert rotating.backup_name().name == expected
