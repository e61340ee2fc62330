"""Admission end to end: `kapi up` and the real kubectl — a ValidatingAdmissionPolicy
with params denies with kube's text and warns with Warn; webhooks served by the test
(tests/admission_webhook.py) deny with their message, mutate, warn, see dry runs, and
fail closed or open when down."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import admission_webhook
from tests.e2e.conftest import Cluster, free_port

pytestmark = pytest.mark.e2e

DEADLINE = 30.0  # waiting for a configuration to take effect at all, not a latency budget


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def eventually(check: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < end, "the configuration did not take effect"
        time.sleep(0.2)


def fails(cluster: Cluster, *args: str, input: str) -> str:
    result = cluster.kubectl(*args, input=input, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr.strip()


POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {name}
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
    messageExpression: "'replicas must be no greater than ' + params.data.maxReplicas"
    reason: Invalid
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}-deny
spec:
  policyName: {name}
  validationActions: [Deny]
  paramRef:
    name: limits
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {deny_ns}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}-warn
spec:
  policyName: {name}
  validationActions: [Warn]
  paramRef:
    name: limits
    parameterNotFoundAction: Allow
  matchResources:
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {warn_ns}
"""


def test_policy_with_params_denies_and_warns(cluster: Cluster, namespace: str) -> None:
    name = f"replica-limit-{uuid.uuid4().hex[:6]}"
    warn_ns = f"{namespace}-w"
    cluster.kubectl("create", "namespace", warn_ns)
    for ns in (namespace, warn_ns):
        cluster.kubectl("-n", ns, "create", "configmap", "limits", "--from-literal=maxReplicas=3")
    manifest = POLICY.format(name=name, deny_ns=namespace, warn_ns=warn_ns)
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:

        def denied() -> bool:
            result = cluster.kubectl(
                "-n", namespace, "create", "deployment", f"probe-{uuid.uuid4().hex[:6]}",
                "--image=nginx", "--replicas=5", check=False,
            )  # fmt: skip
            return result.returncode != 0

        eventually(denied)
        err = cluster.kubectl_fails(
            "-n", namespace, "create", "deployment", "web", "--image=nginx", "--replicas=5"
        )
        assert err == (
            'error: failed to create deployment: deployments.apps "web" is forbidden: '
            f"ValidatingAdmissionPolicy '{name}' with binding '{name}-deny' denied request: "
            "replicas must be no greater than 3"
        )
        cluster.kubectl(
            "-n", namespace, "create", "deployment", "ok", "--image=nginx", "--replicas=2"
        )
        warned = cluster.kubectl(
            "-n", warn_ns, "create", "deployment", "web", "--image=nginx", "--replicas=5"
        )
        assert (
            f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}' with binding "
            f"'{name}-warn': replicas must be no greater than 3"
        ) in warned.stderr
        # The param is missing in a third namespace: Allow (warn binding) admits.
        cluster.kubectl("-n", warn_ns, "delete", "configmap", "limits")

        def allowed() -> bool:
            result = cluster.kubectl(
                "-n", warn_ns, "create", "deployment", f"p-{uuid.uuid4().hex[:6]}",
                "--image=nginx", "--replicas=5", check=False,
            )  # fmt: skip
            return result.returncode == 0 and "Warning" not in result.stderr

        eventually(allowed)
    finally:
        cluster.kubectl("delete", "-f", "-", input=manifest, check=False)
        cluster.kubectl("delete", "namespace", warn_ns, "--wait=false", check=False)


TYPO_POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {name}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.replicas > 1"
    message: "must be replicated"
    reason: Invalid
"""


def test_policy_type_checking_shows_in_its_status(cluster: Cluster) -> None:
    """kube's documented example (validatingadmissionpolicy/typechecking.yaml): the
    typo is reported in status.typeChecking, read with ``kubectl get -o yaml``."""
    name = f"deploy-replica-policy-{uuid.uuid4().hex[:6]}.example.com"
    manifest = TYPO_POLICY.format(name=name)
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:

        def checked() -> bool:
            got = cluster.kubectl(
                "get", "validatingadmissionpolicy", name,
                "-o", "jsonpath={.status.observedGeneration}",
            ).stdout  # fmt: skip
            return got == "1"

        eventually(checked)
        shown = cluster.kubectl("get", "validatingadmissionpolicy", name, "-o", "yaml").stdout
        assert (
            "status:\n"
            "  observedGeneration: 1\n"
            "  typeChecking:\n"
            "    expressionWarnings:\n"
            "    - fieldRef: spec.validations[0].expression\n"
            "      warning: |\n"
            "        apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field 'replicas'\n"
            "         | object.replicas > 1\n"
            "         | ......^\n"
        ) in shown
    finally:
        cluster.kubectl("delete", "-f", "-", input=manifest, check=False)


WEBHOOKS = """
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {name}-mutate
webhooks:
- name: mutate.kapi.test
  clientConfig:
    url: {base}/mutate
    caBundle: {ca}
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {ns}
  sideEffects: None
  admissionReviewVersions: ["v1"]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {name}-validate
webhooks:
- name: deny.kapi.test
  clientConfig:
    url: {base}/validate
    caBundle: {ca}
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {ns}
  sideEffects: NoneOnDryRun
  admissionReviewVersions: ["v1"]
- name: down-fail.kapi.test
  clientConfig:
    url: https://127.0.0.1:{down}/validate
    caBundle: {ca}
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["secrets"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {ns}
  objectSelector:
    matchLabels:
      policy: fail
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: ["v1"]
- name: down-ignore.kapi.test
  clientConfig:
    url: https://127.0.0.1:{down}/validate
    caBundle: {ca}
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["secrets"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {ns}
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: ["v1"]
"""


def test_webhooks_deny_mutate_and_fail(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    name = f"hooks-{uuid.uuid4().hex[:6]}"
    with admission_webhook.serve(tmp_path) as hook:
        manifest = WEBHOOKS.format(
            name=name, base=hook.base_url, ca=hook.ca_bundle_b64, ns=namespace, down=free_port()
        )
        cluster.kubectl("apply", "-f", "-", input=manifest)
        try:

            def mutating() -> bool:
                probe = f"probe-{uuid.uuid4().hex[:6]}"
                cluster.kubectl("-n", namespace, "create", "configmap", probe)
                labels = cluster.kubectl(
                    "-n", namespace, "get", "configmap", probe, "-o", "jsonpath={.metadata.labels}"
                ).stdout
                return "mutated-by" in labels and bool(hook.requests("/validate"))

            eventually(mutating)
            # The validating webhook refuses with its message, in kube's words.
            manifest_cm = (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unwelcome\n"
                "  labels:\n    deny: 'yes'\n"
            )
            err = fails(cluster, "-n", namespace, "create", "-f", "-", input=manifest_cm)
            assert err == (
                'Error from server (Forbidden): error when creating "STDIN": admission webhook '
                '"deny.kapi.test" denied the request: unwelcome is not welcome here'
            )
            # The mutating webhook's patch shows on the object; the warning is printed.
            created = cluster.kubectl("-n", namespace, "create", "configmap", "welcome")
            assert "Warning: validated welcome" in created.stderr
            labels = cluster.kubectl(
                "-n", namespace, "get", "configmap", "welcome", "-o",
                "jsonpath={.metadata.labels.mutated-by}",
            ).stdout  # fmt: skip
            assert labels == "webhook"
            # A server-side dry run reaches the side-effect-free webhook with dryRun true.
            cluster.kubectl("-n", namespace, "create", "configmap", "dry", "--dry-run=server")
            dry = [r for r in hook.requests("/validate") if r.get("name") == "dry"]
            assert [r["dryRun"] for r in dry] == [True]
            assert cluster.kubectl(
                "-n", namespace, "get", "configmap", "dry", check=False
            ).returncode
            # The webhook that is down: Fail refuses (500), Ignore lets the write through.
            err = fails(
                cluster, "-n", namespace, "create", "-f", "-",
                input="apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
                "  labels:\n    policy: fail\n",
            )  # fmt: skip
            assert err.startswith(
                'Error from server (InternalError): error when creating "STDIN": Internal error '
                'occurred: failed calling webhook "down-fail.kapi.test": failed to call webhook: '
                'Post "https://127.0.0.1:'
            )
            cluster.kubectl("-n", namespace, "create", "secret", "generic", "s2")
        finally:
            cluster.kubectl("delete", "-f", "-", input=manifest, check=False)


def test_quota_refuses_over_the_limit_and_reports_usage(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "-n", namespace, "create", "quota", "q", "--hard=configmaps=3,pods=2,requests.cpu=1",
    )  # fmt: skip

    def counted() -> bool:
        used = cluster.kubectl(
            "-n", namespace, "get", "quota", "q", "-o", "jsonpath={.status.used.configmaps}"
        ).stdout
        return used != ""

    eventually(counted)
    # kube-root-ca.crt is one of the namespace's configmaps already.
    used = int(cluster.kubectl(
        "-n", namespace, "get", "quota", "q", "-o", "jsonpath={.status.used.configmaps}"
    ).stdout)  # fmt: skip
    for i in range(3 - used):
        cluster.kubectl("-n", namespace, "create", "configmap", f"c{i}")
    err = cluster.kubectl_fails("-n", namespace, "create", "configmap", "one-too-many")
    assert err == (
        'error: failed to create configmap: configmaps "one-too-many" is forbidden: exceeded '
        "quota: q, requested: configmaps=1, used: configmaps=3, limited: configmaps=3"
    )
    # A pod must state what a compute quota limits.
    err = cluster.kubectl_fails("-n", namespace, "run", "bare", "--image=nginx")
    assert err == (
        'Error from server (Forbidden): pods "bare" is forbidden: failed quota: q: must specify '
        "requests.cpu for: bare"
    )
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
        "  - name: c\n    image: nginx\n    resources:\n      requests:\n        cpu: 600m\n"
    )
    cluster.kubectl("-n", namespace, "create", "-f", "-", input=pod.format(name="p1"))
    result = cluster.kubectl(
        "-n", namespace, "create", "-f", "-", input=pod.format(name="p2"), check=False
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "p2" is forbidden: '
        "exceeded quota: q, requested: requests.cpu=600m, used: requests.cpu=600m, "
        "limited: requests.cpu=1"
    )
    status = cluster.kubectl(
        "-n", namespace, "get", "quota", "q", "-o", "jsonpath={.status.used}"
    ).stdout
    assert '"pods":"1"' in status and '"requests.cpu":"600m"' in status
    # kubectl describe prints used against hard per resource.
    described = cluster.kubectl("-n", namespace, "describe", "quota", "q").stdout
    rows = [line.split() for line in described.splitlines()]
    assert ["Name:", "q"] in rows and ["Resource", "Used", "Hard"] in rows
    assert ["configmaps", "3", "3"] in rows
    assert ["pods", "1", "2"] in rows and ["requests.cpu", "600m", "1"] in rows
    # Deleting frees the usage (the controller recounts).
    cluster.kubectl("-n", namespace, "delete", "configmap", "c0")

    def freed() -> bool:
        return (
            cluster.kubectl("-n", namespace, "create", "configmap", "again", check=False).returncode
            == 0
        )

    eventually(freed)


def test_limit_range_defaults_land_on_a_pod(cluster: Cluster, namespace: str) -> None:
    limits = (
        "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: defaults\nspec:\n  limits:\n"
        "  - type: Container\n    default:\n      cpu: 500m\n      memory: 256Mi\n"
        "    defaultRequest:\n      cpu: 250m\n"
    )
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=limits)

    def defaulted() -> bool:
        name = f"p-{uuid.uuid4().hex[:6]}"
        cluster.kubectl("-n", namespace, "run", name, "--image=nginx")
        got = cluster.kubectl(
            "-n", namespace, "get", "pod", name, "-o",
            "jsonpath={.spec.containers[0].resources.limits.cpu}",
        ).stdout  # fmt: skip
        return got == "500m"

    eventually(defaulted)
    cluster.kubectl("-n", namespace, "run", "web", "--image=nginx")
    resources = cluster.kubectl(
        "-n", namespace, "get", "pod", "web", "-o", "jsonpath={.spec.containers[0].resources}"
    ).stdout
    assert json.loads(resources) == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "250m", "memory": "256Mi"},
    }
    annotation = cluster.kubectl(
        "-n", namespace, "get", "pod", "web", "-o",
        "jsonpath={.metadata.annotations.kubernetes\\.io/limit-ranger}",
    ).stdout  # fmt: skip
    assert annotation == (
        "LimitRanger plugin set: cpu, memory request for container web; "
        "cpu, memory limit for container web"
    )


PRIVILEGED_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: c
    image: nginx
    securityContext:
      privileged: true
"""

RESTRICTED_VIOLATIONS = (
    'privileged (container "c" must not set securityContext.privileged=true), '
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")'
)


def test_pod_security_enforce_and_warn(cluster: Cluster, namespace: str) -> None:
    warned_ns = f"{namespace}-warn"
    cluster.kubectl("create", "namespace", warned_ns)
    try:
        cluster.kubectl(
            "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
        )
        cluster.kubectl(
            "label", "namespace", warned_ns, "pod-security.kubernetes.io/warn=restricted"
        )

        def refused() -> bool:
            result = cluster.kubectl(
                "-n", namespace, "create", "-f", "-",
                input=PRIVILEGED_POD.format(name=f"p-{uuid.uuid4().hex[:6]}"), check=False,
            )  # fmt: skip
            return result.returncode != 0

        eventually(refused)
        err = fails(
            cluster, "-n", namespace, "create", "-f", "-", input=PRIVILEGED_POD.format(name="priv")
        )
        assert err == (
            'Error from server (Forbidden): error when creating "STDIN": pods "priv" is '
            f'forbidden: violates PodSecurity "restricted:latest": {RESTRICTED_VIOLATIONS}'
        )
        created = cluster.kubectl(
            "-n", warned_ns, "create", "-f", "-", input=PRIVILEGED_POD.format(name="priv")
        )
        assert (
            f'Warning: would violate PodSecurity "restricted:latest": {RESTRICTED_VIOLATIONS}'
            in created.stderr
        )
        # A baseline namespace refuses only what baseline forbids.
        cluster.kubectl(
            "label", "--overwrite", "namespace", namespace,
            "pod-security.kubernetes.io/enforce=baseline",
        )  # fmt: skip
        cluster.kubectl("-n", namespace, "run", "plain", "--image=nginx")

        def baseline() -> bool:
            result = cluster.kubectl(
                "-n", namespace, "create", "-f", "-",
                input=PRIVILEGED_POD.format(name=f"b-{uuid.uuid4().hex[:6]}"), check=False,
            )  # fmt: skip
            return (
                'violates PodSecurity "baseline:latest": privileged (container "c" must '
                "not set securityContext.privileged=true)" in result.stderr
            )

        eventually(baseline)
    finally:
        cluster.kubectl("delete", "namespace", warned_ns, "--wait=false", check=False)


def test_pod_security_label_warns_of_running_pods(cluster: Cluster, namespace: str) -> None:
    """`kubectl label ns` with a stricter enforce level prints kube's Warning lines for the
    pods already there (here one privileged pod, running on the simulated node); a bad
    level is refused with kube's 422."""
    cluster.kubectl("-n", namespace, "create", "-f", "-", input=PRIVILEGED_POD.format(name="priv"))
    cluster.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", "pod/priv", "--timeout=60s"
    )  # fmt: skip
    expected = [
        f'Warning: existing pods in namespace "{namespace}" violate the new PodSecurity '
        'enforce level "restricted:latest"',
        "Warning: priv: privileged, allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile",
    ]
    # kube's advice: a server-side dry run first says what the label would meet.
    dry = cluster.kubectl(
        "label", "--dry-run=server", "namespace", namespace,
        "pod-security.kubernetes.io/enforce=restricted",
    )  # fmt: skip
    assert dry.stdout.strip() == f"namespace/{namespace} labeled (server dry run)"
    assert dry.stderr.splitlines() == expected
    shown = cluster.kubectl("get", "namespace", namespace, "--show-labels").stdout
    assert "pod-security.kubernetes.io/enforce" not in shown
    labelled = cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    assert labelled.stdout.strip() == f"namespace/{namespace} labeled"
    assert labelled.stderr.splitlines() == expected
    bad = cluster.kubectl(
        "label", "--overwrite", "namespace", namespace,
        "pod-security.kubernetes.io/enforce-version=1.30", check=False,
    )  # fmt: skip
    assert bad.returncode != 0
    assert bad.stderr.strip() == (
        f'The Namespace "{namespace}" is invalid: metadata.labels[pod-security.kubernetes.io/'
        'enforce-version]: Invalid value: "1.30": must be "latest" or "v1.x"'
    )


MANAGED_CM = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels:
    example.kapi.dev/managed: "true"
data:
  {key}: value
"""


def test_example_python_plugin_denies_and_mutates(cluster: Cluster, namespace: str) -> None:
    """examples/admission-plugin, loaded by authz from its entry point (the e2e cluster
    runs with it installed): its mutation shows on the object, its refusal is kube's."""
    err = fails(
        cluster, "-n", namespace, "create", "-f", "-",
        input=MANAGED_CM.format(name="db", key="db-password"),
    )  # fmt: skip
    assert err == (
        'Error from server (Forbidden): error when creating "STDIN": configmaps "db" is '
        "forbidden: key 'db-password' looks like a password: keep it in a Secret"
    )
    cluster.kubectl(
        "-n", namespace, "create", "-f", "-", input=MANAGED_CM.format(name="db", key="host")
    )
    owner = cluster.kubectl(
        "-n", namespace, "get", "configmap", "db", "-o",
        "jsonpath={.metadata.annotations.example\\.kapi\\.dev/last-written-by}",
    ).stdout  # fmt: skip
    me = cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout
    assert me and owner == me


SERVICE_HOOK = """
apiVersion: v1
kind: Service
metadata:
  name: hook
  namespace: {ns}
spec:
  ports:
  - port: 443
    targetPort: {port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: hook-1
  namespace: {ns}
  labels:
    kubernetes.io/service-name: hook
addressType: IPv4
ports:
- port: {port}
  name: ""
endpoints:
- addresses: ["127.0.0.1"]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {name}
webhooks:
- name: service-hook.kapi.test
  clientConfig:
    service:
      name: hook
      namespace: {ns}
      path: /validate
    caBundle: {ca}
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {ns}
  sideEffects: None
  admissionReviewVersions: ["v1"]
"""


def test_webhook_reached_through_its_service(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """clientConfig.service: the Service's EndpointSlices give the address, the
    certificate is checked against hook.NAMESPACE.svc."""
    name = f"service-hook-{uuid.uuid4().hex[:6]}"
    with admission_webhook.serve(tmp_path, names=(f"hook.{namespace}.svc",)) as hook:
        manifest = SERVICE_HOOK.format(
            name=name, ns=namespace, port=hook.port, ca=hook.ca_bundle_b64
        )
        cluster.kubectl("apply", "-f", "-", input=manifest)
        try:

            def denying() -> bool:
                result = cluster.kubectl(
                    "-n", namespace, "create", "-f", "-", check=False,
                    input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
                    f"d-{uuid.uuid4().hex[:6]}\n  labels:\n    deny: 'yes'\n",
                )  # fmt: skip
                return "denied the request" in result.stderr

            eventually(denying)
            created = cluster.kubectl("-n", namespace, "create", "configmap", "through-service")
            assert "Warning: validated through-service" in created.stderr
        finally:
            cluster.kubectl("delete", "-f", "-", input=manifest, check=False)
