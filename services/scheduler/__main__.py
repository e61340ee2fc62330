"""``python -m services.scheduler``: the scheduler, flags as kube-scheduler's."""

from __future__ import annotations

import argparse

from kapi import config, serving
from kapi.kube import connection
from services.controllers.__main__ import run_until_stopped, seconds, truthy
from services.controllers.server import LeaderElection
from services.scheduler.server import SchedulerConfig, create_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.scheduler")
    config.add(
        parser,
        "--kubeconfig",
        required=True,
        help="kubeconfig with the scheduler's credential (user system:kube-scheduler)",
    )
    config.add(parser, "--master", default="", help="API server URL, overriding the kubeconfig")
    config.add(
        parser,
        "--leader-elect",
        default="true",
        type=truthy,
        help="campaign for the Lease before scheduling",
    )
    config.add(
        parser, "--leader-elect-lease-duration", default="15s", type=seconds, help="lease duration"
    )
    config.add(
        parser, "--leader-elect-renew-deadline", default="10s", type=seconds, help="renew deadline"
    )
    config.add(
        parser, "--leader-elect-retry-period", default="2s", type=seconds, help="retry period"
    )
    config.add(parser, "--identity", default="", help="leader election identity")
    return parser


async def _serve(args: argparse.Namespace) -> int:
    running = await create_server(
        SchedulerConfig(
            connection=connection.from_kubeconfig(args.kubeconfig, master=args.master),
            leader_election=LeaderElection(
                enabled=args.leader_elect,
                name="kube-scheduler",
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period,
            ),
            identity=args.identity,
        )
    )
    return await run_until_stopped(running)


def main() -> None:
    args = build_parser().parse_args()
    config.setup_logging("scheduler")
    raise SystemExit(serving.run(_serve(args)))


if __name__ == "__main__":
    main()
