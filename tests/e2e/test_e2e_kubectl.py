"""The control plane as a user drives it: the real kubectl against `kapi up`.

Every command of the first-slice issue, with the output and error messages a real
cluster gives.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import yaml

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    assert cluster.kubectl("create", "ns", name).stdout.strip() == f"namespace/{name} created"
    # What the controller manager puts in every namespace, a moment after it is created.
    cluster.kubectl(
        "-n",
        name,
        "wait",
        "--for=create",
        "configmap/kube-root-ca.crt",
        "sa/default",
        "--timeout=30s",
    )
    return name


def test_version_reports_1_32(cluster: Cluster) -> None:
    out = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["major"] == "1"
    assert out["serverVersion"]["minor"] == "32"


def test_api_resources_lists_the_types(cluster: Cluster) -> None:
    rows = [line.split() for line in cluster.kubectl("api-resources").stdout.splitlines()]
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["configmaps", "cm", "v1", "true", "ConfigMap"] in rows
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["namespaces", "ns", "v1", "false", "Namespace"] in rows
    assert ["secrets", "v1", "true", "Secret"] in rows


def test_get_namespaces_shows_the_system_ones(cluster: Cluster) -> None:
    lines = cluster.kubectl("get", "ns").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    names = {line.split()[0]: line.split()[1] for line in lines[1:]}
    for name in ("default", "kube-system", "kube-public"):
        assert names[name] == "Active"


def test_configmap_lifecycle(cluster: Cluster, ns: str) -> None:
    created = cluster.kubectl("-n", ns, "create", "configmap", "c", "--from-literal=a=1")
    assert created.stdout.strip() == "configmap/c created"
    table = cluster.kubectl("-n", ns, "get", "cm").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    # As on a real cluster, every namespace has the cluster CA published in it.
    assert [row.split()[:2] for row in table[1:]] == [["c", "1"], ["kube-root-ca.crt", "1"]]
    obj = yaml.safe_load(cluster.kubectl("-n", ns, "get", "cm", "c", "-o", "yaml").stdout)
    assert obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap"
    assert obj["data"] == {"a": "1"}
    assert obj["metadata"]["namespace"] == ns
    assert obj["metadata"]["uid"] and int(obj["metadata"]["resourceVersion"]) > 0
    deleted = cluster.kubectl("-n", ns, "delete", "cm", "c").stdout.strip()
    # kubectl 1.37 names the namespace it deleted from; 1.32 does not.
    assert deleted in ('configmap "c" deleted', f'configmap "c" deleted from {ns} namespace')
    missing = cluster.kubectl_fails("-n", ns, "get", "cm", "c")
    assert missing == 'Error from server (NotFound): configmaps "c" not found'


def test_watch_shows_a_change_made_elsewhere(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "first", "--from-literal=a=1")
    watcher = cluster.popen("-n", ns, "get", "cm", "-w")
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline()
        assert header.split() == ["NAME", "DATA", "AGE"]
        listed = {watcher.stdout.readline().split()[0] for _ in range(2)}
        assert listed == {"first", "kube-root-ca.crt"}
        cluster.kubectl(
            "-n", ns, "create", "configmap", "second", "--from-literal=b=2", "--from-literal=c=3"
        )
        line = watcher.stdout.readline()
        assert line.split()[:2] == ["second", "2"]
    finally:
        watcher.terminate()
        watcher.wait(10)


def test_apply_creates_then_is_unchanged(cluster: Cluster, ns: str) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "applied", "labels": {"app": "demo"}},
            "data": {"k": "v"},
        }
    )
    first = cluster.kubectl("-n", ns, "apply", "-f", "-", input=manifest)
    assert first.stdout.strip() == "configmap/applied created"
    obj = json.loads(cluster.kubectl("-n", ns, "get", "cm", "applied", "-o", "json").stdout)
    last = json.loads(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last["data"] == {"k": "v"}
    again = cluster.kubectl("-n", ns, "apply", "-f", "-", input=manifest)
    assert again.stdout.strip() == "configmap/applied unchanged"


def test_create_from_file_and_duplicate(cluster: Cluster, ns: str) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "fromfile"},
            "data": {"x": "z"},  # (a bare y would be YAML 1.1 true to kubectl)
        }
    )
    assert cluster.kubectl("-n", ns, "create", "-f", "-", input=manifest).stdout.strip() == (
        "configmap/fromfile created"
    )
    err = cluster.kubectl_fails("-n", ns, "create", "-f", "-")
    assert "error: no objects passed to create" in err or "AlreadyExists" in err
    dup = cluster.kubectl("-n", ns, "create", "-f", "-", input=manifest, check=False)
    assert dup.returncode != 0
    assert 'configmaps "fromfile" already exists' in dup.stderr


def test_deployment_and_get_across_namespaces(cluster: Cluster, ns: str) -> None:
    out = cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx")
    assert out.stdout.strip() == "deployment.apps/web created"
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/web", "--timeout=60s")
    rows = [line.split() for line in cluster.kubectl("get", "deploy", "-A").stdout.splitlines()]
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [ns, "web", "1/1", "1", "1"] in [row[:5] for row in rows[1:]]
    obj = json.loads(cluster.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx" and container["imagePullPolicy"] == "Always"
    assert obj["metadata"]["generation"] == 1


def test_secret_serviceaccount_pod_service(cluster: Cluster, ns: str) -> None:
    assert (
        cluster.kubectl(
            "-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v"
        ).stdout.strip()
        == "secret/s created"
    )
    secret = json.loads(cluster.kubectl("-n", ns, "get", "secret", "s", "-o", "json").stdout)
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["k"]) == b"v"
    assert cluster.kubectl("-n", ns, "create", "serviceaccount", "sa").stdout.strip() == (
        "serviceaccount/sa created"
    )
    # The default one is the serviceaccount controller's.
    cluster.kubectl("-n", ns, "wait", "--for=create", "sa/default", "--timeout=30s")
    accounts = cluster.kubectl("-n", ns, "get", "sa", "-o", "name").stdout.split()
    assert sorted(accounts) == ["serviceaccount/default", "serviceaccount/sa"]
    assert cluster.kubectl("-n", ns, "run", "p", "--image=busybox").stdout.strip() == (
        "pod/p created"
    )
    pod = json.loads(cluster.kubectl("-n", ns, "get", "pod", "p", "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["image"] == "busybox"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["serviceAccountName"] == "default"
    # Scheduled to the simulated node, which runs it.
    cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/p", "--timeout=60s")
    pods = cluster.kubectl("-n", ns, "get", "pods").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1].split()[:4] == ["p", "1/1", "Running", "0"]
    assert (
        cluster.kubectl(
            "-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:80"
        ).stdout.strip()
        == "service/svc created"
    )
    services = [
        line.split() for line in cluster.kubectl("-n", ns, "get", "svc").stdout.splitlines()
    ]
    assert services[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    name, kind, ip, external, ports = services[1][:5]
    assert (name, kind, external, ports) == ("svc", "ClusterIP", "<none>", "80/TCP")
    assert ip.startswith("10.")
    everything = cluster.kubectl("-n", ns, "get", "all").stdout
    assert "pod/p" in everything and "service/svc" in everything


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("create", "ns", "Bad_Name"),
            'The Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a '
            "lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        (
            ("-n", "no-such-namespace", "create", "configmap", "x", "--from-literal=a=b"),
            'error: failed to create configmap: namespaces "no-such-namespace" not found',
        ),
        (
            ("get", "cm", "nope", "-n", "default"),
            'Error from server (NotFound): configmaps "nope" not found',
        ),
        (("get", "widgets"), 'error: the server doesn\'t have a resource type "widgets"'),
        (
            ("delete", "ns", "default"),
            'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may '
            "not be deleted",
        ),
    ],
)
def test_errors_as_on_a_real_cluster(cluster: Cluster, args: tuple[str, ...], message: str) -> None:
    assert cluster.kubectl_fails(*args) == message


def test_duplicate_configmap_error(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "dup", "--from-literal=a=1")
    assert cluster.kubectl_fails("-n", ns, "create", "configmap", "dup", "--from-literal=a=1") == (
        'error: failed to create configmap: configmaps "dup" already exists'
    )


def test_bad_credentials(cluster: Cluster) -> None:
    # The token context: with the default one's client certificate the certificate
    # would authenticate first and the bad token would not matter, as on kube.
    assert cluster.kubectl_fails("--context=kapi-token", "--token=not-a-token", "get", "ns") == (
        "error: You must be logged in to the server (Unauthorized)"
    )
    assert "default" in cluster.kubectl("--token=not-a-token", "get", "ns").stdout


def test_official_python_client(cluster: Cluster, ns: str) -> None:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = client.CoreV1Api(api_client)
    assert client.VersionApi(api_client).get_code().minor == "32"
    names = {item.metadata.name for item in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", ns} <= names
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py"), data={"k": "v"})
    created = core.create_namespaced_config_map(ns, body)
    assert created.metadata.uid and created.data == {"k": "v"}
    with pytest.raises(ApiException) as conflict:
        core.create_namespaced_config_map(ns, body)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["reason"] == "AlreadyExists"
    apps = client.AppsV1Api(api_client)
    assert apps.list_namespaced_deployment(ns).items == []
    api_client.close()


def test_an_informer_lists_at_zero_then_watches_from_the_list(cluster: Cluster, ns: str) -> None:
    """client-go's reflector pattern with the official client: a resourceVersion=0 list
    (after the first, answered by the gateway from the objects it holds), then a watch
    from the list's resourceVersion that sees the next write and nothing before it."""
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="before"))
    )
    core.list_namespaced_config_map(ns, resource_version="0")  # the gateway starts holding
    time.sleep(1)  # configmaps (in the background); the next list is likely its answer
    listed = core.list_namespaced_config_map(ns, resource_version="0")
    assert "before" in {item.metadata.name for item in listed.items}
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="after"))
    )
    events = watch.Watch().stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=10,
    )
    seen = []
    for event in events:
        seen.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "after":
            break
    assert seen[-1] == ("ADDED", "after")
    assert ("ADDED", "before") not in seen  # already in the list it watched from
    api_client.close()


def test_etcd_killed_then_restarted(cluster: Cluster) -> None:
    """Clients get a prompt Status error while etcd is down, and service resumes by itself."""
    import os
    import signal

    children = cluster.state()["children"]
    assert isinstance(children, dict)
    etcd_pid = int(children["etcd"]["pid"])
    os.kill(etcd_pid, signal.SIGKILL)
    failed = cluster.kubectl("get", "ns", "--request-timeout=20s", check=False)
    # Either the request raced the restart and succeeded, or the server answered with a
    # Status: a hanging server would show as kubectl's own client timeout instead.
    if failed.returncode != 0:
        assert failed.stderr.startswith("Error from server"), failed.stderr
        assert any(
            word in failed.stderr
            for word in ("ServiceUnavailable", "Timeout", "InternalError", "unavailable")
        ), failed.stderr
        assert "Traceback" not in failed.stderr
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        again = cluster.kubectl("get", "ns", "default", check=False)
        if again.returncode == 0:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"kapi did not recover after etcd restart: {again.stderr}")
    assert int(cluster.state()["children"]["etcd"]["pid"]) != etcd_pid  # type: ignore[index]


@pytest.mark.parametrize("service", ["storage", "authz", "registry", "gateway"])
def test_a_peer_service_restart_is_survived(cluster: Cluster, service: str) -> None:
    """kapi up restarts a dead child and every other service reconnects by itself."""
    import os
    import signal

    def pid_of(name: str) -> int | None:
        children = cluster.state()["children"]
        assert isinstance(children, dict)
        found = children[name].get("pid")
        return int(found) if found else None

    pid = pid_of(service)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    name = f"after-{service}-restart"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        restarted = pid_of(service)
        if restarted is not None and restarted != pid:
            # A write crosses every service: gateway, authz, registry, storage, etcd.
            again = cluster.kubectl(
                "-n", "default", "create", "configmap", name, "--request-timeout=10s", check=False
            )
            if again.returncode == 0:
                break
            assert "Traceback" not in again.stderr
        time.sleep(0.5)
    else:
        raise AssertionError(f"no recovery after {service} was killed")
    # Lists at resourceVersion=0 (the gateway's held objects, re-seeded after its feed
    # broke with the restart, or storage meanwhile) come to show the new object too.
    raw = "/api/v1/namespaces/default/configmaps?resourceVersion=0"
    deadline = time.monotonic() + 30
    while name not in cluster.kubectl("get", "--raw", raw).stdout:
        assert time.monotonic() < deadline, "the rv=0 list never showed the new object"
        time.sleep(0.5)
    cluster.kubectl("-n", "default", "delete", "configmap", name)
    log = (cluster.data_dir / "logs" / "kapi.log").read_text(errors="replace")
    assert any(service in line and "restart" in line for line in log.splitlines())
