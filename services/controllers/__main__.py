"""``python -m services.controllers``: the controller manager, flags as kube's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from kapi import config, serving
from kapi.kube import connection
from services.controllers import catalog
from services.controllers.server import (
    ControllersConfig,
    LeaderElection,
    Running,
    create_server,
)

log = logging.getLogger("services.controllers")


def seconds(value: str) -> float:
    """A Go duration as kube's flags take it (``15s``, ``2m``, ``500ms``) or plain seconds."""
    text = value.strip()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


def truthy(value: str) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.controllers")
    config.add(
        parser,
        "--kubeconfig",
        required=True,
        help="kubeconfig with this manager's credential (user system:kube-controller-manager)",
    )
    config.add(parser, "--master", default="", help="API server URL, overriding the kubeconfig")
    config.add(
        parser,
        "--controllers",
        default="*",
        help="controllers to run: '*' all on by "
        f"default, 'foo' on, '-foo' off; known: {', '.join(catalog.known())}",
    )
    config.add(
        parser,
        "--root-ca-file",
        default="",
        help="cluster CA (PEM) published as kube-root-ca.crt in every namespace",
    )
    config.add(
        parser,
        "--leader-elect",
        default="true",
        type=truthy,
        help="campaign for the Lease before running controllers",
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
    config.add(
        parser,
        "--leader-elect-resource-name",
        default="kube-controller-manager",
        help="the Lease's name",
    )
    config.add(
        parser,
        "--leader-elect-resource-namespace",
        default="kube-system",
        help="the Lease's namespace",
    )
    config.add(
        parser, "--identity", default="", help="leader election identity (default: hostname_uuid)"
    )
    config.add(parser, "--concurrent-syncs", default=5, type=int, help="workers per controller")
    config.add(
        parser,
        "--use-service-account-credentials",
        default="true",
        type=truthy,
        help="each controller writes as its ServiceAccount kube-system/NAME (kube's flag)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> int:
    conn = connection.from_kubeconfig(args.kubeconfig, master=args.master)
    running = await create_server(
        ControllersConfig(
            connection=conn,
            controllers=(args.controllers,),
            leader_election=LeaderElection(
                enabled=args.leader_elect,
                namespace=args.leader_elect_resource_namespace,
                name=args.leader_elect_resource_name,
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period,
            ),
            identity=args.identity,
            root_ca_pem=Path(args.root_ca_file).read_text() if args.root_ca_file else "",
            concurrent_syncs=args.concurrent_syncs,
            use_service_account_credentials=args.use_service_account_credentials,
        )
    )
    return await run_until_stopped(running)


async def run_until_stopped(running: Running) -> int:
    """Until SIGTERM or SIGINT (0), or until the work ends — leadership lost (1)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({running.task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if running.task in done:
        error = running.task.exception() if not running.task.cancelled() else None
        log.error("leaderelection lost" if error is None else f"failed: {error!r}")
        code = 1
    stopping.cancel()
    await running.close()
    return code


def main() -> None:
    args = build_parser().parse_args()
    try:
        catalog.parse(args.controllers)
    except ValueError as exc:
        sys.exit(f"--controllers: {exc}")
    config.setup_logging("controllers")
    sys.exit(serving.run(_serve(args)))


if __name__ == "__main__":
    main()
