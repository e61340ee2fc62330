"""Composition root of authz: informers, authenticators, authorizer, admission, gRPC server.

authz keeps in memory, each by one storage watch (``services/authz/sources.py``):
namespaces (NamespaceLifecycle), ServiceAccounts (their tokens' validation) and the four
RBAC types (the authorizer's index). It serves at once, whether storage is up or not:
until the informers have listed, RBAC knows no bindings (``system:masters`` is allowed
everything regardless) and lookups read storage live.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc.aio
import orjson

from kapi import errors, informer, metrics_service, pki, rpc
from kapi_proto import authz_pb2_grpc
from services.authz import admission, authentication, authorization, sources
from services.authz.access import AccessControl, RevisionFeed, service_account_watcher
from services.authz.admission import cel_authorizer, python_plugins, review
from services.authz.admission import configuration as admission_configuration
from services.authz.admission.default_storage_class import DefaultStorageClass
from services.authz.admission.default_tolerations import DefaultTolerationSeconds
from services.authz.admission.limit_ranger import LimitRangerDefaults, LimitRangerValidate
from services.authz.admission.namespace_lifecycle import NamespaceLifecycle
from services.authz.admission.pod_security import configuration as pod_security_configuration
from services.authz.admission.pod_security.plugin import PodSecurity
from services.authz.admission.priority import Priority
from services.authz.admission.rbac_escalation import RBACEscalation
from services.authz.admission.resource_quota import ResourceQuota
from services.authz.admission.service_account import ServiceAccount
from services.authz.admission.validating_policy import ValidatingAdmissionPolicy
from services.authz.admission.webhooks.caller import WebhookCaller
from services.authz.admission.webhooks.dispatch import MutatingWebhooks, ValidatingWebhooks
from services.authz.authentication.service_accounts import (
    DEFAULT_ISSUER,
    ServiceAccountTokens,
    TokenIssuer,
)
from services.authz.authentication.signing_keys import SigningKey, load_public_keys
from services.authz.authentication.token_file import TokenFile
from services.authz.authentication.x509 import ClientCertificates
from services.authz.authorization.rbac import RBAC
from services.authz.authorization.rbac.index import PolicyIndex
from services.authz.grpc.servicer import AuthzServicer
from services.authz.metrics import AuthzMetrics
from services.authz.namespace_informer import NamespaceInformer
from services.authz.namespace_pods import StoredPods
from services.authz.params import ParamInformers
from services.authz.quotas import NamespacedObjects, StoredQuotas
from services.authz.registry_conversion import RegistryConversion
from services.authz.service_endpoints import ServiceEndpoints
from services.storage.client import StorageClient
from services.storage.model import ResourceRef

AUTHORIZATION_MODES = ("RBAC", "AlwaysAllow")

Obj = dict[str, Any]


@dataclass(frozen=True)
class AuthzConfig:
    listen: str
    storage: str
    token_file: str = ""
    # Mutual TLS with the peers (None: plaintext, in-process tests only).
    tls: pki.TLSFiles | None = None
    # kube-apiserver's --client-ca-file: the CA of users' client certificates.
    client_ca_file: str = ""
    # --service-account-signing-key-file, --service-account-key-file (more verifying
    # keys), --service-account-issuer, --api-audiences (default: the issuer).
    service_account_signing_key_file: str = ""
    service_account_key_files: tuple[str, ...] = ()
    service_account_issuer: str = DEFAULT_ISSUER
    api_audiences: tuple[str, ...] = ()
    authorization_mode: str = "RBAC"
    anonymous_auth: bool = True
    # Load the admission plugins of installed packages (the kapi.admission entry points).
    python_admission_plugins: bool = True
    # The registry, which converts objects for webhooks and policies registered for
    # another version of the request's resource (matchPolicy Equivalent); "": none.
    registry: str = ""
    # kube-apiserver's --admission-control-config-file: an AdmissionConfiguration (today
    # read for PodSecurity's PodSecurityConfiguration).
    admission_control_config_file: str = ""


@dataclass
class AuthzServer:
    server: grpc.aio.Server
    port: int
    storage: StorageClient
    namespaces: NamespaceInformer
    informers: list[informer.Informer] = field(default_factory=list)
    access: AccessControl | None = None
    params: ParamInformers | None = None
    webhooks: WebhookCaller | None = None
    endpoints: ServiceEndpoints | None = None
    conversion: RegistryConversion | None = None

    async def close(self) -> None:
        await self.namespaces.close()
        if self.conversion is not None:
            await self.conversion.close()
        if self.params is not None:
            await self.params.close()
        if self.webhooks is not None:
            await self.webhooks.close()
        if self.endpoints is not None:
            await self.endpoints.close()
        await asyncio.gather(*(i.close() for i in self.informers))
        await self.storage.close()

    async def wait_synced(self) -> None:
        """Return once every informer has listed (tests; callers bound the wait)."""
        await self.namespaces.wait_synced()
        await asyncio.gather(*(i.wait_synced() for i in self.informers))


class StoredObjects:
    """What ServiceAccount token validation looks up: the ServiceAccounts from their
    informer (then storage, for one created a moment ago), the bound objects from
    storage (the gateway caches the result, as kube caches token authentication)."""

    def __init__(self, storage: sources.Storage, accounts: informer.Informer) -> None:
        self.storage = storage
        self.accounts = accounts

    async def service_account(self, namespace: str, name: str) -> Obj | None:
        found = self.accounts.get(namespace, name) if self.accounts.synced else None
        if found is not None:
            return found
        return await self._read(sources.SERVICE_ACCOUNTS, namespace, name)

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return await self._read(sources.SECRETS, namespace, name)

    async def pod(self, namespace: str, name: str) -> Obj | None:
        return await self._read(sources.PODS, namespace, name)

    async def node(self, name: str) -> Obj | None:
        return await self._read(sources.NODES, "", name)

    async def _read(self, ref: ResourceRef, namespace: str, name: str) -> Obj | None:
        try:
            stored = await self.storage.get(ref, namespace, name)
        except errors.StatusError as err:
            if err.code == 404:
                return None
            raise
        found = orjson.loads(stored.object)
        return found if isinstance(found, dict) else None


def build_access(
    config: AuthzConfig, storage: sources.Storage, metrics: AuthzMetrics | None = None
) -> tuple[AccessControl, list[informer.Informer], PolicyIndex | None]:
    """The authenticators and the authorizer ``config`` asks for (each mode's decisions
    counted in ``metrics``), and the informers they read (not started)."""
    metrics = metrics if metrics is not None else AuthzMetrics()
    if config.authorization_mode not in AUTHORIZATION_MODES:
        raise ValueError(
            f"--authorization-mode {config.authorization_mode!r}: "
            f"one of {', '.join(AUTHORIZATION_MODES)}"
        )
    api_audiences = config.api_audiences or (config.service_account_issuer,)
    accounts = sources.informer_of(storage, sources.SERVICE_ACCOUNTS)
    informers = [accounts]
    signing = (
        SigningKey.load(Path(config.service_account_signing_key_file))
        if config.service_account_signing_key_file
        else None
    )
    keys = load_public_keys(Path(p) for p in config.service_account_key_files)
    if signing is not None and signing.verifying.kid not in {k.kid for k in keys}:
        keys.insert(0, signing.verifying)
    index: PolicyIndex | None = None
    if config.authorization_mode == "RBAC":
        rbac_informers = [
            sources.informer_of(storage, ref)
            for ref in (
                sources.ROLES,
                sources.ROLE_BINDINGS,
                sources.CLUSTER_ROLES,
                sources.CLUSTER_ROLE_BINDINGS,
            )
        ]
        informers += rbac_informers
        index = PolicyIndex(*rbac_informers)
        authorizer: authorization.Authorizer = authorization.Union(
            [authorization.PrivilegedGroups(), metrics.authorizer("RBAC", RBAC(index))]
        )
        revisions = RevisionFeed(lambda: index.revision if index is not None else 0)
        index.on_change(revisions.changed)
    else:
        authorizer = metrics.authorizer("AlwaysAllow", authorization.AlwaysAllow())
        revisions = RevisionFeed(lambda: 0)
    accounts.on_change(service_account_watcher(revisions))
    tokens: list[authentication.Authenticator] = []
    if config.token_file:
        tokens.append(TokenFile(Path(config.token_file), api_audiences=api_audiences))
    if keys:
        tokens.append(
            ServiceAccountTokens(
                issuers=[config.service_account_issuer],
                keys=keys,
                api_audiences=api_audiences,
                objects=StoredObjects(storage, accounts),
            )
        )
    chain: list[authentication.Authenticator] = []
    if config.client_ca_file:
        chain.append(ClientCertificates.from_pem(Path(config.client_ca_file).read_bytes()))
    chain.append(authentication.BearerTokens(authentication.Union(tokens)))
    access = AccessControl(
        authenticator=authentication.RequestAuthenticator(
            authentication.Union(chain), anonymous_allowed=config.anonymous_auth
        ),
        authorizer=authorizer,
        issuer=TokenIssuer(signing, config.service_account_issuer) if signing else None,
        verifying_keys=keys,
        api_audiences=api_audiences,
        revisions=revisions,
    )
    return access, informers, index


def pod_security_config(
    config: AuthzConfig,
) -> pod_security_configuration.PodSecurityConfiguration | None:
    """PodSecurity's configuration from the admission configuration file (None: kube's
    defaults). A bad file raises ValueError, before anything starts."""
    plugins = admission_configuration.load(config.admission_control_config_file)
    found = plugins.get("PodSecurity")
    return pod_security_configuration.from_object(found) if found is not None else None


async def create_server(config: AuthzConfig) -> AuthzServer:
    pod_security = pod_security_config(config)
    storage = StorageClient(config.storage, tls=config.tls)
    namespaces = NamespaceInformer(storage)
    metrics = AuthzMetrics()
    access, informers, index = build_access(config, storage, metrics)
    mutating: list[admission.Plugin] = []
    if index is not None:
        # Not an admission plugin in kube (its RBAC storages check it): not metered as one.
        mutating.append(RBACEscalation(index, access.authorizer))
    endpoints = ServiceEndpoints(storage)
    caller = WebhookCaller(endpoints)
    conversion = RegistryConversion(config.registry, tls=config.tls)
    mutating_hooks = sources.informer_of(storage, sources.MUTATING_WEBHOOK_CONFIGURATIONS)
    validating_hooks = sources.informer_of(storage, sources.VALIDATING_WEBHOOK_CONFIGURATIONS)
    limit_ranges = sources.informer_of(storage, sources.LIMIT_RANGES)
    priority_classes = sources.informer_of(storage, sources.PRIORITY_CLASSES)
    storage_classes = sources.informer_of(storage, sources.STORAGE_CLASSES)
    informers += [mutating_hooks, validating_hooks, limit_ranges, priority_classes, storage_classes]
    ranges = NamespacedObjects(limit_ranges)
    extra_mutating, extra_validating = python_plugins.split(
        python_plugins.load() if config.python_admission_plugins else []
    )
    mutating += [
        metrics.plugin("NamespaceLifecycle", "admit", NamespaceLifecycle(namespaces)),
        metrics.plugin("LimitRanger", "admit", LimitRangerDefaults(ranges)),
        metrics.plugin("ServiceAccount", "admit", ServiceAccount()),
        metrics.plugin("DefaultStorageClass", "admit", DefaultStorageClass(storage_classes)),
        metrics.plugin("DefaultTolerationSeconds", "admit", DefaultTolerationSeconds()),
        metrics.plugin("Priority", "admit", Priority(priority_classes)),
        *(metrics.plugin(p.loaded.name, "admit", p) for p in extra_mutating),
        metrics.plugin(
            "MutatingAdmissionWebhook",
            "admit",
            MutatingWebhooks(
                configurations=mutating_hooks,
                caller=caller,
                namespaces=namespaces,
                converter=conversion,
            ),
        ),
    ]
    policies = sources.informer_of(storage, sources.VALIDATING_ADMISSION_POLICIES)
    bindings = sources.informer_of(storage, sources.VALIDATING_ADMISSION_POLICY_BINDINGS)
    quotas = sources.informer_of(storage, sources.RESOURCE_QUOTAS)
    informers += [policies, bindings, quotas]
    params = ParamInformers(storage)
    validating: list[admission.Plugin] = [
        metrics.plugin("LimitRanger", "validate", LimitRangerValidate(ranges)),
        metrics.plugin(
            "PodSecurity",
            "validate",
            PodSecurity(
                namespaces,
                StoredPods(storage),
                configuration=pod_security,
                recorder=metrics.pod_security,
            ),
        ),
        *(metrics.plugin(p.loaded.name, "validate", p) for p in extra_validating),
        metrics.plugin(
            "ValidatingAdmissionPolicy",
            "validate",
            ValidatingAdmissionPolicy(
                policies=policies,
                bindings=bindings,
                params=params,
                namespaces=namespaces,
                request_object=review.request,
                authorize=cel_authorizer.checker(access.authorizer),
                converter=conversion,
            ),
        ),
        metrics.plugin(
            "ValidatingAdmissionWebhook",
            "validate",
            ValidatingWebhooks(
                configurations=validating_hooks,
                caller=caller,
                namespaces=namespaces,
                authorize=cel_authorizer.checker(access.authorizer),
                converter=conversion,
            ),
        ),
        metrics.plugin("ResourceQuota", "validate", ResourceQuota(StoredQuotas(storage, quotas))),
    ]
    servicer = AuthzServicer(
        access=access,
        admission_chain=admission.Chain(mutating=mutating, validating=validating),
    )
    server, port = rpc.server(config.listen, tls=config.tls)
    authz_pb2_grpc.add_AuthzServicer_to_server(servicer, server)
    metrics_service.serve(server, metrics.registry)
    await server.start()
    # In the background: authz serves at once (storage may be down); lookups read
    # storage live until the informers have listed.
    namespaces.start()
    for each in informers:
        each.start()
    return AuthzServer(
        server, port, storage, namespaces, informers, access, params, caller, endpoints, conversion
    )
