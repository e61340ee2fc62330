"""kapi/rundir.py: whether a path can be a data directory, and whether a held lock is
still the one in the directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kapi import rundir


def test_a_lock_is_held_until_its_directory_goes(tmp_path: Path) -> None:
    run_dir = rundir.RunDir.at(tmp_path / "data")
    lock = rundir.Lock.try_acquire(run_dir)
    assert lock is not None
    try:
        assert lock.still_held(run_dir)
        shutil.rmtree(run_dir.root)
        assert not lock.still_held(run_dir)
    finally:
        lock.release()
    assert not lock.still_held(run_dir)


def test_a_directory_made_anew_in_its_place_is_not_the_locked_one(tmp_path: Path) -> None:
    run_dir = rundir.RunDir.at(tmp_path / "data")
    lock = rundir.Lock.try_acquire(run_dir)
    assert lock is not None
    try:
        shutil.rmtree(run_dir.root)
        other = rundir.Lock.try_acquire(run_dir)  # a new `kapi up` there
        assert other is not None
        other.release()
        assert not lock.still_held(run_dir)
    finally:
        lock.release()


def test_a_directory_moved_away_is_not_held_where_it_was(tmp_path: Path) -> None:
    run_dir = rundir.RunDir.at(tmp_path / "data")
    lock = rundir.Lock.try_acquire(run_dir)
    assert lock is not None
    try:
        os.rename(run_dir.root, tmp_path / "moved")
        assert not lock.still_held(run_dir)
        assert lock.still_held(rundir.RunDir.at(tmp_path / "moved"))
    finally:
        lock.release()


@pytest.mark.parametrize(
    ("path", "create", "expected"),
    [
        ("dir", True, None),
        ("dir", False, None),
        ("missing/deeper", True, None),  # created with its parents
        ("missing", False, None),  # nothing there: nothing running
        ("file", True, "not a directory"),
        ("file", False, "not a directory"),
        ("file/below", True, "cannot be created: {tmp}/file is not a directory"),
        ("file/below/deeper", True, "cannot be created: {tmp}/file is not a directory"),
        ("file/below", False, None),
    ],
)
def test_unusable(tmp_path: Path, path: str, create: bool, expected: str | None) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    problem = rundir.unusable(tmp_path / path, create=create)
    assert problem == (expected.format(tmp=tmp_path) if expected else None)


def test_unusable_when_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As os.access answers it (root may write anywhere, so it is asked, not chmod)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode)
    )
    assert rundir.unusable(locked, create=True) == "not writable"
    assert rundir.unusable(locked / "new", create=True) == (
        f"cannot be created: {locked} is not writable"
    )
    assert rundir.unusable(locked, create=False) is None
