"""Admission plugins from installed packages (services/authz/admission/python_plugins.py):
the example package's entry point loaded and run in an in-process chain — its mutation,
its refusal with kube's Forbidden wording, its warning, validation on a copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kapi import errors
from kapi.user import UserInfo
from services.authz.admission import Attributes, Chain, python_plugins
from tests.python_plugin_site import make_site

Obj = dict[str, Any]


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Chain:
    for path in reversed(make_site(tmp_path)):
        monkeypatch.syspath_prepend(str(path))
    loaded = python_plugins.load()
    assert [p.name for p in loaded] == ["example-configmap-policy"]
    mutating, validating = python_plugins.split(loaded)
    return Chain(mutating=list(mutating), validating=list(validating))


def attrs(data: dict[str, str], *, managed: bool = True, operation: str = "CREATE") -> Attributes:
    labels = {"example.kapi.dev/managed": "true"} if managed else {}
    return Attributes(
        operation=operation,
        user=UserInfo("alice"),
        group="",
        version="v1",
        kind="ConfigMap",
        resource="configmaps",
        subresource="",
        namespace="ns",
        name="db",
        object={"metadata": {"name": "db", "labels": labels}, "data": data},
        old_object=None,
    )


async def test_mutates_and_validates(chain: Chain) -> None:
    request = attrs({"host": "db"})
    await chain.run_mutating(request)
    assert request.object is not None
    assert request.object["metadata"]["annotations"] == {
        "example.kapi.dev/last-written-by": "alice"
    }
    await chain.run_validating(request)
    refused = attrs({"db-password": "x"})
    await chain.run_mutating(refused)
    with pytest.raises(errors.StatusError) as err:
        await chain.run_validating(refused)
    assert err.value.code == 403 and err.value.reason == "Forbidden"
    assert err.value.message == (
        "configmaps \"db\" is forbidden: key 'db-password' looks like a password: keep it in "
        "a Secret"
    )
    empty = attrs({})
    await chain.run_validating(empty)
    assert empty.warnings == ["a managed ConfigMap without data"]


async def test_unmanaged_objects_and_other_operations_pass(chain: Chain) -> None:
    request = attrs({"password": "x"}, managed=False)
    await chain.run_mutating(request)
    await chain.run_validating(request)
    assert "annotations" not in (request.object or {})["metadata"]
    deleted = attrs({"password": "x"}, operation="DELETE")
    await chain.run_validating(deleted)  # the plugin handles CREATE and UPDATE only


def test_a_plugin_without_methods_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[kapi.admission]\nbroken = json:JSONDecoder\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="has neither mutate nor validate"):
        python_plugins.load()
