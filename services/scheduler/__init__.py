"""The scheduler: kube-scheduler's job, as a client of the gateway.

Floors: ``__main__`` (flags as kube-scheduler's: ``--kubeconfig``, ``--master``,
``--leader-elect*``) → ``server`` (``create_server(config) -> Running``: leader election
on the ``kube-system/kube-scheduler`` Lease, then the scheduling loop) → ``scheduler``
(queue, cache, binding, events) → ``predicates`` (the filter and score plugins, pure).
It shares the controller manager's framework (``services.controllers.framework``) and
``kapi.kube``; its identity is ``system:kube-scheduler``.
"""
