"""Go's regular expressions read by Python (services/registry/crd/regex.py)."""

from __future__ import annotations

import pytest

from services.registry.crd import regex

CASES = [
    ("^(?i)(abort|warn)?$", "^(?i:(abort|warn)?$)", ["WARN", "abort", ""], ["x"]),
    ("(?i)^ok$", "(?i)^ok$", ["OK"], ["no"]),
    ("^a(?i)b$", "^a(?i:b$)", ["aB"], ["AB"]),
    ("^[a-z(?i)]+\\z", "^[a-z(?i)]+\\Z", ["ab(?"], ["AB"]),
]


@pytest.mark.parametrize(("go", "python", "matching", "not_matching"), CASES)
def test_translate(go: str, python: str, matching: list[str], not_matching: list[str]) -> None:
    assert regex.translate(go) == python
    compiled = regex.compile_go(go)
    assert all(compiled.search(s) for s in matching)
    assert not any(compiled.search(s) for s in not_matching)
