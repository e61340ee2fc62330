"""``python -m bench.cel``: what CEL validation rules cost, per CRD and per object.

Compiles a CRD schema with ten typical ``x-kubernetes-validations`` rules (compile time
per rule, cost estimation included), then validates one custom resource against them
(per object: activation, evaluation, runtime cost), next to the registry's plain schema
validation of a Deployment of about the same size for scale. CPU time of this process;
on the shared 2-core machines, compare runs made in the same minutes only.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from kapi.cel import validation

INT = {"type": "integer"}
STR = {"type": "string", "maxLength": 253}

RULES = [
    {"rule": "self.minReplicas <= self.replicas", "message": "replicas below minReplicas"},
    {"rule": "self.replicas <= 100"},
    {"rule": "!has(self.paused) || !self.paused || self.replicas == 0"},
    {"rule": "self.image.startsWith('registry.example.com/')"},
    {"rule": "quantity(self.memory).isLessThan(quantity('64Gi'))"},
    {"rule": "self.ports.all(p, p.port > 0 && p.port < 65536)"},
    {"rule": "self.ports.map(p, p.name).isSorted()"},
    {"rule": "isURL(self.endpoint) && url(self.endpoint).getScheme() == 'https'"},
    {
        "rule": "self.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
        "messageExpression": "'bad name ' + self.name",
    },
    {"rule": "self.replicas == oldSelf.replicas || self.replicas >= oldSelf.replicas - 1"},
]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": RULES,
            "properties": {
                "replicas": INT,
                "minReplicas": INT,
                "paused": {"type": "boolean"},
                "image": STR,
                "memory": {"type": "string", "maxLength": 32},
                "endpoint": STR,
                "name": STR,
                "ports": {
                    "type": "array",
                    "maxItems": 16,
                    "items": {"type": "object", "properties": {"name": STR, "port": INT}},
                },
            },
        }
    },
}

OBJECT = {
    "apiVersion": "example.com/v1",
    "kind": "App",
    "metadata": {"name": "app", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "minReplicas": 1,
        "paused": False,
        "image": "registry.example.com/app:1.0",
        "memory": "512Mi",
        "endpoint": "https://app.example.com/api",
        "name": "app",
        "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 443}],
    },
}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "app"}},
        "template": {
            "metadata": {"labels": {"app": "app"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.example.com/app:1.0",
                        "ports": [{"containerPort": 80}, {"containerPort": 443}],
                        "resources": {"limits": {"memory": "512Mi"}},
                    }
                ]
            },
        },
    },
}


def per_call(fn: Callable[[], Any], seconds: float) -> float:
    """CPU microseconds per call of ``fn``, over about ``seconds``."""
    fn()
    count, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        fn()
        count += 1
    return (time.process_time() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cel")
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    from services.registry import schema_validation

    compile_us = per_call(lambda: validation.compile_rules(SCHEMA), args.seconds)
    compiled = validation.compile_rules(SCHEMA)
    assert compiled.errors() == [], compiled.errors()
    assert validation.validate(compiled, OBJECT) == []
    old = {**OBJECT, "spec": {**OBJECT["spec"], "replicas": 2}}
    create_us = per_call(lambda: validation.validate(compiled, OBJECT), args.seconds)
    update_us = per_call(lambda: validation.validate(compiled, OBJECT, old), args.seconds)
    plain_us = per_call(
        lambda: schema_validation.validate("io.k8s.api.apps.v1.Deployment", DEPLOYMENT),
        args.seconds,
    )
    n = len(RULES)
    per_rule = compile_us / n
    print(f"compile, {n} rules (one schema): {compile_us / 1000:8.2f} ms ({per_rule:.0f} µs/rule)")
    print(f"validate on create ({n - 1} rules run): {create_us:8.0f} µs")
    print(f"validate on update ({n} rules run):     {update_us:8.0f} µs")
    print(f"plain schema validation, Deployment:  {plain_us:8.0f} µs")


if __name__ == "__main__":
    main()
