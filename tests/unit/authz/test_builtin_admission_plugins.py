"""kube's built-in admission plugins in authz, table-driven on in-memory configuration:
ResourceQuota (services/authz/admission/resource_quota.py), Priority,
DefaultTolerationSeconds, DefaultStorageClass."""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors
from kapi.user import UserInfo
from services.authz.admission import Attributes
from services.authz.admission.default_storage_class import DefaultStorageClass
from services.authz.admission.default_tolerations import DefaultTolerationSeconds
from services.authz.admission.priority import Priority
from services.authz.admission.resource_quota import ResourceQuota

Obj = dict[str, Any]


def attrs(
    resource: str, obj: Obj, *, operation: str = "CREATE", dry_run: bool = False
) -> Attributes:
    return Attributes(
        operation=operation,
        user=UserInfo("alice"),
        group="",
        version="v1",
        kind="",
        resource=resource,
        subresource="",
        namespace="ns",
        name=obj["metadata"]["name"],
        object=obj,
        old_object=None,
        dry_run=dry_run,
    )


def pod(name: str, cpu: str | None = None, **spec: Any) -> Obj:
    container: Obj = {"name": "c", "image": "nginx"}
    if cpu is not None:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


class Quotas:
    def __init__(self, *quotas: Obj) -> None:
        self.quotas = {q["metadata"]["name"]: q for q in quotas}
        self.writes: list[tuple[str, dict[str, str]]] = []
        self.conflicts = 0

    def any(self) -> bool:
        return bool(self.quotas)

    def in_namespace(self, namespace: str) -> list[Obj]:
        return list(self.quotas.values())

    async def read(self, namespace: str, name: str) -> Obj | None:
        return self.quotas.get(name)

    async def write_status(self, quota_obj: Obj, used: dict[str, str]) -> Obj:
        if self.conflicts:
            self.conflicts -= 1
            raise errors.conflict("resourcequotas", "", quota_obj["metadata"]["name"])
        name = quota_obj["metadata"]["name"]
        self.writes.append((name, used))
        self.quotas[name] = {**quota_obj, "status": {**quota_obj["status"], "used": used}}
        return self.quotas[name]


def quota(name: str, hard: dict[str, str], used: dict[str, str] | None, **spec: Any) -> Obj:
    status = {"hard": hard, "used": used} if used is not None else {"hard": hard}
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}, "status": status}


async def test_quota_reserves_and_refuses() -> None:
    store = Quotas(
        quota("q", {"pods": "2", "requests.cpu": "1"}, {"pods": "1", "requests.cpu": "500m"})
    )
    plugin = ResourceQuota(store)
    await plugin.admit(attrs("pods", pod("a", "250m")))
    assert store.writes == [("q", {"pods": "2", "requests.cpu": "750m"})]
    with pytest.raises(errors.StatusError) as err:
        await plugin.admit(attrs("pods", pod("b", "100m")))
    assert err.value.code == 403
    assert err.value.message == (
        'pods "b" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'
    )
    with pytest.raises(errors.StatusError) as err:
        await plugin.admit(attrs("pods", pod("c")))
    assert err.value.message == (
        'pods "c" is forbidden: failed quota: q: must specify requests.cpu for: c'
    )


async def test_quota_status_unknown_dry_run_and_conflicts() -> None:
    unknown = ResourceQuota(Quotas(quota("fresh", {"configmaps": "1"}, None)))
    with pytest.raises(errors.StatusError) as err:
        await unknown.admit(attrs("configmaps", {"metadata": {"name": "cm"}}))
    assert err.value.message == (
        'configmaps "cm" is forbidden: status unknown for quota: fresh, resources: configmaps'
    )
    store = Quotas(quota("q", {"configmaps": "2"}, {"configmaps": "0"}))
    plugin = ResourceQuota(store)
    await plugin.admit(attrs("configmaps", {"metadata": {"name": "dry"}}, dry_run=True))
    assert store.writes == []
    store.conflicts = 1
    await plugin.admit(attrs("configmaps", {"metadata": {"name": "cm"}}))
    assert store.writes == [("q", {"configmaps": "1"})]
    # Other resources, and quotas whose scopes select other pods, are not charged.
    await plugin.admit(attrs("secrets", {"metadata": {"name": "s"}}))
    scoped = Quotas(quota("be", {"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"]))
    await ResourceQuota(scoped).admit(attrs("pods", pod("burstable", "1")))
    with pytest.raises(errors.StatusError):
        await ResourceQuota(scoped).admit(attrs("pods", pod("best-effort")))


def custom(resource: str, group: str, obj: Obj, **kw: Any) -> Attributes:
    out = attrs(resource, obj, **kw)
    out.group = group
    return out


@pytest.mark.parametrize(
    ("hard", "used", "incoming", "message"),
    [
        (  # any resource, custom ones included, by count/<resource>.<group>
            {"count/widgets.stable.example.com": "1"},
            {"count/widgets.stable.example.com": "1"},
            custom("widgets", "stable.example.com", {"metadata": {"name": "w"}}),
            'widgets.stable.example.com "w" is forbidden: exceeded quota: q, requested: '
            "count/widgets.stable.example.com=1, used: count/widgets.stable.example.com=1, "
            "limited: count/widgets.stable.example.com=1",
        ),
        (
            {"requests.nvidia.com/gpu": "1"},
            {"requests.nvidia.com/gpu": "0"},
            attrs(
                "pods",
                {
                    "metadata": {"name": "g"},
                    "spec": {
                        "containers": [
                            {"name": "c", "resources": {"requests": {"nvidia.com/gpu": "2"}}}
                        ]
                    },
                },
            ),
            'pods "g" is forbidden: exceeded quota: q, requested: requests.nvidia.com/gpu=2, '
            "used: requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=1",
        ),
        (
            {"gold.storageclass.storage.k8s.io/requests.storage": "1Gi", "requests.storage": "5Gi"},
            {"gold.storageclass.storage.k8s.io/requests.storage": "512Mi", "requests.storage": "0"},
            attrs(
                "persistentvolumeclaims",
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "storageClassName": "gold",
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                },
            ),
            'persistentvolumeclaims "data" is forbidden: exceeded quota: q, requested: '
            "gold.storageclass.storage.k8s.io/requests.storage=1Gi, used: "
            "gold.storageclass.storage.k8s.io/requests.storage=512Mi, limited: "
            "gold.storageclass.storage.k8s.io/requests.storage=1Gi",
        ),
        (  # an update is charged what it adds: ClusterIP -> NodePort
            {"services.nodeports": "1"},
            {"services.nodeports": "0"},
            Attributes(
                operation="UPDATE",
                user=UserInfo("alice"),
                group="",
                version="v1",
                kind="Service",
                resource="services",
                subresource="",
                namespace="ns",
                name="s",
                object={"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{}, {}]}},
                old_object={"metadata": {"name": "s"}, "spec": {"ports": [{}, {}]}},
            ),
            'services "s" is forbidden: exceeded quota: q, requested: services.nodeports=2, '
            "used: services.nodeports=0, limited: services.nodeports=1",
        ),
        (  # counted, but not yet for everything this kind uses
            {"pods": "2", "count/pods": "2"},
            {"pods": "0"},
            attrs("pods", pod("p")),
            'pods "p" is forbidden: status unknown for quota: q, resources: count/pods,pods',
        ),
        (
            {"configmaps": "1"},
            {"configmaps": "0"},
            attrs("configmaps", {"metadata": {"name": "bad"}, "data": {}}),
            None,
        ),
    ],
)
async def test_quota_counts_every_kind(
    hard: dict[str, str], used: dict[str, str], incoming: Attributes, message: str | None
) -> None:
    plugin = ResourceQuota(Quotas(quota("q", hard, used)))
    if message is None:
        await plugin.admit(incoming)
        return
    with pytest.raises(errors.StatusError) as err:
        await plugin.admit(incoming)
    assert (err.value.code, err.value.message) == (403, message)


async def test_quota_not_yet_counted_limits_nothing() -> None:
    """kube's Matches reads status.hard: a quota the controller has not counted yet
    does not apply."""
    fresh = quota("fresh", {"configmaps": "0"}, None)
    fresh["status"] = {}
    await ResourceQuota(Quotas(fresh)).admit(attrs("configmaps", {"metadata": {"name": "c"}}))


async def test_quota_scopes_select_pods_only() -> None:
    terminating = Quotas(
        quota(
            "t",
            {"pods": "0", "count/secrets": "0"},
            {"pods": "0", "count/secrets": "0"},
            scopes=["Terminating"],
        )
    )
    plugin = ResourceQuota(terminating)
    await plugin.admit(attrs("pods", pod("long-running")))
    await plugin.admit(attrs("secrets", {"metadata": {"name": "s"}}))
    with pytest.raises(errors.StatusError) as err:
        await plugin.admit(attrs("pods", pod("batch", activeDeadlineSeconds=60)))
    assert "exceeded quota: t, requested: pods=1" in err.value.message


class Store:
    def __init__(self, *objects: Obj) -> None:
        self.objects = list(objects)

    def items(self) -> list[Obj]:
        return self.objects

    def get(self, namespace: str, name: str) -> Obj | None:
        return next((o for o in self.objects if o["metadata"]["name"] == name), None)


async def test_priority() -> None:
    plugin = Priority(
        Store(
            {"metadata": {"name": "high"}, "value": 1000},
            {"metadata": {"name": "normal"}, "value": 10, "globalDefault": True},
        )
    )
    named = attrs("pods", pod("a", priorityClassName="high"))
    await plugin.admit(named)
    assert named.object is not None
    assert named.object["spec"]["priority"] == 1000
    assert named.object["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    defaulted = attrs("pods", pod("b"))
    await plugin.admit(defaulted)
    assert defaulted.object is not None
    assert (
        defaulted.object["spec"]["priorityClassName"],
        defaulted.object["spec"]["priority"],
    ) == (
        "normal",
        10,
    )
    with pytest.raises(errors.StatusError) as err:
        await plugin.admit(attrs("pods", pod("c", priorityClassName="nope")))
    assert err.value.message == 'pods "c" is forbidden: no PriorityClass with name nope was found'
    with pytest.raises(errors.StatusError) as err:
        await plugin.admit(attrs("pods", pod("d", priorityClassName="high", priority=5)))
    assert err.value.message == (
        'pods "d" is forbidden: the integer value of priority (5) must not be provided in pod '
        "spec; priority admission controller computed 1000 from the given PriorityClass name"
    )


async def test_default_tolerations_and_storage_class() -> None:
    plain = attrs("pods", pod("a", tolerations=[{"key": "node.kubernetes.io/not-ready",
                                                   "operator": "Exists", "effect": "NoExecute",
                                                   "tolerationSeconds": 5}]))  # fmt: skip
    await DefaultTolerationSeconds().admit(plain)
    assert plain.object is not None
    assert plain.object["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]  # fmt: skip
    classes = Store(
        {"metadata": {"name": "slow", "creationTimestamp": "2024-01-01T00:00:00Z",
                      "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
        {"metadata": {"name": "fast", "creationTimestamp": "2025-01-01T00:00:00Z",
                      "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
        {"metadata": {"name": "other"}},
    )  # fmt: skip
    claim = attrs("persistentvolumeclaims", {"metadata": {"name": "c"}, "spec": {}})
    await DefaultStorageClass(classes).admit(claim)
    assert claim.object is not None and claim.object["spec"]["storageClassName"] == "fast"
    chosen = attrs(
        "persistentvolumeclaims", {"metadata": {"name": "c"}, "spec": {"storageClassName": ""}}
    )
    await DefaultStorageClass(classes).admit(chosen)
    assert chosen.object is not None and chosen.object["spec"]["storageClassName"] == ""
