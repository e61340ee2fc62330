"""Hostile input (``hostile_bodies``, ``hostile_requests``): each reply is a success or a
kube Status, never a 5xx, and kapi is ready afterwards (``conftest.kapi_survives``).

One test per family of input issue 10 names, so a failure says which family broke (and,
with ``KAPI_FUZZ_SHRINK=1``, the smallest request of it that still does).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis.strategies import SearchStrategy

from tests.fuzz import hostile_bodies, hostile_requests
from tests.fuzz.attempts import Attempt
from tests.fuzz.conftest import Seeded, fuzzed
from tests.fuzz.wire import Target, check

pytestmark = pytest.mark.e2e


FAMILIES: list[tuple[str, SearchStrategy[Attempt], int]] = [
    ("deep nesting", hostile_bodies.deep_nesting(), 150),
    ("YAML aliases, tags and keys", hostile_bodies.yaml_documents(), 150),
    ("malformed Protobuf", hostile_bodies.protobuf_bodies(), 150),
    ("odd unicode and encodings", hostile_bodies.odd_strings(), 150),
    ("query parameters", hostile_requests.query_parameters(), 150),
    ("headers", hostile_requests.bad_headers(), 150),
    ("patches", hostile_requests.patches(), 200),
    ("oversized objects", hostile_bodies.oversized(), 50),
    ("methods and paths", hostile_requests.methods_and_paths(), 150),
]


def _family_test(strategy: SearchStrategy[Attempt], examples: int) -> Callable[[Target], None]:
    @fuzzed(examples)
    @given(attempt=strategy)
    def send_and_check(target: Target, attempt: Attempt) -> None:
        check(attempt.send(target))

    return send_and_check  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("strategy", "examples"),
    [pytest.param(s, n, id=name) for name, s, n in FAMILIES],
)
def test_hostile_requests_get_a_status(
    target: Target, seeded: Seeded, strategy: SearchStrategy[Attempt], examples: int
) -> None:
    _family_test(strategy, examples)(target)
