"""The bootstrap RBAC policy reconciled at start-up, and ClusterRole aggregation.

Reconciliation is kube-apiserver's ``rbac/bootstrap-roles`` post-start hook
(``pkg/registry/rbac/rest/storage_rbac.go`` with ``pkg/registry/rbac/reconciliation``):
each object of the policy (services/authz/authorization/rbac/bootstrap_policy.py) is
created when missing; an existing one gets the policy's labels and annotations it lacks
(its own values win), the rules and aggregation selectors it lacks (never removing any),
and a binding the subjects it lacks — a binding to another role is deleted and made
again. An object annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"`` is
left as it is: the administrator owns it.

Aggregation is kube-controller-manager's clusterrole-aggregation controller
(``pkg/controller/clusterroleaggregation``): a ClusterRole with an ``aggregationRule``
has as rules those of every other ClusterRole its selectors match, in name order, each
rule once. The registry watches ClusterRoles (one informer) and writes the aggregated
rules back through its own update path whenever they differ, so ``admin``, ``edit`` and
``view`` — and any custom role labelled ``rbac.authorization.k8s.io/aggregate-to-*`` —
stay aggregated. Replicas all compute the same rules, so they never fight.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson

from kapi import errors, informer
from kapi.user import UserInfo
from services.authz.authorization.rbac import bootstrap_policy
from services.authz.authorization.rules import PolicyRule, covers, rules_from_json
from services.registry.ports import StoragePort, StoredList, Where
from services.registry.service import ReadOptions, Registry, Target

log = logging.getLogger(__name__)

Obj = dict[str, Any]
GROUP = bootstrap_policy.GROUP
AGGREGATION_MANAGER = "clusterrole-aggregation-controller"

_RESOURCES = {
    "ClusterRole": ("clusterroles", False),
    "ClusterRoleBinding": ("clusterrolebindings", False),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
}


# --- reconciliation (pure) ---------------------------------------------------------------


def _merged(
    expected: Mapping[str, str] | None, existing: Mapping[str, str] | None
) -> dict[str, str]:
    """reconciliation's merge: expected's entries, then existing's over them."""
    return {**(expected or {}), **(existing or {})}


def protected(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(bootstrap_policy.AUTOUPDATE) == "false"


def _merge_metadata(result: Obj, expected: Obj) -> None:
    meta = result.setdefault("metadata", {})
    wanted = expected.get("metadata") or {}
    for key in ("annotations", "labels"):
        merged = _merged(wanted.get(key), meta.get(key))
        if merged:
            meta[key] = merged


def reconcile_role(existing: Obj, expected: Obj) -> Obj | None:
    """computeReconciledRole without removing anything: the role to write, or None when
    it already has everything the policy gives it."""
    result = copy.deepcopy(existing)
    _merge_metadata(result, expected)
    found = result.get("rules")
    rules: list[Any] = found if isinstance(found, list) else []
    _, missing = covers(rules_from_json(rules), rules_from_json(expected.get("rules")))
    if missing:
        result["rules"] = [*rules, *(_rule_json(r) for r in missing)]
    wanted_rule = expected.get("aggregationRule")
    have_rule = result.get("aggregationRule")
    if wanted_rule is None and have_rule is not None:
        result.pop("aggregationRule", None)
    elif isinstance(wanted_rule, dict):
        have = (have_rule or {}).get("clusterRoleSelectors") or []
        extra = [s for s in wanted_rule.get("clusterRoleSelectors") or [] if s not in have]
        if extra or have_rule is None:
            result["aggregationRule"] = {"clusterRoleSelectors": [*have, *extra]}
    return None if result == existing else result


def _rule_json(rule: PolicyRule) -> Obj:
    return {
        key: value
        for key, value in (
            ("apiGroups", list(rule.api_groups)),
            ("resources", list(rule.resources)),
            ("resourceNames", list(rule.resource_names)),
            ("nonResourceURLs", list(rule.non_resource_urls)),
            ("verbs", list(rule.verbs)),
        )
        if value or key == "verbs" or (key == "apiGroups" and rule.resources)
    }


def reconcile_binding(existing: Obj, expected: Obj) -> tuple[Obj | None, bool]:
    """computeReconciledRoleBinding without removing subjects: (the binding to write or
    None, whether it must be deleted and made again because its role changed)."""
    if existing.get("roleRef") != expected.get("roleRef"):
        result = copy.deepcopy(expected)
        _merge_metadata(result, existing)
        return result, True
    result = copy.deepcopy(existing)
    _merge_metadata(result, expected)
    found = result.get("subjects")
    subjects: list[Any] = found if isinstance(found, list) else []
    missing = [s for s in expected.get("subjects") or [] if s not in subjects]
    if missing:
        result["subjects"] = [*subjects, *missing]
    return (None if result == existing else result), False


# --- reconciliation (against the registry) -----------------------------------------------


async def reconcile_policy(registry: Registry, user: UserInfo) -> None:
    """Make the bootstrap policy present (see the module docstring)."""
    policy = (
        ("ClusterRole", bootstrap_policy.CLUSTER_ROLES),
        ("ClusterRoleBinding", bootstrap_policy.CLUSTER_ROLE_BINDINGS),
        ("Role", bootstrap_policy.ROLES),
        ("RoleBinding", bootstrap_policy.ROLE_BINDINGS),
    )
    for kind, objects in policy:
        resource, _ = _RESOURCES[kind]
        listed = await registry.list(Target(GROUP, "v1", resource, user=user), ReadOptions())
        existing = {
            _key(item): item
            for item in orjson.loads(listed.body).get("items") or []
            if isinstance(item, dict)
        }
        for expected in objects:
            key = _key(expected)
            target = Target(GROUP, "v1", resource, namespace=key[0], name=key[1], user=user)
            found = existing.get(key)
            if found is None:
                await _create(registry, target, expected)
                continue
            if protected(found):
                continue
            if kind.endswith("Binding"):
                changed, recreate = reconcile_binding(found, expected)
                if changed is not None and recreate:
                    await registry.delete(target, {})
                    changed.get("metadata", {}).pop("resourceVersion", None)
                    await _create(registry, target, changed)
                    continue
            else:
                changed = reconcile_role(found, expected)
            if changed is not None:
                await registry.update(target, orjson.dumps(changed))
                log.info("reconciled %s %s", kind, key[1])


async def _create(registry: Registry, target: Target, obj: Obj) -> None:
    try:
        await registry.create(dataclasses.replace(target, name=""), orjson.dumps(obj))
    except errors.StatusError as err:
        if err.reason != "AlreadyExists":  # another replica made it first
            raise


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


# --- aggregation ---------------------------------------------------------------------------


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels): every matchLabels pair
    and matchExpressions requirement holds (an empty selector matches everything)."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            return False
        key = str(expression.get("key") or "")
        operator = expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def aggregated_rules(role: Obj, roles: list[Obj]) -> list[Obj]:
    """The rules of the ClusterRoles ``role``'s aggregationRule selects: per selector,
    the matching roles (itself excepted) in name order, each rule once."""
    name = (role.get("metadata") or {}).get("name")
    ordered = sorted(roles, key=lambda r: str((r.get("metadata") or {}).get("name") or ""))
    out: list[Obj] = []
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        for other in ordered:
            meta = other.get("metadata") or {}
            if meta.get("name") == name or not selector_matches(selector, meta.get("labels") or {}):
                continue
            for rule in other.get("rules") or []:
                if rule not in out:
                    out.append(rule)
    return out


class ClusterRoleAggregation:
    """Keeps aggregated ClusterRoles' rules current (see the module docstring).

    ``write`` stores a role with new rules (409 on a stale revision: the informer brings
    the newer one and the roles are computed again).
    """

    DEBOUNCE_SECONDS = 0.05

    def __init__(self, roles: informer.Informer, write: Callable[[Obj], Awaitable[None]]) -> None:
        self.roles = roles
        self._write = write
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        roles.on_change(lambda kind, new, old: self._wake.set())

    def start(self) -> None:
        self.roles.start()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="clusterrole aggregation")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.roles.close()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.DEBOUNCE_SECONDS)  # a burst of changes, one pass
            self._wake.clear()
            try:
                await self.sync()
            except errors.StatusError as err:
                log.info("clusterrole aggregation: %s; trying again", err.message)
                await asyncio.sleep(1.0)
                self._wake.set()
            except Exception:
                log.exception("clusterrole aggregation failed")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def sync(self) -> None:
        """One pass: every aggregated role whose rules differ is written."""
        roles = self.roles.items()
        for role in roles:
            if not (role.get("aggregationRule") or {}).get("clusterRoleSelectors"):
                continue
            rules = aggregated_rules(role, roles)
            if rules == (role.get("rules") or []):
                continue
            updated = copy.deepcopy(role)
            updated["rules"] = rules
            try:
                await self._write(updated)
            except errors.StatusError as err:
                if err.code not in (404, 409):
                    raise


@dataclasses.dataclass(frozen=True)
class _Event:
    type: str
    object: bytes
    resource_version: int = 0


def cluster_role_informer(storage: StoragePort, where: Where) -> informer.Informer:
    """An informer of ClusterRoles over the registry's storage port."""

    async def list_page(limit: int, continue_token: str) -> StoredList:
        return await storage.list(where, "", limit=limit, continue_token=continue_token)

    async def watch(revision: int, timeout_seconds: int) -> AsyncIterator[_Event]:
        async for kind, body in storage.watch(
            where,
            "",
            resource_version=str(revision),
            allow_bookmarks=True,
            timeout_seconds=timeout_seconds,
        ):
            yield _Event(kind, body)

    return informer.Informer("clusterroles", list_page, watch)
