"""Build the Kubernetes protobuf field table the gateway decodes kubectl's request bodies with.

kubectl 1.32 sends ``application/vnd.kubernetes.protobuf`` bodies. Decoding them needs, for
every message reachable from the kinds kapi accepts, the field numbers, names, types and
labels that upstream declares in its ``generated.proto`` files (k8s.io/api/<group>/<version>,
k8s.io/apimachinery meta/v1, api/resource, util/intstr, runtime). Those files are not
vendored here; this script reads them from a directory and writes only the facts needed:

    python scripts/gen_k8s_proto_table.py /tmp/k8s-proto \
        -o services/gateway/codec/k8s_proto_messages.json

Every ``*.proto`` below the directory is parsed (the layout does not matter: messages are
found by their ``package``). ``--check`` compares with the existing output instead of
writing it.

Output, one message per line::

    {"kinds": {"apps/v1/Deployment": "apps.v1.Deployment", ...},
     "messages": {"apps.v1.DeploymentSpec": [[1, "replicas", "int32", true], ...], ...}}

A field is ``[number, name, type, optional]``: ``type`` is a scalar (``string``, ``int32``...),
a message (short name, below), ``repeated <type>`` or ``map<key,value>``; ``optional`` is
whether upstream marks the field ``+optional`` (a close proxy for Go's ``omitempty``). Fields
keep their declaration order, which is the Go struct order and so the JSON order. Messages are
named by short package names: ``k8s.io.api.apps.v1`` is ``apps.v1``,
``k8s.io.apimachinery.pkg.apis.meta.v1`` is ``meta.v1``, ``...pkg.api.resource`` is
``resource``, ``...pkg.util.intstr`` is ``intstr``, ``...pkg.runtime`` is ``runtime``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "services" / "gateway" / "codec" / "k8s_proto_messages.json"

# The top-level kinds the table covers: "<apiVersion>/<Kind>" -> fully qualified message.
ROOT_KINDS: dict[str, str] = {
    "v1/Binding": "k8s.io.api.core.v1.Binding",
    "v1/ConfigMap": "k8s.io.api.core.v1.ConfigMap",
    "v1/Namespace": "k8s.io.api.core.v1.Namespace",
    "v1/Pod": "k8s.io.api.core.v1.Pod",
    "v1/ResourceQuota": "k8s.io.api.core.v1.ResourceQuota",
    "v1/Secret": "k8s.io.api.core.v1.Secret",
    "v1/Service": "k8s.io.api.core.v1.Service",
    "v1/ServiceAccount": "k8s.io.api.core.v1.ServiceAccount",
    "apps/v1/Deployment": "k8s.io.api.apps.v1.Deployment",
    # kubectl autoscale (autoscaling/v1 in 1.32, v2 in later kubectls)
    "autoscaling/v1/HorizontalPodAutoscaler": "k8s.io.api.autoscaling.v1.HorizontalPodAutoscaler",
    "autoscaling/v2/HorizontalPodAutoscaler": "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
    "batch/v1/CronJob": "k8s.io.api.batch.v1.CronJob",
    "batch/v1/Job": "k8s.io.api.batch.v1.Job",
    "policy/v1/Eviction": "k8s.io.api.policy.v1.Eviction",
    "policy/v1/PodDisruptionBudget": "k8s.io.api.policy.v1.PodDisruptionBudget",
    "certificates.k8s.io/v1/CertificateSigningRequest": (
        "k8s.io.api.certificates.v1.CertificateSigningRequest"
    ),
    "networking.k8s.io/v1/Ingress": "k8s.io.api.networking.v1.Ingress",
    "scheduling.k8s.io/v1/PriorityClass": "k8s.io.api.scheduling.v1.PriorityClass",
    "rbac.authorization.k8s.io/v1/ClusterRole": "k8s.io.api.rbac.v1.ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "k8s.io.api.rbac.v1.ClusterRoleBinding",
    "rbac.authorization.k8s.io/v1/Role": "k8s.io.api.rbac.v1.Role",
    "rbac.authorization.k8s.io/v1/RoleBinding": "k8s.io.api.rbac.v1.RoleBinding",
    "authentication.k8s.io/v1/SelfSubjectReview": "k8s.io.api.authentication.v1.SelfSubjectReview",
    "authentication.k8s.io/v1/TokenRequest": "k8s.io.api.authentication.v1.TokenRequest",
    "authentication.k8s.io/v1/TokenReview": "k8s.io.api.authentication.v1.TokenReview",
    "authorization.k8s.io/v1/LocalSubjectAccessReview": "k8s.io.api.authorization.v1.LocalSubjectAccessReview",
    "authorization.k8s.io/v1/SelfSubjectAccessReview": "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
    "authorization.k8s.io/v1/SelfSubjectRulesReview": "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
    "authorization.k8s.io/v1/SubjectAccessReview": "k8s.io.api.authorization.v1.SubjectAccessReview",
}

SCALARS = frozenset(
    {
        "double",
        "float",
        "int32",
        "int64",
        "uint32",
        "uint64",
        "sint32",
        "sint64",
        "fixed32",
        "fixed64",
        "sfixed32",
        "sfixed64",
        "bool",
        "string",
        "bytes",
    }
)

_FIELD = re.compile(
    r"^(?:(optional|required|repeated)\s+([\w.]+)|map\s*<\s*(\w+)\s*,\s*([\w.]+)\s*>)"
    r"\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;$"
)
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{$")
_PACKAGE = re.compile(r"^package\s+([\w.]+)\s*;$")
_IGNORED = re.compile(r"^(syntax|import|option)\b")


class ProtoError(Exception):
    """A .proto construct this reader does not understand."""


@dataclass
class Field:
    number: int
    name: str
    label: str  # "optional", "repeated" or "map"
    type: str  # as written; resolved later
    key: str = ""
    optional_marker: bool = False


@dataclass
class Message:
    package: str
    name: str
    fields: list[Field] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.package}.{self.name}"


def strip_block_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)


def parse_proto(text: str, origin: str = "<proto>") -> list[Message]:
    """The messages of one generated.proto, with each field's ``+optional`` marker."""
    package = ""
    messages: list[Message] = []
    current: Message | None = None
    comments: list[str] = []
    for lineno, raw in enumerate(strip_block_comments(text).splitlines(), 1):
        line = raw.strip()
        if line.startswith("//"):
            comments.append(line[2:].strip())
            continue
        if not line:
            comments = []
            continue
        where = f"{origin}:{lineno}"
        if current is None:
            current, package = _outside_message(line, package, where)
            if current is not None:
                messages.append(current)
        elif line == "}":
            current = None
        else:
            current.fields.append(_parse_field(line, comments, where))
        comments = []
    if current is not None:
        raise ProtoError(f"{origin}: message {current.name} is not closed")
    return messages


def _outside_message(line: str, package: str, where: str) -> tuple[Message | None, str]:
    if m := _PACKAGE.match(line):
        return None, m.group(1)
    if m := _MESSAGE.match(line):
        if not package:
            raise ProtoError(f"{where}: message before package")
        return Message(package, m.group(1)), package
    if _IGNORED.match(line):
        return None, package
    raise ProtoError(f"{where}: unsupported statement {line!r}")


def _parse_field(line: str, comments: list[str], where: str) -> Field:
    m = _FIELD.match(line)
    if m is None:
        raise ProtoError(f"{where}: unsupported field {line!r}")
    label, type_, key, value, name, number = m.groups()
    optional_marker = "+optional" in comments
    if key is not None:
        return Field(int(number), name, "map", value, key, optional_marker)
    if label == "required":
        label = "optional"
    return Field(int(number), name, label, type_, "", optional_marker)


def short_name(full: str) -> str:
    """``k8s.io.api.apps.v1.Deployment`` -> ``apps.v1.Deployment`` (see module docstring)."""
    for prefix in ("k8s.io.api.", "k8s.io.apimachinery.pkg."):
        if full.startswith(prefix):
            rest = full[len(prefix) :]
            for sub in ("apis.", "api.", "util."):
                if prefix.endswith("pkg.") and rest.startswith(sub):
                    return rest[len(sub) :]
            return rest
    return full


def resolve(type_name: str, package: str, known: dict[str, Message]) -> str:
    """Protobuf name resolution: absolute with a leading dot, else innermost scope first."""
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        candidates = [type_name[1:]]
    else:
        parts = package.split(".")
        candidates = [".".join([*parts[:i], type_name]) for i in range(len(parts), -1, -1)]
    for candidate in candidates:
        if candidate in known:
            return candidate
    raise ProtoError(f"unresolved type {type_name!r} in package {package}")


def load(directory: Path) -> dict[str, Message]:
    known: dict[str, Message] = {}
    files = sorted(directory.rglob("*.proto"))
    if not files:
        raise ProtoError(f"no .proto files under {directory}")
    for path in files:
        for message in parse_proto(path.read_text(encoding="utf-8"), str(path)):
            if message.full_name in known:
                raise ProtoError(f"{path}: duplicate message {message.full_name}")
            known[message.full_name] = message
    return known


def reachable(roots: list[str], known: dict[str, Message]) -> list[str]:
    """The messages reachable from ``roots`` through message-typed fields, sorted."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in known:
            raise ProtoError(f"root or referenced message {name} not found")
        seen.add(name)
        message = known[name]
        for f in message.fields:
            target = resolve(f.type, message.package, known)
            if target not in SCALARS:
                todo.append(target)
    return sorted(seen, key=short_name)


def field_entry(f: Field, package: str, known: dict[str, Message]) -> list[object]:
    target = resolve(f.type, package, known)
    type_ = target if target in SCALARS else short_name(target)
    if f.label == "map":
        type_ = f"map<{f.key},{type_}>"
    elif f.label == "repeated":
        type_ = f"repeated {type_}"
    return [f.number, f.name, type_, f.optional_marker]


def build_table(known: dict[str, Message]) -> dict[str, object]:
    names = reachable(list(ROOT_KINDS.values()), known)
    messages = {
        short_name(name): [field_entry(f, known[name].package, known) for f in known[name].fields]
        for name in names
    }
    kinds = {kind: short_name(full) for kind, full in sorted(ROOT_KINDS.items())}
    return {"kinds": kinds, "messages": messages}


def render(table: dict[str, object]) -> str:
    """Stable, diff-friendly JSON: one kind and one message per line."""
    kinds = table["kinds"]
    messages = table["messages"]
    assert isinstance(kinds, dict) and isinstance(messages, dict)
    lines = ["{", '"kinds": {']
    lines += _rows(kinds)
    lines += ["},", '"messages": {']
    lines += _rows(messages)
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


def _rows(mapping: dict[str, object]) -> list[str]:
    items = list(mapping.items())
    return [
        f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
        + ("," if i < len(items) - 1 else "")
        for i, (k, v) in enumerate(items)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proto_dir", type=Path, help="directory holding upstream generated.proto")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if --out is not up to date")
    args = parser.parse_args(argv)
    try:
        text = render(build_table(load(args.proto_dir)))
    except ProtoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
