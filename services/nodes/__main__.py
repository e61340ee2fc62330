"""``python -m services.nodes``: N simulated nodes and the pods bound to them."""

from __future__ import annotations

import argparse

from kapi import config, serving
from kapi.kube import connection
from services.controllers.__main__ import run_until_stopped, seconds, truthy
from services.nodes.server import NodesConfig, create_server
from services.nodes.simulator import NodeShape


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.nodes")
    config.add(
        parser,
        "--kubeconfig",
        required=True,
        help="kubeconfig with the simulator's credential (user system:kapi-node-simulator)",
    )
    config.add(parser, "--master", default="", help="API server URL, overriding the kubeconfig")
    config.add(parser, "--nodes", default=1, type=int, help="how many nodes to simulate")
    config.add(
        parser, "--node-name-prefix", default="kapi-node-", help="node names: PREFIX0, PREFIX1, ..."
    )
    config.add(parser, "--node-cpu", default="32", help="each node's cpu capacity")
    config.add(parser, "--node-memory", default="256Gi", help="each node's memory capacity")
    config.add(parser, "--node-pods", default="110", help="each node's pod capacity")
    config.add(
        parser,
        "--lease-renew-interval",
        default="10s",
        type=seconds,
        help="how often each node renews its Lease in kube-node-lease",
    )
    config.add(
        parser,
        "--events",
        default="true",
        type=truthy,
        help="record the kubelet's events (Pulled, Created, Started, Killing)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> int:
    running = await create_server(
        NodesConfig(
            connection=connection.from_kubeconfig(args.kubeconfig, master=args.master),
            count=args.nodes,
            prefix=args.node_name_prefix,
            shape=NodeShape(cpu=args.node_cpu, memory=args.node_memory, pods=args.node_pods),
            lease_renew_seconds=args.lease_renew_interval,
            events=args.events,
        )
    )
    return await run_until_stopped(running)


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("nodes")
    raise SystemExit(serving.run(_serve(args)))


if __name__ == "__main__":
    main()
