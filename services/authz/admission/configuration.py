"""kube-apiserver's ``--admission-control-config-file``: an ``AdmissionConfiguration``
(``apiserver.config.k8s.io/v1``, also ``apiserver.k8s.io/v1alpha1``) naming, per plugin,
its configuration inline (``configuration``) or in a file (``path``, relative to the
admission configuration's directory), as ``k8s.io/apiserver/pkg/admission/config.go``
reads it. Each plugin validates its own configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

API_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.k8s.io/v1alpha1")
KIND = "AdmissionConfiguration"


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"admission configuration {path}: {exc}") from exc


def load(path: str) -> dict[str, dict[str, Any]]:
    """Each configured plugin's configuration object, by plugin name ("" path: none)."""
    if not path:
        return {}
    file = Path(path)
    doc = _yaml(file)
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ValueError(f"admission configuration {path}: not an {KIND}")
    if doc.get("apiVersion") not in API_VERSIONS:
        raise ValueError(
            f"admission configuration {path}: apiVersion {doc.get('apiVersion')!r} "
            f"is not one of {', '.join(API_VERSIONS)}"
        )
    plugins: dict[str, dict[str, Any]] = {}
    for entry in doc.get("plugins") or []:
        name = str((entry or {}).get("name") or "")
        if not name:
            raise ValueError(f"admission configuration {path}: a plugin without a name")
        configuration = entry.get("configuration")
        if configuration is None and entry.get("path"):
            where = Path(str(entry["path"]))
            configuration = _yaml(where if where.is_absolute() else file.parent / where)
        if not isinstance(configuration, dict):
            raise ValueError(f"admission configuration {path}: plugin {name}: no configuration")
        plugins[name] = configuration
    return plugins
