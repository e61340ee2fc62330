"""Admission (services/authz/admission/): the chain runs mutating plugins, then validating
ones on copies; NamespaceLifecycle and ServiceAccount behave and word their errors as
kube-apiserver's plugins of the same names.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kapi import errors
from kapi.user import UserInfo as User
from services.authz.admission import Attributes, Chain
from services.authz.admission.namespace_lifecycle import (
    FORCE_LIVE_LOOKUP_ENTRIES,
    FORCE_LIVE_LOOKUP_TTL,
    NamespaceLifecycle,
)
from services.authz.admission.service_account import ServiceAccount

Obj = dict[str, Any]


def attributes(
    operation: str = "CREATE",
    *,
    resource: str = "configmaps",
    group: str = "",
    namespace: str = "ns",
    name: str = "c",
    subresource: str = "",
    obj: Obj | None = None,
    old: Obj | None = None,
) -> Attributes:
    return Attributes(
        operation=operation,
        user=User("alice"),
        group=group,
        version="v1",
        kind="Thing",
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        object=obj if obj is not None else {"metadata": {"name": name}},
        old_object=old,
    )


# --- the chain -------------------------------------------------------------------------------


class Recorder:
    def __init__(
        self, name: str, log: list[str], operations: frozenset[str], *, active: bool = True
    ) -> None:
        self.name = name
        self.log = log
        self.operations = operations
        self.is_active = active

    def active(self) -> bool:
        return self.is_active

    async def admit(self, attributes: Attributes) -> None:
        self.log.append(self.name)
        assert attributes.object is not None
        attributes.object.setdefault("touched", []).append(self.name)
        attributes.warnings.append(f"{self.name} says hi")


ALL = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


async def test_chain_runs_mutating_then_validating_in_order() -> None:
    log: list[str] = []
    chain = Chain(
        mutating=[Recorder("m1", log, ALL), Recorder("m2", log, ALL)],
        validating=[Recorder("v1", log, ALL), Recorder("v2", log, ALL)],
    )
    attrs = attributes()
    await chain.run_mutating(attrs)
    await chain.run_validating(attrs)
    assert log == ["m1", "m2", "v1", "v2"]
    assert attrs.object is not None
    assert attrs.object["touched"] == ["m1", "m2"]  # validating plugins changed only copies
    assert attrs.warnings == ["m1 says hi", "m2 says hi", "v1 says hi", "v2 says hi"]


async def test_chain_skips_plugins_for_other_operations() -> None:
    log: list[str] = []
    chain = Chain(
        mutating=[Recorder("create-only", log, frozenset({"CREATE"}))],
        validating=[Recorder("delete-only", log, frozenset({"DELETE"}))],
    )
    attrs = attributes("UPDATE")
    await chain.run_mutating(attrs)
    await chain.run_validating(attrs)
    assert log == []


async def test_idle_plugins_are_skipped_and_reported() -> None:
    log: list[str] = []
    chain = Chain(
        mutating=[Recorder("idle-m", log, ALL, active=False), Recorder("m", log, ALL)],
        validating=[Recorder("idle-v", log, ALL, active=False)],
    )
    attrs = attributes()
    assert chain.may_validate_ahead(attrs)  # nothing would act: nothing to wait for
    await chain.run_mutating(attrs)
    await chain.run_validating(attrs)
    assert log == ["m"]


async def test_only_side_effect_free_validating_plugins_may_run_ahead() -> None:
    """The validating phase may ride along with the mutating call only when every plugin
    that would act on the request says ``side_effect_free`` (CEL policies, PodSecurity,
    LimitRanger); a webhook, quota or unknown plugin that would act makes it wait."""
    log: list[str] = []

    class Pure(Recorder):
        side_effect_free = True

    chain = Chain(mutating=[], validating=[Pure("pure", log, ALL)])
    assert chain.may_validate_ahead(attributes())
    chain.validating.append(Recorder("delete-only", log, frozenset({"DELETE"})))
    chain.validating.append(Recorder("idle", log, ALL, active=False))
    assert chain.may_validate_ahead(attributes("CREATE"))  # neither would act on it
    assert not chain.may_validate_ahead(attributes("DELETE"))


async def test_validating_plugins_see_copies_of_both_objects() -> None:
    seen: list[Attributes] = []

    class Meddler:
        operations = ALL

        def active(self) -> bool:
            return True

        async def admit(self, attributes: Attributes) -> None:
            seen.append(attributes)
            assert attributes.object is not None and attributes.old_object is not None
            attributes.object["metadata"]["name"] = "changed"
            attributes.old_object["metadata"]["name"] = "changed"
            attributes.name = "changed"

    obj = {"metadata": {"name": "c"}, "data": {"k": "v"}}
    old = {"metadata": {"name": "c"}}
    attrs = attributes("UPDATE", obj=obj, old=old)
    await Chain(mutating=[], validating=[Meddler()]).run_validating(attrs)
    assert seen[0] is not attrs
    assert attrs.object == {"metadata": {"name": "c"}, "data": {"k": "v"}}
    assert attrs.old_object == {"metadata": {"name": "c"}}
    assert attrs.name == "c"


async def test_a_rejecting_plugin_stops_the_chain() -> None:
    log: list[str] = []

    class Reject:
        operations = ALL

        def active(self) -> bool:
            return True

        async def admit(self, attributes: Attributes) -> None:
            raise errors.forbidden("configmaps", "", attributes.name, "denied")

    chain = Chain(mutating=[Reject(), Recorder("after", log, ALL)], validating=[])
    with pytest.raises(errors.StatusError) as info:
        await chain.run_mutating(attributes())
    assert info.value.code == 403
    assert log == []


# --- NamespaceLifecycle ---------------------------------------------------------------------


class Namespaces:
    def __init__(self, **namespaces: Obj) -> None:
        self.namespaces = namespaces
        self.lookups: list[str] = []
        self.live: list[str] = []  # lookups that had to skip the cache

    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        self.lookups.append(name)
        if live:
            self.live.append(name)
        found = self.namespaces.get(name)
        return copy.deepcopy(found) if found is not None else None


ACTIVE = {"metadata": {"name": "ns"}, "status": {"phase": "Active"}}
TERMINATING = {
    "metadata": {"name": "x", "deletionTimestamp": "2025-01-01T00:00:00Z"},
    "status": {"phase": "Terminating"},
}


def lifecycle() -> tuple[NamespaceLifecycle, Namespaces]:
    lookup = Namespaces(ns=ACTIVE, x=TERMINATING)
    return NamespaceLifecycle(lookup), lookup


async def test_create_in_a_missing_namespace_is_404() -> None:
    plugin, _ = lifecycle()
    with pytest.raises(errors.StatusError) as info:
        await plugin.admit(attributes(namespace="missing"))
    err = info.value
    assert (err.code, err.reason, err.message) == (
        404,
        "NotFound",
        'namespaces "missing" not found',
    )
    assert err.details == {"name": "missing", "kind": "namespaces"}


async def test_create_in_a_terminating_namespace_is_403() -> None:
    plugin, _ = lifecycle()
    with pytest.raises(errors.StatusError) as info:
        await plugin.admit(attributes(namespace="x", name="c"))
    err = info.value
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        'configmaps "c" is forbidden: unable to create new content in namespace x because it '
        "is being terminated"
    )
    assert err.details == {
        "name": "c",
        "kind": "configmaps",
        "causes": [
            {
                "reason": "NamespaceTerminating",
                "message": "namespace x is being terminated",
                "field": "metadata.namespace",
            }
        ],
    }


async def test_terminating_message_names_the_group() -> None:
    plugin, _ = lifecycle()
    with pytest.raises(errors.StatusError) as info:
        await plugin.admit(
            attributes(namespace="x", name="d", resource="deployments", group="apps")
        )
    assert info.value.message.startswith('deployments.apps "d" is forbidden: unable to create')


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
async def test_system_namespaces_may_not_be_deleted(name: str) -> None:
    plugin, _ = lifecycle()
    with pytest.raises(errors.StatusError) as info:
        await plugin.admit(attributes("DELETE", resource="namespaces", namespace=name, name=name))
    err = info.value
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert err.details == {"name": name, "kind": "namespaces"}


@pytest.mark.parametrize(
    "attrs",
    [
        attributes(),  # create in an active namespace
        attributes("UPDATE", namespace="x"),  # updates in a terminating namespace
        attributes("DELETE", namespace="x"),
        attributes("DELETE", namespace="missing"),
        attributes("CREATE", resource="namespaces", namespace="", name="new"),
        attributes("DELETE", resource="namespaces", namespace="team", name="team"),
        attributes("DELETE", resource="namespaces", namespace="", name="kube-node-lease"),
        attributes("CREATE", resource="clusterroles", namespace="", name="r"),  # cluster-scoped
        # a resource named "namespaces" in another group is not the Namespace
        attributes("DELETE", resource="namespaces", group="example.com", name="default"),
    ],
)
async def test_lifecycle_lets_other_requests_through(attrs: Attributes) -> None:
    plugin, _ = lifecycle()
    before = copy.deepcopy(attrs.object)
    await plugin.admit(attrs)
    assert attrs.object == before


async def test_lifecycle_looks_namespaces_up_only_for_creates() -> None:
    plugin, lookup = lifecycle()
    await plugin.admit(attributes("UPDATE"))
    await plugin.admit(attributes("DELETE"))
    assert lookup.lookups == []
    await plugin.admit(attributes("CREATE"))
    assert lookup.lookups == ["ns"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_namespace_deleted_here_is_read_live_for_a_while() -> None:
    """The cache may still hold it as Active: kube forces live lookups for 30 s."""
    clock = Clock()
    lookup = Namespaces(ns=ACTIVE, other=ACTIVE)
    plugin = NamespaceLifecycle(lookup, clock=clock)
    await plugin.admit(attributes("DELETE", resource="namespaces", namespace="ns", name="ns"))
    await plugin.admit(attributes(namespace="ns"))
    await plugin.admit(attributes(namespace="other"))
    assert lookup.live == ["ns"]
    clock.now += FORCE_LIVE_LOOKUP_TTL
    await plugin.admit(attributes(namespace="ns"))
    assert lookup.live == ["ns"]
    assert lookup.lookups == ["ns", "other", "ns"]


async def test_an_immortal_namespace_refused_deletion_stays_cached() -> None:
    lookup = Namespaces(default=ACTIVE)
    plugin = NamespaceLifecycle(lookup)
    with pytest.raises(errors.StatusError):
        await plugin.admit(
            attributes("DELETE", resource="namespaces", namespace="default", name="default")
        )
    await plugin.admit(attributes(namespace="default"))
    assert lookup.live == []


async def test_recently_deleted_names_are_bounded() -> None:
    clock = Clock()
    lookup = Namespaces(**{f"n{i}": ACTIVE for i in range(FORCE_LIVE_LOOKUP_ENTRIES + 1)})
    plugin = NamespaceLifecycle(lookup, clock=clock)
    for i in range(FORCE_LIVE_LOOKUP_ENTRIES + 1):
        name = f"n{i}"
        await plugin.admit(attributes("DELETE", resource="namespaces", namespace=name, name=name))
    await plugin.admit(attributes(namespace="n0"))  # the oldest was forgotten
    await plugin.admit(attributes(namespace=f"n{FORCE_LIVE_LOOKUP_ENTRIES}"))
    assert lookup.live == [f"n{FORCE_LIVE_LOOKUP_ENTRIES}"]


def test_lifecycle_handles_writes() -> None:
    plugin, _ = lifecycle()
    assert {"CREATE", "UPDATE", "DELETE"} <= plugin.operations


# --- ServiceAccount --------------------------------------------------------------------------


def pod_attributes(spec: Obj, **kw: Any) -> Attributes:
    return attributes(
        resource="pods", name="p", obj={"metadata": {"name": "p"}, "spec": spec}, **kw
    )


@pytest.mark.parametrize(
    ("spec", "account"),
    [
        ({}, "default"),
        ({"serviceAccountName": "builder"}, "builder"),
        ({"serviceAccount": "legacy"}, "legacy"),  # the deprecated field still names it
        ({"serviceAccountName": "", "serviceAccount": ""}, "default"),
    ],
)
async def test_pods_run_as_a_service_account(spec: Obj, account: str) -> None:
    attrs = pod_attributes(spec)
    await ServiceAccount().admit(attrs)
    assert attrs.object is not None
    assert attrs.object["spec"]["serviceAccountName"] == account
    assert attrs.object["spec"]["serviceAccount"] == account


@pytest.mark.parametrize(
    "attrs",
    [
        attributes(resource="configmaps", obj={"spec": {}}),
        attributes(resource="pods", group="example.com", obj={"spec": {}}),
        pod_attributes({}, subresource="status"),
        attributes(resource="pods", obj={"metadata": {"name": "p"}}),  # no spec: left alone
    ],
)
async def test_service_account_leaves_other_objects_alone(attrs: Attributes) -> None:
    before = copy.deepcopy(attrs.object)
    await ServiceAccount().admit(attrs)
    assert attrs.object == before


async def test_service_account_only_on_create_through_the_chain() -> None:
    chain = Chain(mutating=[ServiceAccount()], validating=[])
    update = pod_attributes({}, operation="UPDATE")
    await chain.run_mutating(update)
    assert update.object is not None and "serviceAccountName" not in update.object["spec"]
    create = pod_attributes({})
    await chain.run_mutating(create)
    assert create.object is not None and create.object["spec"]["serviceAccountName"] == "default"
