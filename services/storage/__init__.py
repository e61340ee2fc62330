"""The storage service: the only etcd client.

Keys, resourceVersions (etcd revisions), optimistic concurrency, pagination, watch and
compaction live here; every other service reaches etcd through ``storage.proto``.
Floors: ``server.py`` (composition root) → ``grpc/`` (adapter) → ``store.py`` (domain)
→ ``etcd_backend.py`` / ``memory_backend.py`` (the ``backend.Backend`` contract).
``client.py`` is the one client wrapper the other services use.
"""
