"""Write options and rules kube-apiserver applies around patches and updates.

- ``fieldManager`` is validated as ``ValidateFieldManager`` does (at most 128 bytes,
  printable), and required for an apply patch;
- the default field manager comes from the User-Agent (``manager_from_user_agent``);
- ``allows_create_on_update``: whether a PUT of a missing object creates it — the
  strategies' ``AllowCreateOnUpdate`` upstream: true only for services, endpoints,
  events, limit ranges, RBAC roles and bindings, leases and runtime classes.
"""

from __future__ import annotations

from kapi import errors
from services.registry.patching.managed_fields import (
    FIELD_MANAGER_MAX_LENGTH,
    manager_from_user_agent,
)

META_GROUP = "meta.k8s.io"

# (group, resource) whose kube strategy answers AllowCreateOnUpdate() == true.
CREATE_ON_UPDATE: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "services"),
        ("", "endpoints"),
        ("", "events"),
        ("", "limitranges"),
        ("events.k8s.io", "events"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("coordination.k8s.io", "leases"),
        ("node.k8s.io", "runtimeclasses"),
    }
)


def allows_create_on_update(group: str, resource: str, strategy: object = None) -> bool:
    """A strategy may say so itself (``allow_create_on_update``); else kube's table."""
    declared = getattr(strategy, "allow_create_on_update", None)
    if isinstance(declared, bool):
        return declared
    return (group, resource) in CREATE_ON_UPDATE


def field_manager_errors(manager: str) -> list[errors.FieldError]:
    problems: list[errors.FieldError] = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        problems.append(errors.too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH))
    for position, char in enumerate(manager):
        if not char.isprintable():
            problems.append(
                errors.invalid_value(
                    "fieldManager",
                    manager,
                    f"invalid character U+{ord(char):04X} (at position {position})",
                )
            )
    return problems


def check_write_options(options_kind: str, field_manager: str) -> None:
    """422 ``CreateOptions.meta.k8s.io "" is invalid: ...`` for a bad fieldManager."""
    problems = field_manager_errors(field_manager)
    if problems:
        raise errors.invalid(options_kind, META_GROUP, "", problems)


def check_patch_options(*, is_apply: bool, field_manager: str) -> None:
    """``ValidatePatchOptions``: an apply patch needs a fieldManager."""
    problems = []
    if is_apply and not field_manager:
        problems.append(errors.required("fieldManager", "is required for apply patch"))
    problems += field_manager_errors(field_manager)
    if problems:
        raise errors.invalid("PatchOptions", META_GROUP, "", problems)


def manager_for(field_manager: str, user_agent: str) -> str:
    """The manager a write is recorded under: ``fieldManager``, else the User-Agent's."""
    return field_manager or manager_from_user_agent(user_agent)
