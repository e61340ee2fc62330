"""The gateway's audit flags, named and checked as kube-apiserver's
(k8s.io/apiserver/pkg/server/options/audit.go: AuditOptions, AuditLogOptions).

``--audit-policy-file`` and ``--audit-log-path`` together turn auditing on; either alone
records nothing (kube: no policy, no events; no path, no log backend). ``-`` as the path
is standard output.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass

from kapi import config
from services.gateway.auditing import backend, log_file, policy
from services.gateway.auditing.middleware import Auditor

log = logging.getLogger(__name__)

MODES = tuple(mode.value for mode in backend.Mode)


@dataclass(frozen=True)
class AuditOptions:
    policy_file: str = ""
    log_path: str = ""
    max_age: int = 0  # days
    max_backup: int = 0
    max_size: int = 0  # MB; 0: lumberjack's 100
    compress: bool = False
    mode: str = backend.Mode.BLOCKING.value  # kube's default for the log backend
    batch_buffer_size: int = backend.DEFAULT_BUFFER_SIZE

    def validate(self) -> list[str]:
        """AuditLogOptions.Validate, in kube's words; only when the log is on."""
        if not self.log_path:
            return []
        problems = []
        if self.mode not in MODES:
            problems.append(
                f'invalid audit log mode {self.mode}, allowed modes are "{",".join(MODES)}"'
            )
        elif self.mode == backend.Mode.BATCH and self.batch_buffer_size <= 0:
            problems.append(
                f"invalid audit batch log buffer size {self.batch_buffer_size}, "
                "must be a positive number"
            )
        for flag, value in (
            ("--audit-log-maxage", self.max_age),
            ("--audit-log-maxbackup", self.max_backup),
            ("--audit-log-maxsize", self.max_size),
        ):
            if value < 0:
                problems.append(f"{flag} {value} can't be a negative number")
        return problems


def add_flags(parser: argparse.ArgumentParser) -> None:
    """kube-apiserver's audit flags (each also a ``KAPI_*`` variable)."""
    config.add(parser, "--audit-policy-file", default="", help="audit.k8s.io/v1 Policy file")
    config.add(
        parser,
        "--audit-log-path",
        default="",
        help="file the audit events are written to, one JSON line each ('-': stdout)",
    )
    config.add(
        parser,
        "--audit-log-maxage",
        type=int,
        default=0,
        help="days to keep rotated audit logs, by the time in their names (0: no limit)",
    )
    config.add(
        parser,
        "--audit-log-maxbackup",
        type=int,
        default=0,
        help="rotated audit logs to keep (0: all)",
    )
    config.add(
        parser,
        "--audit-log-maxsize",
        type=int,
        default=0,
        help="megabytes of audit log before it is rotated (0: 100)",
    )
    env = config.env_name("--audit-log-compress")
    parser.add_argument(
        "--audit-log-compress",
        nargs="?",
        const=True,
        default=parse_bool(os.environ.get(env, "false")),
        type=parse_bool,
        help=f"gzip the rotated audit logs (env {env})",
    )
    config.add(
        parser,
        "--audit-log-mode",
        default=backend.Mode.BLOCKING.value,
        help=f"how events are written: {', '.join(MODES)} (see README)",
    )
    config.add(
        parser,
        "--audit-log-batch-buffer-size",
        type=int,
        default=backend.DEFAULT_BUFFER_SIZE,
        help="events buffered in batch mode before they are dropped",
    )


def parse_bool(value: str | bool) -> bool:
    """Go's strconv.ParseBool, as a pflag bool reads its value."""
    if isinstance(value, bool):
        return value
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise argparse.ArgumentTypeError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def from_args(args: argparse.Namespace) -> AuditOptions:
    return AuditOptions(
        policy_file=args.audit_policy_file or "",
        log_path=args.audit_log_path or "",
        max_age=args.audit_log_maxage,
        max_backup=args.audit_log_maxbackup,
        max_size=args.audit_log_maxsize,
        compress=bool(args.audit_log_compress),
        mode=args.audit_log_mode,
        batch_buffer_size=args.audit_log_batch_buffer_size,
    )


class AuditConfigError(ValueError):
    pass


def build(options: AuditOptions) -> Auditor | None:
    """The auditor the options describe, or None when they turn auditing off;
    AuditConfigError (kube's words) for options or a policy that cannot be used."""
    problems = options.validate()
    if problems:
        raise AuditConfigError("; ".join(problems))
    if not options.policy_file:
        if options.log_path:
            log.info("No audit policy file provided, no events will be recorded for log backend")
        return None
    try:
        loaded = policy.load_file(options.policy_file)
    except policy.PolicyError as exc:
        raise AuditConfigError(f"loading audit policy file: {exc}") from None
    if not options.log_path:
        log.warning("an audit policy but no --audit-log-path: no events are recorded")
        return None
    writer: log_file.LineWriter
    if options.log_path == "-":
        writer = log_file.StandardOutput()
    else:
        writer = log_file.RotatingFile(
            options.log_path,
            max_size_mb=options.max_size,
            max_backups=options.max_backup,
            max_age_days=options.max_age,
            compress=options.compress,
        )
    return Auditor(
        loaded,
        backend.LogBackend(
            writer, mode=backend.Mode(options.mode), buffer_size=options.batch_buffer_size
        ),
    )
