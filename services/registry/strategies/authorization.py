"""authorization.k8s.io/v1: the access reviews, created and answered, never stored
(answered in services/registry/reviews.py by asking authz). LocalSubjectAccessReview is
the namespaced one."""

from __future__ import annotations

from services.registry.definition import Definition, grouped

GROUP = "authorization.k8s.io"

DEFINITIONS: tuple[Definition, ...] = tuple(
    grouped(
        GROUP,
        "v1",
        resource,
        kind,
        schema_group="authorization",
        namespaced=resource == "localsubjectaccessreviews",
        verbs=("create",),
        stored=False,
    )
    for resource, kind in (
        ("localsubjectaccessreviews", "LocalSubjectAccessReview"),
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
        ("subjectaccessreviews", "SubjectAccessReview"),
    )
)
