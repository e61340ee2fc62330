"""The audit policy ``kapi init`` writes for docker-compose.yml's gateway.

kube-apiserver audits nothing without ``--audit-policy-file``, and so does ``kapi up``.
The containers are a deployment, though, so compose's gateway audits with this policy:
who did what, never the contents of Secrets, ConfigMaps or tokens, and not the probes,
version and discovery reads that would bury the rest. ``kapi init`` writes it once, as
``DIR/audit-policy.yaml``, and leaves it alone after: edit it there.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "audit-policy.yaml"

DEFAULT = """\
# The gateway's audit policy (kube-apiserver's format, audit.k8s.io/v1). `kapi init`
# wrote it once and keeps it: edit it here; the gateway reads it when it starts.
apiVersion: audit.k8s.io/v1
kind: Policy
# One event per request once it is answered (and one when a watch starts).
omitStages:
  - RequestReceived
rules:
  # Probes, the version, OpenAPI and discovery: frequent, and say nothing of who did what.
  - level: None
    nonResourceURLs:
      - /healthz*
      - /livez*
      - /readyz*
      - /version
      - /version/
      - /openapi*
      - /api
      - /api/*
      - /apis
      - /apis/*
  # Credentials and configuration: who touched them, never what they hold.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: authentication.k8s.io
        resources: ["tokenreviews"]
  # Reads: who read what.
  - level: Metadata
    verbs: ["get", "list", "watch"]
  # Everything else (the writes): with the object sent.
  - level: Request
    omitManagedFields: true
"""


def ensure(directory: Path) -> Path:
    """``DIR/audit-policy.yaml``, written with the default policy unless it exists."""
    path = directory / FILE_NAME
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        tmp.write_text(DEFAULT)
        tmp.replace(path)
    return path
