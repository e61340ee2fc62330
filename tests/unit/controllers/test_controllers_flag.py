"""--controllers as kube-controller-manager reads it (IsControllerEnabled)."""

from __future__ import annotations

import pytest

from services.controllers import catalog

ALL = catalog.known()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("*", ALL),
        ("*,-deployment", [n for n in ALL if n != "deployment-controller"]),
        ("*,-deployment-controller", [n for n in ALL if n != "deployment-controller"]),
        ("replicaset", ["replicaset-controller"]),
        ("", []),
        # the first entry naming a controller decides
        ("-replicaset,replicaset,*", [n for n in ALL if n != "replicaset-controller"]),
        ("garbagecollector,namespace", ["namespace-controller", "garbage-collector-controller"]),
        # the example: everything but the Job controller (the CronJob one stays)
        ("*,-job", [n for n in ALL if n != "job-controller"]),
        ("*,-cronjob", [n for n in ALL if n != "cronjob-controller"]),
        # a CRD-only control plane: only the namespace and garbage collector controllers
        (
            "namespace,garbage-collector-controller",
            ["namespace-controller", "garbage-collector-controller"],
        ),
        (" * , -job ", [n for n in ALL if n != "job-controller"]),
    ],
)
def test_enabled(spec: str, expected: list[str]) -> None:
    assert [c.name for c in catalog.enabled(catalog.parse(spec))] == expected


def test_the_catalog_names_are_kubes() -> None:
    """kube-controller-manager's canonical names (cmd/kube-controller-manager/names)."""
    assert set(ALL) >= {
        "namespace-controller",
        "garbage-collector-controller",
        "serviceaccount-controller",
        "root-ca-certificate-publisher-controller",
        "deployment-controller",
        "replicaset-controller",
        "statefulset-controller",
        "daemonset-controller",
        "job-controller",
        "cronjob-controller",
        "endpoints-controller",
        "endpointslice-controller",
        "disruption-controller",
        "ttl-after-finished-controller",
        "resourcequota-controller",
        "validatingadmissionpolicy-status-controller",
    }


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match='"nope" is not in the list of known controllers'):
        catalog.parse("*,-nope")


async def test_with_no_controller_enabled_the_manager_keeps_running() -> None:
    """``--controllers ""`` enables none: the manager idles (and keeps leading) rather
    than return, which its leader election would read as leadership lost."""
    import asyncio

    from services.controllers.server import run_controllers
    from tests.unit.controllers.fakes import FakeClient, context

    ctx, _ = context(FakeClient(), "kube-controller-manager")
    running = asyncio.create_task(run_controllers(ctx, ()))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not running.done()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
