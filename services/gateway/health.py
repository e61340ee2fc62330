"""``/healthz``, ``/livez`` and ``/readyz`` with kube-apiserver's verbose format.

Each check is a name and a coroutine that raises when unhealthy. ``?verbose`` lists
every check as ``[+]name ok`` / ``[-]name failed: reason withheld``; a single check is
served at ``/readyz/<name>``; ``?exclude=name`` skips one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kapi import errors

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[], Awaitable[None]]


async def _run(check: Check) -> bool:
    try:
        await asyncio.wait_for(check.probe(), CHECK_TIMEOUT)
        return True
    except Exception as exc:
        log.info("health check %s failed: %s", check.name, exc)
        return False


async def report(
    endpoint: str,
    checks: Sequence[Check],
    *,
    verbose: bool,
    only: str = "",
    exclude: Sequence[str] = (),
) -> tuple[int, str]:
    """(HTTP code, body) for ``/<endpoint>`` or ``/<endpoint>/<only>``."""
    selected = [c for c in checks if c.name not in exclude]
    if only:
        selected = [c for c in checks if c.name == only]
        if not selected:
            # No handler has that path in kube either: its NotFound handler's Status.
            raise errors.not_found_path()
    results = await asyncio.gather(*(_run(c) for c in selected))
    healthy = all(results)
    if only:
        return (200, "ok") if healthy else (500, f"internal server error: {only} check failed\n")
    if healthy and not verbose:
        return 200, "ok"
    lines = [
        f"[+]{c.name} ok" if ok else f"[-]{c.name} failed: reason withheld"
        for c, ok in zip(selected, results, strict=True)
    ]
    lines.extend(
        f"[+]{name} excluded: ok" for name in exclude if any(c.name == name for c in checks)
    )
    lines.append(f"{endpoint} check passed" if healthy else f"{endpoint} check failed")
    return (200 if healthy else 500), "\n".join(lines) + "\n"
