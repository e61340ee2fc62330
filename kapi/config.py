"""Command-line flags that fall back to environment variables.

Every service reads its configuration the same way: ``--storage ADDR`` or
``KAPI_STORAGE=ADDR``. docker-compose.yml sets the variables; ``kapi up`` passes flags.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from kapi import pki


def env_name(flag: str) -> str:
    """``--etcd-endpoints`` -> ``KAPI_ETCD_ENDPOINTS``."""
    return "KAPI_" + flag.lstrip("-").replace("-", "_").upper()


def add(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    default: Any = None,
    help: str = "",
    type: Any = str,
    required: bool = False,
) -> None:
    """Add ``flag`` whose default comes from its environment variable, then ``default``.

    ``required``: the flag or its variable must be given (argparse says so otherwise).
    """
    env = env_name(flag)
    value = os.environ.get(env, default)
    parser.add_argument(
        flag,
        # A string (a variable's value) is converted by argparse when parsing, so a bad
        # one is a usage error naming the flag, not a traceback here.
        default=value if value is None or isinstance(value, str) else type(value),
        type=type,
        required=required and value is None,
        help=f"{help} (env {env})",
    )


def boolean(text: str | bool) -> bool:
    """An argparse type: true/false (also 1/0, yes/no), as a flag or a variable's value."""
    if isinstance(text, bool):
        return text
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def read_text(path: str) -> str:
    """A file's text, "" for no file named."""
    return Path(path).read_text() if path else ""


# A service's identity towards its peers (kapi.pki.InternalPKI.service), the flags named
# as etcd names its members' (--peer-cert-file, --peer-key-file).
PEER_TLS_FLAGS = ("--peer-ca-file", "--peer-cert-file", "--peer-key-file")


def add_peer_tls(parser: argparse.ArgumentParser) -> None:
    """The three files every service needs for mutual TLS with its peers; all required."""
    helps = {
        "--peer-ca-file": "CA (PEM) whose certificates peers must present",
        "--peer-cert-file": "this service's certificate (PEM), as server and as client",
        "--peer-key-file": "its private key (PEM)",
    }
    for flag in PEER_TLS_FLAGS:
        add(parser, flag, help=helps[flag], required=True)


def peer_tls(args: argparse.Namespace) -> pki.TLSFiles:
    """The files ``add_peer_tls``'s flags name."""
    return pki.TLSFiles(
        ca_file=Path(args.peer_ca_file),
        cert_file=Path(args.peer_cert_file),
        key_file=Path(args.peer_key_file),
    )


# How storage (and ``kapi up``, for its health check) reaches etcd: kube-apiserver's names.
ETCD_TLS_FLAGS = ("--etcd-cafile", "--etcd-certfile", "--etcd-keyfile")


def add_etcd_tls(parser: argparse.ArgumentParser) -> None:
    """kube-apiserver's ``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile``."""
    add(parser, "--etcd-cafile", default="", help="CA (PEM) that signed etcd's certificate")
    add(parser, "--etcd-certfile", default="", help="client certificate (PEM) for etcd")
    add(parser, "--etcd-keyfile", default="", help="its private key (PEM)")


def etcd_tls(parser: argparse.ArgumentParser, args: argparse.Namespace) -> pki.TLSFiles | None:
    """The files ``add_etcd_tls``'s flags name; ``None`` if none is given."""
    try:
        return pki.TLSFiles.from_flags(args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile)
    except ValueError:
        parser.error("--etcd-certfile and --etcd-keyfile go together")


# kube-apiserver's audit flags that ``kapi up`` passes on to the gateway (whose own flags
# are services/gateway/auditing/options.py): the policy, the log file and its rotation.
AUDIT_FLAGS = (
    "--audit-policy-file",
    "--audit-log-path",
    "--audit-log-maxage",
    "--audit-log-maxbackup",
    "--audit-log-maxsize",
    "--audit-log-mode",
)
AUDIT_FILE_FLAGS = ("--audit-policy-file", "--audit-log-path")


def add_audit(parser: argparse.ArgumentParser) -> None:
    """kube-apiserver's ``--audit-policy-file`` and ``--audit-log-*`` (see the README)."""
    helps = {
        "--audit-policy-file": "audit.k8s.io/v1 Policy file: audit the requests it selects",
        "--audit-log-path": "audit log file (default DATA_DIR/logs/audit.log with a policy)",
        "--audit-log-maxage": "days to keep rotated audit logs (default 0: no limit)",
        "--audit-log-maxbackup": "rotated audit logs to keep (default 0: all)",
        "--audit-log-maxsize": "megabytes of audit log before it rotates (default 0: 100)",
        "--audit-log-mode": "blocking (default), blocking-strict or batch",
    }
    for flag in AUDIT_FLAGS:
        add(parser, flag, default="", help=helps[flag])


def setup_logging(name: str) -> None:
    level = os.environ.get("KAPI_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
    )
