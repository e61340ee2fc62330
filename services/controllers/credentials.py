"""Each controller on its own ServiceAccount's credential: kube-controller-manager's
``--use-service-account-credentials`` (``k8s.io/controller-manager/pkg/clientbuilder``,
``DynamicControllerClientBuilder``).

The manager's own user (``system:kube-controller-manager``, kube's role of that name:
leader election, list/watch of everything for the shared informers, ServiceAccounts and
their tokens) makes sure ``kube-system/NAME`` exists for each controller and asks a
TokenRequest for it (an hour, renewed once 80 % of it has passed); the controller writes
with that token alone — no client certificate, so the gateway sees
``system:serviceaccount:kube-system:NAME`` — and RBAC gives it kube's
``system:controller:NAME`` role and nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.connection import Connection
from kapi.kube.resources import SERVICEACCOUNTS

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
EXPIRATION_SECONDS = 3600  # DynamicControllerClientBuilder's expirationSeconds
LEEWAY = 0.2  # renew once 80% of the lifetime has passed (its leewayPercent)


def username(name: str) -> str:
    return f"system:serviceaccount:{NAMESPACE}:{name}"


class TokenSource:
    """The current token of ``kube-system/NAME``, requested through ``root``."""

    def __init__(
        self, root: ApiClient, name: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.root = root
        self.name = name
        self.clock = clock
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self._token and self.clock() < self._renew_at:
            return self._token
        async with self._lock:
            if not self._token or self.clock() >= self._renew_at:
                await self._refresh()
        return self._token

    async def _ensure_account(self) -> None:
        try:
            await self.root.get(SERVICEACCOUNTS, NAMESPACE, self.name)
        except errors.StatusError as err:
            if err.code != 404:
                raise
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": self.name}}
            try:
                await self.root.create(SERVICEACCOUNTS, NAMESPACE, body)
            except errors.StatusError as created:
                if created.code != 409:
                    raise

    async def _refresh(self) -> None:
        await self._ensure_account()
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": EXPIRATION_SECONDS},
        }
        asked = self.clock()
        answer = await self.root.create(
            SERVICEACCOUNTS, NAMESPACE, request, subresource="token", name=self.name
        )
        status = answer.get("status") or {}
        token = str(status.get("token") or "")
        if not token:
            raise errors.internal(f"TokenRequest for {username(self.name)}: no token")
        lifetime = float((answer.get("spec") or {}).get("expirationSeconds") or EXPIRATION_SECONDS)
        self._token = token
        self._renew_at = asked + lifetime * (1 - LEEWAY)
        log.info("token for %s, renewed in %.0fs", username(self.name), lifetime * (1 - LEEWAY))


class ServiceAccountClients:
    """One client per controller ServiceAccount, made on first use; ``close()`` them all."""

    def __init__(self, root: ApiClient, connection: Connection, user_agent: str) -> None:
        self.root = root
        # client-go's AnonymousClientConfig: the server and its CA, no credential of ours.
        self.connection = replace(connection, token=None, cert_pem=None, key_pem=None)
        self.user_agent = user_agent
        self._clients: dict[str, ApiClient] = {}

    def client(self, name: str) -> ApiClient:
        found = self._clients.get(name)
        if found is None:
            found = ApiClient(
                self.connection,
                user_agent=f"{self.user_agent}/{username(name)}",
                token_source=TokenSource(self.root, name),
            )
            self._clients[name] = found
        return found

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
