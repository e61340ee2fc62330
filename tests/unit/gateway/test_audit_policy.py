"""The audit policy (services/gateway/auditing/policy.py): kube's policy checker cases as a
table (k8s.io/apiserver/pkg/audit/policy/checker_test.go: the same requests, rules and
expected levels and stages), and the reader's and validator's refusals in kube's words
(reader.go, apis/audit/validation/validation.go)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.gateway.auditing.policy import (
    GroupResources,
    Level,
    Policy,
    PolicyError,
    Rule,
    Stage,
    load_bytes,
    load_file,
    path_matches,
)
from services.gateway.request_info import RequestInfo

TIM = ("tim@k8s.io", ("humans", "developers"))

# checker_test.go's attrs: (username or None, groups, request).
REQUESTS: dict[str, tuple[str | None, tuple[str, ...], RequestInfo]] = {
    "namespaced": (
        *TIM,
        RequestInfo(
            path="/api/v1/namespaces/default/pods/busybox",
            verb="get",
            is_resource_request=True,
            namespace="default",
            version="v1",
            resource="pods",
            name="busybox",
        ),
    ),
    "cluster": (
        *TIM,
        RequestInfo(
            path="/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit",
            verb="get",
            is_resource_request=True,
            group="rbac.authorization.k8s.io",
            version="v1beta1",
            resource="clusterroles",
            name="edit",
        ),
    ),
    "nonResource": (*TIM, RequestInfo(path="/logs/kubelet.log", verb="get")),
    "subresource": (
        *TIM,
        RequestInfo(
            path="/api/v1/namespaces/default/pods/busybox",
            verb="get",
            is_resource_request=True,
            namespace="default",
            version="v1",
            resource="pods",
            subresource="log",
            name="busybox",
        ),
    ),
    "Unauthorized": (
        None,
        (),
        RequestInfo(
            path="/api/v1/namespaces/default/pods/busybox",
            verb="get",
            is_resource_request=True,
            namespace="default",
            version="v1",
            resource="pods",
            name="busybox",
        ),
    ),
}

L = Level
RR = Stage.REQUEST_RECEIVED
RS = Stage.RESPONSE_STARTED
RC = Stage.RESPONSE_COMPLETE

# checker_test.go's rules.
RULES: dict[str, Rule] = {
    "default": Rule(L.METADATA),
    "create": Rule(L.REQUEST, verbs=frozenset({"create"})),
    "tims": Rule(L.METADATA, users=frozenset({"tim@k8s.io"})),
    "humans": Rule(L.METADATA, user_groups=frozenset({"humans"})),
    "serviceAccounts": Rule(L.REQUEST, user_groups=frozenset({"system:serviceaccounts"})),
    "getPods": Rule(
        L.REQUEST_RESPONSE, verbs=frozenset({"get"}), resources=(GroupResources("", ("pods",)),)
    ),
    "getPodLogs": Rule(
        L.REQUEST, verbs=frozenset({"get"}), resources=(GroupResources("", ("pods/log",)),)
    ),
    "getPodWildcardMatching": Rule(
        L.REQUEST, verbs=frozenset({"get"}), resources=(GroupResources("", ("*",)),)
    ),
    "getPodResourceWildcardMatching": Rule(
        L.REQUEST, verbs=frozenset({"get"}), resources=(GroupResources("", ("*/log",)),)
    ),
    "getPodSubResourceWildcardMatching": Rule(
        L.REQUEST, verbs=frozenset({"get"}), resources=(GroupResources("", ("pods/*",)),)
    ),
    "getClusterRoles": Rule(
        L.REQUEST_RESPONSE,
        verbs=frozenset({"get"}),
        resources=(GroupResources("rbac.authorization.k8s.io", ("clusterroles",)),),
        namespaces=frozenset({""}),
    ),
    "getLogs": Rule(L.REQUEST_RESPONSE, verbs=frozenset({"get"}), non_resource_urls=("/logs*",)),
    "getMetrics": Rule(L.REQUEST, verbs=frozenset({"get"}), non_resource_urls=("/metrics",)),
    "clusterRoleEdit": Rule(
        L.REQUEST,
        resources=(
            GroupResources("rbac.authorization.k8s.io", ("clusterroles",), frozenset({"edit"})),
        ),
    ),
    "omit RequestReceived": Rule(L.REQUEST, omit_stages=frozenset({RR})),
    "only audit panic": Rule(L.REQUEST, omit_stages=frozenset({RR, RS, RC})),
}

# testAuditLevel: (request, expected level, rule names in order).
LEVEL_CASES = [
    ("namespaced", L.METADATA, ["default"]),
    ("namespaced", L.NONE, ["create"]),
    ("namespaced", L.METADATA, ["tims"]),
    ("namespaced", L.METADATA, ["humans"]),
    ("namespaced", L.NONE, ["serviceAccounts"]),
    ("namespaced", L.REQUEST_RESPONSE, ["getPods"]),
    ("namespaced", L.NONE, ["getClusterRoles"]),
    ("namespaced", L.NONE, ["getLogs"]),
    ("namespaced", L.NONE, ["getMetrics"]),
    ("namespaced", L.METADATA, ["getMetrics", "serviceAccounts", "default"]),
    ("namespaced", L.REQUEST_RESPONSE, ["getMetrics", "getPods", "default"]),
    ("namespaced", L.REQUEST_RESPONSE, ["getPodLogs", "getPods"]),
    ("cluster", L.METADATA, ["default"]),
    ("cluster", L.NONE, ["create"]),
    ("cluster", L.METADATA, ["tims"]),
    ("cluster", L.METADATA, ["humans"]),
    ("cluster", L.NONE, ["serviceAccounts"]),
    ("cluster", L.NONE, ["getPods"]),
    ("cluster", L.REQUEST_RESPONSE, ["getClusterRoles"]),
    ("cluster", L.REQUEST, ["clusterRoleEdit", "getClusterRoles"]),
    ("cluster", L.NONE, ["getLogs"]),
    ("cluster", L.NONE, ["getMetrics"]),
    ("cluster", L.METADATA, ["getMetrics", "serviceAccounts", "default"]),
    ("cluster", L.REQUEST_RESPONSE, ["getMetrics", "getClusterRoles", "default"]),
    ("cluster", L.NONE, ["getPodLogs", "getPods"]),
    ("nonResource", L.METADATA, ["default"]),
    ("nonResource", L.NONE, ["create"]),
    ("nonResource", L.METADATA, ["tims"]),
    ("nonResource", L.METADATA, ["humans"]),
    ("nonResource", L.NONE, ["serviceAccounts"]),
    ("nonResource", L.NONE, ["getPods"]),
    ("nonResource", L.NONE, ["getClusterRoles"]),
    ("nonResource", L.REQUEST_RESPONSE, ["getLogs"]),
    ("nonResource", L.NONE, ["getMetrics"]),
    ("nonResource", L.METADATA, ["getMetrics", "serviceAccounts", "default"]),
    ("nonResource", L.REQUEST_RESPONSE, ["getLogs", "getClusterRoles", "default"]),
    ("nonResource", L.NONE, ["getPodLogs", "getPods"]),
    ("subresource", L.REQUEST, ["getPodLogs", "getPods"]),
    ("subresource", L.REQUEST, ["getPodWildcardMatching"]),
    ("subresource", L.REQUEST, ["getPodResourceWildcardMatching"]),
    ("subresource", L.REQUEST, ["getPodSubResourceWildcardMatching"]),
    ("Unauthorized", L.NONE, ["tims"]),
    ("Unauthorized", L.METADATA, ["tims", "default"]),
    ("Unauthorized", L.NONE, ["humans"]),
    ("Unauthorized", L.METADATA, ["humans", "default"]),
]

POLICY_STAGES = [frozenset(), frozenset({RR, RS})]  # TestChecker, TestCheckerPolicyOmitStages

# Per-rule omitStages (TestChecker and TestCheckerPolicyOmitStages's own cases):
# (policy stages, request, level, expected stages, rules).
STAGE_CASES = [
    (frozenset(), "namespaced", L.REQUEST, {RR}, ["omit RequestReceived", "getPods", "default"]),
    (frozenset(), "namespaced", L.REQUEST, {RR, RS, RC}, ["only audit panic", "getPods"]),
    (frozenset(), "cluster", L.REQUEST, {RR}, ["omit RequestReceived", "getPods", "default"]),
    (frozenset(), "cluster", L.REQUEST, {RR, RS, RC}, ["only audit panic", "getPods"]),
    (frozenset(), "nonResource", L.REQUEST, {RR}, ["omit RequestReceived", "getPods"]),
    (frozenset(), "nonResource", L.REQUEST, {RR, RS, RC}, ["only audit panic", "getPods"]),
    (frozenset({RR, RS}), "namespaced", L.REQUEST, {RR, RS}, ["omit RequestReceived", "getPods"]),
    (frozenset({RR, RS}), "namespaced", L.REQUEST, {RR, RS, RC}, ["only audit panic"]),
    (frozenset({RR, RS}), "cluster", L.REQUEST, {RR, RS}, ["omit RequestReceived", "getPods"]),
    (frozenset({RR, RS}), "cluster", L.REQUEST, {RR, RS, RC}, ["only audit panic", "getPods"]),
    (frozenset({RR, RS}), "nonResource", L.METADATA, {RR, RS}, ["default", "omit RequestReceived"]),
    (frozenset({RR, RS}), "nonResource", L.REQUEST, {RR, RS, RC}, ["only audit panic"]),
]


def evaluate(request: str, rules: list[str], stages: frozenset[Stage] = frozenset()) -> object:
    username, groups, info = REQUESTS[request]
    policy = Policy(rules=tuple(RULES[name] for name in rules), omit_stages=stages)
    return policy.evaluate(username, groups, info)


@pytest.mark.parametrize("stages", POLICY_STAGES, ids=["no-policy-stages", "policy-stages"])
@pytest.mark.parametrize(("request_name", "level", "rules"), LEVEL_CASES)
def test_the_first_matching_rule_decides(
    request_name: str, level: Level, rules: list[str], stages: frozenset[Stage]
) -> None:
    config = evaluate(request_name, rules, stages)
    assert config.level == level  # type: ignore[attr-defined]
    assert config.omit_stages == stages  # type: ignore[attr-defined]


@pytest.mark.parametrize(("stages", "request_name", "level", "expected", "rules"), STAGE_CASES)
def test_a_rules_stages_join_the_policys(
    stages: frozenset[Stage],
    request_name: str,
    level: Level,
    expected: set[Stage],
    rules: list[str],
) -> None:
    config = evaluate(request_name, rules, stages)
    assert config.level == level  # type: ignore[attr-defined]
    assert config.omit_stages == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy_default", "rule_value", "expected"),
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_a_rule_overrides_the_policys_omit_managed_fields(
    policy_default: bool, rule_value: bool | None, expected: bool
) -> None:
    """TestOmitManagedFields."""
    rule = Rule(L.REQUEST_RESPONSE, verbs=frozenset({"get"}), omit_managed_fields=rule_value)
    policy = Policy(rules=(rule,), omit_managed_fields=policy_default)
    config = policy.evaluate(None, (), RequestInfo(path="", verb="get"))
    assert config.omit_managed_fields is expected


@pytest.mark.parametrize(
    ("path", "spec", "matches"),
    [
        ("/healthz", "*", True),
        ("/healthz", "/healthz", True),
        ("/healthz/etcd", "/healthz*", True),
        ("/healthzfoo", "/healthz*", True),
        ("/healthz", "/healthz/*", False),
        ("/healthz/etcd", "/healthz/*", True),
        ("/metrics", "/healthz*", False),
        ("/api", "/apis", False),
    ],
)
def test_non_resource_paths(path: str, spec: str, matches: bool) -> None:
    assert path_matches(path, spec) is matches


def test_resource_rules_never_match_non_resource_requests_and_the_reverse() -> None:
    by_namespace = Rule(L.METADATA, namespaces=frozenset({""}))
    by_url = Rule(L.METADATA, non_resource_urls=("*",))
    cluster = REQUESTS["cluster"][2]
    path = REQUESTS["nonResource"][2]
    assert Policy(rules=(by_namespace,)).evaluate("a", (), cluster).level == L.METADATA
    assert Policy(rules=(by_namespace,)).evaluate("a", (), path).level == L.NONE
    assert Policy(rules=(by_url,)).evaluate("a", (), cluster).level == L.NONE
    assert Policy(rules=(by_url,)).evaluate("a", (), path).level == L.METADATA


def test_resource_names_narrow_a_group_without_ending_the_search() -> None:
    rule = Rule(
        L.REQUEST,
        resources=(
            GroupResources("", ("configmaps",), frozenset({"other"})),
            GroupResources("", ("pods",)),
        ),
    )
    assert Policy(rules=(rule,)).evaluate("a", (), REQUESTS["namespaced"][2]).level == L.REQUEST


# --- reading ------------------------------------------------------------------------------

GOOD = b"""
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
omitManagedFields: true
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: RequestResponse
    users: ["admin"]
    verbs: ["create"]
    resources:
      - group: ""
        resources: ["configmaps", "pods/log"]
        resourceNames: ["one"]
    namespaces: ["demo"]
    omitStages: ["Panic"]
    omitManagedFields: false
  - level: Metadata
"""


def test_a_policy_file_reads_into_rules() -> None:
    policy = load_bytes(GOOD)
    assert policy.omit_stages == {Stage.REQUEST_RECEIVED}
    assert policy.omit_managed_fields is True
    assert [rule.level for rule in policy.rules] == [L.NONE, L.REQUEST_RESPONSE, L.METADATA]
    second = policy.rules[1]
    assert second.users == {"admin"} and second.verbs == {"create"}
    assert second.resources == (GroupResources("", ("configmaps", "pods/log"), frozenset({"one"})),)
    assert second.namespaces == {"demo"} and second.omit_managed_fields is False
    info = RequestInfo(
        path="/api/v1/namespaces/demo/configmaps",
        verb="create",
        is_resource_request=True,
        namespace="demo",
        version="v1",
        resource="configmaps",
        name="one",
    )
    config = policy.evaluate("admin", (), info)
    assert config.level == L.REQUEST_RESPONSE
    assert config.omit_stages == {Stage.REQUEST_RECEIVED, Stage.PANIC}
    assert config.omit_managed_fields is False


def test_unknown_fields_are_warned_of_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    policy = load_bytes(
        b"apiVersion: audit.k8s.io/v1\nkind: Policy\nextra: 1\n"
        b"rules:\n- level: Metadata\n  foo: 2\n"
    )
    assert policy.rules[0].level == L.METADATA
    assert "falling back to lenient decoding" in caplog.text
    assert 'unknown field "extra"' in caplog.text and 'unknown field "rules[0].foo"' in caplog.text


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "unknown group version field /, Kind= in policy"),
        (b"apiVersion: audit.k8s.io/v1\nkind: Policy\n", "loaded illegal policy with 0 rules"),
        (
            b"apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n",
            "unknown group version field audit.k8s.io/v1beta1, Kind=Policy in policy",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{}]\n",
            "rules[0].level: Required value",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Everything}]\n",
            'rules[0].level: Unsupported value: "Everything": supported values: "None", '
            '"Metadata", "Request", "RequestResponse"',
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\n"
            b"rules: [{level: None, nonResourceURLs: [healthz, '/a*b']}]\n",
            '[rules[0].nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules '
            "must begin with a '/' character, rules[0].nonResourceURLs[1]: Invalid value: "
            "\"/a*b\": non-resource URL wildcards '*' must be the final character of the rule]",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\n"
            b"rules: [{level: None, nonResourceURLs: ['/x'], namespaces: [a]}]\n",
            'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to '
            "both regular resources and non-resource URLs",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\n"
            b"rules: [{level: None, resources: [{group: rbac.authorization.k8s.io/v1}]}]\n",
            'rules[0].resources.group: Invalid value: "rbac.authorization.k8s.io/v1": a '
            "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\n"
            b"rules: [{level: None, resources: [{resourceNames: [x]}]}]\n",
            'rules[0].resources.resourceNames: Invalid value: []string{"x"}: using '
            "resourceNames requires at least one resource",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Never]\n"
            b"rules: [{level: None, omitStages: [Sometimes]}]\n",
            '[omitStages[0]: Invalid value: "Never": allowed stages are RequestReceived,'
            "ResponseStarted,ResponseComplete,Panic, rules[0].omitStages[0]: Invalid value: "
            '"Sometimes": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,'
            "Panic]",
        ),
        (
            b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, verbs: get}]\n",
            "failed decoding: rules[0].verbs: expected a list of strings, got 'get'",
        ),
        (b"apiVersion: [", "failed decoding: "),
    ],
)
def test_a_bad_policy_is_refused_in_kubes_words(document: bytes, message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        load_bytes(document)
    assert str(refused.value).startswith(message), str(refused.value)
    if not message.endswith(": "):
        assert str(refused.value) == message


def test_the_file_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(PolicyError) as refused:
        load_file(missing)
    assert str(refused.value) == (
        f'failed to read file path "{missing}": open {missing}: no such file or directory'
    )
    empty = tmp_path / "policy.yaml"
    empty.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\n")
    with pytest.raises(PolicyError) as refused:
        load_file(empty)
    assert str(refused.value) == f"loaded illegal policy with 0 rules: from file {empty}"
