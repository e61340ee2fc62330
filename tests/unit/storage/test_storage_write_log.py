"""services/storage/write_log.py: which revision ranges this process alone wrote."""

from __future__ import annotations

from services.storage.write_log import WriteLog

CM = "/registry/configmaps/"


def test_a_range_of_its_own_writes_elsewhere_is_accounted_for() -> None:
    log = WriteLog()
    for revision in range(11, 16):
        log.record(revision, f"/registry/secrets/ns/s{revision}")
    assert log.only_elsewhere(10, 15, CM)
    assert log.only_elsewhere(12, 14, CM)
    assert log.only_elsewhere(15, 15, CM)  # an empty range: nothing in between


def test_a_revision_it_did_not_write_is_not() -> None:
    log = WriteLog()
    for revision in (11, 12, 14):  # 13: another writer, or an answer never seen
        log.record(revision, f"/registry/secrets/ns/s{revision}")
    assert log.only_elsewhere(10, 12, CM)
    assert not log.only_elsewhere(10, 14, CM)
    assert log.only_elsewhere(13, 14, CM)
    assert not log.only_elsewhere(14, 15, CM)  # 15 not written (yet)


def test_a_write_under_the_root_is_not_elsewhere() -> None:
    log = WriteLog()
    log.record(11, "/registry/secrets/ns/a")
    log.record(12, "/registry/configmaps/ns/b")
    log.record(13, "/registry/configmapsx/ns/c")  # another resource: "/" ends the root
    assert not log.only_elsewhere(10, 13, CM)
    assert log.only_elsewhere(12, 13, CM)


def test_only_the_latest_revisions_are_kept() -> None:
    log = WriteLog(capacity=4)
    for revision in range(1, 11):
        log.record(revision, "/registry/secrets/ns/s")
    assert log.only_elsewhere(6, 10, CM)
    assert not log.only_elsewhere(5, 10, CM)  # 6 forgotten
    assert not log.only_elsewhere(0, 10, CM)  # wider than what is kept
