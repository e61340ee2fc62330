"""What the fuzz suite sends: an ``Attempt`` (method, path, query, headers, body) aimed
at the seeded objects of ``conftest.seeded``, and the values hostile ones are made of:
odd unicode (controls, lone surrogates, noncharacters, right-to-left marks), integers
past 64 bits, NaN and Infinity, nesting of any depth.

``hostile_bodies`` and ``hostile_requests`` draw attempts from these.
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.conftest import NAMESPACE
from tests.fuzz.wire import Reply, Target

NS = f"/api/v1/namespaces/{NAMESPACE}"
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
CONFIGMAPS = f"{NS}/configmaps"
DEPLOYMENTS = f"{APPS}/deployments"
CONFIGMAP = f"{CONFIGMAPS}/configmap-1"  # the seeded objects are "<kind>-1"
OBJECTS = [
    CONFIGMAP,
    f"{NS}/secrets/secret-1",
    f"{NS}/pods/pod-1",
    f"{NS}/pods/pod-1/status",
    f"{APPS}/deployments/deployment-1",
    f"{APPS}/deployments/deployment-1/scale",
    f"/api/v1/namespaces/{NAMESPACE}",
]
JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    params: Sequence[tuple[str, str]] = ()
    headers: dict[str, str | bytes] = field(default_factory=dict)
    data: bytes | None = None

    def send(self, target: Target) -> Reply:
        query = "&".join(f"{percent_encoded(k)}={percent_encoded(v)}" for k, v in self.params)
        path = f"{self.path}?{query}" if query else self.path
        return target.send(self.method, path, headers=self.headers, data=self.data)

    def __repr__(self) -> str:  # hypothesis prints it: keep a 3 MiB body out of the log
        body = self.data or b""
        shown = body if len(body) <= 300 else body[:200] + b"..." + body[-50:]
        return (
            f"Attempt({self.method} {self.path[:300]} params={list(self.params)!r:.600} "
            f"headers={self.headers!r:.600} body[{len(body)}]={shown!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis' printer would otherwise list every field


def body_request(method: str, path: str, content_type: str, data: bytes) -> Attempt:
    return Attempt(method, path, headers={"Content-Type": content_type}, data=data)


# --- values ---------------------------------------------------------------------------

# Text from every corner of unicode: controls, NUL, lone surrogates (which no UTF-8
# encoder writes), noncharacters, right-to-left marks, zero-width joiners, emoji.
odd_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=40
) | st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udfff",
        "\ufeff",
        "\ufffe",
        "\uffff",
        "\u202e",
        "\u200d",
        "\U0010ffff",
        "a\nb",
        "Ā",
        "é" * 3,
        "💥",
        "../..",
        "%00",
        "x" * 254,
    ]
)
big_integers = st.sampled_from(
    [2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, 10**400]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | big_integers
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=20,
)
nesting_depths = st.sampled_from(
    [63, 64, 65, 253, 254, 255, 256, 500, 512, 999, 1000, 1024, 1025, 5000, 20000]
) | st.integers(1, 3000)


def dump_json(value: Any, *, ascii_only: bool = True) -> bytes:
    """Like a client would, but NaN, Infinity, huge integers and lone surrogates go out
    as Python's json writes them (not all of that is JSON: that is the point)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


# --- nesting ----------------------------------------------------------------------------


def nested_json(depth: int, shape: str) -> str:
    if shape == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def nested_yaml(depth: int, shape: str) -> str:
    if shape == "block":
        return "- " * depth + "x"  # a block sequence inside a block sequence ...
    return nested_json(depth, shape)  # flow style: JSON is YAML


_SAFE = set(string.ascii_letters + string.digits + "-._~")


def percent_encoded(text: str) -> str:
    """Every byte of ``text``'s UTF-8 (lone surrogates too) but the unreserved ones as %XX."""
    raw = text.encode("utf-8", "surrogatepass")
    return "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in raw)
