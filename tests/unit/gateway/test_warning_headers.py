"""Warning headers as kube-apiserver's warning recorder writes them: quoted as Go's
strconv.Quote, deduplicated, unsendable texts dropped, and kept within kube's budget
(k8s.io/apiserver/pkg/endpoints/filters/warning.go and its tests)."""

from __future__ import annotations

import pytest

from services.gateway import warning_headers


def texts(values: list[str]) -> list[str]:
    return [header.decode() for header in warning_headers.headers(values)]


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ('unknown field "bogus"', '299 - "unknown field \\"bogus\\""'),
        ("plain", '299 - "plain"'),
        ("back\\slash", '299 - "back\\\\slash"'),
        ('unknown field "Ā"', '299 - "unknown field \\"Ā\\""'),  # UTF-8 as is
        ("zero\u200bwidth", '299 - "zero\\u200bwidth"'),  # unprintable, escaped
    ],
)
def test_a_warning_is_quoted_as_go_quotes_it(text: str, header: str) -> None:
    assert texts([text]) == [header]


def test_utf8_is_sent_as_utf8_bytes() -> None:
    assert warning_headers.headers(["Ā"]) == ['299 - "Ā"'.encode()]


@pytest.mark.parametrize("text", ["line\nbreak", "unit\x1fseparator", "del\x7f", "lone \ud800"])
def test_a_text_kube_cannot_write_is_dropped(text: str) -> None:
    assert texts(["before", text, "after"]) == ['299 - "before"', '299 - "after"']


def test_each_text_once_in_order() -> None:
    assert texts(["b", "a", "b", "", "a", "c"]) == ['299 - "b"', '299 - "a"', '299 - "c"']


def test_over_the_budget_every_warning_is_cut_and_the_rest_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kube's TestTruncation, with its small limits (25 in all, 5 each)."""
    monkeypatch.setattr(warning_headers, "TOTAL_RUNES", 25)
    monkeypatch.setattr(warning_headers, "ITEM_RUNES", 5)
    first = ["aaaaaaaaaa", "aaaaaaaaaa", "bb", "ccc", "Iñtërnâtiô"]
    assert texts(first) == [f'299 - "{t}"' for t in ("aaaaaaaaaa", "bb", "ccc", "Iñtërnâtiô")]
    # Past 25: everything so far cut to 5, this one too.
    second = [*first, "eeeeeeeeee"]
    cut = ["aaaaa", "bb", "ccc", "Iñtër", "eeeee"]
    assert texts(second) == [f'299 - "{t}"' for t in cut]
    # Still under 25 once cut (20): the next goes in, cut; past 25, nothing more.
    third = [*second, "ffffffffff", "gggggggggg"]
    assert texts(third) == [f'299 - "{t}"' for t in (*cut, "fffff")]


def test_twenty_thousand_warnings_stay_within_a_few_kib() -> None:
    values = warning_headers.headers([f'unknown field "f{i}"' for i in range(20_000)])
    assert sum(len(v.decode()) for v in values) < 2 * warning_headers.TOTAL_RUNES
    assert len(values) < 300
