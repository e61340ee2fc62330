"""APIServices in the registry: kube-aggregator's strategy and validation, its table, the
local APIServices kept in step with the catalog (kube's autoregister and CRD
registration controllers), extension-apiserver-authentication, and EndpointSlices'
special-address rule (kube refuses loopback; kapi up allows it)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from kapi.errors import FieldError
from services.registry import aggregation, printers
from services.registry.authentication_trust import AuthenticationTrust
from services.registry.catalog import Catalog
from services.registry.crd.definitions import definitions_of
from services.registry.local_apiservices import LocalAPIServices, wanted
from services.registry.service import ReadOptions, Registry, Target
from services.registry.strategies import BUILTIN, builtin_table
from services.registry.strategies.apiregistration import APIServiceStrategy
from services.registry.strategies.discovery import EndpointSliceStrategy
from services.registry.types import TypeTable
from tests.unit.registry.test_registry_service import World

Obj = dict[str, Any]
STRATEGY = APIServiceStrategy()
USER = {"username": "system:apiserver"}


def remote(**spec: Any) -> Obj:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1alpha1.wardle.example.com"},
        "spec": {
            "group": "wardle.example.com",
            "version": "v1alpha1",
            "service": {"namespace": "wardle", "name": "api"},
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            **spec,
        },
    }


def messages(problems: list[FieldError]) -> list[str]:
    return [str(p) for p in problems]


# --- the strategy --------------------------------------------------------------------------


def test_the_service_port_defaults_to_443() -> None:
    obj = remote()
    STRATEGY.default(obj)
    assert obj["spec"]["service"] == {"namespace": "wardle", "name": "api", "port": 443}


def test_a_local_apiservice_is_available_from_its_creation() -> None:
    local = remote(service=None)
    local["status"] = {"conditions": [{"type": "Available", "status": "False"}]}
    STRATEGY.prepare_for_create(local)
    (condition,) = local["status"]["conditions"]
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "Available",
        "status": "True",
        "reason": "Local",
        "message": "Local APIServices are always available",
    }
    served = remote()
    served["status"] = {"conditions": [{"type": "Available", "status": "True"}]}
    STRATEGY.prepare_for_create(served)
    assert served["status"] == {}  # the availability controller decides


def test_a_status_update_changes_the_status_alone() -> None:
    old = remote()
    old["metadata"]["labels"] = {"a": "1"}
    new = copy.deepcopy(old)
    new["spec"]["versionPriority"] = 99
    new["metadata"]["labels"] = {"a": "2"}
    new["status"] = {"conditions": [{"type": "Available", "status": "True"}]}
    STRATEGY.prepare_for_subresource_update("status", new, old)
    assert new["spec"] == old["spec"] and new["metadata"]["labels"] == {"a": "1"}
    assert new["status"]["conditions"][0]["status"] == "True"
    new["status"]["conditions"][0]["status"] = "Maybe"
    assert messages(STRATEGY.validate_subresource_update("status", new, old)) == [
        'status.conditions[0].status: Unsupported value: "Maybe": supported values: '
        '"True", "False", "Unknown"'
    ]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (remote(), []),
        ({**remote(), "metadata": {"name": "v1.wardle.example.com"}},
         ['metadata.name: Invalid value: "v1.wardle.example.com": must be '
          '`spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"']),
        (remote(group=""),
         ['metadata.name: Invalid value: "v1alpha1.wardle.example.com": must be '
          '`spec.version+"."+spec.group`: "v1alpha1."',
          "spec.group: Required value: only v1 may have an empty group and it better be "
          "legacy kube"]),
        ({**remote(group="Bad_Group"), "metadata": {"name": "v1alpha1.Bad_Group"}},
         ['spec.group: Invalid value: "Bad_Group": a lowercase RFC 1123 subdomain must consist '
          "of lower case alphanumeric characters, '-' or '.', and must start and end with an "
          "alphanumeric character (e.g. 'example.com', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
        (remote(groupPriorityMinimum=20001),
         ["spec.groupPriorityMinimum: Invalid value: 20001: must be positive and less than 20000"]),
        (remote(versionPriority=0),
         ["spec.versionPriority: Invalid value: 0: must be positive and less than 1000"]),
        (remote(service={"namespace": "", "name": ""}),
         ["spec.service.namespace: Required value", "spec.service.name: Required value"]),
        (remote(insecureSkipTLSVerify=True, caBundle="QUJD"),
         ["spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is "
          "present"]),
        (remote(service=None, caBundle="QUJD", insecureSkipTLSVerify=True),
         ['spec.caBundle: Invalid value: "3 bytes": local APIServices may not have a caBundle',
          "spec.insecureSkipTLSVerify: Invalid value: true: local APIServices may not have "
          "insecureSkipTLSVerify"]),
    ],
)  # fmt: skip
def test_validation_as_kube_aggregator_words_it(obj: Obj, expected: list[str]) -> None:
    assert messages(STRATEGY.validate(obj)) == expected


def test_the_table_is_kube_aggregator_s() -> None:
    printer = printers.for_kind("apiregistration.k8s.io", "APIService")
    assert [c["name"] for c in printer.column_definitions()] == [
        "Name",
        "Service",
        "Available",
        "Age",
    ]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    made = {"creationTimestamp": "2025-12-31T23:59:00Z"}
    local = {"metadata": {"name": "v1.apps", **made}, "spec": {},
             "status": {"conditions": [{"type": "Available", "status": "True"}]}}  # fmt: skip
    failing = remote()
    failing["metadata"].update(made)
    failing["status"] = {
        "conditions": [{"type": "Available", "status": "False", "reason": "ServiceNotFound"}]
    }
    fresh = remote()
    fresh["metadata"].update(made)
    assert printer.row(local, now)[0] == ["v1.apps", "Local", "True", "60s"]
    assert printer.row(failing, now)[0] == [
        "v1alpha1.wardle.example.com",
        "wardle/api",
        "False (ServiceNotFound)",
        "60s",
    ]
    assert printer.row(fresh, now)[0][2] == "Unknown"


def test_set_condition_moves_the_transition_time_only_with_the_status() -> None:
    status: Obj = {}
    aggregation.set_condition(status, {"type": "Available", "status": "False", "reason": "A",
                                       "message": "a", "lastTransitionTime": "t1"})  # fmt: skip
    aggregation.set_condition(status, {"type": "Available", "status": "False", "reason": "B",
                                       "message": "b", "lastTransitionTime": "t2"})  # fmt: skip
    assert status["conditions"] == [
        {"type": "Available", "status": "False", "reason": "B", "message": "b",
         "lastTransitionTime": "t1"}
    ]  # fmt: skip
    aggregation.set_condition(status, {"type": "Available", "status": "True", "reason": "C",
                                       "message": "c", "lastTransitionTime": "t3"})  # fmt: skip
    assert status["conditions"][0]["lastTransitionTime"] == "t3"


# --- the local APIServices -----------------------------------------------------------------

CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
        "group": "stable.example.com",
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                  "listKind": "CronTabList"},
        "versions": [
            {"name": "v1", "served": True, "storage": True,
             "schema": {"openAPIV3Schema": {"type": "object"}}},
            {"name": "v2alpha1", "served": False, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object"}}},
        ],
    },
    "status": {"acceptedNames": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                                 "listKind": "CronTabList"},
               "conditions": [{"type": "Established", "status": "True"}]},
}  # fmt: skip


def test_wanted_names_every_built_in_group_version_kube_has_a_priority_for() -> None:
    found = wanted(builtin_table())
    assert set(found) == {
        f"{version}.{group}"
        for group, version in builtin_table().group_versions()
        if group != "apiregistration.k8s.io"
    }
    assert found["v1."]["spec"] == {"version": "v1", "groupPriorityMinimum": 18000,
                                    "versionPriority": 1}  # fmt: skip
    assert found["v2.autoscaling"]["spec"]["versionPriority"] == 30
    assert found["v1.autoscaling"]["spec"]["versionPriority"] == 15
    assert {o["metadata"]["labels"][aggregation.AUTOMANAGED_LABEL] for o in found.values()} == {
        "onstart"
    }


def test_a_crd_s_served_versions_are_wanted_with_kube_s_crd_priorities() -> None:
    table = TypeTable([*BUILTIN, *definitions_of(CRD)])
    found = wanted(table)
    assert "v2alpha1.stable.example.com" not in found  # not served
    crontabs = found["v1.stable.example.com"]
    assert crontabs["spec"] == {"group": "stable.example.com", "version": "v1",
                                "groupPriorityMinimum": 1000, "versionPriority": 100}  # fmt: skip
    assert crontabs["metadata"]["labels"] == {aggregation.AUTOMANAGED_LABEL: "true"}


async def _names(registry: Registry) -> dict[str, Obj]:
    listed = orjson.loads(
        (
            await registry.list(
                Target("apiregistration.k8s.io", "v1", "apiservices", user=USER), ReadOptions()
            )
        ).body
    )
    return {i["metadata"]["name"]: i for i in listed["items"]}


async def _no_wait() -> None:
    return None


async def test_the_controller_follows_kube_s_autoregister_rules() -> None:
    world = World()
    registry = world.registry
    target = Target("apiregistration.k8s.io", "v1", "apiservices", user=USER)
    # Present before it starts: a stale onstart one (deleted once), a "true" one no CRD
    # serves (deleted), one with no label (left alone), v1.apps with an old spec (updated).
    stale = {**wanted(builtin_table())["v1.apps"]}
    stale = json.loads(json.dumps(stale))
    stale["spec"]["versionPriority"] = 7
    for obj in (
        stale,
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1beta1.extensions",
                      "labels": {aggregation.AUTOMANAGED_LABEL: "onstart"}},
         "spec": {"group": "extensions", "version": "v1beta1", "groupPriorityMinimum": 17900,
                  "versionPriority": 1}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1.gone.example.com",
                      "labels": {aggregation.AUTOMANAGED_LABEL: "true"}},
         "spec": {"group": "gone.example.com", "version": "v1", "groupPriorityMinimum": 1000,
                  "versionPriority": 100}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1.mine.example.com"},
         "spec": {"group": "mine.example.com", "version": "v1", "groupPriorityMinimum": 5,
                  "versionPriority": 5}},
    ):  # fmt: skip
        await registry.create(target, orjson.dumps(obj))
    controller = LocalAPIServices(registry, user=USER, ready=_no_wait)
    await controller.sync(registry.catalog.table)
    found = await _names(registry)
    assert found["v1.apps"]["spec"]["versionPriority"] == 15
    assert "v1beta1.extensions" not in found and "v1.gone.example.com" not in found
    assert found["v1.mine.example.com"]["spec"]["groupPriorityMinimum"] == 5
    assert {"v1.", "v1.batch", "v2.autoscaling"} <= set(found)

    # An onstart one deleted after the first sync stays deleted; a CRD's comes and goes.
    await registry.delete(Target("apiregistration.k8s.io", "v1", "apiservices", name="v1.batch",
                                 user=USER), {})  # fmt: skip
    catalog: Catalog = registry.catalog
    catalog.set_crd("crontabs.stable.example.com", definitions_of(CRD), revision=10)
    await controller.sync(catalog.table)
    found = await _names(registry)
    assert "v1.batch" not in found
    assert found["v1.stable.example.com"]["metadata"]["labels"] == {
        aggregation.AUTOMANAGED_LABEL: "true"
    }
    await registry.delete(Target("apiregistration.k8s.io", "v1", "apiservices",
                                 name="v1.stable.example.com", user=USER), {})  # fmt: skip
    await controller.sync(catalog.table)
    assert "v1.stable.example.com" in await _names(registry)  # kept continuously
    catalog.set_crd("crontabs.stable.example.com", (), revision=11)
    await controller.sync(catalog.table)
    assert "v1.stable.example.com" not in await _names(registry)


# --- extension-apiserver-authentication ---------------------------------------------------


def test_the_trust_config_map_is_kube_s() -> None:
    trust = AuthenticationTrust(
        client_ca="CLIENT CA", requestheader_ca="FRONT PROXY CA", allowed_names=("a", "b")
    )
    assert trust.data() == {
        "client-ca-file": "CLIENT CA",
        "requestheader-username-headers": '["X-Remote-User"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
        "requestheader-client-ca-file": "FRONT PROXY CA",
        "requestheader-allowed-names": '["a","b"]',
    }
    # Without a request header CA, kube publishes the client CA alone.
    assert AuthenticationTrust(client_ca="CLIENT CA").data() == {"client-ca-file": "CLIENT CA"}


# --- EndpointSlices' addresses ------------------------------------------------------------


def endpoint_slice(*addresses: str, kind: str = "IPv4") -> Obj:
    return {
        "addressType": kind,
        "endpoints": [{"addresses": list(addresses)}],
        "ports": [{"port": 443, "name": "", "protocol": "TCP"}],
    }


@pytest.mark.parametrize(
    ("slice_", "expected"),
    [
        (endpoint_slice("10.0.0.7"), []),
        (endpoint_slice("127.0.0.1"),
         ['endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback '
          "range (127.0.0.0/8, ::1/128)"]),
        (endpoint_slice("::1", kind="IPv6"),
         ['endpoints[0].addresses[0]: Invalid value: "::1": may not be in the loopback range '
          "(127.0.0.0/8, ::1/128)"]),
        (endpoint_slice("0.0.0.0"),
         ['endpoints[0].addresses[0]: Invalid value: "0.0.0.0": may not be unspecified '
          "(0.0.0.0)"]),
        (endpoint_slice("169.254.1.1"),
         ['endpoints[0].addresses[0]: Invalid value: "169.254.1.1": may not be in the '
          "link-local range (169.254.0.0/16, fe80::/10)"]),
        (endpoint_slice("224.0.0.5"),
         ['endpoints[0].addresses[0]: Invalid value: "224.0.0.5": may not be in the '
          "link-local multicast range (224.0.0.0/24, ff02::/10)"]),
    ],
)  # fmt: skip
def test_endpoint_slices_refuse_special_addresses_as_kube(slice_: Obj, expected: list[str]) -> None:
    assert messages(EndpointSliceStrategy().validate(slice_)) == expected


def test_kapi_up_allows_loopback_endpoints_and_nothing_else_special() -> None:
    allowing = EndpointSliceStrategy(allow_loopback=True)
    assert allowing.validate(endpoint_slice("127.0.0.1")) == []
    assert allowing.validate(endpoint_slice("::1", kind="IPv6")) == []
    assert len(allowing.validate(endpoint_slice("0.0.0.0"))) == 1
