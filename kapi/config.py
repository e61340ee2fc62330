"""Command-line flags that fall back to environment variables.

Every service reads its configuration the same way: ``--storage ADDR`` or
``KAPI_STORAGE=ADDR``. docker-compose.yml sets the variables; ``kapi up`` passes flags.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any


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
) -> None:
    """Add ``flag`` whose default comes from its environment variable, then ``default``."""
    env = env_name(flag)
    value = os.environ.get(env, default)
    parser.add_argument(
        flag,
        default=type(value) if value is not None else None,
        type=type,
        help=f"{help} (env {env})",
    )


def setup_logging(name: str) -> None:
    level = os.environ.get("KAPI_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
    )
