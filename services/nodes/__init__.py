"""Simulated nodes: kubelets without containers, as kwok does, so pods run anywhere.

Floors: ``__main__`` (``--kubeconfig``, ``--master``, ``--nodes``, ``--node-name-prefix``,
the nodes' capacity) → ``server`` (``create_server(config) -> Running``) → ``simulator``
(nodes, leases, the pods' lifecycle) → ``podstatus`` (the status a kubelet writes, pure).
A client of the gateway with its own identity (``system:kapi-node-simulator``); it scales
apart from the control plane: run several with different prefixes for more nodes.
"""
