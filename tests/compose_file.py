"""docker-compose.yml as Docker Compose reads it: parsed, then interpolated.

Compose substitutes ``${VAR}`` in every value from the environment of the shell that
runs it (and ``.env``) before it looks at the file, so the tests read the file the same
way, with the environment they choose. The syntax is the Compose specification's
(``interpolation.md``): ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty),
``${VAR-default}`` (unset), ``${VAR:+alt}``/``${VAR+alt}``, ``${VAR:?error}``/
``${VAR?error}``, and ``$$`` for a literal ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(
    rf"\$(?:(?P<dollar>\$)|(?P<bare>{_NAME})"
    rf"|\{{(?P<name>{_NAME})(?:(?P<op>:?[-+?])(?P<arg>[^{{}}$]*))?\}}|(?P<bad>))"
)


class InterpolationError(ValueError):
    """A ``${VAR?error}`` with VAR unset, or a ``$`` that starts no substitution."""


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every substitution made from ``env``."""

    def substitute(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        if match["bare"]:
            return env.get(match["bare"], "")
        if match["name"] is None:
            raise InterpolationError(f"invalid interpolation in {text!r}")
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op is None:
            return value or ""
        if op.endswith("-"):
            return arg if unset else str(value)
        if op.endswith("+"):
            return "" if unset else arg
        if unset:
            raise InterpolationError(f"{name}: {arg or 'required'}")
        return str(value)

    return _TOKEN.sub(substitute, text)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Every string in a parsed document interpolated (keys are left as they are)."""
    if isinstance(value, str):
        return interpolate_text(value, env)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def load(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml, interpolated from ``env`` (default: an empty environment,
    i.e. every default the file spells out)."""
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    result: dict[str, Any] = interpolate(data, env or {})
    return result
