"""The supervisor, driven in the test's own thread with tiny Python children."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kapi import ports, supervisor

# Records each start, fails the first FAIL starts with exit code 3, then runs until
# SIGTERM (exit 0), listening on PORT if one is given.
CHILD = """
import os, signal, socket, sys, time
record, fail, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(record, "a") as f:
    f.write(f"{os.getpid()}\\n")
print("child started", flush=True)
if len(open(record).read().split()) <= fail:
    print("failing on purpose", file=sys.stderr, flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
if port:
    server = socket.create_server(("127.0.0.1", port))
while True:
    time.sleep(1)
"""

STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write("ignoring SIGTERM")
while True:
    time.sleep(1)
"""

FAST = supervisor.RestartPolicy(initial_delay=0.01, max_delay=0.05)


def _until(
    condition: Callable[[], bool], *, poll: Callable[[], None] = lambda: None, limit: float = 30.0
) -> None:
    """Drive ``poll`` until ``condition`` holds; a generous limit, not a timing check."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        poll()
        time.sleep(0.02)


@pytest.fixture
def messages() -> list[str]:
    return []


@pytest.fixture
def sup(messages: list[str]) -> Iterator[supervisor.Supervisor]:
    s = supervisor.Supervisor(policy=FAST, grace=5.0, report=messages.append)
    yield s
    s.stop()


def _spec(
    tmp_path: Path,
    name: str,
    *,
    fail: int = 0,
    port: int = 0,
    ready: Callable[[], bool] | None = None,
) -> supervisor.ChildSpec:
    record = tmp_path / f"{name}.starts"
    return supervisor.ChildSpec(
        name=name,
        argv=[sys.executable, "-c", CHILD, str(record), str(fail), str(port)],
        log_path=tmp_path / "logs" / f"{name}.log",
        ready=ready,
    )


def _starts(tmp_path: Path, name: str) -> list[int]:
    path = tmp_path / f"{name}.starts"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_restarts_a_child_that_keeps_exiting(
    tmp_path: Path, sup: supervisor.Supervisor, messages: list[str]
) -> None:
    child = sup.start(_spec(tmp_path, "worker", fail=2), timeout=30)

    _until(lambda: len(_starts(tmp_path, "worker")) == 3 and child.running, poll=sup.poll)

    assert child.exit_codes == [3, 3]
    assert child.restarts == 2
    assert messages.count("kapi: worker exited with code 3; restarting") == 2
    assert child.pid == _starts(tmp_path, "worker")[-1]
    log = (tmp_path / "logs" / "worker.log").read_text()
    assert log.count("--- kapi: starting worker at") == 3
    assert "failing on purpose" in log  # stderr goes to the log too

    sup.stop()
    assert child.process is not None and child.process.returncode == 0


def test_restarts_a_killed_child_with_the_same_command_so_the_same_port(
    tmp_path: Path, sup: supervisor.Supervisor, messages: list[str]
) -> None:
    port = ports.free_port()
    spec = _spec(tmp_path, "registry", port=port, ready=lambda: ports.tcp_open("127.0.0.1", port))
    child = sup.start(spec, timeout=30)
    first = child.pid
    assert first is not None

    os.kill(first, signal.SIGKILL)
    _until(lambda: child.pid != first and ports.tcp_open("127.0.0.1", port), poll=sup.poll)

    assert "kapi: registry exited with code -9; restarting" in messages
    assert f"kapi: registry restarted (pid {child.pid})" in messages
    assert child.exit_codes == [-9]


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path, messages: list[str]) -> None:
    flag = tmp_path / "flag"
    sup = supervisor.Supervisor(policy=FAST, grace=0.5, report=messages.append)
    spec = supervisor.ChildSpec(
        name="stubborn",
        argv=[sys.executable, "-c", STUBBORN, str(flag)],
        log_path=tmp_path / "stubborn.log",
        ready=flag.exists,
    )
    child = sup.start(spec, timeout=30)

    sup.stop()

    assert child.process is not None and child.process.returncode == -signal.SIGKILL
    assert any("stubborn did not stop" in m for m in messages)


def test_stop_goes_in_reverse_start_order(tmp_path: Path) -> None:
    order = tmp_path / "order"
    script = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    open(sys.argv[1], 'a').write(sys.argv[2] + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "open(sys.argv[3], 'w').close()\n"
        "while True: time.sleep(1)\n"
    )
    sup = supervisor.Supervisor(report=lambda _: None)
    for name in ("etcd", "storage", "gateway"):
        ready = tmp_path / f"{name}.ready"
        sup.start(
            supervisor.ChildSpec(
                name=name,
                argv=[sys.executable, "-c", script, str(order), name, str(ready)],
                log_path=tmp_path / f"{name}.log",
                ready=ready.exists,
            ),
            timeout=30,
        )

    sup.stop()

    assert order.read_text().split() == ["gateway", "storage", "etcd"]


def test_start_reports_a_child_that_dies_before_it_is_ready(
    tmp_path: Path, sup: supervisor.Supervisor
) -> None:
    spec = _spec(tmp_path, "storage", fail=1, ready=lambda: False)
    with pytest.raises(supervisor.StartupError, match="storage exited with code 3") as info:
        sup.start(spec, timeout=30)
    assert "failing on purpose" in supervisor.tail(info.value.log_path)


def test_start_gives_up_on_a_child_that_never_gets_ready(
    tmp_path: Path, sup: supervisor.Supervisor
) -> None:
    with pytest.raises(supervisor.StartupError, match="was not ready after"):
        sup.start(_spec(tmp_path, "slow", ready=lambda: False), timeout=0.2)


def test_start_is_interrupted_by_a_stop_request(tmp_path: Path, sup: supervisor.Supervisor) -> None:
    with pytest.raises(supervisor.Interrupted):
        sup.start(
            _spec(tmp_path, "authz", ready=lambda: False), timeout=30, should_stop=lambda: True
        )


def test_supervise_returns_when_asked_and_leaves_children_running(
    tmp_path: Path, sup: supervisor.Supervisor
) -> None:
    child = sup.start(_spec(tmp_path, "gateway"), timeout=30)
    calls = iter([False, False, True])
    sup.supervise(lambda: next(calls), interval=0.01)
    assert child.running
    snapshot = sup.snapshot()
    assert snapshot["gateway"]["pid"] == child.pid
    assert snapshot["gateway"]["restarts"] == 0


def test_backoff_grows_and_is_capped() -> None:
    policy = supervisor.RestartPolicy(initial_delay=0.5, max_delay=4.0, factor=2.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_tail_of_a_missing_log(tmp_path: Path) -> None:
    assert "no log" in supervisor.tail(tmp_path / "nope.log")
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert supervisor.tail(log, lines=2) == "line 98\nline 99"
