"""kapi.cron against robfig/cron v3's own cases (``spec_test.go`` TestNext, TestActivation,
``parser_test.go``), restated for the five-field standard parser kube uses."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from kapi import cron

NY = "America/New_York"


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("after", "spec", "expected"),
    [
        # simple cases
        ("2012-07-09T14:45:00+00:00", "*/15 * * * *", "2012-07-09T15:00:00+00:00"),
        ("2012-07-09T14:59:00+00:00", "*/15 * * * *", "2012-07-09T15:00:00+00:00"),
        ("2012-07-09T14:59:59+00:00", "*/15 * * * *", "2012-07-09T15:00:00+00:00"),
        # wrap around hours, days, months, years
        ("2012-07-09T15:45:00+00:00", "20-35/15 * * * *", "2012-07-09T16:20:00+00:00"),
        ("2012-07-09T23:46:00+00:00", "*/15 * * * *", "2012-07-10T00:00:00+00:00"),
        ("2012-07-09T23:45:00+00:00", "20-35/15 * * * *", "2012-07-10T00:20:00+00:00"),
        ("2012-07-09T23:35:51+00:00", "15/35 20-23/15 * * *", "2012-07-10T20:15:00+00:00"),
        ("2012-07-09T23:35:00+00:00", "0 0 9 Apr-Oct ?", "2012-08-09T00:00:00+00:00"),
        ("2012-07-09T23:35:00+00:00", "0 0 */5 Apr,Aug,Oct Mon", "2012-08-01T00:00:00+00:00"),
        ("2012-07-09T23:35:00+00:00", "0 0 */5 Oct Mon", "2012-10-01T00:00:00+00:00"),
        ("2012-12-31T23:59:45+00:00", "* * * * *", "2013-01-01T00:00:00+00:00"),
        # leap year
        ("2012-07-09T23:35:00+00:00", "0 0 29 Feb ?", "2016-02-29T00:00:00+00:00"),
        # day of month AND day of week when either is starred (also "*/1"), OR otherwise
        ("2026-01-01T00:00:00+00:00", "0 0 */1 * 1", "2026-01-05T00:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "0 0 1-31 * 1", "2026-01-02T00:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "0 0 13 * 5", "2026-01-02T00:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "0 0 */2 * 1", "2026-01-03T00:00:00+00:00"),
        # descriptors
        ("2026-01-01T00:00:00+00:00", "@hourly", "2026-01-01T01:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "@daily", "2026-01-02T00:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "@weekly", "2026-01-04T00:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "@monthly", "2026-02-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00+00:00", "@yearly", "2027-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:10.5+00:00", "@every 90s", "2026-01-01T00:01:40+00:00"),
        # a time zone: the activation is in that zone, the answer in the caller's
        ("2026-01-01T00:00:00+00:00", "TZ=Asia/Tokyo 0 9 * * *", "2026-01-02T00:00:00+00:00"),
        # daylight saving, New York: 2:30 does not exist on 2012-03-11 (skipped that day)
        (f"2012-03-11T00:00:00-05:00|{NY}", "30 2 11 Mar ?", "2013-03-11T02:30:00-04:00"),
        (f"2012-03-11T00:00:00-05:00|{NY}", "0 * * * ?", "2012-03-11T01:00:00-05:00"),
        (f"2012-03-11T01:00:00-05:00|{NY}", "0 * * * ?", "2012-03-11T03:00:00-04:00"),
        # ... and 1:30 happens twice on 2012-11-04
        (f"2012-11-04T00:00:00-04:00|{NY}", "30 1 04 Nov ?", "2012-11-04T01:30:00-04:00"),
        (f"2012-11-04T01:45:00-04:00|{NY}", "30 1 04 Nov ?", "2012-11-04T01:30:00-05:00"),
        (f"2012-11-04T00:00:00-04:00|{NY}", "0 0 * * *", "2012-11-05T00:00:00-05:00"),
    ],
)
def test_next(after: str, spec: str, expected: str) -> None:
    if "|" in after:
        when, zone = after.split("|")
        spec = f"TZ={zone} {spec}"
        start = at(when).astimezone(zoneinfo.ZoneInfo(zone))
    else:
        start = at(after)
    got = cron.parse_standard(spec).next(start)
    assert got is not None
    # in UTC: PEP 495 makes an ambiguous wall time unequal to every other zone's
    assert got.astimezone(datetime.UTC) == at(expected).astimezone(datetime.UTC)
    assert got.utcoffset() == at(expected).utcoffset()


@pytest.mark.parametrize("spec", ["0 0 30 Feb ?", "0 0 31 Apr ?", "59 23 31 2 *"])
def test_an_impossible_date_has_no_next(spec: str) -> None:
    assert cron.parse_standard(spec).next(at("2012-07-09T23:35:00+00:00")) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("0 * * * * *", "expected exactly 5 fields, found 6: [0 * * * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone"),
        ("L * * * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
    ],
)
def test_refused_as_robfig_words_it(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as caught:
        cron.parse_standard(spec)
    assert str(caught.value).startswith(message)
