"""The controller manager: kube-controller-manager's controllers, as a client of the
gateway.

Floors: ``__main__`` (flags, or ``KAPI_*`` variables: ``--kubeconfig``, ``--master``,
``--controllers``, ``--leader-elect*``, ``--root-ca-file``) → ``server``
(``create_server(config) -> Running``: one client, shared informers, leader election
on the ``kube-system/kube-controller-manager`` Lease, then the enabled controllers) →
the controllers (one module each; ``catalog`` lists them) → ``framework`` (queue
controllers) and ``kapi.kube`` (client, informers, work queues, leader election,
events). Nothing here talks gRPC or etcd: everything goes through the API, with the
controller manager's own credential (user ``system:kube-controller-manager``).
"""
