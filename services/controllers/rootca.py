"""root-ca-certificate-publisher-controller: ``kube-root-ca.crt`` in every namespace.

kube's ``pkg/controller/certificates/rootcacertpublisher/publisher.go``: the ConfigMap
``kube-root-ca.crt`` holds the cluster CA (``--root-ca-file``) under ``ca.crt`` with
kube's ``kubernetes.io/description`` annotation. A namespace added or updated, or that
ConfigMap changed or deleted, queues the namespace; the sync creates the ConfigMap, or
puts back its data and annotation if someone changed them. Terminating namespaces are
skipped.
"""

from __future__ import annotations

from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler
from kapi.kube.resources import CONFIGMAPS, NAMESPACES
from services.controllers import objects
from services.controllers.framework import Context, Obj, QueueController

NAME = "kube-root-ca.crt"
DESCRIPTION_KEY = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


class RootCAPublisher(QueueController):
    name: ClassVar[str] = "root-ca-certificate-publisher-controller"
    service_account: ClassVar[str] = "root-ca-cert-publisher"
    aliases: ClassVar[tuple[str, ...]] = ("root-ca-cert-publisher",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.ca = ctx.options.root_ca_pem
        self.namespaces = self.watch(
            ctx.informers.informer(NAMESPACES),
            Handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n)),
        )
        self.configmaps = self.watch(
            ctx.informers.informer(CONFIGMAPS),
            Handler(on_update=lambda _o, n: self._cm(n), on_delete=self._cm),
        )

    def _cm(self, cm: Obj) -> None:
        if objects.name(cm) == NAME:
            self.queue.add(objects.namespace(cm))

    async def sync(self, key: str) -> None:
        if not self.ca:
            return
        ns = self.namespaces.get("", key)
        if ns is None or objects.deleting(ns):
            return
        current = self.configmaps.get(key, NAME)
        if current is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": NAME, "annotations": {DESCRIPTION_KEY: DESCRIPTION}},
                "data": {"ca.crt": self.ca},
            }
            try:
                await self.client.create(CONFIGMAPS, key, body)
            except errors.StatusError as err:
                if err.code not in (403, 409):
                    raise
            return
        data = current.get("data") or {}
        described = objects.annotations_of(current).get(DESCRIPTION_KEY) == DESCRIPTION
        if data == {"ca.crt": self.ca} and described:
            return
        updated = {
            **current,
            "metadata": {
                **objects.meta(current),
                "annotations": {**objects.annotations_of(current), DESCRIPTION_KEY: DESCRIPTION},
            },
            "data": {"ca.crt": self.ca},
        }
        await self.client.update(CONFIGMAPS, updated)
