"""``python -m services.storage``: parse flags (or KAPI_* variables) and serve."""

from __future__ import annotations

import argparse
import asyncio

from kapi import config
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
    config.add(parser, "--backend", default="etcd", help="etcd or memory")
    return parser


def parse_args(argv: list[str] | None = None) -> StorageConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.backend not in ("etcd", "memory"):
        parser.error(f"--backend must be etcd or memory, not {args.backend!r}")
    endpoints = [e.strip() for e in args.etcd_endpoints.split(",") if e.strip()]
    return StorageConfig(listen=args.listen, etcd_endpoints=endpoints, backend=args.backend)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    config.setup_logging("storage")
    asyncio.run(serve(cfg))


if __name__ == "__main__":
    main()
