"""Quantities are stored in resource.Quantity's canonical form (services/registry/quantity.py),
rewritten by the decode walk (schema_validation.decode) for every Quantity field.

The expected texts are what k8s.io/apimachinery/pkg/api/resource (ParseQuantity, then
MarshalJSON) makes of each input: a canonical input is kept as written (the parser caches
it), anything else is re-emitted with the largest exponent that loses nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from builtin_definitions import strategy_for

from kapi import errors
from services.registry import field_validation, pipeline, quantity, schema_validation
from services.registry.strategies import builtin_table

Obj = dict[str, Any]
TYPES = {(t.group, t.version, t.resource): t for t in builtin_table().types}

CANONICAL: list[tuple[str | int | float, str]] = [
    # decimal SI: fractions move into a smaller suffix, trailing zeros into a larger one
    ("1.5", "1500m"),
    ("0.1", "100m"),
    (".5", "500m"),
    ("0.500", "500m"),
    ("1000m", "1"),
    ("1000", "1k"),
    ("1000000", "1M"),
    ("2000k", "2M"),
    ("1000P", "1E"),
    ("0.0001", "100u"),
    ("0.00001", "10u"),
    ("0.0000000001", "1n"),  # rounded up to the smallest step, a nano
    ("-1.5", "-1500m"),
    # already canonical: kept as written, sign and leading zeros included
    ("100M", "100M"),
    ("500m", "500m"),
    ("250m", "250m"),
    ("1", "1"),
    ("4096", "4096"),
    ("1073741824", "1073741824"),
    ("+5", "+5"),
    ("05", "05"),
    ("1.500", "1.500"),
    ("5.", "5."),
    # binary SI: powers of 1024, while whole; small or fractional values go decimal
    ("1024Mi", "1Gi"),
    ("2048Ki", "2Mi"),
    ("0.5Gi", "512Mi"),
    ("1.5Gi", "1536Mi"),
    ("1Ki", "1Ki"),
    ("1536Mi", "1536Mi"),
    ("3000Mi", "3000Mi"),
    ("128Mi", "128Mi"),
    ("0.5Ki", "512"),
    ("1.1Ki", "1126400m"),
    ("-2048Ki", "-2Mi"),
    ("8Ei", "9223372036854775807"),  # capped at 2^63-1
    # decimal exponent: the family is kept
    ("2e3", "2e3"),
    ("1e3", "1e3"),
    ("1000e3", "1e6"),
    ("1.5e3", "1500"),
    ("129e-2", "1290e-3"),
    ("1e-12", "1e-9"),
    ("12e6", "12e6"),
    # zero is 0 whatever its suffix
    ("0", "0"),
    ("0Gi", "0"),
    ("0.0", "0"),
    ("-0", "0"),
    # surrounding spaces are trimmed, as UnmarshalJSON does
    (" 1.5 ", "1500m"),
    # JSON numbers, as the text Go's encoding/json writes for them (what kubectl sends)
    (1, "1"),
    (2, "2"),
    (1.5, "1500m"),
    (0.5, "500m"),
    (2.0, "2"),
    (0.00001, "10u"),
    (1e21, "1e+21"),
]


@pytest.mark.parametrize(("given", "stored"), CANONICAL, ids=[repr(g) for g, _ in CANONICAL])
def test_canonical_form(given: str | int | float, stored: str) -> None:
    assert schema_validation.quantity_error(given) == ""
    assert quantity.canonical(given) == stored


@pytest.mark.parametrize("given", ["1e-1000000000", "9" * 5000])
def test_pathological_inputs_are_cheap(given: str) -> None:
    """A huge negative exponent rounds up to 1n without big arithmetic; thousands of
    digits are kept as written rather than failing."""
    assert quantity.canonical(given) in ("1e-9", given)


def pod(resources: Obj, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}], **spec},
    }


# (definition, body, path to a value, its stored text)
DECODED: list[tuple[str, Obj, tuple[Any, ...], str]] = [
    (
        "io.k8s.api.core.v1.Pod",
        pod({"requests": {"cpu": 1.5, "memory": "0.5Gi"}}),
        ("spec", "containers", 0, "resources", "requests", "cpu"),
        "1500m",
    ),
    (
        "io.k8s.api.core.v1.Pod",
        pod({"limits": {"memory": "1024Mi"}}),
        ("spec", "containers", 0, "resources", "limits", "memory"),
        "1Gi",
    ),
    (
        "io.k8s.api.core.v1.Pod",
        pod({}, overhead={"cpu": "0.25"}),
        ("spec", "overhead", "cpu"),
        "250m",
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaim",
        {"spec": {"resources": {"requests": {"storage": "1024Mi"}}}},
        ("spec", "resources", "requests", "storage"),
        "1Gi",
    ),
    (
        "io.k8s.api.core.v1.LimitRange",
        {"spec": {"limits": [{"type": "Container", "max": {"cpu": "2000m"}}]}},
        ("spec", "limits", 0, "max", "cpu"),
        "2",
    ),
    (
        "io.k8s.api.core.v1.ResourceQuota",
        {"spec": {"hard": {"requests.memory": "2048Mi", "pods": "10"}}},
        ("spec", "hard", "requests.memory"),
        "2Gi",
    ),
    (
        "io.k8s.api.core.v1.Node",
        {"status": {"capacity": {"memory": "8388608Ki"}}},
        ("status", "capacity", "memory"),
        "8Gi",
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        {
            "spec": {
                "maxReplicas": 3,
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "rps"},
                            "target": {"type": "AverageValue", "averageValue": "1000m"},
                        },
                    }
                ],
            }
        },
        ("spec", "metrics", 0, "pods", "target", "averageValue"),
        "1",
    ),
    (
        "io.k8s.api.storage.v1.CSIStorageCapacity",
        {"storageClassName": "fast", "capacity": "1.5Gi"},
        ("capacity",),
        "1536Mi",
    ),
]


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        obj = obj[step]
    return obj


@pytest.mark.parametrize(
    ("definition", "body", "path", "stored"),
    DECODED,
    ids=[f"{d.rsplit('.', 1)[-1]}:{'.'.join(map(str, p))}" for d, _, p, _ in DECODED],
)
def test_decode_canonicalises_every_quantity_field(
    definition: str, body: Obj, path: tuple[Any, ...], stored: str
) -> None:
    obj = copy.deepcopy(body)
    assert schema_validation.decode(definition, obj).error == ""
    assert _at(obj, path) == stored


def test_a_bad_quantity_is_still_refused_as_kube_refuses_it() -> None:
    body = pod({"limits": {"cpu": "1.2.3"}})
    with pytest.raises(errors.StatusError) as info:
        field_validation.decode(body, definition="io.k8s.api.core.v1.Pod", kind="Pod", version="v1")
    assert info.value.code == 400
    assert info.value.message.endswith("unable to parse numeric part of quantity")


def test_pod_requests_defaulted_from_limits_are_canonical() -> None:
    """kube copies the decoded (canonical) limit into a missing request."""
    rt = TYPES[("", "v1", "pods")]
    body = pod({"limits": {"cpu": "1.5", "memory": "1024Mi"}})
    field_validation.decode(body, definition=rt.schema, kind="Pod", version="v1")
    obj = pipeline.prepare_create(rt, strategy_for("", "pods"), body, "ns")
    resources = obj["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "1500m", "memory": "1Gi"},
        "requests": {"cpu": "1500m", "memory": "1Gi"},
    }


def test_patched_objects_are_canonicalised_too() -> None:
    """A patch's result is decoded as a body is (decode_patched)."""
    body = pod({"requests": {"memory": "0.5Gi"}})
    field_validation.decode_patched(
        body, definition="io.k8s.api.core.v1.Pod", kind="Pod", version="v1"
    )
    assert body["spec"]["containers"][0]["resources"]["requests"]["memory"] == "512Mi"
