"""The authz service: who the caller is, what they may do, and admission of writes.

Authentication (client certificates, static tokens, ServiceAccount JWTs, anonymous),
authorization (the privileged group, then RBAC; AlwaysAllow for tests), ServiceAccount
token issuing, and the admission plugins, as kube-apiserver's; the gateway and the
registry ask over ``authz.proto``. Floors: ``server.py`` (composition root) →
``grpc/`` (adapter) → ``access.py``, ``authentication/``, ``authorization/``,
``admission/`` (domain, plain values: ``kapi.user.UserInfo``) → ``sources.py`` (what it
keeps in memory: ``kapi.informer`` over the storage service). ``client.py`` is the one
client wrapper the other services use.
"""
