"""Auditing, as kube-apiserver's: who did what, when, and what came of it.

The floors, top down:

- ``options``: the flags (``--audit-policy-file``, ``--audit-log-*``) into an ``Auditor``;
- ``middleware``: ``WithAudit``, the ASGI wrapper where kube's WithAudit filter sits,
  and the ``Auditor`` (policy + backend);
- ``recorder``: one request's event, the hooks the handlers call (``current()``) and
  the stages it goes through;
- ``policy``: the ``audit.k8s.io/v1`` Policy file, read, validated and matched;
- ``backend``: events to lines off the event loop, in kube's blocking, blocking-strict
  and batch modes; ``encoding``: an event as the JSON line Go would write;
- ``log_file``: the file, rotated with lumberjack's semantics.
"""

from services.gateway.auditing.recorder import Recorder, current

__all__ = ["Recorder", "current"]
