"""The mutating webhook dispatcher's rounds and audit annotations, against kube's
``admission/plugin/webhook/mutating/dispatcher.go``, ``reinvocationcontext.go`` and
``admission/reinvocation.go``, with a fake caller standing for the webhook servers.

Webhooks here are named after what they do: ``label-X`` adds the label X (a change the
first time, none after), ``noop`` answers allowed without a patch, ``down`` cannot be
called.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from kapi import errors
from kapi.user import UserInfo
from services.authz.admission import Attributes, Chain, Served
from services.authz.admission.webhooks.caller import CallingError
from services.authz.admission.webhooks.configuration import Hook
from services.authz.admission.webhooks.dispatch import MutatingWebhooks, ValidatingWebhooks

Obj = dict[str, Any]


@dataclass
class Configurations:
    objects: list[Obj]
    changed_at: int = 1

    def items(self) -> list[Obj]:
        return self.objects


class NoNamespaces:
    async def get(self, name: str, *, live: bool = False) -> Obj | None:
        return {"metadata": {"name": name}}


@dataclass
class FakeCaller:
    calls: list[str] = field(default_factory=list)
    requests: list[Obj] = field(default_factory=list)

    async def call(self, hook: Hook, request: Obj, *, mutating: bool) -> Obj:
        self.calls.append(hook.name)
        self.requests.append(copy.deepcopy(request))
        action = hook.url.removeprefix("https://hooks/")
        if action == "down":
            raise CallingError('failed to call webhook: Post "https://hooks/down": refused')
        response: Obj = {"uid": request["uid"], "allowed": True}
        if action.startswith("label-"):
            label = action.removeprefix("label-")
            labels = (request["object"].get("metadata") or {}).get("labels") or {}
            ops: list[Obj] = []
            if not labels:
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"path": f"/metadata/labels/{label}", "op": "add", "value": "<yes>"})
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(orjson.dumps(ops)).decode()
        return response


def webhook(name: str, action: str, **extra: Any) -> Obj:
    return {
        "name": name,
        "clientConfig": {"url": f"https://hooks/{action}"},
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["configmaps"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


def plugin(*hooks: Obj, caller: FakeCaller) -> MutatingWebhooks:
    configuration = {
        "metadata": {"name": "config", "resourceVersion": "1"},
        "webhooks": list(hooks),
    }
    return MutatingWebhooks(
        configurations=Configurations([configuration]),
        caller=caller,  # type: ignore[arg-type]
        namespaces=NoNamespaces(),
    )


def attributes(labels: dict[str, str] | None = None) -> Attributes:
    meta: Obj = {"name": "cm", "namespace": "ns"}
    if labels is not None:
        meta["labels"] = labels
    return Attributes(
        operation="CREATE",
        user=UserInfo(username="alice"),
        group="",
        version="v1",
        kind="ConfigMap",
        resource="configmaps",
        subresource="",
        namespace="ns",
        name="cm",
        object={"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta},
        old_object=None,
    )


@dataclass
class InTree:
    """A built-in mutating plugin: counts its runs; ``change_on``: the run (1-based) in
    which it changes the object."""

    change_on: int = 0
    runs: int = 0
    operations: frozenset[str] = frozenset({"CREATE"})

    def active(self) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        self.runs += 1
        if self.runs == self.change_on and attributes.object is not None:
            attributes.object.setdefault("data", {})["in-tree"] = str(self.runs)


def mutation(webhook_name: str, mutated: bool) -> str:
    return (
        f'{{"configuration":"config","webhook":"{webhook_name}","mutated":'
        f"{'true' if mutated else 'false'}}}"
    )


async def run(chain: Chain, attrs: Attributes) -> Attributes:
    await chain.run_mutating(attrs)
    return attrs


async def test_an_ifneeded_webhook_is_called_again_after_a_later_change() -> None:
    caller, in_tree = FakeCaller(), InTree()
    hooks = plugin(
        webhook("first", "noop", reinvocationPolicy="IfNeeded"),
        webhook("second", "label-b"),
        caller=caller,
    )
    attrs = await run(Chain([in_tree, hooks], []), attributes())
    assert caller.calls == ["first", "second", "first"]
    assert in_tree.runs == 2  # the built-in plugins are reinvoked too, once
    assert attrs.object is not None and attrs.object["metadata"]["labels"] == {"b": "<yes>"}
    prefix = "mutation.webhook.admission.k8s.io/"
    assert {k: v for k, v in attrs.audit_annotations.items() if k.startswith(prefix)} == {
        f"{prefix}round_0_index_0": mutation("first", False),
        f"{prefix}round_0_index_1": mutation("second", True),
        f"{prefix}round_1_index_0": mutation("first", False),
    }
    # Go's encoding: the op's keys sorted (a map), HTML characters escaped.
    assert attrs.audit_annotations["patch.webhook.admission.k8s.io/round_0_index_1"] == (
        '{"configuration":"config","webhook":"second","patch":['
        '{"op":"add","path":"/metadata/labels","value":{}},'
        '{"op":"add","path":"/metadata/labels/b","value":"\\u003cyes\\u003e"}],'
        '"patchType":"JSONPatch"}'
    )


@pytest.mark.parametrize(
    ("first", "second", "calls", "in_tree_runs"),
    [
        # Never is not reinvoked; the chain's second round still runs (kube sets
        # ShouldReinvoke on any webhook's change): the built-in plugins run again.
        ({"reinvocationPolicy": "Never"}, "label-b", ["first", "second"], 2),
        ({}, "label-b", ["first", "second"], 2),
        # Nothing changed after it: no second round.
        ({"reinvocationPolicy": "IfNeeded"}, "noop", ["first", "second"], 1),
    ],
)
async def test_no_second_call(first: Obj, second: str, calls: list[str], in_tree_runs: int) -> None:
    caller, in_tree = FakeCaller(), InTree()
    hooks = plugin(webhook("first", "noop", **first), webhook("second", second), caller=caller)
    await run(Chain([in_tree, hooks], []), attributes())
    assert caller.calls == calls
    assert in_tree.runs == in_tree_runs


async def test_the_changing_webhook_itself_is_not_reinvoked() -> None:
    """An IfNeeded webhook that changed the object is due again only if a later one
    changes it after."""
    caller = FakeCaller()
    hooks = plugin(
        webhook("a", "noop", reinvocationPolicy="IfNeeded"),
        webhook("b", "label-b"),
        webhook("c", "label-c", reinvocationPolicy="IfNeeded"),
        caller=caller,
    )
    await run(Chain([hooks], []), attributes())
    assert caller.calls == ["a", "b", "c", "a"]


async def test_a_built_in_change_in_the_second_round_reinvokes_every_ifneeded_webhook() -> None:
    """reinvocationcontext.go: the second round starts by comparing the object with what
    the webhooks last left; a built-in plugin's change makes every IfNeeded webhook
    called since the last change due too."""
    caller, in_tree = FakeCaller(), InTree(change_on=2)
    hooks = plugin(
        webhook("a", "noop", reinvocationPolicy="IfNeeded"),
        webhook("b", "label-b"),
        webhook("c", "noop", reinvocationPolicy="IfNeeded"),
        caller=caller,
    )
    attrs = await run(Chain([in_tree, hooks], []), attributes())
    assert caller.calls == ["a", "b", "c", "a", "c"]
    assert "mutation.webhook.admission.k8s.io/round_1_index_2" in attrs.audit_annotations
    assert attrs.object is not None and attrs.object["data"] == {"in-tree": "2"}


async def test_a_webhook_skipped_in_the_first_round_is_not_called_in_the_second() -> None:
    caller = FakeCaller()
    selected = {"objectSelector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}
    hooks = plugin(
        webhook("a", "noop", reinvocationPolicy="IfNeeded"),
        webhook("late", "noop", reinvocationPolicy="IfNeeded", **selected),
        webhook("b", "label-b"),
        caller=caller,
    )
    await run(Chain([hooks], []), attributes())
    assert caller.calls == ["a", "b", "a"]


async def test_a_failure_ignored_is_annotated_failed_open() -> None:
    caller = FakeCaller()
    hooks = plugin(
        webhook("down", "down", failurePolicy="Ignore"),
        webhook("b", "label-b"),
        caller=caller,
    )
    attrs = await run(Chain([hooks], []), attributes({"x": "y"}))
    assert (
        attrs.audit_annotations["failed-open.mutation.webhook.admission.k8s.io/round_0_index_0"]
        == "down"
    )
    assert attrs.audit_annotations["mutation.webhook.admission.k8s.io/round_0_index_0"] == (
        mutation("down", False)
    )
    assert "patch.webhook.admission.k8s.io/round_0_index_0" not in attrs.audit_annotations


async def test_a_failure_under_fail_still_annotates_the_call() -> None:
    caller = FakeCaller()
    hooks = plugin(webhook("down", "down"), caller=caller)
    attrs = attributes()
    with pytest.raises(errors.StatusError) as raised:
        await run(Chain([hooks], []), attrs)
    assert raised.value.code == 500
    assert raised.value.message == (
        'Internal error occurred: failed calling webhook "down": failed to call webhook: '
        'Post "https://hooks/down": refused'
    )
    assert attrs.audit_annotations == {
        "mutation.webhook.admission.k8s.io/round_0_index_0": mutation("down", False)
    }


async def test_a_validating_failure_ignored_is_annotated_by_its_place_among_those_called() -> None:
    caller = FakeCaller()
    configuration = {
        "metadata": {"name": "config", "resourceVersion": "1"},
        "webhooks": [
            webhook("skipped", "noop", objectSelector={"matchLabels": {"never": "x"}}),
            webhook("ok", "noop"),
            webhook("down", "down", failurePolicy="Ignore"),
        ],
    }
    validating = ValidatingWebhooks(
        configurations=Configurations([configuration]),
        caller=caller,  # type: ignore[arg-type]
        namespaces=NoNamespaces(),
    )
    attrs = attributes()
    await validating.admit(copy.copy(attrs))
    assert attrs.audit_annotations == {
        "failed-open.validating.webhook.admission.k8s.io/round_0_index_1": "down"
    }


@dataclass
class FakeConverter:
    """v1beta1 ``spec.size`` (a string) is v1 ``spec.replicas`` (an int)."""

    asked: list[str] = field(default_factory=list)

    async def convert(self, to: Served, objects: list[Obj]) -> list[Obj]:
        self.asked.append(to.version)
        out = []
        for obj in objects:
            spec = dict(obj.get("spec") or {})
            if to.version == "v1" and "size" in spec:
                spec["replicas"] = int(spec.pop("size"))
            elif to.version == "v1beta1" and "replicas" in spec:
                spec["size"] = str(spec.pop("replicas"))
            out.append({**obj, "apiVersion": f"{to.group}/{to.version}", "spec": spec})
        return out


WIDGETS = (
    Served("example.com", "v1", "widgets", "Widget"),
    Served("example.com", "v1beta1", "widgets", "Widget"),
)


async def test_a_webhook_of_another_version_mutates_the_converted_object() -> None:
    """mutating/dispatcher.go: the patch applies to the object in the webhook's version;
    the result goes back to the request's. Two webhooks of that version: one conversion
    there (kept while only they change the object), one back after each patch."""
    caller, converter = FakeCaller(), FakeConverter()
    v1_rule = {
        "apiGroups": ["example.com"],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["widgets"],
    }
    hooks = MutatingWebhooks(
        configurations=Configurations(
            [
                {
                    "metadata": {"name": "config", "resourceVersion": "1"},
                    "webhooks": [
                        webhook("a", "label-a", rules=[v1_rule]),
                        webhook("b", "noop", rules=[v1_rule]),
                    ],
                }
            ]
        ),
        caller=caller,  # type: ignore[arg-type]
        namespaces=NoNamespaces(),
        converter=converter,
    )
    attrs = Attributes(
        operation="CREATE",
        user=UserInfo(username="alice"),
        group="example.com",
        version="v1beta1",
        kind="Widget",
        resource="widgets",
        subresource="",
        namespace="ns",
        name="w",
        object={
            "apiVersion": "example.com/v1beta1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": "3"},
        },
        old_object=None,
        equivalents=WIDGETS,
    )
    await Chain([hooks], []).run_mutating(attrs)
    assert caller.calls == ["a", "b"]
    assert caller.requests[0]["object"]["spec"] == {"replicas": 3}
    assert caller.requests[0]["kind"]["version"] == "v1"
    assert caller.requests[0]["requestKind"]["version"] == "v1beta1"
    assert caller.requests[1]["object"]["metadata"]["labels"] == {"a": "<yes>"}
    assert attrs.object == {
        "apiVersion": "example.com/v1beta1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "<yes>"}},
        "spec": {"size": "3"},
    }
    assert converter.asked == ["v1", "v1beta1"]


async def test_no_conversion_when_every_webhook_is_of_the_request_s_version() -> None:
    caller, converter = FakeCaller(), FakeConverter()
    configuration = {
        "metadata": {"name": "config", "resourceVersion": "1"},
        "webhooks": [webhook("a", "label-a")],
    }
    hooks = MutatingWebhooks(
        configurations=Configurations([configuration]),
        caller=caller,  # type: ignore[arg-type]
        namespaces=NoNamespaces(),
        converter=converter,
    )
    attrs = attributes()
    attrs.equivalents = (Served("", "v1", "configmaps", "ConfigMap"),)
    await Chain([hooks], []).run_mutating(attrs)
    assert caller.calls == ["a"] and converter.asked == []
