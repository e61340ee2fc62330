"""validatingadmissionpolicy-status-controller: each ValidatingAdmissionPolicy's
``status`` — kube's ``pkg/controller/validatingadmissionpolicystatus`` (controller.go),
which kube-controller-manager runs, as kapi's controller manager does here.

A policy whose ``metadata.generation`` is past its ``status.observedGeneration`` is type
checked (``kapi.cel.typecheck``: its validations' expressions and message expressions
against the schema of every kind its ``matchConstraints.resourceRules`` name, and its
paramKind's) and gets ``status.observedGeneration`` and ``status.typeChecking`` —
``expressionWarnings`` with ``fieldRef`` and ``warning``, or ``{}`` when there are none.
Other status fields (``conditions``) are kept as they are. Kinds come from discovery and
schemas from ``/openapi/v3`` (``schema_resolver``), so custom resources are checked as
built-in ones. Type checking never changes what a policy does: it only reports.

Why here and not in authz: kube runs this controller in kube-controller-manager as an
API client, apart from the admission path; a status write is an API write with its own
identity and RBAC (``system:controller:validatingadmissionpolicy-status-controller``),
and the schemas it needs are the published OpenAPI, which every API client can read.
Authz's admission hot path stays as it is; every replica sees the status through the
policy's own watch.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from kapi import errors
from kapi.cel import typecheck
from kapi.cel.schema import DeclType
from kapi.kube.resources import Resource
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController
from services.controllers.schema_resolver import SchemaResolver

log = logging.getLogger(__name__)

POLICIES = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingadmissionpolicies",
    "ValidatingAdmissionPolicy",
    namespaced=False,
)


class PolicyStatusController(QueueController):
    name: ClassVar[str] = "validatingadmissionpolicy-status-controller"
    aliases: ClassVar[tuple[str, ...]] = ("validatingadmissionpolicy-status",)
    service_account: ClassVar[str] = "validatingadmissionpolicy-status-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.policies = self.watch(ctx.informers.informer(POLICIES), self.enqueue_handler())
        self.resolver = SchemaResolver(self.client)

    async def sync(self, key: str) -> None:
        policy = self.policies.get("", key)
        if policy is None:
            return
        generation = int((policy.get("metadata") or {}).get("generation") or 0)
        status = policy.get("status") or {}
        if generation <= int(status.get("observedGeneration") or 0):
            return
        warnings = await self.check(policy)
        type_checking: Obj = {"expressionWarnings": warnings} if warnings else {}
        updated = {
            **policy,
            "status": {
                **status,
                "observedGeneration": generation,
                "typeChecking": type_checking,
            },
        }
        try:
            await self.client.update(POLICIES, updated, subresource="status")
        except errors.StatusError as err:
            if err.code == 404:
                return
            raise
        log.debug("%s: %s checked at generation %d", self.name, objects.name(policy), generation)

    async def check(self, policy: Obj) -> list[dict[str, str]]:
        """The policy's expression warnings against the kinds it matches."""
        listings: dict[tuple[str, str], dict[str, typecheck.GroupVersionKind]] = {}
        for group, version, _resource in typecheck.resources_to_check(policy):
            if (group, version) not in listings:
                listings[(group, version)] = await self.resolver.kinds(group, version)

        def kinds_for(group: str, version: str, resource: str) -> list[typecheck.GroupVersionKind]:
            found = listings.get((group, version), {}).get(resource)
            return [found] if found is not None else []

        types: list[tuple[typecheck.GroupVersionKind, DeclType]] = []
        for gvk in typecheck.kinds_to_check(policy, kinds_for):
            decl = await self.resolver.decl_type(gvk)
            if decl is not None:
                types.append((gvk, decl))
        params_kind = typecheck.param_kind(policy)
        params = await self.resolver.decl_type(params_kind) if params_kind else None
        return typecheck.check(policy, types, params)
