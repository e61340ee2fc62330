"""The static token file, in kube-apiserver's ``--token-file`` format.

One line per token: ``token,user,uid,"group1,group2"`` (CSV; the groups column is
optional and quoted because it holds commas). The same file works with a real
kube-apiserver, and the authz service reads it with ``--token-file``.

``kapi up`` and ``kapi init`` create the admin token once and keep it, so a
kubeconfig written on an earlier run stays valid.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kapi import pki

ADMIN_USER = "kapi-admin"
ADMIN_UID = "kapi-admin"
ADMIN_GROUPS = ("system:masters",)


@dataclass(frozen=True)
class TokenEntry:
    """One line of a token file."""

    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = field(default=())


def generate_token() -> str:
    """A bearer token with 256 bits of randomness, safe in CSV and HTTP headers."""
    return secrets.token_urlsafe(32)


def format_entries(entries: Iterable[TokenEntry]) -> str:
    """The file's text; the groups column is always quoted, as in the Kubernetes docs."""
    lines = []
    for e in entries:
        for value in (e.token, e.user, e.uid, *e.groups):
            if any(c in value for c in ',"\r\n') or not value.strip():
                raise ValueError(f'token file value {value!r} is empty or has , " or newline')
        line = f"{e.token},{e.user},{e.uid}"
        if e.groups:
            line += ',"' + ",".join(e.groups) + '"'
        lines.append(line + "\n")
    return "".join(lines)


def parse(text: str) -> list[TokenEntry]:
    """Entries of a token file; blank lines are skipped, short lines rejected."""
    entries = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 3:
            raise ValueError(f"token file line {number}: want token,user,uid[,groups]")
        groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
        entries.append(
            TokenEntry(token=row[0].strip(), user=row[1].strip(), uid=row[2].strip(), groups=groups)
        )
    return entries


def read(path: Path) -> list[TokenEntry]:
    """Entries of the token file at ``path``."""
    return parse(path.read_text(encoding="utf-8"))


def write(path: Path, entries: Sequence[TokenEntry]) -> None:
    """Replace the token file atomically, readable by its owner only."""
    pki.write_private(path, format_entries(entries).encode())


def ensure_user(
    path: Path,
    *,
    user: str = ADMIN_USER,
    uid: str = ADMIN_UID,
    groups: Sequence[str] = ADMIN_GROUPS,
) -> str:
    """The token of ``user`` in the file at ``path``, adding one if the user has none.

    Other lines of an existing file are kept as they are.
    """
    entries = read(path) if path.exists() else []
    for entry in entries:
        if entry.user == user:
            return entry.token
    token = generate_token()
    write(path, [*entries, TokenEntry(token=token, user=user, uid=uid, groups=tuple(groups))])
    return token
