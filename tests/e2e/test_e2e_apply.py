"""Patch and apply as users drive them: the real kubectl against `kapi up`.

Client-side apply (three-way strategic merge computed by kubectl), server-side apply with
conflicts and --force-conflicts, kubectl diff both ways, kubectl edit with a scripted
editor, kubectl patch of the three types, and the commands that are patches underneath
(label, annotate, set image, set env, scale) keeping what they do not touch.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(cluster: Cluster) -> str:
    name = f"apply-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "ns", name)
    return name


def deployment(name: str, image: str = "nginx:1.25", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, **labels}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "ports": [{"containerPort": 80}],
                            "env": [{"name": "MODE", "value": "prod"}],
                        }
                    ]
                },
            },
        },
    }


def get(cluster: Cluster, ns: str, *what: str) -> dict[str, Any]:
    shown = cluster.kubectl("-n", ns, "get", *what, "-o", "json", "--show-managed-fields")
    out: dict[str, Any] = json.loads(shown.stdout)
    return out


def managers(obj: dict[str, Any]) -> dict[str, str]:
    """The managers of the object's main resource: the deployment controller also owns
    the status it writes (an Update of the ``status`` subresource), as in kube."""
    return {
        e["manager"]: e["operation"]
        for e in obj["metadata"].get("managedFields", [])
        if e.get("subresource", "") != "status"
    }


# --- client-side apply ------------------------------------------------------------------


def test_client_side_apply_lifecycle(cluster: Cluster, ns: str) -> None:
    manifest = deployment("csa", tier="web")
    apply = ("-n", ns, "apply", "-f", "-")
    assert cluster.kubectl(*apply, input=yaml.safe_dump(manifest)).stdout.strip() == (
        "deployment.apps/csa created"
    )
    assert cluster.kubectl(*apply, input=yaml.safe_dump(manifest)).stdout.strip() == (
        "deployment.apps/csa unchanged"
    )
    # Another actor sets a field the manifest does not have.
    cluster.kubectl("-n", ns, "annotate", "deploy", "csa", "owner=team-a")
    manifest["metadata"]["labels"].pop("tier")
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    out = cluster.kubectl(*apply, input=yaml.safe_dump(manifest)).stdout.strip()
    assert out == "deployment.apps/csa configured"
    obj = get(cluster, ns, "deploy", "csa")
    assert obj["metadata"]["labels"] == {"app": "csa"}  # dropped from the manifest: removed
    assert obj["metadata"]["annotations"]["owner"] == "team-a"  # someone else's: kept
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "MODE", "value": "prod"}]
    assert managers(obj)["kubectl-client-side-apply"] == "Update"
    assert managers(obj)["kubectl-annotate"] == "Update"


def test_client_side_apply_removes_a_container_and_env(cluster: Cluster, ns: str) -> None:
    manifest = deployment("two")
    manifest["spec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "busybox", "command": ["sleep", "3600"]}
    )
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    manifest["spec"]["template"]["spec"]["containers"].pop()
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = []
    out = cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    assert out.stdout.strip() == "deployment.apps/two configured"
    containers = get(cluster, ns, "deploy", "two")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert not containers[0].get("env")


def test_client_side_diff(cluster: Cluster, ns: str) -> None:
    manifest = deployment("cdiff")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    same = cluster.kubectl("-n", ns, "diff", "-f", "-", input=yaml.safe_dump(manifest))
    assert same.returncode == 0 and same.stdout == ""
    manifest["spec"]["replicas"] = 5
    changed = cluster.kubectl(
        "-n", ns, "diff", "-f", "-", input=yaml.safe_dump(manifest), check=False
    )
    assert changed.returncode == 1, changed.stderr
    assert "-  replicas: 2" in changed.stdout and "+  replicas: 5" in changed.stdout
    assert get(cluster, ns, "deploy", "cdiff")["spec"]["replicas"] == 2


# --- server-side apply ------------------------------------------------------------------


def test_server_side_apply_conflicts_and_force(cluster: Cluster, ns: str) -> None:
    manifest = deployment("ssa")
    ssa = ("-n", ns, "apply", "--server-side", "-f", "-")
    out = cluster.kubectl(*ssa, input=yaml.safe_dump(manifest))
    assert out.stdout.strip() == "deployment.apps/ssa serverside-applied"
    obj = get(cluster, ns, "deploy", "ssa")
    assert managers(obj) == {"kubectl": "Apply"}

    theirs = {  # ci applies only the image
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ssa"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:9"}]}}},
    }
    conflict = cluster.kubectl(
        *ssa, "--field-manager=ci", input=yaml.safe_dump(theirs), check=False
    )
    assert conflict.returncode != 0
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl": '
        '.spec.template.spec.containers[name="web"].image' in conflict.stderr
    )
    assert "--force-conflicts" in conflict.stderr  # kubectl's advice on a 409 conflict

    forced = cluster.kubectl(
        *ssa, "--field-manager=ci", "--force-conflicts", input=yaml.safe_dump(theirs)
    )
    assert forced.stdout.strip() == "deployment.apps/ssa serverside-applied"
    obj = get(cluster, ns, "deploy", "ssa")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:9"
    assert managers(obj) == {"kubectl": "Apply", "ci": "Apply"}

    # kubectl stops applying replicas, which it alone owned: it goes (back to the default).
    manifest["spec"].pop("replicas")
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:9"
    cluster.kubectl(*ssa, input=yaml.safe_dump(manifest))
    assert get(cluster, ns, "deploy", "ssa")["spec"]["replicas"] == 1


def test_server_side_apply_upgrades_client_side_apply(cluster: Cluster, ns: str) -> None:
    manifest = deployment("upgrade")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    manifest["spec"]["replicas"] = 3
    out = cluster.kubectl(
        "-n", ns, "apply", "--server-side", "-f", "-", input=yaml.safe_dump(manifest)
    )
    assert out.stdout.strip() == "deployment.apps/upgrade serverside-applied"
    obj = get(cluster, ns, "deploy", "upgrade")
    assert obj["spec"]["replicas"] == 3
    last = json.loads(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last["spec"]["replicas"] == 3


def test_server_side_diff(cluster: Cluster, ns: str) -> None:
    manifest = deployment("sdiff")
    cluster.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=yaml.safe_dump(manifest))
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    diff = cluster.kubectl(
        "-n", ns, "diff", "--server-side", "-f", "-", input=yaml.safe_dump(manifest), check=False
    )
    assert diff.returncode == 1, diff.stderr
    assert "+        image: nginx:2" in diff.stdout
    image = get(cluster, ns, "deploy", "sdiff")["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "nginx:1.25"  # dryRun=All wrote nothing
    new = cluster.kubectl(
        "-n",
        ns,
        "diff",
        "--server-side",
        "-f",
        "-",
        input=yaml.safe_dump(deployment("not-yet")),
        check=False,
    )
    assert new.returncode == 1 and "+  name: not-yet" in new.stdout


# --- edit and patch ---------------------------------------------------------------------


def test_edit_with_a_scripted_editor(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "ed", "--image=nginx:1", "--replicas=1")
    cluster.kubectl("-n", ns, "label", "deploy", "ed", "keep=me")
    editor = tmp_path / "editor.py"
    editor.write_text(
        textwrap.dedent(
            """
            import sys
            path = sys.argv[1]
            text = open(path).read().replace("image: nginx:1", "image: nginx:2")
            text = text.replace("replicas: 1", "replicas: 3")
            open(path, "w").write(text)
            """
        )
    )
    env_editor = f"{sys.executable} {editor}"
    result = _kubectl_with_env(cluster, {"KUBE_EDITOR": env_editor}, "-n", ns, "edit", "deploy/ed")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deployment.apps/ed edited"
    obj = get(cluster, ns, "deploy", "ed")
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert obj["metadata"]["labels"]["keep"] == "me"
    assert managers(obj)["kubectl-edit"] == "Update"


def _kubectl_with_env(
    cluster: Cluster, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            cluster.kubectl_path,
            f"--kubeconfig={cluster.kubeconfig}",
            f"--cache-dir={cluster.cache_dir}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_patch_of_all_three_types(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(deployment("p")))
    strategic = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "web", "env": [{"name": "EXTRA", "value": "1"}]}]}
            }
        }
    }
    out = cluster.kubectl("-n", ns, "patch", "deploy", "p", "-p", json.dumps(strategic))
    assert out.stdout.strip() == "deployment.apps/p patched"
    merge = {"metadata": {"labels": {"via": "merge"}}}
    cluster.kubectl("-n", ns, "patch", "deploy", "p", "--type", "merge", "-p", json.dumps(merge))
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    cluster.kubectl("-n", ns, "patch", "deploy", "p", "--type", "json", "-p", json.dumps(ops))
    obj = get(cluster, ns, "deploy", "p")
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "EXTRA", "value": "1"}, {"name": "MODE", "value": "prod"}]
    assert obj["metadata"]["labels"]["via"] == "merge"
    assert obj["spec"]["replicas"] == 4
    # kubectl says "(no change)" when the object it read before patching equals the
    # patch's answer: wait until the deployment controller has stopped writing the
    # status of the scale-up, or one of its writes lands in between.
    cluster.kubectl("-n", ns, "rollout", "status", "deploy/p", "--timeout=120s")
    again = cluster.kubectl(
        "-n", ns, "patch", "deploy", "p", "--type", "merge", "-p", json.dumps(merge)
    )
    assert again.stdout.strip() == "deployment.apps/p patched (no change)"
    bad = cluster.kubectl_fails("-n", ns, "patch", "deploy", "nope", "-p", "{}")
    assert bad == 'Error from server (NotFound): deployments.apps "nope" not found'


def test_commands_that_patch_keep_unrelated_fields(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(deployment("cmds")))
    cluster.kubectl("-n", ns, "label", "deploy", "cmds", "stage=one")
    cluster.kubectl("-n", ns, "annotate", "deploy", "cmds", "note=hello")
    cluster.kubectl("-n", ns, "set", "image", "deploy/cmds", "web=nginx:1.27")
    cluster.kubectl("-n", ns, "set", "env", "deploy/cmds", "EXTRA=yes")
    scaled = cluster.kubectl("-n", ns, "scale", "deploy/cmds", "--replicas=5")
    assert scaled.stdout.strip() == "deployment.apps/cmds scaled"
    cluster.kubectl("-n", ns, "label", "deploy", "cmds", "stage-")
    obj = get(cluster, ns, "deploy", "cmds")
    assert obj["metadata"]["labels"] == {"app": "cmds"}
    assert obj["metadata"]["annotations"]["note"] == "hello"
    assert obj["spec"]["replicas"] == 5
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert {e["name"]: e["value"] for e in container["env"]} == {"MODE": "prod", "EXTRA": "yes"}
    seen = managers(obj)
    for manager in ("kubectl-annotate", "kubectl-set", "kubectl-client-side-apply"):
        assert seen[manager] == "Update", seen
    assert "kubectl-label" not in seen  # the one label it set is gone, so is its entry
    scale = [e for e in obj["metadata"]["managedFields"] if e.get("subresource") == "scale"]
    assert [(e["manager"], e["fieldsV1"]) for e in scale] == [
        ("kubectl", {"f:spec": {"f:replicas": {}}})
    ]


def test_client_side_apply_converges_on_random_manifest_edits(cluster: Cluster, ns: str) -> None:
    """Property: after each `kubectl apply` of a randomly edited manifest (kubectl's
    three-way strategic merge patch, our server's merge), the live object says what the
    manifest says: labels, annotations, containers in order, images, env, ports."""
    rng = random.Random(7)
    manifest = deployment("conv")
    containers = manifest["spec"]["template"]["spec"]["containers"]
    counter = itertools.count()
    for step in range(10):
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            labels = manifest["metadata"]["labels"]
            annotations = manifest["metadata"].setdefault("annotations", {})
            if roll < 0.15:
                labels[f"l{next(counter)}"] = "v"
            elif roll < 0.25 and len(labels) > 1:
                labels.pop(rng.choice([k for k in labels if k != "app"]))
            elif roll < 0.35:
                annotations[f"a{next(counter)}"] = str(step)
            elif roll < 0.45 and annotations:
                annotations.pop(rng.choice(list(annotations)))
            elif roll < 0.6:
                containers.append({"name": f"c{next(counter)}", "image": f"img:{step}"})
            elif roll < 0.7 and len(containers) > 1:
                containers.pop(rng.randrange(len(containers)))
            elif roll < 0.8:
                rng.shuffle(containers)
            elif roll < 0.9:
                target = rng.choice(containers)
                env = target.setdefault("env", [])
                if env and rng.random() < 0.5:
                    env.pop(rng.randrange(len(env)))
                else:
                    env.append({"name": f"E{next(counter)}", "value": str(step)})
            else:
                target = rng.choice(containers)
                target["image"] = f"img:{step}-{next(counter)}"
                ports = target.setdefault("ports", [])
                if ports and rng.random() < 0.5:
                    ports.pop()
                else:
                    ports.append({"containerPort": 8000 + next(counter)})
        if not manifest["metadata"].get("annotations"):
            manifest["metadata"].pop("annotations", None)
        cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(manifest))
        live = get(cluster, ns, "deploy", "conv")
        assert live["metadata"]["labels"] == manifest["metadata"]["labels"], step
        live_annotations = dict(live["metadata"].get("annotations") or {})
        live_annotations.pop("kubectl.kubernetes.io/last-applied-configuration")
        # The deployment controller's own annotation, which apply leaves alone.
        live_annotations.pop("deployment.kubernetes.io/revision", None)
        assert live_annotations == manifest["metadata"].get("annotations", {}), step
        live_containers = live["spec"]["template"]["spec"]["containers"]
        assert [c["name"] for c in live_containers] == [c["name"] for c in containers], step
        for want, got in zip(containers, live_containers, strict=True):
            assert got["image"] == want["image"], step
            assert (got.get("env") or []) == (want.get("env") or []), step
            assert [p["containerPort"] for p in got.get("ports") or []] == [
                p["containerPort"] for p in want.get("ports") or []
            ], step
