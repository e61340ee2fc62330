"""The README's kubectl session, replayed: every ``$ command`` of its ``console`` blocks
is run, in order, in one shell-like environment, from a fresh copy of the repository,
and must print what the README shows.

The copy holds what a clone would (the files git tracks or would add, as they are in
the working tree: no ``.kapi``, no caches), so nothing outside the repository's files
shapes what a newcomer sees. Only what a clone cannot have is lent to it: the virtual
environment this test runs in (a fresh ``make up`` would spend minutes building its
own; with ``PYTHONPATH`` the copy's code is what runs), and a free port for the API
(``KAPI_PORT``; the README's ``make up`` takes 6443, which may be busy here).

The output is compared line by line after setting aside what must differ between runs
and machines: ports, pids, ages, cluster IPs, the checkout's path (the README's
``/home/me/kapi``), and runs of spaces (table columns widen with their values).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, kubectl_binary

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_CHECKOUT = "/home/me/kapi"  # where the README's session says the clone is
COMMAND_TIMEOUT = 180.0


@dataclass(frozen=True)
class Step:
    """One ``$ command`` of the README and the lines it shows after it."""

    command: str
    expected: list[str]


def console_blocks(markdown: str) -> list[list[str]]:
    """The lines of each fenced block whose info string is ``console``."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in markdown.splitlines():
        if current is None:
            if re.fullmatch(r"```console\s*", line):
                current = []
        elif line.startswith("```"):
            blocks.append(current)
            current = None
        else:
            current.append(line)
    assert current is None, "an unclosed console block"
    return blocks


def steps(block: list[str]) -> list[Step]:
    """Commands (``$ ...``) and their output; blank lines at an output's end dropped."""
    result: list[Step] = []
    for line in block:
        if line.startswith("$ "):
            result.append(Step(line[2:], []))
        else:
            assert result, f"output before any command: {line!r}"
            result[-1].expected.append(line)
    for step in result:
        while step.expected and not step.expected[-1].strip():
            step.expected.pop()
    return result


# --- what may differ -------------------------------------------------------------------

AGE = re.compile(r"(?<!\S)(?:\d+y)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?!\S)")
PORT = re.compile(r"\b127\.0\.0\.1:\d+\b")
PID = re.compile(r"\bpid \d+\b")
IPV4 = re.compile(r"\b(?!127\.0\.0\.1\b)\d{1,3}(?:\.\d{1,3}){3}\b")


def normalized(line: str, checkout: Path) -> str:
    line = line.replace(str(checkout), README_CHECKOUT)
    line = PORT.sub("127.0.0.1:PORT", line)
    line = PID.sub("pid PID", line)
    line = IPV4.sub("IP", line)
    line = AGE.sub(lambda m: "AGE" if m[0] else "", line)
    return " ".join(line.split())


# --- the copy and the shell ------------------------------------------------------------


def repository_files(root: Path) -> list[Path]:
    """What a clone would hold once the working tree were committed: tracked files and
    untracked ones git would add, as they are now (deleted ones left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    names = sorted({name for name in listed.decode().split("\0") if name})
    return [Path(name) for name in names if (root / name).is_file()]


def fresh_copy(root: Path, dest: Path) -> Path:
    for name in repository_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return dest


def lend_venv(copy: Path) -> None:
    """The copy's ``.venv``: this test's, and up to date in make's eyes (the Makefile
    rebuilds it when ``pyproject.toml`` is newer than ``.venv/bin/kapi``)."""
    venv = Path(sys.prefix)
    kapi = venv / "bin" / "kapi"
    assert kapi.is_file(), f"{kapi} is missing: run the tests from the venv `make` builds"
    (copy / ".venv").symlink_to(venv, target_is_directory=True)
    older = kapi.stat().st_mtime - 1
    os.utime(copy / "pyproject.toml", (older, older))


def session_env(copy: Path, home: Path, bin_dir: Path) -> dict[str, str]:
    """A newcomer's environment: no kapi on PATH (the README names ``.venv/bin/kapi``),
    the real kubectl, a HOME of its own (kubectl's cache), no KUBECONFIG, no KAPI_*
    but the port, no outer make's flags."""
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(kubectl_binary())
    path = [str(bin_dir)] + [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not (Path(d) / "kapi").exists()
    ]
    dropped = ("KUBECONFIG", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPI_") and k not in dropped}
    env.update(
        PATH=os.pathsep.join(path),
        HOME=str(home),
        PWD=str(copy),
        PYTHONPATH=str(copy),
        KAPI_PORT=str(free_port()),
    )
    return env


class Shell:
    """Runs one command line at a time with bash, keeping what it exports."""

    def __init__(self, cwd: Path, env: dict[str, str], scratch: Path) -> None:
        self.cwd, self.env, self.env_file = cwd, env, scratch / "env"

    def run(self, command: str) -> tuple[int, list[str]]:
        """Exit code and output (stdout and stderr together, as a terminal shows)."""
        script = f'{command}\n__rc=$?; env -0 > "{self.env_file}"; exit $__rc\n'
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if self.env_file.exists():
            pairs = self.env_file.read_text().split("\0")
            exported = dict(p.split("=", 1) for p in pairs if "=" in p)
            for name in ("_", "SHLVL", "OLDPWD", "__rc"):
                exported.pop(name, None)
            self.env = exported
            self.env_file.unlink()
        lines = done.stdout.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        return done.returncode, lines


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    copy = fresh_copy(ROOT, tmp_path / "kapi")
    lend_venv(copy)
    try:
        yield copy
    finally:  # whatever the session left running
        subprocess.run(
            [sys.executable, "-m", "kapi.cli", "down", "--data-dir", str(copy / ".kapi")],
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            timeout=120,
        )


def test_the_readme_has_a_session() -> None:
    blocks = console_blocks(README.read_text())
    commands = [step.command for block in blocks for step in steps(block)]
    assert commands[0].split("#")[0].strip() == "make up", commands
    assert "make down" in commands[-1], commands
    assert any(c.startswith("kubectl ") for c in commands)


def test_normalizing_sets_aside_only_what_varies(tmp_path: Path) -> None:
    same = [
        (
            "kapi: gateway ready on https://127.0.0.1:16443",
            "kapi: gateway ready on https://127.0.0.1:6443",
        ),
        (
            f"export KUBECONFIG={tmp_path}/.kapi/kubeconfig",
            "export KUBECONFIG=/home/me/kapi/.kapi/kubeconfig",
        ),
        (
            "service/svc   ClusterIP   10.100.55.226   <none>   80/TCP   0s",
            "service/svc ClusterIP 10.103.41.7 <none> 80/TCP 2m3s",
        ),
        ("kapi: stopping pid 4", "kapi: stopping pid 12345"),
    ]
    for actual, readme in same:
        assert normalized(actual, tmp_path) == normalized(readme, Path("/nowhere"))
    different = [
        ("deployment.apps/web   0/1   0   0   4s", "deployment.apps/web   1/1   1   1   4s"),
        ("kapi: gateway ready on 127.0.0.1:6443", "kapi: gateway ready on https://127.0.0.1:6443"),
        ("c   1   3s", "c   2   3s"),
    ]
    for actual, readme in different:
        assert normalized(actual, tmp_path) != normalized(readme, Path("/nowhere"))


def test_the_readme_session_prints_what_the_readme_shows(checkout: Path, tmp_path: Path) -> None:
    shell = Shell(checkout, session_env(checkout, tmp_path / "home", tmp_path / "bin"), tmp_path)
    (tmp_path / "home").mkdir(exist_ok=True)
    blocks = console_blocks((checkout / "README.md").read_text())
    assert blocks, "the README has no console block"
    mismatches = []
    for block in blocks:
        for step in steps(block):
            code, output = shell.run(step.command)
            want = [normalized(line, checkout) for line in step.expected]
            got = [normalized(line, checkout) for line in output]
            if got != want:
                mismatches.append(
                    f"$ {step.command}   (exit {code})\n"
                    + "README shows:\n"
                    + "\n".join(f"  | {line}" for line in step.expected)
                    + "\nprinted:\n"
                    + "\n".join(f"  | {line}" for line in output)
                )
    assert not mismatches, "\n\n".join(mismatches)
