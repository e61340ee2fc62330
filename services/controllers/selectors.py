"""Label selectors (metav1.LabelSelector) matched against label maps."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector``; an empty selector matches everything
    (LabelSelectorAsSelector), a ``None`` selector nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def is_empty(selector: Obj | None) -> bool:
    return not selector or (
        not selector.get("matchLabels") and not selector.get("matchExpressions")
    )


def to_query(selector: Obj) -> str:
    """The selector as a ``labelSelector`` query string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
