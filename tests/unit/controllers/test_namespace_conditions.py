"""The namespace controller's deletion conditions, as kube's status_condition_utils
words them (status_condition_utils_test.go)."""

from __future__ import annotations

from services.controllers import namespace
from services.controllers.namespace import Tally


def test_all_clear_is_five_false_conditions_with_the_ok_reasons() -> None:
    wanted = namespace.conditions(Tally())
    assert wanted == {
        "NamespaceDeletionDiscoveryFailure": (
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        "NamespaceDeletionGroupVersionParsingFailure": (
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        "NamespaceDeletionContentFailure": (
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        "NamespaceContentRemaining": (
            "False",
            "ContentRemoved",
            "All content successfully removed",
        ),
        "NamespaceFinalizersRemaining": (
            "False",
            "ContentRemoved",
            "All content successfully removed",
        ),
    }


def test_failures_and_remains_are_true_with_kube_s_messages() -> None:
    tally = Tally(
        remaining={"pods.": 2, "widgets.example.com": 1},
        finalizers={"example.com/keep": 1},
        failures=["secrets.: boom", "configmaps.: bang"],
        discovery_failure="Discovery failed for some groups, 1 failing: x",
    )
    wanted = namespace.conditions(tally)
    assert wanted["NamespaceContentRemaining"] == (
        "True",
        "SomeResourcesRemain",
        "Some resources are remaining: pods. has 2 resource instances, widgets.example.com has "
        "1 resource instances",
    )
    assert wanted["NamespaceFinalizersRemaining"] == (
        "True",
        "SomeFinalizerRemain",
        "Some finalizers are remaining: example.com/keep in 1 resource instances",
    )
    assert wanted["NamespaceDeletionContentFailure"] == (
        "True",
        "ContentDeletionFailed",
        "Failed to delete all resource types, 2 remaining: configmaps.: bang, secrets.: boom",
    )
    assert wanted["NamespaceDeletionDiscoveryFailure"][:2] == ("True", "DiscoveryFailed")


def test_transition_time_moves_only_when_the_status_does() -> None:
    first = namespace.updated_conditions([], namespace.conditions(Tally()))
    for cond in first:
        cond["lastTransitionTime"] = "then"
    again = namespace.updated_conditions(first, namespace.conditions(Tally()))
    assert again == first
    changed = namespace.updated_conditions(first, namespace.conditions(Tally(remaining={"a.": 1})))
    remaining = next(c for c in changed if c["type"] == "NamespaceContentRemaining")
    assert remaining["status"] == "True" and remaining["lastTransitionTime"] != "then"
