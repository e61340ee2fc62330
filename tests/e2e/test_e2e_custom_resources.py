"""CustomResourceDefinitions end to end: ``kapi up`` and the real kubectl.

A CRD applied and waited for, its resources in ``api-resources``, custom resources
created, listed (with the CRD's printer columns, short names and categories), watched,
validated strictly and by schema (422 in kube's words), defaulted and pruned, scaled
and given a status, explained, read in another version, and removed with their CRD.
Each test that drives kubectl runs with every kubectl of conftest's ``kubectls()`` (1.32
and 1.37 where found), so the objects it makes carry a per-run suffix.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest

from tests import conversion_webhook
from tests.conversion_webhook import widget_crd
from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


def crd_yaml(
    group: str, *, kind: str = "CronTab", short: str = "ct", open_status: bool = False
) -> str:
    """kube's CronTab example (as ``kind``, short name ``short``); ``open_status``: the
    status keeps fields its schema does not name (what an operator framework writes)."""
    status_extra = "x-kubernetes-preserve-unknown-fields: true" if open_status else ""
    return f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {kind.lower()}s.{group}
spec:
  group: {group}
  scope: Namespaced
  names:
    plural: {kind.lower()}s
    singular: {kind.lower()}
    kind: {kind}
    shortNames: [{short}]
    categories: [all]
  versions:
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs an image on a schedule.
        properties:
          spec:
            type: object
            description: What to run, and when.
            properties:
              cronSpec:
                type: string
                description: When to run, in cron format.
                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){{4}}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 0
                maximum: 10
                default: 1
            required: [cronSpec]
          status:
            type: object
            {status_extra}
            properties:
              replicas: {{type: integer}}
              selector: {{type: string}}
    subresources:
      status: {{}}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Image
      type: string
      priority: 1
      jsonPath: .spec.image
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
"""


def crontab_yaml(group: str, name: str, extra: str = "", *, kind: str = "CronTab") -> str:
    return f"""
apiVersion: {group}/v1
kind: {kind}
metadata:
  name: {name}
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
{extra}"""


def unique(name: str) -> str:
    """``name`` with a suffix, for objects made once per kubectl."""
    return f"{name}-{uuid.uuid4().hex[:5]}"


def refused(cluster: Cluster, *args: str, input: str) -> str:
    result = cluster.kubectl(*args, input=input, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr.strip()


@pytest.fixture(scope="module")
def group() -> str:
    return f"e{uuid.uuid4().hex[:8]}.example.com"


@pytest.fixture(scope="module")
def crd(cluster: Cluster, group: str) -> str:
    applied = cluster.kubectl("apply", "-f", "-", input=crd_yaml(group))
    assert applied.stdout.strip() == (
        f"customresourcedefinition.apiextensions.k8s.io/crontabs.{group} created"
    )
    waited = cluster.kubectl(
        "wait", "--for=condition=Established", f"crd/crontabs.{group}", "--timeout=30s"
    )
    assert waited.stdout.strip() == (
        f"customresourcedefinition.apiextensions.k8s.io/crontabs.{group} condition met"
    )
    return f"crontabs.{group}"


def test_api_resources(kube: Cluster, crd: str, group: str) -> None:
    out = kube.kubectl("api-resources", f"--api-group={group}").stdout.splitlines()
    assert out[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert out[1].split() == ["crontabs", "ct", f"{group}/v1", "true", "CronTab"]


def test_create_get_list_with_printer_columns(kube: Cluster, crd: str, group: str) -> None:
    name = unique("listed")
    created = kube.kubectl("create", "-f", "-", input=crontab_yaml(group, name))
    assert created.stdout.strip() == f"crontab.{group}/{name} created"
    table = kube.kubectl("get", "ct").stdout.splitlines()
    assert table[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    row = next(line for line in table if line.startswith(f"{name} "))
    assert row.split()[1:7] == ["*", "*", "*", "*", "*/5", "1"]
    wide = kube.kubectl("get", "crontabs", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]
    assert "my-awesome-cron-image" in next(line for line in wide if line.startswith(f"{name} "))
    replicas = kube.kubectl("get", "crontab", name, "-o", "jsonpath={.spec.replicas}")
    assert replicas.stdout == "1"  # defaulted
    everything = kube.kubectl("get", "all").stdout
    assert f"crontab.{group}/{name}" in everything  # the "all" category


def test_strict_validation_and_pruning(kube: Cluster, crd: str, group: str) -> None:
    name = unique("strict")
    body = crontab_yaml(group, name, "  unknownField: 1\n")
    error = refused(kube, "create", "-f", "-", input=body)
    assert error == (
        'Error from server (BadRequest): error when creating "STDIN": CronTab in version "v1" '
        'cannot be handled as a CronTab: strict decoding error: unknown field "spec.unknownField"'
    )
    lenient = kube.kubectl("create", "--validate=false", "-f", "-", input=body)
    assert lenient.returncode == 0
    stored = json.loads(kube.kubectl("get", "ct", name, "-o", "json").stdout)
    assert "unknownField" not in stored["spec"]  # pruned


def test_invalid_objects_are_422(kube: Cluster, crd: str, group: str) -> None:
    body = crontab_yaml(group, "invalid", "  replicas: 11\n").replace("* * * * */5", "bad")
    error = refused(kube, "create", "-f", "-", input=body)
    assert error == (
        'The CronTab "invalid" is invalid: \n'
        '* spec.cronSpec: Invalid value: "bad": spec.cronSpec in body should match '
        "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'\n"
        "* spec.replicas: Invalid value: 11: spec.replicas in body should be less than or "
        "equal to 10"
    )


def test_scale_and_status(kube: Cluster, crd: str, group: str) -> None:
    name = unique("scaled")
    kube.kubectl("create", "-f", "-", input=crontab_yaml(group, name))
    scaled = kube.kubectl("scale", "crontab", name, "--replicas=3")
    assert scaled.stdout.strip() == f"crontab.{group}/{name} scaled"
    patched = kube.kubectl(
        "patch", "ct", name, "--subresource=status", "--type=merge",
        "-p", '{"status":{"replicas":3,"selector":"app=scaled"}}',
    )  # fmt: skip
    assert patched.stdout.strip() == f"crontab.{group}/{name} patched"
    got = json.loads(kube.kubectl("get", "ct", name, "-o", "json").stdout)
    assert got["spec"]["replicas"] == 3
    assert got["status"] == {"replicas": 3, "selector": "app=scaled"}
    assert got["metadata"]["generation"] == 2  # the spec changed once


def test_explain(kube: Cluster, crd: str, group: str) -> None:
    out = kube.kubectl("explain", "crontabs.spec").stdout
    assert f"GROUP:      {group}" in out
    assert "What to run, and when." in out
    assert "cronSpec\t<string> -required-" in out
    field = kube.kubectl("explain", "crontab.spec.cronSpec").stdout
    assert "When to run, in cron format." in field


def test_another_version_and_its_warning(kube: Cluster, crd: str, group: str) -> None:
    name = unique("versioned")
    kube.kubectl("create", "-f", "-", input=crontab_yaml(group, name))
    result = kube.kubectl("get", f"crontabs.v1beta1.{group}", name, "-o", "json")
    assert json.loads(result.stdout)["apiVersion"] == f"{group}/v1beta1"
    assert f"Warning: {group}/v1beta1 CronTab is deprecated; use {group}/v1 CronTab" in (
        result.stderr
    )


def test_watch(kube: Cluster, crd: str, group: str) -> None:
    name = unique("watched")
    watching = kube.popen("get", "ct", "--watch", "-o", "name", "--request-timeout=10s")
    try:
        time.sleep(1.5)
        kube.kubectl("create", "-f", "-", input=crontab_yaml(group, name))
        deadline = time.monotonic() + 10
        lines: list[str] = []
        assert watching.stdout is not None
        while time.monotonic() < deadline:
            line = watching.stdout.readline().strip()
            lines.append(line)
            if line == f"crontab.{group}/{name}":
                break
        assert f"crontab.{group}/{name}" in lines
    finally:
        watching.kill()
        watching.wait()


def test_deleting_the_crd_removes_its_objects(kube: Cluster, group: str) -> None:
    other = f"d{kube.kubectl_minor}{group}"
    kube.kubectl("apply", "-f", "-", input=crd_yaml(other))
    kube.kubectl("wait", "--for=condition=Established", f"crd/crontabs.{other}")
    kube.kubectl("create", "-f", "-", input=crontab_yaml(other, "doomed"))
    deleted = kube.kubectl("delete", "crd", f"crontabs.{other}", timeout=90)
    assert deleted.stdout.strip() == (
        f'customresourcedefinition.apiextensions.k8s.io "crontabs.{other}" deleted'
    )
    error = kube.kubectl_fails("get", f"crontabs.{other}")
    missing = 'error: the server doesn\'t have a resource type "crontabs"'
    # kubectl 1.37 names the group it looked in; 1.32 does not
    assert error in (missing, f'{missing} in group "{other}"')


def test_strategic_merge_patch_is_refused(kube: Cluster, crd: str, group: str) -> None:
    name = unique("patched")
    kube.kubectl("create", "-f", "-", input=crontab_yaml(group, name))
    error = kube.kubectl_fails("patch", "ct", name, "-p", '{"spec":{"image":"x"}}')
    assert error == (  # kubectl's words around kube's 415
        f"error: application/strategic-merge-patch+json is not supported by {group}/v1, "
        "Kind=CronTab: the body of the request was in an unknown format - accepted media types "
        "include: application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml"
    )
    merged = kube.kubectl("patch", "ct", name, "--type=merge", "-p", '{"spec":{"image":"x"}}')
    assert merged.stdout.strip() == f"crontab.{group}/{name} patched"


def test_webhook_conversion(kube: Cluster, tmp_path: Path) -> None:
    """A CRD converted by a webhook (tests/conversion_webhook.py, by URL), read in both
    versions; a failing webhook is kube's reasonless 500."""
    group = f"w{kube.kubectl_minor}{uuid.uuid4().hex[:6]}.example.com"
    with conversion_webhook.running(tmp_path) as hook:
        bundle = base64.b64encode(hook.ca_bundle).decode()
        webhook = {"conversionReviewVersions": ["v1"],
                   "clientConfig": {"url": hook.url, "caBundle": bundle}}  # fmt: skip
        kube.kubectl("apply", "-f", "-", input=json.dumps(widget_crd(group, webhook=webhook)))
        kube.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}")
        meta = {"name": "w", "namespace": "default"}
        widget = {"apiVersion": f"{group}/v1beta1", "kind": "Widget", "metadata": meta,
                  "spec": {"size": "3"}}  # fmt: skip
        created = kube.kubectl("create", "-f", "-", input=json.dumps(widget))
        assert created.stdout.strip() == f"widget.{group}/w created"
        stored = json.loads(kube.kubectl("get", f"widgets.v1.{group}", "w", "-o", "json").stdout)
        assert (stored["apiVersion"], stored["spec"]) == (f"{group}/v1", {"replicas": 3})
        beta = kube.kubectl("get", f"widgets.v1beta1.{group}", "w", "-o", "jsonpath={.spec}")
        assert json.loads(beta.stdout) == {"size": "3"}
        assert f"Warning: {group}/v1beta1 Widget is deprecated; use {group}/v1 Widget" in (
            beta.stderr
        )
        hook.fail = True
        failed = kube.kubectl("get", f"widgets.v1beta1.{group}", "w", check=False)
        assert failed.returncode != 0
        assert failed.stderr.strip().splitlines()[-1] == (
            f"Error from server: conversion webhook for {group}/v1, Kind=Widget failed: "
            "the webhook says no"
        )
        hook.fail = False
        kube.kubectl("delete", "crd", f"widgets.{group}", timeout=90)
