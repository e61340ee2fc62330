"""Query parameters into request options (services/gateway/options.py), decoded as
apimachinery's string conversions decode them (k8s.io/apimachinery/pkg/runtime/conversion.go):
an int64 is Go's strconv.ParseInt — out of range or not a number, a 400 BadRequest with
its error's words, as kube-apiserver's list and delete handlers answer — and a boolean is
true unless it is "0" or "false".
"""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from kapi import errors
from services.gateway import options


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        ("007", 7),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("0000000000000000000000000000009", 9),  # leading zeros are not significant
    ],
)
def test_int64_in_range(value: str, number: int) -> None:
    assert options.parse_int64(value) == number


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "9223372036854775808",
            'strconv.ParseInt: parsing "9223372036854775808": value out of range',
        ),
        (
            "-9223372036854775809",
            'strconv.ParseInt: parsing "-9223372036854775809": value out of range',
        ),
        ("1" * 5000, f'strconv.ParseInt: parsing "{"1" * 5000}": value out of range'),
        ("", 'strconv.ParseInt: parsing "": invalid syntax'),
        ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
        ("1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        (" 5", 'strconv.ParseInt: parsing " 5": invalid syntax'),
        ("1_000", 'strconv.ParseInt: parsing "1_000": invalid syntax'),
        ("٣", 'strconv.ParseInt: parsing "٣": invalid syntax'),  # not an ASCII digit
        ("0x10", 'strconv.ParseInt: parsing "0x10": invalid syntax'),
    ],
)
def test_int64_out_of_range_or_malformed_is_400(value: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        options.parse_int64(value)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("0", False),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ("true", True),
        ("1", True),
        ("", True),
        ("yes", True),
        ("no", True),  # anything but 0 and false
    ],
)
def test_booleans_as_kube(value: str | None, expected: bool) -> None:
    assert options.flag(value) is expected


@pytest.mark.parametrize("name", ["limit", "timeoutSeconds"])
def test_list_integers_refuse_int64_overflow(name: str) -> None:
    params = QueryParams({name: str(2**63)})
    with pytest.raises(errors.StatusError) as info:
        options.non_negative_int(params, name)
    assert info.value.code == 400
    assert info.value.message == f'strconv.ParseInt: parsing "{2**63}": value out of range'


def test_list_integers_absent_are_zero() -> None:
    assert options.non_negative_int(QueryParams(""), "limit") == 0


def test_delete_options_from_the_query() -> None:
    params = QueryParams(
        "gracePeriodSeconds=30&orphanDependents=false&propagationPolicy=Foreground&dryRun=All"
    )
    assert options.delete_options(params) == {
        "gracePeriodSeconds": 30,
        "orphanDependents": False,
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }
    assert options.delete_options(QueryParams("")) == {}


@pytest.mark.parametrize("grace", [str(2**63), "soon"])
def test_delete_grace_period_must_be_an_int64(grace: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        options.delete_options(QueryParams({"gracePeriodSeconds": grace}))
    assert info.value.code == 400
    assert info.value.message.startswith(f'strconv.ParseInt: parsing "{grace}": ')
