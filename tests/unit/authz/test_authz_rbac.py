"""RBAC (services/authz/authorization/rbac, rules.py): kube's rule matching as a table
(plugin/pkg/auth/authorizer/rbac/rbac_test.go TestRuleMatches, TestAuthorizer), the
reasons kube gives, the index following its sources, covering (policy_comparator.go) and
the union of authorizers with the privileged group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kapi.user import UserInfo
from services.authz.authorization import (
    AlwaysAllow,
    Attributes,
    Decision,
    Outcome,
    PrivilegedGroups,
    Rules,
    Union,
)
from services.authz.authorization.rbac import RBAC
from services.authz.authorization.rbac.index import PolicyIndex
from services.authz.authorization.rules import PolicyRule, compact, covers, rule_allows

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"


class Objects:
    """One RBAC type's objects, as an informer holds them."""

    def __init__(self, *objs: Obj) -> None:
        self.objs = list(objs)
        self.changed_at = 1
        self.handlers: list[Callable[[str, Obj | None, Obj | None], None]] = []

    def items(self) -> list[Obj]:
        return list(self.objs)

    def on_change(self, handler: Callable[[str, Obj | None, Obj | None], None]) -> None:
        self.handlers.append(handler)

    def add(self, obj: Obj, revision: int) -> None:
        self.objs.append(obj)
        self.changed_at = revision
        for handler in self.handlers:
            handler("ADDED", obj, None)


def rule(verbs: str, groups: str = "", resources: str = "", urls: str = "", names: str = "") -> Obj:
    """kube's newRule: comma-separated lists (an empty string is one empty group)."""
    out: Obj = {"verbs": verbs.split(",")}
    if resources:
        out["apiGroups"] = groups.split(",")
        out["resources"] = resources.split(",")
    if urls:
        out["nonResourceURLs"] = urls.split(",")
    if names:
        out["resourceNames"] = names.split(",")
    return out


def cluster_role(name: str, *rules: Obj, **meta: Any) -> Obj:
    return {"metadata": {"name": name, **meta}, "rules": list(rules)}


def role(namespace: str, name: str, *rules: Obj) -> Obj:
    return {"metadata": {"namespace": namespace, "name": name}, "rules": list(rules)}


def _subjects(subjects: tuple[str, ...]) -> list[Obj]:
    out = []
    for subject in subjects:
        kind, _, name = subject.partition(":")
        if kind == "ServiceAccount":
            namespace, _, name = name.partition(":")
            out.append({"kind": kind, "name": name, "namespace": namespace})
        else:
            out.append({"kind": kind, "name": name, "apiGroup": GROUP})
    return out


def cluster_binding(name: str, role_name: str, *subjects: str) -> Obj:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role_name},
        "subjects": _subjects(subjects),
    }


def binding(namespace: str, name: str, kind: str, role_name: str, *subjects: str) -> Obj:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "roleRef": {"apiGroup": GROUP, "kind": kind, "name": role_name},
        "subjects": _subjects(subjects),
    }


def index(
    *,
    roles: tuple[Obj, ...] = (),
    role_bindings: tuple[Obj, ...] = (),
    cluster_roles: tuple[Obj, ...] = (),
    cluster_role_bindings: tuple[Obj, ...] = (),
) -> PolicyIndex:
    return PolicyIndex(
        Objects(*roles),
        Objects(*role_bindings),
        Objects(*cluster_roles),
        Objects(*cluster_role_bindings),
    )


def user(name: str = "", groups: str = "") -> UserInfo:
    return UserInfo(name, groups=tuple(g for g in groups.split(",") if g))


def resource_request(
    verb: str,
    group: str = "",
    resource: str = "",
    subresource: str = "",
    name: str = "",
) -> dict[str, Any]:
    return {
        "verb": verb,
        "resource_request": True,
        "api_group": group,
        "resource": resource,
        "subresource": subresource,
        "name": name,
    }


def path_request(verb: str, path: str) -> dict[str, Any]:
    return {"verb": verb, "resource_request": False, "path": path}


# --- rule matching: kube's TestRuleMatches, then the rest of evaluation_helpers.go --------

R = resource_request
P = path_request
RULE_CASES: list[tuple[str, PolicyRule, dict[str, Any], bool]] = []


def _cases(name: str, rule_: PolicyRule, *pairs: tuple[dict[str, Any], bool]) -> None:
    RULE_CASES.extend((name, rule_, request, expected) for request, expected in pairs)


_cases(
    "star verb, exact match other",
    PolicyRule(("*",), ("group1",), ("resource1",)),
    (R("verb1", "group1", "resource1"), True),
    (R("verb1", "group2", "resource1"), False),
    (R("verb1", "group1", "resource2"), False),
    (R("verb1", "group2", "resource2"), False),
    (R("verb2", "group1", "resource1"), True),
    (R("verb2", "group2", "resource1"), False),
    (R("verb2", "group1", "resource2"), False),
    (R("verb2", "group2", "resource2"), False),
)
_cases(
    "star group, exact match other",
    PolicyRule(("verb1",), ("*",), ("resource1",)),
    (R("verb1", "group1", "resource1"), True),
    (R("verb1", "group2", "resource1"), True),
    (R("verb1", "group1", "resource2"), False),
    (R("verb1", "group2", "resource2"), False),
    (R("verb2", "group1", "resource1"), False),
    (R("verb2", "group2", "resource1"), False),
    (R("verb2", "group1", "resource2"), False),
    (R("verb2", "group2", "resource2"), False),
)
_cases(
    "star resource, exact match other",
    PolicyRule(("verb1",), ("group1",), ("*",)),
    (R("verb1", "group1", "resource1"), True),
    (R("verb1", "group2", "resource1"), False),
    (R("verb1", "group1", "resource2"), True),
    (R("verb1", "group2", "resource2"), False),
    (R("verb2", "group1", "resource1"), False),
    (R("verb2", "group2", "resource1"), False),
    (R("verb2", "group1", "resource2"), False),
    (R("verb2", "group2", "resource2"), False),
)
_cases(
    "tuple expansion",
    PolicyRule(("verb1", "verb2"), ("group1", "group2"), ("resource1", "resource2")),
    *(
        (R(verb, group, resource), True)
        for verb in ("verb1", "verb2")
        for group in ("group1", "group2")
        for resource in ("resource1", "resource2")
    ),
)
_cases(
    "subresource expansion",
    PolicyRule(("*",), ("*",), ("resource1/subresource1",)),
    (R("verb1", "group1", "resource1", "subresource1"), True),
    (R("verb1", "group2", "resource1", "subresource2"), False),
    (R("verb1", "group1", "resource2", "subresource1"), False),
    (R("verb1", "group2", "resource2", "subresource1"), False),
    (R("verb2", "group1", "resource1", "subresource1"), True),
    (R("verb2", "group2", "resource1", "subresource2"), False),
    (R("verb2", "group1", "resource2", "subresource1"), False),
    (R("verb2", "group2", "resource2", "subresource1"), False),
)
_cases(
    "star nonresource, exact match other",
    PolicyRule(("verb1",), non_resource_urls=("*",)),
    (P("verb1", "/foo"), True),
    (P("verb1", "/foo/bar"), True),
    (P("verb1", "/foo/baz"), True),
    (P("verb1", "/foo/bar/one"), True),
    (P("verb1", "/foo/baz/one"), True),
    (P("verb2", "/foo"), False),
    (P("verb2", "/foo/bar"), False),
    (P("verb2", "/foo/baz"), False),
    (P("verb2", "/foo/bar/one"), False),
    (P("verb2", "/foo/baz/one"), False),
)
_cases(
    "star nonresource subpath",
    PolicyRule(("verb1",), non_resource_urls=("/foo/*",)),
    (P("verb1", "/foo"), False),
    (P("verb1", "/foo/bar"), True),
    (P("verb1", "/foo/baz"), True),
    (P("verb1", "/foo/bar/one"), True),
    (P("verb1", "/foo/baz/one"), True),
    (P("verb1", "/notfoo"), False),
    (P("verb1", "/notfoo/bar"), False),
    (P("verb1", "/notfoo/baz"), False),
    (P("verb1", "/notfoo/bar/one"), False),
    (P("verb1", "/notfoo/baz/one"), False),
)
_cases(
    "star verb, exact nonresource",
    PolicyRule(("*",), non_resource_urls=("/foo", "/foo/bar/one")),
    (P("verb1", "/foo"), True),
    (P("verb1", "/foo/bar"), False),
    (P("verb1", "/foo/baz"), False),
    (P("verb1", "/foo/bar/one"), True),
    (P("verb1", "/foo/baz/one"), False),
    (P("verb2", "/foo"), True),
    (P("verb2", "/foo/bar"), False),
    (P("verb2", "/foo/baz"), False),
    (P("verb2", "/foo/bar/one"), True),
    (P("verb2", "/foo/baz/one"), False),
)
_cases(
    "*/scale: every resource's scale, no resource itself",
    PolicyRule(("get",), ("apps",), ("*/scale",)),
    (R("get", "apps", "deployments", "scale"), True),
    (R("get", "apps", "statefulsets", "scale"), True),
    (R("get", "apps", "deployments"), False),
    (R("get", "apps", "deployments", "status"), False),
    (R("get", "apps", "deployments", "scales"), False),  # the length is part of the match
)
_cases(
    "a resource without its subresources (pods is not pods/log)",
    PolicyRule(("get",), ("",), ("pods",)),
    (R("get", "", "pods"), True),
    (R("get", "", "pods", "log"), False),
)
_cases(
    "a subresource alone (pods/log)",
    PolicyRule(("get",), ("",), ("pods/log",)),
    (R("get", "", "pods", "log"), True),
    (R("get", "", "pods"), False),
    (R("get", "", "pods", "exec"), False),
)
_cases(
    "resourceNames",
    PolicyRule(("get", "update"), ("",), ("configmaps",), ("a", "b")),
    (R("get", "", "configmaps", name="a"), True),
    (R("update", "", "configmaps", name="b"), True),
    (R("get", "", "configmaps", name="c"), False),
    (R("get", "", "configmaps"), False),  # a list names nothing: not allowed by name
)
_cases(
    "a non-resource rule allows no resource, and the other way round",
    PolicyRule(("*",), ("*",), ("*",)),
    (P("get", "/healthz"), False),
    (R("get", "", "pods"), True),
)
_cases(
    "the core group is the empty name, not any group",
    PolicyRule(("get",), ("",), ("*",)),
    (R("get", "", "pods"), True),
    (R("get", "apps", "deployments"), False),
)


@pytest.mark.parametrize(
    ("name", "rule_", "asked", "expected"),
    RULE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(RULE_CASES)],
)
def test_rule_matching(name: str, rule_: PolicyRule, asked: dict[str, Any], expected: bool) -> None:
    assert rule_allows(rule_, **asked) is expected


# --- the authorizer: kube's TestAuthorizer -------------------------------------------------


def attributes(
    user_: str, groups: str, verb: str, resource: str, subresource: str, namespace: str
) -> Attributes:
    return Attributes(
        user=user(user_, groups),
        verb=verb,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
    )


AUTHORIZER_CASES = [
    (
        "a ClusterRole bound in a namespace",
        index(
            cluster_roles=(cluster_role("admin", rule("*", "*", "*", "*")),),
            role_bindings=(
                binding("ns1", "b", "ClusterRole", "admin", "User:admin", "Group:admins"),
            ),
        ),
        [
            attributes("admin", "", "get", "Pods", "", "ns1"),
            attributes("admin", "", "watch", "Pods", "", "ns1"),
            attributes("admin", "group1", "watch", "Foobar", "", "ns1"),
            attributes("joe", "admins", "watch", "Foobar", "", "ns1"),
            attributes("joe", "group1,admins", "watch", "Foobar", "", "ns1"),
        ],
        [
            attributes("admin", "", "GET", "Pods", "", "ns2"),
            attributes("admin", "", "GET", "Nodes", "", ""),
            attributes("admin", "admins", "GET", "Pods", "", "ns2"),
            attributes("admin", "admins", "GET", "Nodes", "", ""),
        ],
    ),
    (
        "non-resource URLs",
        index(
            cluster_roles=(
                cluster_role("non-resource-url-getter", rule("get", urls="/apis")),
                cluster_role("non-resource-url", rule("*", urls="/apis")),
                cluster_role("non-resource-url-prefix", rule("get", urls="/apis/*")),
            ),
            cluster_role_bindings=(
                cluster_binding("b1", "non-resource-url-getter", "User:foo", "Group:bar"),
                cluster_binding("b2", "non-resource-url", "User:admin", "Group:admin"),
                cluster_binding("b3", "non-resource-url-prefix", "User:prefixed", "Group:prefixed"),
            ),
        ),
        [
            Attributes(user("foo"), "get", resource_request=False, path="/apis"),
            Attributes(user("", "bar"), "get", resource_request=False, path="/apis"),
            Attributes(user("admin"), "get", resource_request=False, path="/apis"),
            Attributes(user("", "admin"), "get", resource_request=False, path="/apis"),
            Attributes(user("admin"), "watch", resource_request=False, path="/apis"),
            Attributes(user("", "admin"), "watch", resource_request=False, path="/apis"),
            Attributes(user("prefixed"), "get", resource_request=False, path="/apis/v1"),
            Attributes(user("", "prefixed"), "get", resource_request=False, path="/apis/v1"),
            Attributes(user("prefixed"), "get", resource_request=False, path="/apis/v1/foobar"),
            Attributes(
                user("", "prefixed"), "get", resource_request=False, path="/apis/v1/foorbar"
            ),
        ],
        [
            Attributes(user("foo"), "watch", resource_request=False, path="/apis"),
            Attributes(user("", "bar"), "watch", resource_request=False, path="/apis"),
            Attributes(user("foo"), "get", resource_request=False, path="/api/v1"),
            Attributes(user("", "bar"), "get", resource_request=False, path="/api/v1"),
            Attributes(user("admin"), "get", resource_request=False, path="/api/v1"),
            Attributes(user("", "admin"), "get", resource_request=False, path="/api/v1"),
            Attributes(user("prefixed"), "get", resource_request=False, path="/api/v1"),
            Attributes(user("", "prefixed"), "get", resource_request=False, path="/api/v1"),
        ],
    ),
    (
        "a resource is not its subresources",
        index(
            cluster_roles=(cluster_role("admin", rule("*", "*", "pods")),),
            role_bindings=(
                binding("ns1", "b", "ClusterRole", "admin", "User:admin", "Group:admins"),
            ),
        ),
        [attributes("admin", "", "get", "pods", "", "ns1")],
        [attributes("admin", "", "get", "pods", "status", "ns1")],
    ),
    (
        "a subresource is not its resource",
        index(
            cluster_roles=(cluster_role("admin", rule("*", "*", "pods/status")),),
            role_bindings=(
                binding("ns1", "b", "ClusterRole", "admin", "User:admin", "Group:admins"),
            ),
        ),
        [attributes("admin", "", "get", "pods", "status", "ns1")],
        [attributes("admin", "", "get", "pods", "", "ns1")],
    ),
    (
        "ServiceAccount subjects: their own namespace, or the binding's when unnamed",
        index(
            roles=(role("ns1", "reader", rule("get", "", "configmaps")),),
            cluster_roles=(cluster_role("lister", rule("list", "", "pods")),),
            role_bindings=(
                binding("ns1", "b", "Role", "reader", "ServiceAccount::robot"),
                binding("ns1", "c", "ClusterRole", "lister", "ServiceAccount:ns2:other"),
            ),
        ),
        [
            attributes("system:serviceaccount:ns1:robot", "", "get", "configmaps", "", "ns1"),
            attributes("system:serviceaccount:ns2:other", "", "list", "pods", "", "ns1"),
        ],
        [
            attributes("system:serviceaccount:ns2:robot", "", "get", "configmaps", "", "ns1"),
            attributes("system:serviceaccount:ns1:robot", "", "get", "configmaps", "", "ns2"),
            attributes("robot", "", "get", "configmaps", "", "ns1"),
            attributes("system:serviceaccount:ns2:other", "", "list", "pods", "", "ns2"),
        ],
    ),
    (
        "a Role is read in the binding's namespace",
        index(
            roles=(role("ns2", "reader", rule("get", "", "configmaps")),),
            role_bindings=(binding("ns1", "b", "Role", "reader", "User:bob"),),
        ),
        [],
        [attributes("bob", "", "get", "configmaps", "", "ns1")],
    ),
]


@pytest.mark.parametrize(
    ("name", "policy", "allowed", "refused"),
    AUTHORIZER_CASES,
    ids=[case[0] for case in AUTHORIZER_CASES],
)
def test_rbac_authorizer(
    name: str, policy: PolicyIndex, allowed: list[Attributes], refused: list[Attributes]
) -> None:
    rbac = RBAC(policy)
    for each in allowed:
        assert rbac.authorize(each).decision == Decision.ALLOW, each
    for each in refused:
        # RBAC never denies: it has no opinion, and the union says no.
        assert rbac.authorize(each).decision == Decision.NO_OPINION, each


def test_reasons_name_the_binding_that_allowed() -> None:
    policy = index(
        roles=(role("ns", "reader", rule("get", "", "configmaps")),),
        cluster_roles=(cluster_role("viewer", rule("get", "", "pods")),),
        cluster_role_bindings=(cluster_binding("view-all", "viewer", "Group:devs"),),
        role_bindings=(binding("ns", "robot-reads", "Role", "reader", "ServiceAccount::robot"),),
    )
    rbac = RBAC(policy)
    assert rbac.authorize(attributes("bob", "devs", "get", "pods", "", "")).reason == (
        'RBAC: allowed by ClusterRoleBinding "view-all" of ClusterRole "viewer" to Group "devs"'
    )
    robot = attributes("system:serviceaccount:ns:robot", "", "get", "configmaps", "", "ns")
    assert rbac.authorize(robot).reason == (
        'RBAC: allowed by RoleBinding "robot-reads/ns" of Role "reader" to ServiceAccount '
        '"robot/ns"'
    )


def test_a_missing_role_is_the_reason_of_no_opinion() -> None:
    policy = index(
        cluster_role_bindings=(cluster_binding("b", "gone", "User:bob"),),
        role_bindings=(binding("ns", "r", "Role", "also-gone", "User:bob"),),
    )
    outcome = RBAC(policy).authorize(attributes("bob", "", "get", "pods", "", "ns"))
    assert outcome == Outcome(
        Decision.NO_OPINION,
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'role.rbac.authorization.k8s.io "also-gone" not found]',
    )


def test_the_index_follows_its_sources() -> None:
    roles = Objects()
    bindings = Objects()
    policy = PolicyIndex(Objects(), bindings, roles, Objects())
    changes: list[int] = []
    policy.on_change(lambda: changes.append(policy.revision))
    rbac = RBAC(policy)
    request = attributes("bob", "", "get", "pods", "", "ns")
    assert not rbac.authorize(request).allowed
    roles.add(cluster_role("viewer", rule("get", "", "pods")), 7)
    bindings.add(binding("ns", "b", "ClusterRole", "viewer", "User:bob"), 9)
    assert rbac.authorize(request).allowed
    assert changes == [7, 9]


def test_rules_for_lists_resource_and_non_resource_rules() -> None:
    policy = index(
        cluster_roles=(
            cluster_role("discovery", rule("get", urls="/api,/api/*")),
            cluster_role("viewer", rule("get,list", "", "pods")),
        ),
        cluster_role_bindings=(cluster_binding("d", "discovery", "Group:system:authenticated"),),
        role_bindings=(
            binding("ns", "v", "ClusterRole", "viewer", "User:bob"),
            binding("ns", "x", "Role", "gone", "User:bob"),
        ),
    )
    rules = RBAC(policy).rules_for(user("bob", "system:authenticated"), "ns")
    assert rules == Rules(
        resource_rules=(PolicyRule(("get", "list"), ("",), ("pods",)),),
        non_resource_rules=(PolicyRule(("get",), non_resource_urls=("/api", "/api/*")),),
        errors=('role.rbac.authorization.k8s.io "gone" not found',),
    )
    # Another namespace's bindings do not count.
    elsewhere = RBAC(policy).rules_for(user("bob", "system:authenticated"), "other")
    assert elsewhere.resource_rules == ()


# --- the union, the privileged group ----------------------------------------------------


def test_system_masters_may_do_anything_with_no_reason() -> None:
    union = Union([PrivilegedGroups(), RBAC(index())])
    admin = Attributes(user("root", "system:masters"), "delete", resource="nodes")
    assert union.authorize(admin) == Outcome(Decision.ALLOW)
    nobody = Attributes(user("bob"), "delete", resource="nodes")
    assert union.authorize(nobody) == Outcome(Decision.NO_OPINION)


def test_the_zero_decision_denies() -> None:
    assert Decision(0) == Decision.DENY
    assert not Outcome().allowed


def test_always_allow() -> None:
    assert AlwaysAllow().authorize(Attributes(user("x"), "get")).allowed
    assert AlwaysAllow().rules_for(user("x"), "ns").resource_rules == (
        PolicyRule(("*",), ("*",), ("*",)),
    )


# --- covering: who may grant what (policy_comparator.go) ---------------------------------


@pytest.mark.parametrize(
    ("owner", "servant", "missing"),
    [
        ([PolicyRule(("*",), ("*",), ("*",))], [PolicyRule(("get",), ("",), ("pods",))], []),
        (
            [PolicyRule(("get",), ("",), ("pods",))],
            [PolicyRule(("get", "list"), ("",), ("pods",))],
            [PolicyRule(("list",), ("",), ("pods",))],
        ),
        (
            [PolicyRule(("get",), ("apps",), ("*/scale",))],
            [PolicyRule(("get",), ("apps",), ("deployments/scale",))],
            [],
        ),
        (
            [PolicyRule(("get",), ("apps",), ("*/scale",))],
            [PolicyRule(("get",), ("apps",), ("deployments",))],
            [PolicyRule(("get",), ("apps",), ("deployments",))],
        ),
        (
            [PolicyRule(("get",), ("",), ("configmaps",), ("a",))],
            [PolicyRule(("get",), ("",), ("configmaps",))],
            [PolicyRule(("get",), ("",), ("configmaps",))],
        ),
        (
            [PolicyRule(("get",), ("",), ("configmaps",))],
            [PolicyRule(("get",), ("",), ("configmaps",), ("a", "b"))],
            [],
        ),
        (
            [PolicyRule(("get",), non_resource_urls=("/api/*",))],
            [PolicyRule(("get",), non_resource_urls=("/api/v1", "/apis"))],
            [PolicyRule(("get",), non_resource_urls=("/apis",))],
        ),
    ],
)
def test_covers(
    owner: list[PolicyRule], servant: list[PolicyRule], missing: list[PolicyRule]
) -> None:
    ok, found = covers(owner, servant)
    assert (ok, found) == (not missing, missing)


def test_compact_merges_verbs_of_one_resource() -> None:
    rules = [
        PolicyRule(("get",), ("",), ("pods",)),
        PolicyRule(("list",), ("",), ("pods",)),
        PolicyRule(("get",), ("",), ("pods",), ("a",)),
    ]
    assert compact(rules) == [
        PolicyRule(("get",), ("",), ("pods",), ("a",)),
        PolicyRule(("get", "list"), ("",), ("pods",)),
    ]
    assert PolicyRule(("get", "list"), ("",), ("pods",)).compact_string() == (
        '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}'
    )
