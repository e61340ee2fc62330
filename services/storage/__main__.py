"""``python -m services.storage``: parse flags (or KAPI_* variables) and serve."""

from __future__ import annotations

import argparse
import re

from kapi import config, serving
from services.storage.etcd_backend import uses_tls
from services.storage.server import StorageConfig, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.storage", description=__doc__)
    config.add(parser, "--listen", default="0.0.0.0:7001", help="gRPC address HOST:PORT")
    config.add(
        parser,
        "--etcd-endpoints",
        default="http://127.0.0.1:2379",
        help="comma-separated etcd client URLs",
    )
    config.add(
        parser,
        "--etcd-prefix",
        default="/registry",
        help="where every key begins in etcd (kube-apiserver's --etcd-prefix)",
    )
    config.add_etcd_tls(parser)
    config.add(parser, "--backend", default="etcd", help="etcd or memory")
    config.add(
        parser,
        "--compaction-interval",
        default="5m",
        help="how often etcd's history is compacted, e.g. 5m, 90s, 1h (0: never)",
    )
    config.add_peer_tls(parser)
    return parser


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``5m``, ``1m30s``, ``300ms``) or a plain number of seconds."""
    text = text.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def parse_args(argv: list[str] | None = None) -> StorageConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.backend not in ("etcd", "memory"):
        parser.error(f"--backend must be etcd or memory, not {args.backend!r}")
    try:
        compaction = parse_duration(args.compaction_interval)
    except ValueError as exc:
        parser.error(f"--compaction-interval: {exc}")
    endpoints = [e.strip() for e in args.etcd_endpoints.split(",") if e.strip()]
    etcd_tls = config.etcd_tls(parser, args)
    if args.backend == "etcd":
        try:
            https = uses_tls(endpoints)
        except ValueError as exc:
            parser.error(f"--etcd-endpoints: {exc}")
        if etcd_tls is not None and not https:
            parser.error("--etcd-cafile/--etcd-certfile/--etcd-keyfile need https:// endpoints")
    if not args.etcd_prefix.startswith("/"):
        parser.error(f"--etcd-prefix must start with '/', not {args.etcd_prefix!r}")
    return StorageConfig(
        listen=args.listen,
        etcd_endpoints=endpoints,
        etcd_prefix=args.etcd_prefix,
        backend=args.backend,
        compaction_interval=compaction,
        tls=config.peer_tls(args),
        etcd_tls=etcd_tls,
    )


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    config.setup_logging("storage")
    serving.run(serve(cfg))


if __name__ == "__main__":
    main()
