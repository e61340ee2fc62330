"""Admission matching (services/authz/admission/matching.py): kube's rule matcher
(webhook/predicates/rules/rules.go), namespace and object selectors, exempt kinds."""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors
from kapi.user import UserInfo
from services.authz.admission import Attributes, Served
from services.authz.admission.matching import Criteria, Rule, exempt

Obj = dict[str, Any]


def attrs(
    operation: str = "CREATE",
    *,
    group: str = "",
    version: str = "v1",
    kind: str = "ConfigMap",
    resource: str = "configmaps",
    subresource: str = "",
    namespace: str = "ns",
    name: str = "c",
    obj: Obj | None = None,
    old: Obj | None = None,
) -> Attributes:
    return Attributes(
        operation=operation,
        user=UserInfo("alice"),
        group=group,
        version=version,
        kind=kind,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        object=obj,
        old_object=old,
    )


def rule(**overrides: Any) -> Rule:
    base = {
        "operations": ["CREATE"],
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "resources": ["configmaps"],
    }
    return Rule.from_json({**base, **overrides})


@pytest.mark.parametrize(
    ("the_rule", "request_attributes", "matches"),
    [
        (rule(), attrs(), True),
        (rule(operations=["*"]), attrs("DELETE"), True),
        (rule(), attrs("UPDATE"), False),
        (rule(apiGroups=["*"]), attrs(group="apps", resource="deployments"), False),
        (rule(resources=["*"]), attrs(resource="secrets"), True),
        (rule(resources=["*"]), attrs(resource="pods", subresource="status"), False),
        (rule(resources=["*/*"]), attrs(resource="pods", subresource="status"), True),
        (rule(resources=["pods/status"]), attrs(resource="pods", subresource="status"), True),
        (rule(resources=["pods/*"]), attrs(resource="pods", subresource="exec"), True),
        (rule(resources=["*/scale"]), attrs(resource="deployments", subresource="scale"), True),
        (rule(resources=["pods"]), attrs(resource="pods", subresource="status"), False),
        (rule(apiVersions=["v2"]), attrs(), False),
        (rule(scope="Namespaced"), attrs(), True),
        (rule(scope="Cluster"), attrs(), False),
        (rule(scope="Cluster", resources=["namespaces"]), attrs(resource="namespaces"), True),
        (
            rule(scope="Namespaced", resources=["namespaces"]),
            attrs(resource="namespaces", namespace="x"),
            False,
        ),
        (rule(resourceNames=["c"]), attrs(), True),
        (rule(resourceNames=["d"]), attrs(), False),
    ],
)
def test_rules(the_rule: Rule, request_attributes: Attributes, matches: bool) -> None:
    assert the_rule.matches(request_attributes) is matches


class Namespaces:
    def __init__(self, **labels: dict[str, str]) -> None:
        self.labels = labels

    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        found = self.labels.get(name)
        return None if found is None else {"metadata": {"name": name, "labels": found}}


def criteria(**overrides: Any) -> Criteria:
    spec: dict[str, Any] = {
        "rules": [
            {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}
        ],
        "namespace_selector": {},
        "object_selector": {},
        "match_policy": "Equivalent",
        **overrides,
    }
    return Criteria.build(**spec)


async def test_selectors_and_exclusions() -> None:
    namespaces = Namespaces(ns={"env": "prod"}, dev={"env": "dev"})
    prod_only = criteria(namespace_selector={"matchLabels": {"env": "prod"}})
    assert await prod_only.matches(attrs(), namespaces)
    assert not await prod_only.matches(attrs(namespace="dev"), namespaces)
    # Cluster-scoped objects are never exempted by a namespace selector...
    assert await prod_only.matches(attrs(namespace="", resource="nodes"), namespaces)
    # ...but a Namespace is matched by its own labels.
    ns_obj = {"metadata": {"name": "x", "labels": {"env": "dev"}}}
    assert not await prod_only.matches(
        attrs(resource="namespaces", namespace="", obj=ns_obj), namespaces
    )
    with pytest.raises(errors.StatusError) as missing:
        await prod_only.matches(attrs(namespace="gone"), namespaces)
    assert missing.value.code == 404
    labelled = criteria(
        object_selector={"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    )
    assert not await labelled.matches(attrs(obj={"metadata": {}}), namespaces)
    # The old object's labels count too (an update removing the label is still seen).
    assert await labelled.matches(
        attrs("UPDATE", obj={"metadata": {}}, old={"metadata": {"labels": {"app": "a"}}}),
        namespaces,
    )
    excluded = criteria(
        exclude=[
            {"operations": ["*"], "apiGroups": [""], "apiVersions": ["*"], "resources": ["secrets"]}
        ]
    )
    assert not await excluded.matches(attrs(resource="secrets"), namespaces)
    assert await excluded.matches(attrs(), namespaces)


CRONTABS = (
    Served("stable.example.com", "v1", "crontabs", "CronTab"),
    Served("stable.example.com", "v1beta1", "crontabs", "CronTab"),
)
EVENTS = (Served("", "v1", "events", "Event"), Served("events.k8s.io", "v1", "events", "Event"))


def crontab_request(version: str = "v1beta1") -> Attributes:
    request = attrs(group="stable.example.com", version=version, kind="CronTab")
    request.resource = "crontabs"
    request.equivalents = CRONTABS
    return request


def rules_for(group: str, *versions: str, resource: str = "crontabs") -> list[Obj]:
    return [
        {
            "operations": ["*"],
            "apiGroups": [group],
            "apiVersions": list(versions),
            "resources": [resource],
        }
    ]


@pytest.mark.parametrize(
    ("rules", "match_policy", "request_attributes", "seen_as"),
    [
        # A rule naming the request's own version: seen as itself.
        (rules_for("stable.example.com", "v1beta1"), "Equivalent", crontab_request(), CRONTABS[1]),
        # Another served version: seen as it (generic/webhook.go ShouldCallHook).
        (rules_for("stable.example.com", "v1"), "Equivalent", crontab_request(), CRONTABS[0]),
        (rules_for("stable.example.com", "v1"), "Exact", crontab_request(), None),
        # A version not served is no equivalent.
        (rules_for("stable.example.com", "v2"), "Equivalent", crontab_request(), None),
        # The first rule's equivalent, in the mapper's order.
        (rules_for("stable.example.com", "v2", "v1"), "Equivalent", crontab_request(), CRONTABS[0]),
    ],
)
async def test_equivalent_match_policy_sees_the_request_as_a_served_version(
    rules: list[Obj], match_policy: str, request_attributes: Attributes, seen_as: Served | None
) -> None:
    chosen = await criteria(rules=rules, match_policy=match_policy).select(
        request_attributes, Namespaces()
    )
    assert chosen == seen_as


async def test_an_event_is_seen_as_an_events_k8s_io_event() -> None:
    request = attrs(kind="Event", resource="events")
    request.equivalents = EVENTS
    rules = rules_for("events.k8s.io", "v1", resource="events")
    assert await criteria(rules=rules).select(request, Namespaces()) == EVENTS[1]
    request.equivalents = ()  # a resource served once has no equivalent
    assert await criteria(rules=rules).select(request, Namespaces()) is None


async def test_exclusions_match_the_request_itself_only() -> None:
    """policy/matching/matching.go: excludeResourceRules are matched exactly."""
    excluded = Criteria.build(
        rules=rules_for("stable.example.com", "*"),
        exclude=rules_for("stable.example.com", "v1"),
        namespace_selector=None,
        object_selector=None,
        match_policy="Equivalent",
    )
    assert await excluded.select(crontab_request(), Namespaces()) == CRONTABS[1]
    assert await excluded.select(crontab_request("v1"), Namespaces()) is None


async def test_a_bad_selector_is_a_configuration_error() -> None:
    broken = criteria(object_selector={"matchExpressions": [{"key": "a", "operator": "Near"}]})
    with pytest.raises(ValueError, match='"Near" is not a valid label selector operator'):
        await broken.matches(attrs(), Namespaces())


def test_admission_configuration_is_exempt() -> None:
    group = "admissionregistration.k8s.io"
    assert exempt(attrs(group=group, kind="ValidatingAdmissionPolicy"))
    assert exempt(attrs(group=group, kind="MutatingWebhookConfiguration"))
    assert not exempt(attrs())


def test_the_rules_verdict_is_kept_per_request_shape() -> None:
    """``selects`` remembers its verdict per request shape; names count only where a
    rule lists resourceNames, operations and scope always."""
    named = criteria(
        rules=[
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
                "resourceNames": ["c"],
            }
        ]
    )
    for _ in range(2):  # the second round is answered from what was kept
        assert named.selects(attrs(name="c"))
        assert not named.selects(attrs(name="d"))
        assert not named.selects(attrs("UPDATE", name="c"))
    cluster_only = criteria(
        rules=[
            {
                "operations": ["*"],
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "resources": ["*"],
                "scope": "Cluster",
            }
        ]
    )
    for _ in range(2):
        assert not cluster_only.selects(attrs())
        assert cluster_only.selects(attrs(namespace="", resource="nodes"))


def test_a_validating_webhook_may_act_only_where_its_rules_select() -> None:
    """A webhook for pods does not hold back the validating phase of a ConfigMap write
    (``Chain.validating_for``): its rules are looked at without calling it."""
    from services.authz.admission.webhooks.dispatch import ValidatingWebhooks

    class Configurations:
        changed_at = 1

        def items(self) -> list[Obj]:
            hook = {
                "name": "pods.example.com",
                "clientConfig": {"url": "https://127.0.0.1:1/"},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
            return [{"metadata": {"name": "pods", "resourceVersion": "1"}, "webhooks": [hook]}]

    hooks = ValidatingWebhooks(
        configurations=Configurations(),
        caller=None,  # type: ignore[arg-type]  # never called here
        namespaces=Namespaces(),
    )
    assert hooks.active()
    assert hooks.may_act(attrs(resource="pods", kind="Pod"))
    assert not hooks.may_act(attrs())
