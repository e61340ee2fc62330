"""In-band watch errors, worded as kube-apiserver's watch cache words them.

Once a watch is accepted, what goes wrong is told on the stream as an ``ERROR`` event
carrying a ``metav1.Status`` (client-go relists on 410 Expired, retries on 504), after
which the stream ends.
"""

from __future__ import annotations

from kapi import errors
from services.storage.cache_watcher import INITIAL_EVENTS_END
from services.storage.model import WatchEvent

__all__ = ["INITIAL_EVENTS_END", "error_event", "expired_event", "too_large_resource_version"]


def error_event(err: errors.StatusError) -> WatchEvent:
    return WatchEvent("ERROR", err.to_json(), 0)


def expired_event(revision: int, oldest: int) -> WatchEvent:
    """The 410 for a start revision older than the window; ``oldest`` is the oldest
    resourceVersion a watch can still start from (``too old resource version: X (Y)``)."""
    return error_event(errors.expired(f"too old resource version: {revision} ({oldest})"))


def too_large_resource_version(revision: int, current: int) -> errors.StatusError:
    """``storage.NewTooLargeResourceVersionError``: 504, retry in a second."""
    err = errors.timeout(f"Too large resource version: {revision}, current: {current}", 1)
    err.details = {
        **(err.details or {}),
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
    }
    return err
