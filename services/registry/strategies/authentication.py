"""authentication.k8s.io/v1: TokenReview and SelfSubjectReview, created and answered,
never stored (answered in services/registry/reviews.py by asking authz)."""

from __future__ import annotations

from services.registry.definition import Definition, grouped

GROUP = "authentication.k8s.io"

DEFINITIONS: tuple[Definition, ...] = tuple(
    grouped(
        GROUP,
        "v1",
        resource,
        kind,
        schema_group="authentication",
        namespaced=False,
        verbs=("create",),
        stored=False,
    )
    for resource, kind in (
        ("selfsubjectreviews", "SelfSubjectReview"),
        ("tokenreviews", "TokenReview"),
    )
)
