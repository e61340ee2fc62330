"""End to end with the real kubectl: what the controllers, the scheduler and the
simulated nodes make of workloads (issue 14's "Done when")."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e

WAIT = "60s"


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    name = f"wl-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "ns", name)
    yield name
    cluster.kubectl("delete", "ns", name, "--wait=false", check=False)


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def get_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def replica_sets(cluster: Cluster, ns: str) -> dict[str, int]:
    listed = get_json(cluster, "-n", ns, "get", "rs")
    return {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in listed["items"]}


def test_rollout_of_a_three_replica_deployment(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.26", "--replicas=3")
    status = cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    assert status.stdout.strip().endswith('deployment "web" successfully rolled out')
    table = rows(cluster.kubectl("-n", ns, "get", "deploy", "web").stdout)
    assert table[1][:4] == ["web", "3/3", "3", "3"]
    pods = get_json(cluster, "-n", ns, "get", "pods")["items"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"] and pod["status"]["hostIP"]
        assert pod["spec"]["nodeName"].startswith("kapi-node-")
        types = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert types["Ready"] == types["ContainersReady"] == types["PodScheduled"] == "True"
    cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "--all", f"--timeout={WAIT}")
    deploy = get_json(cluster, "-n", ns, "get", "deploy", "web")
    annotations = deploy["metadata"]["annotations"]
    assert annotations["deployment.kubernetes.io/revision"] == "1"


def test_set_image_history_and_undo(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.26", "--replicas=2")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    [first] = replica_sets(cluster, ns)
    cluster.kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:1.27")
    # Annotated after the change, as users do: copied to the new ReplicaSet only.
    cluster.kubectl("-n", ns, "annotate", "deploy/web", "kubernetes.io/change-cause=to 1.27")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    sets = replica_sets(cluster, ns)
    [second] = [name for name in sets if name != first]
    assert sets == {first: 0, second: 2}
    history = rows(cluster.kubectl("-n", ns, "rollout", "history", "deploy/web").stdout)
    assert history[1:] == [["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "to", "1.27"]]
    cluster.kubectl("-n", ns, "rollout", "undo", "deploy/web")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    assert replica_sets(cluster, ns) == {first: 2, second: 0}
    image = cluster.kubectl(
        "-n", ns, "get", "deploy/web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout
    assert image == "nginx:1.26"
    history = rows(cluster.kubectl("-n", ns, "rollout", "history", "deploy/web").stdout)
    assert [r[0] for r in history[2:]] == ["2", "3"]  # revision 1 became 3


def test_scale_up_and_down(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=1")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    for replicas in ("4", "2"):
        cluster.kubectl("-n", ns, "scale", "deploy/web", f"--replicas={replicas}")
        cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
        # rollout status may succeed on a scale-down before the ReplicaSet's extra pods
        # are gone (kube's status counts them until then): wait for the count
        cluster.kubectl(
            "-n",
            ns,
            "wait",
            "--for=jsonpath={.status.replicas}=" + replicas,
            "deploy/web",
            f"--timeout={WAIT}",
        )
        ready = rows(cluster.kubectl("-n", ns, "get", "deploy", "web").stdout)[1][1]
        assert ready == f"{replicas}/{replicas}"
        cluster.kubectl(
            "-n",
            ns,
            "wait",
            "--for=jsonpath={.status.replicas}=" + replicas,
            "rs",
            "--all",
            f"--timeout={WAIT}",
        )


def test_pause_resume_and_restart(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    cluster.kubectl("-n", ns, "rollout", "pause", "deploy/web")
    cluster.kubectl("-n", ns, "set", "image", "deploy/web", "nginx=nginx:2")
    time.sleep(1)  # a paused Deployment makes no new ReplicaSet: give it the chance
    assert len(replica_sets(cluster, ns)) == 1
    cluster.kubectl("-n", ns, "rollout", "resume", "deploy/web")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    assert len(replica_sets(cluster, ns)) == 2
    cluster.kubectl("-n", ns, "rollout", "restart", "deploy/web")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    assert len(replica_sets(cluster, ns)) == 3


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_delete_with_each_cascade_mode(cluster: Cluster, ns: str, cascade: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    cluster.kubectl("-n", ns, "delete", "deploy/web", f"--cascade={cascade}", "--timeout=60s")
    if cascade == "orphan":
        # The ReplicaSet stays, its owner reference to the Deployment gone; its pods stay.
        [rs] = get_json(cluster, "-n", ns, "get", "rs")["items"]
        assert "ownerReferences" not in rs["metadata"]
        assert len(get_json(cluster, "-n", ns, "get", "pods")["items"]) == 2
        return
    if cascade == "foreground":
        # kubectl waited for the Deployment, which went only after its ReplicaSet.
        assert get_json(cluster, "-n", ns, "get", "rs")["items"] == []
    cluster.kubectl("-n", ns, "wait", "--for=delete", "rs", "--all", f"--timeout={WAIT}")
    cluster.kubectl("-n", ns, "wait", "--for=delete", "pod", "--all", f"--timeout={WAIT}")


def test_namespace_with_content_terminates_then_goes(cluster: Cluster) -> None:
    """Terminating while its content goes; a finalizer holds it there, with kube's
    conditions; created content is refused; then the namespace is gone."""
    name = f"gone-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "ns", name)
    cluster.kubectl("-n", name, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    cluster.kubectl("-n", name, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    held = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
    }
    cluster.kubectl("-n", name, "create", "-f", "-", input=json.dumps(held))
    cluster.kubectl("delete", "ns", name, "--wait=false")
    cluster.kubectl(
        "wait", "--for=condition=NamespaceFinalizersRemaining", f"ns/{name}", f"--timeout={WAIT}"
    )
    ns_obj = get_json(cluster, "get", "ns", name)
    assert ns_obj["status"]["phase"] == "Terminating"
    conditions = {c["type"]: c for c in ns_obj["status"]["conditions"]}
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some finalizers are remaining: example.com/hold in 1 resource instances"
    )
    assert conditions["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conditions["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
    assert cluster.kubectl_fails("-n", name, "create", "configmap", "d") == (
        f'error: failed to create configmap: configmaps "d" is forbidden: unable to create new '
        f"content in namespace {name} because it is being terminated"
    )
    cluster.kubectl("wait", "--for=delete", "pod", "--all", "-n", name, f"--timeout={WAIT}")
    cluster.kubectl(
        "-n",
        name,
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
    )
    cluster.kubectl("wait", "--for=delete", f"ns/{name}", f"--timeout={WAIT}")
    assert cluster.kubectl("get", "ns", name, check=False).returncode != 0


def test_nodes_events_and_logs(cluster: Cluster, ns: str) -> None:
    nodes = rows(cluster.kubectl("get", "nodes").stdout)
    assert nodes[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1][0] == "kapi-node-0" and nodes[1][1] == "Ready" and nodes[1][4] == "v1.32.0"
    lease = get_json(cluster, "-n", "kube-node-lease", "get", "lease", "kapi-node-0")
    assert lease["spec"]["holderIdentity"] == "kapi-node-0"
    cluster.kubectl("-n", ns, "run", "p", "--image=busybox", "--restart=Always")
    cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/p", f"--timeout={WAIT}")
    logs = cluster.kubectl("-n", ns, "logs", "p").stdout
    assert logs == (
        f"kapi simulated container p started in pod {ns}/p on node kapi-node-0 (image busybox)\n"
    )
    deadline = time.monotonic() + 30
    while True:
        events = rows(
            cluster.kubectl(
                "-n", ns, "get", "events", "--field-selector", "involvedObject.name=p"
            ).stdout
        )
        reasons = {row[2] for row in events[1:]}
        if {"Scheduled", "Pulled", "Created", "Started"} <= reasons or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"Scheduled", "Pulled", "Created", "Started"} <= reasons, events
    scheduled = next(row for row in events[1:] if row[2] == "Scheduled")
    assert " ".join(scheduled[4:]) == f"Successfully assigned {ns}/p to kapi-node-0"


def test_a_job_completes_and_one_fails(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "job", "once", "--image=busybox", "--", "true")
    cluster.kubectl("-n", ns, "wait", "--for=condition=complete", "job/once", f"--timeout={WAIT}")
    job = get_json(cluster, "-n", ns, "get", "job", "once")
    assert job["status"]["succeeded"] == 1 and job["status"]["completionTime"]
    failing = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "fails"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {"nodes.kapi.dev/exit-code": "1"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                },
            },
        },
    }
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(failing))
    cluster.kubectl("-n", ns, "wait", "--for=condition=failed", "job/fails", f"--timeout={WAIT}")
    failed = {
        c["type"]: c
        for c in get_json(cluster, "-n", ns, "get", "job", "fails")["status"]["conditions"]
    }
    assert failed["Failed"]["reason"] == "BackoffLimitExceeded"


def test_statefulset_pods_are_ordinal(cluster: Cluster, ns: str) -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 3,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres"}]},
            },
        },
    }
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(sts))
    cluster.kubectl("-n", ns, "rollout", "status", "sts/db", f"--timeout={WAIT}")
    names = cluster.kubectl("-n", ns, "get", "pods", "-o", "name").stdout.split()
    assert names == ["pod/db-0", "pod/db-1", "pod/db-2"]
    cluster.kubectl("-n", ns, "scale", "sts/db", "--replicas=1")
    cluster.kubectl("-n", ns, "wait", "--for=delete", "pod/db-2", "pod/db-1", f"--timeout={WAIT}")


def test_daemonset_has_one_pod_per_node(cluster: Cluster, ns: str) -> None:
    # Other tests register Node objects no kubelet runs (kube's node lifecycle controller
    # would taint them not-ready, which kapi does not run): select the simulated ones.
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"type": "kapi-simulated"},
                    "containers": [{"name": "a", "image": "busybox"}],
                },
            },
        },
    }
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(ds))
    cluster.kubectl("-n", ns, "rollout", "status", "ds/agent", f"--timeout={WAIT}")
    nodes = cluster.kubectl("get", "nodes", "-l", "type=kapi-simulated", "-o", "name").stdout
    pods = get_json(cluster, "-n", ns, "get", "pods")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(
        n.removeprefix("node/") for n in nodes.split()
    )


def test_a_service_gets_endpoint_slices_with_its_pods_ips(cluster: Cluster, ns: str) -> None:
    cluster.kubectl(
        "-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"
    )
    cluster.kubectl("-n", ns, "expose", "deployment", "web", "--port=8080", "--target-port=80")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    ips = sorted(p["status"]["podIP"] for p in get_json(cluster, "-n", ns, "get", "pods")["items"])
    deadline = time.monotonic() + 30
    while True:
        slices = get_json(
            cluster, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web"
        )["items"]
        found = sorted(a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"])
        if found == ips or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found == ips
    [one] = slices
    assert one["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    assert all(e["conditions"]["ready"] for e in one["endpoints"])
    assert one["metadata"]["ownerReferences"][0]["kind"] == "Service"


def test_budget_status_and_finished_job_ttl(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    cluster.kubectl("-n", ns, "create", "pdb", "web", "--selector=app=web", "--min-available=1")
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", f"--timeout={WAIT}")
    cluster.kubectl(
        "-n",
        ns,
        "wait",
        "--for=jsonpath={.status.disruptionsAllowed}=1",
        "pdb/web",
        f"--timeout={WAIT}",
    )
    pdb = rows(cluster.kubectl("-n", ns, "get", "pdb", "web").stdout)
    assert pdb[1][:4] == ["web", "1", "N/A", "1"]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "brief"},
        "spec": {
            "ttlSecondsAfterFinished": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            },
        },
    }
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(job))
    cluster.kubectl("-n", ns, "wait", "--for=delete", "job/brief", f"--timeout={WAIT}")


def test_a_cronjob_runs_on_its_schedule_and_by_hand(cluster: Cluster, ns: str) -> None:
    """``kubectl create cronjob``: a Job named NAME-<minutes since the epoch> at the next
    minute, then ``create job --from=cronjob/`` (kubectl's own Job, owned by the
    CronJob, which the controller reports as unexpected but leaves alone)."""
    cluster.kubectl(
        "-n", ns, "create", "cronjob", "tick", "--image=busybox", "--schedule=* * * * *"
    )
    deadline = time.monotonic() + 90
    scheduled: list[Any] = []
    while not scheduled and time.monotonic() < deadline:
        scheduled = get_json(cluster, "-n", ns, "get", "jobs")["items"]
        time.sleep(1)
    assert scheduled, "no Job within 90 s of a every-minute schedule"
    [first] = scheduled
    name = first["metadata"]["name"]
    minute = int(name.removeprefix("tick-"))
    annotations = first["metadata"]["annotations"]
    stamp = annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert stamp == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
    assert first["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cluster.kubectl(
        "-n", ns, "wait", "--for=condition=complete", f"job/{name}", f"--timeout={WAIT}"
    )
    cluster.kubectl(
        "-n",
        ns,
        "wait",
        "--for=jsonpath={.status.lastSuccessfulTime}",
        "cronjob/tick",
        f"--timeout={WAIT}",
    )
    cj = get_json(cluster, "-n", ns, "get", "cronjob", "tick")
    assert cj["status"]["lastScheduleTime"] == stamp
    assert not cj["status"].get("active")
    table = rows(cluster.kubectl("-n", ns, "get", "cronjob", "tick").stdout)
    assert table[0][:5] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE"]
    assert table[1][:2] == ["tick", "*"] and table[1][6:8] == ["<none>", "False"]

    cluster.kubectl("-n", ns, "create", "job", "by-hand", "--from=cronjob/tick")
    manual = get_json(cluster, "-n", ns, "get", "job", "by-hand")
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert manual["metadata"]["ownerReferences"][0]["name"] == "tick"
    cluster.kubectl(
        "-n", ns, "wait", "--for=condition=complete", "job/by-hand", f"--timeout={WAIT}"
    )
    deadline = time.monotonic() + 30
    reasons: set[str] = set()
    while time.monotonic() < deadline:
        events = get_json(
            cluster, "-n", ns, "get", "events", "--field-selector=involvedObject.name=tick"
        )["items"]
        reasons = {e["reason"] for e in events}
        if {"SuccessfulCreate", "SawCompletedJob"} <= reasons:
            break
        time.sleep(0.5)
    assert {"SuccessfulCreate", "SawCompletedJob"} <= reasons, reasons
    messages = {e["reason"]: e["message"] for e in events}
    assert messages["SuccessfulCreate"] == f"Created job {name}"
    assert messages["SawCompletedJob"] == f"Saw completed job: {name}, status: Complete"
