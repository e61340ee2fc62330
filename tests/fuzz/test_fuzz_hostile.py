"""Hostile requests (``tests/fuzz/hostile.py``): each reply is a success or a kube Status,
never a 5xx, and kapi is ready afterwards (``conftest.kapi_survives``).

One test per family of input issue 10 names, so a failure says which family broke, and
hypothesis shrinks it to the smallest request that still does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis.strategies import SearchStrategy

from tests.fuzz import hostile
from tests.fuzz.conftest import Seeded, fuzzed
from tests.fuzz.wire import Target, check

pytestmark = pytest.mark.e2e


FAMILIES: list[tuple[str, SearchStrategy[hostile.Attempt], int]] = [
    ("deep nesting", hostile.deep_nesting(), 150),
    ("YAML aliases, tags and keys", hostile.yaml_documents(), 150),
    ("malformed Protobuf", hostile.protobuf_bodies(), 150),
    ("odd unicode and encodings", hostile.odd_strings(), 150),
    ("query parameters", hostile.query_parameters(), 150),
    ("headers", hostile.bad_headers(), 150),
    ("patches", hostile.patches(), 200),
    ("oversized objects", hostile.oversized(), 50),
    ("methods and paths", hostile.methods_and_paths(), 150),
]


def _family_test(
    strategy: SearchStrategy[hostile.Attempt], examples: int
) -> Callable[[Target], None]:
    @fuzzed(examples)
    @given(attempt=strategy)
    def send_and_check(target: Target, attempt: hostile.Attempt) -> None:
        check(attempt.send(target))

    return send_and_check  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("strategy", "examples"),
    [pytest.param(s, n, id=name) for name, s, n in FAMILIES],
)
def test_hostile_requests_get_a_status(
    target: Target, seeded: Seeded, strategy: SearchStrategy[hostile.Attempt], examples: int
) -> None:
    _family_test(strategy, examples)(target)
