"""The built-in types as a user drives them with the real kubectl against `kapi up`:
`kubectl get all`, `create -f` of a multi-document manifest, every `kubectl create`
generator (Protobuf bodies), `kubectl scale`, and the tables of the new types.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e

AGE = re.compile(r"\b(\d+[smhd])+\b")  # kubectl's ages: 45s, 2m16s, 3h4m, 5d


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = f"bt-{uuid.uuid4().hex[:6]}"
    assert cluster.kubectl("create", "ns", name).stdout.strip() == f"namespace/{name} created"
    return name


def rows(text: str) -> list[list[str]]:
    """A table's lines split into cells on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: nginx
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  index.html: hello
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: busybox:1.28
            imagePullPolicy: IfNotPresent
            command: [/bin/sh, -c, date; echo Hello from the Kubernetes cluster]
          restartPolicy: OnFailure
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
"""


def test_create_f_of_a_multi_document_manifest(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFEST)
    created = cluster.kubectl("-n", ns, "create", "-f", str(path))
    assert created.stdout.splitlines() == [
        "deployment.apps/web created",
        "service/web created",
        "ingress.networking.k8s.io/web created",
        "configmap/web-config created",
        "cronjob.batch/hello created",
        "horizontalpodautoscaler.autoscaling/web created",
    ]
    hpa = rows(cluster.kubectl("-n", ns, "get", "hpa").stdout)
    assert hpa[0] == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert hpa[1][:2] + hpa[1][3:5] == ["web", "Deployment/web", "1", "10"]
    # TARGETS and REPLICAS as the autoscaler has got so far: nothing yet, then the
    # Deployment's 2 replicas and, once its pods run and report usage, their CPU.
    assert re.fullmatch(r"cpu: (<unknown>|\d+%)/50%", hpa[1][2]), hpa[1]
    assert hpa[1][5] in ("0", "2"), hpa[1]
    ingress = rows(cluster.kubectl("-n", ns, "get", "ingress").stdout)
    assert ingress[0] == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert ingress[1][:3] == ["web", "nginx", "web.example.com"]
    assert ingress[1][3] == "80"  # no address yet: the cell is empty
    cronjob = json.loads(cluster.kubectl("-n", ns, "get", "cronjob", "hello", "-o", "json").stdout)
    assert cronjob["spec"]["concurrencyPolicy"] == "Allow"
    assert cronjob["spec"]["successfulJobsHistoryLimit"] == 3
    again = cluster.kubectl("-n", ns, "create", "-f", str(path), check=False)
    assert again.returncode != 0
    assert 'Error from server (AlreadyExists): error when creating "' in again.stderr
    assert 'deployments.apps "web" already exists' in again.stderr


def test_get_all_as_on_1_32(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFEST)
    cluster.kubectl("-n", ns, "create", "-f", str(path))
    cluster.kubectl("-n", ns, "create", "job", "once", "--image=busybox", "--", "true")
    cluster.kubectl("-n", ns, "wait", "--for=condition=complete", "job/once", "--timeout=60s")
    out = AGE.sub("AGE", cluster.kubectl("get", "all", "-A").stdout)
    sections = [block.splitlines() for block in out.strip().split("\n\n")]
    headers = [rows(block[0])[0] for block in sections]
    # kube's discovery order: the core group (pods, replicationcontrollers, services), then
    # apps (daemonsets, deployments, replicasets, statefulsets), autoscaling, batch.
    kinds = [rows(block[1])[0][1].split("/")[0] for block in sections]
    order = [
        "pod",  # the controllers make the Deployment's and the Job's
        "replicationcontroller",
        "service",
        "daemonset.apps",
        "deployment.apps",
        "replicaset.apps",
        "statefulset.apps",
        "horizontalpodautoscaler.autoscaling",
        "cronjob.batch",
        "job.batch",
    ]
    assert kinds == [k for k in order if k in kinds]
    assert {"service", "deployment.apps", "cronjob.batch", "job.batch"} <= set(kinds)
    services = sections[kinds.index("service")]
    assert headers[kinds.index("service")] == [
        "NAMESPACE",
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
    ]
    kubernetes = [r for r in rows("\n".join(services[1:])) if r[1] == "service/kubernetes"]
    assert kubernetes == [
        ["default", "service/kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "AGE"]
    ]
    assert headers[kinds.index("job.batch")] == [
        "NAMESPACE",
        "NAME",
        "STATUS",
        "COMPLETIONS",
        "DURATION",
        "AGE",
    ]
    # (the manifest's every-minute CronJob may have run its own Jobs by now)
    jobs = [
        r
        for r in rows("\n".join(sections[kinds.index("job.batch")][1:]))
        if r[0] == ns and not r[1].startswith("job.batch/hello-")
    ]
    assert [r[:4] for r in jobs] == [[ns, "job.batch/once", "Complete", "1/1"]]
    assert headers[kinds.index("cronjob.batch")] == [
        "NAMESPACE",
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ]


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (("job", "j1", "--image=busybox", "--", "echo", "hi"), "job.batch/j1 created"),
        (
            ("cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi"),
            "cronjob.batch/cj1 created",
        ),
        (
            ("role", "r1", "--verb=get,list", "--resource=pods"),
            "role.rbac.authorization.k8s.io/r1 created",
        ),
        (
            ("rolebinding", "rb1", "--role=r1", "--user=alice"),
            "rolebinding.rbac.authorization.k8s.io/rb1 created",
        ),
        (("quota", "q1", "--hard=pods=10,cpu=4"), "resourcequota/q1 created"),
        (
            ("pdb", "pdb1", "--selector=app=web", "--min-available=1"),
            "poddisruptionbudget.policy/pdb1 created",
        ),
        (
            ("ingress", "ing1", "--rule=foo.example.com/bar=svc1:8080"),
            "ingress.networking.k8s.io/ing1 created",
        ),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else "",
)
def test_kubectl_create_generators(
    cluster: Cluster, ns: str, args: tuple[str, ...], output: str
) -> None:
    assert cluster.kubectl("-n", ns, "create", *args).stdout.strip() == output
    kind_name = output.split()[0]
    got = json.loads(cluster.kubectl("-n", ns, "get", kind_name, "-o", "json").stdout)
    assert got["metadata"]["namespace"] == ns


@pytest.mark.parametrize(
    ("args", "output", "resource"),
    [
        (
            ("clusterrole", "{n}", "--verb=get,list", "--resource=pods"),
            "clusterrole.rbac.authorization.k8s.io/{n} created",
            "clusterrole",
        ),
        (
            ("clusterrolebinding", "{n}", "--clusterrole=view", "--group=devs"),
            "clusterrolebinding.rbac.authorization.k8s.io/{n} created",
            "clusterrolebinding",
        ),
        (
            ("priorityclass", "{n}", "--value=1000", "--description=high"),
            "priorityclass.scheduling.k8s.io/{n} created",
            "priorityclass",
        ),
    ],
    ids=["clusterrole", "clusterrolebinding", "priorityclass"],
)
def test_kubectl_create_cluster_scoped_generators(
    cluster: Cluster, args: tuple[str, ...], output: str, resource: str
) -> None:
    name = f"gen-{uuid.uuid4().hex[:6]}"
    filled = tuple(a.format(n=name) for a in args)
    assert cluster.kubectl("create", *filled).stdout.strip() == output.format(n=name)
    assert cluster.kubectl("delete", resource, name).returncode == 0


def test_kubectl_scale(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    scaled = cluster.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=3")
    assert scaled.stdout.strip() == "deployment.apps/web scaled"
    deployment = json.loads(cluster.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["generation"] == 2
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=60s")
    assert rows(cluster.kubectl("-n", ns, "get", "deploy", "web").stdout)[1][1] == "3/3"
    again = cluster.kubectl(
        "-n", ns, "scale", "deploy", "web", "--current-replicas=3", "--replicas=5"
    )
    assert again.stdout.strip() == "deployment.apps/web scaled"
    wrong = cluster.kubectl(
        "-n", ns, "scale", "deploy", "web", "--current-replicas=2", "--replicas=1", check=False
    )
    assert wrong.returncode != 0
    assert wrong.stderr.strip() == "error: Expected replicas to be 2, was 5"
    dry = cluster.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=9", "--dry-run=server")
    assert dry.stdout.strip() == "deployment.apps/web scaled (server dry run)"
    replicas = cluster.kubectl(
        "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"
    ).stdout
    assert replicas == "5"
    negative = cluster.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=-1", check=False)
    assert negative.returncode != 0


def test_scale_statefulsets_replicasets_and_controllers(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    path = tmp_path / "controllers.yaml"
    path.write_text(
        """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:17}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: frontend}
spec:
  replicas: 1
  selector: {matchLabels: {tier: frontend}}
  template:
    metadata: {labels: {tier: frontend}}
    spec: {containers: [{name: php, image: php:8}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: nginx}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: nginx}}
    spec: {containers: [{name: nginx, image: nginx}]}
"""
    )
    cluster.kubectl("-n", ns, "create", "-f", str(path))
    for kind, shown in (
        ("statefulset/db", "statefulset.apps/db"),
        ("replicaset/frontend", "replicaset.apps/frontend"),
        ("rc/nginx", "replicationcontroller/nginx"),
    ):
        out = cluster.kubectl("-n", ns, "scale", kind, "--replicas=4").stdout.strip()
        assert out == f"{shown} scaled"
    # The replicaset controller makes the pods, which the simulated node runs.
    cluster.kubectl(
        "-n",
        ns,
        "wait",
        "--for=jsonpath={.status.readyReplicas}=4",
        "rs/frontend",
        "--timeout=60s",
    )
    table = rows(cluster.kubectl("-n", ns, "get", "sts,rs,rc").stdout)
    assert table[1][:2] == ["statefulset.apps/db", "4/4"]
    assert table[3][:4] == ["replicaset.apps/frontend", "4", "4", "4"]
    assert table[5][:4] == ["replicationcontroller/nginx", "4", "0", "0"]


def test_wide_tables_of_new_types(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "job", "pi", "--image=perl:5.34.0", "--", "true")
    cluster.kubectl("-n", ns, "wait", "--for=condition=complete", "job/pi", "--timeout=60s")
    wide = rows(cluster.kubectl("-n", ns, "get", "jobs", "-o", "wide").stdout)
    assert wide[0] == [
        "NAME",
        "STATUS",
        "COMPLETIONS",
        "DURATION",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert wide[1][:3] == ["pi", "Complete", "1/1"]
    assert wide[1][-1].startswith("batch.kubernetes.io/controller-uid=")
    cluster.kubectl("-n", ns, "create", "rolebinding", "rb", "--clusterrole=view", "--user=jane")
    bindings = rows(cluster.kubectl("-n", ns, "get", "rolebinding", "-o", "wide").stdout)
    assert bindings[0] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert bindings[1][:2] == ["rb", "ClusterRole/view"]
    assert bindings[1][3] == "jane"
    pcs = rows(cluster.kubectl("get", "priorityclass").stdout)
    assert pcs[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    names = {r[0]: r[1] for r in pcs[1:]}
    assert names["system-node-critical"] == "2000001000"
    assert names["system-cluster-critical"] == "2000000000"


def test_describe_and_field_selectors(cluster: Cluster, ns: str) -> None:
    # @yearly: the cronjob controller runs no Job of it while the test looks at Jobs
    cluster.kubectl("-n", ns, "create", "cronjob", "tick", "--image=busybox", "--schedule=@yearly")
    described = cluster.kubectl("-n", ns, "describe", "cronjob", "tick").stdout
    assert re.search(r"^Schedule:\s+@yearly$", described, re.M)
    assert re.search(r"^Concurrency Policy:\s+Allow$", described, re.M)
    none = cluster.kubectl("-n", ns, "get", "jobs", "--field-selector=status.successful=1")
    assert none.stderr.strip() == f"No resources found in {ns} namespace."
    bad = cluster.kubectl_fails("-n", ns, "get", "cm", "--field-selector=foo.bar=baz")
    assert bad.endswith(
        '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_validation_messages(cluster: Cluster, ns: str) -> None:
    bad = cluster.kubectl_fails(
        "-n", ns, "create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *"
    )
    assert bad == (
        'error: failed to create cronjob: CronJob.batch "bad" is invalid: spec.schedule: '
        'Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'
    )
