"""serviceaccount-controller: every active namespace has the ``default`` ServiceAccount.

kube's ``pkg/controller/serviceaccount/serviceaccounts_controller.go``: a namespace added
or updated, or a ``default`` ServiceAccount deleted, queues the namespace; the sync
creates the account if the namespace is Active and it is missing (a terminating
namespace is left alone; AlreadyExists is success).
"""

from __future__ import annotations

from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler
from kapi.kube.resources import NAMESPACES, SERVICEACCOUNTS
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController

DEFAULT = "default"


class ServiceAccountController(QueueController):
    name: ClassVar[str] = "serviceaccount-controller"
    service_account: ClassVar[str] = "service-account-controller"
    aliases: ClassVar[tuple[str, ...]] = ("serviceaccount",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = self.watch(
            ctx.informers.informer(NAMESPACES),
            Handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n)),
        )
        self.accounts = self.watch(
            ctx.informers.informer(SERVICEACCOUNTS), Handler(on_delete=self._account_deleted)
        )

    def _account_deleted(self, sa: Obj) -> None:
        if objects.name(sa) == DEFAULT:
            self.queue.add(objects.namespace(sa))

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get("", key)
        if ns is None or objects.status(ns).get("phase", "Active") != "Active":
            return
        if objects.deleting(ns) or self.accounts.get(key, DEFAULT) is not None:
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT}}
        try:
            await self.client.create(SERVICEACCOUNTS, key, body)
        except errors.StatusError as err:
            # Terminating meanwhile (403) or made by someone else: nothing to do.
            if err.code not in (403, 409):
                raise
