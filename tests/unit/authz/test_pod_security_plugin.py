"""The PodSecurity plugin in process (services/authz/admission/pod_security): namespace
label validation, existing pods' warnings, version pinning, exemptions, pod controllers —
each as k8s.io/pod-security-admission 1.32's admission.go answers."""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors, metrics
from kapi.user import UserInfo
from services.authz.admission import Attributes, Chain
from services.authz.admission.pod_security import configuration, existing_pods
from services.authz.admission.pod_security.plugin import PodSecurity
from services.authz.admission.pod_security.policy import LevelVersion, Policy
from services.authz.metrics import PodSecurityRecorder

Obj = dict[str, Any]
P = "pod-security.kubernetes.io/"


class Namespaces:
    def __init__(self, **labels: dict[str, str]) -> None:
        self.items = {n: {"metadata": {"name": n, "labels": ls}} for n, ls in labels.items()}

    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        return self.items.get(name)

    def labelled(self) -> bool:
        return any(k.startswith(P) for ns in self.items.values() for k in ns["metadata"]["labels"])


class Pods:
    def __init__(self, pods: list[Obj], *, fail: bool = False) -> None:
        self.pods = pods
        self.fail = fail
        self.pages = 0

    async def page(
        self, namespace: str, *, limit: int, continue_token: str
    ) -> tuple[list[Obj], str, int | None]:
        if self.fail:
            raise errors.service_unavailable("storage is down")
        self.pages += 1
        start = int(continue_token or 0)
        items = self.pods[start : start + limit]
        end = start + len(items)
        more = end < len(self.pods)
        return items, str(end) if more else "", len(self.pods) - end if more else None


def pod(name: str, *, privileged: bool = False, owner: str = "", **spec: Any) -> Obj:
    container: Obj = {"name": "c", "image": "nginx"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    meta: Obj = {"name": name, "namespace": "ns"}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True, "name": owner}]
    return {"metadata": meta, "spec": {"containers": [container], **spec}}


def attrs(
    resource: str,
    obj: Obj | None,
    old: Obj | None = None,
    *,
    operation: str = "CREATE",
    group: str = "",
    kind: str = "Pod",
    namespace: str = "ns",
    user: str = "alice",
    subresource: str = "",
) -> Attributes:
    return Attributes(
        operation=operation,
        user=UserInfo(user),
        group=group,
        version="v1",
        kind=kind,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=((obj or old or {}).get("metadata") or {}).get("name", ""),
        object=obj,
        old_object=old,
    )


def namespace(name: str, **labels: str) -> Obj:
    return {
        "metadata": {
            "name": name,
            "labels": {P + k.replace("_", "-"): v for k, v in labels.items()},
        }
    }


def ns_attrs(new: Obj, old: Obj | None = None) -> Attributes:
    return attrs(
        "namespaces",
        new,
        old,
        operation="UPDATE" if old is not None else "CREATE",
        kind="Namespace",
        namespace="",
    )


RESTRICTED_PLAIN = (
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")'
)
PRIVILEGED = 'privileged (container "c" must not set securityContext.privileged=true)'


# --- 1. namespace labels ------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "message", "causes"),
    [
        (
            {"enforce": "strict"},
            'Namespace "x" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
            'Invalid value: "strict": must be one of privileged, baseline, restricted',
            [("metadata.labels[pod-security.kubernetes.io/enforce]",
              'Invalid value: "strict": must be one of privileged, baseline, restricted')],
        ),
        (
            {"warn_version": "1.25", "audit": "nope"},
            'Namespace "x" is invalid: [metadata.labels[pod-security.kubernetes.io/audit]: '
            'Invalid value: "nope": must be one of privileged, baseline, restricted, '
            "metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "
            '"1.25": must be "latest" or "v1.x"]',
            [("metadata.labels[pod-security.kubernetes.io/audit]",
              'Invalid value: "nope": must be one of privileged, baseline, restricted'),
             ("metadata.labels[pod-security.kubernetes.io/warn-version]",
              'Invalid value: "1.25": must be "latest" or "v1.x"')],
        ),
    ],
)  # fmt: skip
async def test_invalid_labels_refused_on_create(
    labels: dict[str, str], message: str, causes: list[tuple[str, str]]
) -> None:
    plugin = PodSecurity(Namespaces())
    with pytest.raises(errors.StatusError) as caught:
        await plugin.admit(ns_attrs(namespace("x", **labels)))
    err = caught.value
    assert (err.code, err.reason, err.message) == (422, "Invalid", message)
    assert err.details is not None
    assert err.details["kind"] == "Namespace" and err.details["name"] == "x"
    assert [(c["field"], c["message"]) for c in err.details["causes"]] == causes
    assert {c["reason"] for c in err.details["causes"]} == {"FieldValueInvalid"}


async def test_update_refuses_only_changed_invalid_labels() -> None:
    plugin = PodSecurity(Namespaces())
    old = namespace("x", enforce="bogus")
    # The same bad label as before (another label changed): allowed, as kube.
    await plugin.admit(ns_attrs({**old, "metadata": {**old["metadata"], "annotations": {}}}, old))
    with pytest.raises(errors.StatusError) as caught:
        await plugin.admit(ns_attrs(namespace("x", enforce="bogus2"), old))
    assert caught.value.code == 422
    # Fixing the label is allowed.
    await plugin.admit(ns_attrs(namespace("x", enforce="baseline"), old))


async def test_valid_versions_accepted() -> None:
    plugin = PodSecurity(Namespaces())
    for version in ("latest", "v1.0", "v1.25", "v1.99"):
        await plugin.admit(ns_attrs(namespace("x", enforce="restricted", enforce_version=version)))
    for version in ("v1.01", "v2.0", "1.25", "v1.x", ""):
        with pytest.raises(errors.StatusError):
            await plugin.admit(ns_attrs(namespace("x", enforce_version=version)))


async def test_namespace_writes_are_wanted_while_idle() -> None:
    plugin = PodSecurity(Namespaces())
    assert not plugin.active()
    chain = Chain(mutating=[], validating=[plugin])
    with pytest.raises(errors.StatusError):
        await chain.run_validating(ns_attrs(namespace("x", enforce="nope")))
    # A pod while idle: nothing is evaluated.
    await chain.run_validating(attrs("pods", pod("p", privileged=True)))


# --- 2. existing pods -----------------------------------------------------------------


async def test_existing_pods_warned_when_enforce_gets_stricter() -> None:
    pods = Pods(
        [
            pod("web-2", privileged=True, owner="rs1"),
            pod("web-1", privileged=True, owner="rs1"),
            pod("plain"),
            pod("zz", privileged=True, hostPID=True),
        ]
    )
    plugin = PodSecurity(Namespaces(), pods)
    request = ns_attrs(namespace("ns", enforce="restricted"), namespace("ns"))
    await plugin.admit(request)
    reasons = (
        "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
        "seccompProfile"
    )
    assert request.warnings == [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        f"plain: {reasons}",
        f"web-1 (and 1 other pod): privileged, {reasons}",
        f"zz: host namespaces, privileged, {reasons}",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"enforce": "restricted"}, {"enforce": "restricted"}),  # unchanged
        ({"enforce": "restricted"}, {"enforce": "baseline"}),  # relaxed, same version
        ({}, {"enforce": "privileged"}),  # privileged
        ({"enforce": "baseline"}, {"enforce": "baseline", "audit": "restricted"}),
    ],
)
async def test_existing_pods_not_checked(old: dict[str, str], new: dict[str, str]) -> None:
    pods = Pods([pod("p", privileged=True)])
    request = ns_attrs(namespace("ns", **new), namespace("ns", **old))
    await PodSecurity(Namespaces(), pods).admit(request)
    assert request.warnings == [] and pods.pages == 0


async def test_existing_pods_checked_when_version_changes() -> None:
    pods = Pods([pod("p", privileged=True)])
    request = ns_attrs(
        namespace("ns", enforce="baseline", enforce_version="v1.20"),
        namespace("ns", enforce="restricted"),
    )
    await PodSecurity(Namespaces(), pods).admit(request)
    assert request.warnings == [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level '
        '"baseline:v1.20"',
        "p: privileged",
    ]


async def test_existing_pods_limits_and_failures() -> None:
    many = Pods([pod(f"p{i:03}", privileged=True) for i in range(12)])
    request = ns_attrs(namespace("ns", enforce="baseline"), namespace("ns"))
    warnings = await existing_pods.evaluate(
        many, "ns", LevelVersion("baseline"), clock=lambda: 0.0, max_pods=5
    )
    assert warnings == [
        "new PodSecurity enforce level only checked against the first 5 of 12 existing pods",
        'existing pods in namespace "ns" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "p000 (and 4 other pods): privileged",
    ]
    # Out of time after the first pod: kube stops there and says so.
    ticks = iter([0.0, 5.0])  # the deadline, then after the first pod
    warnings = await existing_pods.evaluate(
        Pods([pod("a", privileged=True), pod("b")]),
        "ns",
        LevelVersion("baseline"),
        clock=lambda: next(ticks, 5.0),
    )
    assert warnings[0] == (
        "new PodSecurity enforce level only checked against the first 1 of 2 existing pods"
    )
    await PodSecurity(Namespaces(), Pods([], fail=True)).admit(request)
    assert request.warnings == [existing_pods.LIST_FAILED]


# --- 4. versions and annotations ----------------------------------------------------


async def test_enforce_version_pins_the_checks() -> None:
    root = pod("root")
    root["spec"]["containers"][0]["securityContext"] = {
        "runAsUser": 0,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pinned = Namespaces(ns={P + "enforce": "restricted", P + "enforce-version": "v1.22"})
    request = attrs("pods", root)
    await PodSecurity(pinned).admit(request)
    assert request.audit_annotations == {P + "enforce-policy": "restricted:v1.22"}
    latest = Namespaces(ns={P + "enforce": "restricted", P + "enforce-version": "v1.40"})
    with pytest.raises(errors.StatusError) as caught:
        await PodSecurity(latest).admit(attrs("pods", root))
    assert caught.value.message == (
        'pods "root" is forbidden: violates PodSecurity "restricted:v1.40": runAsUser=0 '
        '(container "c" must not set runAsUser=0)'
    )


async def test_enforce_audit_warn_annotations() -> None:
    labels = {P + "enforce": "baseline", P + "audit": "restricted", P + "warn": "restricted"}
    request = attrs("pods", pod("p"))
    await PodSecurity(Namespaces(ns=labels)).admit(request)
    assert request.audit_annotations == {
        P + "enforce-policy": "baseline:latest",
        P
        + "audit-violations": f'would violate PodSecurity "restricted:latest": {RESTRICTED_PLAIN}',
    }
    assert request.warnings == [
        f'would violate PodSecurity "restricted:latest": {RESTRICTED_PLAIN}'
    ]


async def test_refused_pod_gets_no_warning_and_warn_follows_enforce() -> None:
    labels = {P + "enforce": "baseline"}
    request = attrs("pods", pod("p", privileged=True))
    with pytest.raises(errors.StatusError) as caught:
        await PodSecurity(Namespaces(ns=labels)).admit(request)
    assert (caught.value.code, caught.value.reason) == (403, "Forbidden")
    assert caught.value.message == (
        f'pods "p" is forbidden: violates PodSecurity "baseline:latest": {PRIVILEGED}'
    )
    assert request.warnings == []
    # warn defaults to an explicit, stricter enforce: a Deployment is warned.
    deployment = {
        "metadata": {"name": "d"},
        "spec": {"template": {"metadata": {}, "spec": pod("x", privileged=True)["spec"]}},
    }
    request = attrs("deployments", deployment, group="apps", kind="Deployment")
    await PodSecurity(Namespaces(ns=labels)).admit(request)
    assert request.warnings == [f'would violate PodSecurity "baseline:latest": {PRIVILEGED}']


async def test_invalid_namespace_labels_fail_closed_for_enforce() -> None:
    labels = {P + "enforce": "bogus"}
    request = attrs("pods", pod("p"))
    with pytest.raises(errors.StatusError) as caught:
        await PodSecurity(Namespaces(ns=labels)).admit(request)
    assert 'violates PodSecurity "restricted:latest"' in caught.value.message
    assert request.audit_annotations[P + "error"] == (
        "Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: "
        'Invalid value: "bogus": must be one of privileged, baseline, restricted'
    )


async def test_pod_updates_evaluated_only_when_significant() -> None:
    labels = {P + "enforce": "baseline"}
    plugin = PodSecurity(Namespaces(ns=labels))
    old = pod("p", privileged=True)
    relabelled = {**old, "metadata": {**old["metadata"], "labels": {"a": "b"}}}
    await plugin.admit(attrs("pods", relabelled, old, operation="UPDATE"))
    new_image = pod("p", privileged=True)
    new_image["spec"]["containers"][0]["image"] = "nginx:2"
    with pytest.raises(errors.StatusError):
        await plugin.admit(attrs("pods", new_image, old, operation="UPDATE"))
    # status and the other ignored subresources are never evaluated.
    await plugin.admit(attrs("pods", old, old, operation="UPDATE", subresource="status"))


async def test_fully_privileged_pod_annotated() -> None:
    request = attrs("pods", pod("p", privileged=True))
    await PodSecurity(Namespaces(ns={P + "enforce": "privileged"})).admit(request)
    assert request.audit_annotations == {P + "enforce-policy": "privileged:latest"}


# --- 3. exemptions ---------------------------------------------------------------------

CONFIG = configuration.from_object(
    {
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "baseline", "warn": "restricted"},
        "exemptions": {
            "usernames": ["system:serviceaccount:kube-system:ci"],
            "namespaces": ["ops"],
            "runtimeClasses": ["kata"],
        },
    }
)


@pytest.mark.parametrize(
    ("request_kw", "spec", "reason"),
    [
        ({"namespace": "ops"}, {}, "namespace"),
        ({"user": "system:serviceaccount:kube-system:ci"}, {}, "user"),
        ({}, {"runtimeClassName": "kata"}, "runtimeClass"),
    ],
)
async def test_exemptions_annotated(request_kw: Obj, spec: Obj, reason: str) -> None:
    plugin = PodSecurity(Namespaces(ns={}, ops={}), configuration=CONFIG)
    assert plugin.active()  # non-privileged defaults: always on
    request = attrs("pods", pod("p", privileged=True, **spec), **request_kw)
    await plugin.admit(request)
    assert request.audit_annotations == {P + "exempt": reason}
    assert request.warnings == []


async def test_defaults_apply_without_labels() -> None:
    plugin = PodSecurity(Namespaces(ns={}), configuration=CONFIG)
    with pytest.raises(errors.StatusError) as caught:
        await plugin.admit(attrs("pods", pod("p", privileged=True)))
    assert 'violates PodSecurity "baseline:latest"' in caught.value.message
    request = attrs("pods", pod("p"))
    await plugin.admit(request)
    assert request.warnings == [
        f'would violate PodSecurity "restricted:latest": {RESTRICTED_PLAIN}'
    ]


async def test_exempt_namespace_labels_warned_as_ignored() -> None:
    plugin = PodSecurity(Namespaces(), Pods([pod("p", privileged=True)]), configuration=CONFIG)
    request = ns_attrs(namespace("ops", enforce="restricted", audit="baseline"))
    await plugin.admit(request)
    assert request.warnings == [
        'namespace "ops" is exempt from Pod Security, and the policy '
        "(enforce=restricted:latest, audit=baseline:latest) will be ignored"
    ]
    # An update making enforce stricter warns the same, and checks no pods.
    request = ns_attrs(namespace("ops", enforce="restricted"), namespace("ops"))
    await plugin.admit(request)
    assert request.warnings == [
        'namespace "ops" is exempt from Pod Security, and the policy '
        "(enforce=restricted:latest) will be ignored"
    ]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"apiVersion": "v1", "kind": "PodSecurityConfiguration"}, "expected kind"),
        (
            {
                "apiVersion": "pod-security.admission.config.k8s.io/v1",
                "kind": "PodSecurityConfiguration",
                "defaults": {"enforce": "strict", "audit-version": "1.2"},
                "exemptions": {"usernames": ["a", "a", ""], "namespaces": ["Not_A_Name"]},
            },
            'PodSecurity configuration: [defaults.enforce: Invalid value: "strict": must be '
            "one of privileged, baseline, restricted, defaults.audit-version: Invalid value: "
            '"1.2": must be "latest" or "v1.x", exemptions.namespaces[0]: Invalid value: '
            '"Not_A_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric '
            "characters or '-', and must start and end with an alphanumeric character (e.g. "
            "'my-name',  or '123-abc', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?'), exemptions.usernames[1]: Duplicate value: "
            '"a", exemptions.usernames[2]: Invalid value: "": username must not be empty]',
        ),
    ],
)
def test_bad_configuration(obj: Obj, message: str) -> None:
    with pytest.raises(ValueError, match="PodSecurity configuration") as caught:
        configuration.from_object(obj)
    assert message in str(caught.value)


def test_configuration_defaults() -> None:
    config = configuration.from_object(
        {
            "apiVersion": "pod-security.admission.config.k8s.io/v1",
            "kind": "PodSecurityConfiguration",
        }
    )
    assert config.defaults == Policy()
    assert config.defaults.fully_privileged()


# --- 5. pod controllers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "resource", "kind", "wrap"),
    [
        ("", "podtemplates", "PodTemplate", lambda t: {"template": t}),
        ("", "replicationcontrollers", "ReplicationController",
         lambda t: {"spec": {"template": t}}),
        ("apps", "replicasets", "ReplicaSet", lambda t: {"spec": {"template": t}}),
        ("apps", "deployments", "Deployment", lambda t: {"spec": {"template": t}}),
        ("apps", "statefulsets", "StatefulSet", lambda t: {"spec": {"template": t}}),
        ("apps", "daemonsets", "DaemonSet", lambda t: {"spec": {"template": t}}),
        ("batch", "jobs", "Job", lambda t: {"spec": {"template": t}}),
        ("batch", "cronjobs", "CronJob",
         lambda t: {"spec": {"jobTemplate": {"spec": {"template": t}}}}),
    ],
)  # fmt: skip
async def test_controllers_warned_and_audited_never_enforced(
    group: str, resource: str, kind: str, wrap: Any
) -> None:
    labels = {P + "enforce": "restricted", P + "audit": "baseline", P + "warn": "baseline"}
    template = {"metadata": {"labels": {"a": "b"}}, "spec": pod("x", privileged=True)["spec"]}
    obj = {"metadata": {"name": "w"}, **wrap(template)}
    request = attrs(resource, obj, group=group, kind=kind)
    await PodSecurity(Namespaces(ns=labels)).admit(request)
    assert request.warnings == [f'would violate PodSecurity "baseline:latest": {PRIVILEGED}']
    assert request.audit_annotations == {
        P + "audit-violations": f'would violate PodSecurity "baseline:latest": {PRIVILEGED}'
    }
    # Their subresources (scale, status) are not evaluated.
    request = attrs(resource, obj, group=group, kind=kind, subresource="status")
    await PodSecurity(Namespaces(ns=labels)).admit(request)
    assert request.warnings == []


async def test_metrics_as_kube_counts_them() -> None:
    registry = metrics.Registry("authz")
    recorder = PodSecurityRecorder(registry)
    labels = {P + "enforce": "baseline", P + "enforce-version": "v1.40", P + "warn": "restricted"}
    plugin = PodSecurity(
        Namespaces(ns=labels, open={}, bad={P + "audit": "x"}),
        configuration=CONFIG,
        recorder=recorder,
    )
    await plugin.admit(attrs("pods", pod("ok")))
    with pytest.raises(errors.StatusError):
        await plugin.admit(attrs("pods", pod("no", privileged=True)))
    await plugin.admit(attrs("pods", pod("p", privileged=True), namespace="ops"))
    await plugin.admit(attrs("pods", pod("p"), namespace="bad"))
    text = registry.exposition().decode()
    for line in (
        'pod_security_evaluations_total{decision="allow",mode="enforce",policy_level="baseline",'
        'policy_version="future",request_operation="create",resource="pod",subresource=""} 1',
        'pod_security_evaluations_total{decision="deny",mode="enforce",policy_level="baseline",'
        'policy_version="future",request_operation="create",resource="pod",subresource=""} 1',
        # "ok" and the pod in "bad" (whose bad audit label is an error, counted).
        'pod_security_evaluations_total{decision="deny",mode="warn",policy_level="restricted",'
        'policy_version="latest",request_operation="create",resource="pod",subresource=""} 2',
        'pod_security_exemptions_total{request_operation="create",resource="pod",subresource=""} 1',
        'pod_security_errors_total{fatal="false",request_operation="create",resource="pod",'
        'subresource=""} 1',
    ):
        assert line in text.splitlines(), text
