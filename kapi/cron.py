"""Cron schedules as Kubernetes reads them: robfig/cron v3's ``ParseStandard`` and
``Schedule.Next`` (github.com/robfig/cron/v3 ``parser.go``, ``spec.go``,
``constantdelay.go``), which kube-apiserver validates CronJobs with and the cronjob
controller schedules by.

Five fields (minute, hour, day of month, month, day of week; names ``jan``… and
``sun``…, ``*``/``?``, ranges, steps, lists), the descriptors ``@yearly`` … ``@hourly``,
``@every DURATION`` and a ``TZ=``/``CRON_TZ=`` prefix; errors worded as robfig words them.

Why not croniter (or cronsim): both answer differently from robfig where it matters to
a CronJob. robfig keeps a field "starred" for ``*/1`` (so ``0 0 */1 * 1`` means Mondays:
day of month AND day of week), croniter ORs them (every day); on a spring-forward day
robfig skips a time in the gap (``30 2 * * *`` does not run that day), croniter runs it
at 03:00; and croniter takes seconds, years, ``L``, ``#`` and ``H``, which kube refuses.
The evaluation is robfig's bit-set search, so the two agree by construction.
"""

from __future__ import annotations

import datetime
import os
import re
import zoneinfo
from dataclasses import dataclass

UTC = datetime.UTC

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_Bounds = tuple[int, int, dict[str, int] | None]
# (min, max, names) of minute, hour, day of month, month, day of week
_BOUNDS: tuple[_Bounds, ...] = (
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)
# robfig's starBit: the field was "*" or "?" (with step 1), which decides whether day of
# month and day of week are ANDed (either starred) or ORed (both restricted).
STAR = 1 << 63
_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class CronError(ValueError):
    """A schedule robfig/cron rejects, with its message."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: robfig's SpecSchedule bit sets, or a ConstantDelaySchedule
    (``every`` seconds) for ``@every``."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    location: datetime.tzinfo = UTC
    every: float | None = None

    def next(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first activation strictly after ``after`` (aware), in ``after``'s zone;
        None where robfig returns the zero time (nothing within five years)."""
        if self.every is not None:
            return after.replace(microsecond=0) + datetime.timedelta(seconds=self.every)
        return _next(self, after)


def _all(bounds: _Bounds) -> int:
    low, high, _ = bounds
    return _bits(low, high, 1) | STAR


def _bits(low: int, high: int, step: int) -> int:
    out = 0
    for i in range(low, high + 1, step):
        out |= 1 << i
    return out


_ALL = [_all(b) for b in _BOUNDS]
_DESCRIPTOR_FIELDS: dict[str, tuple[int, int, int, int, int]] = {
    "@yearly": (1 << 0, 1 << 0, 1 << 1, 1 << 1, _ALL[4]),
    "@annually": (1 << 0, 1 << 0, 1 << 1, 1 << 1, _ALL[4]),
    "@monthly": (1 << 0, 1 << 0, 1 << 1, _ALL[3], _ALL[4]),
    "@weekly": (1 << 0, 1 << 0, _ALL[2], _ALL[3], 1 << 0),
    "@daily": (1 << 0, 1 << 0, _ALL[2], _ALL[3], _ALL[4]),
    "@midnight": (1 << 0, 1 << 0, _ALL[2], _ALL[3], _ALL[4]),
    "@hourly": (1 << 0, _ALL[1], _ALL[2], _ALL[3], _ALL[4]),
}
DESCRIPTORS = tuple(_DESCRIPTOR_FIELDS)


def _go_fields(fields: list[str]) -> str:
    return "[" + " ".join(fields) + "]"  # Go's %s of a []string


def _parse_int(expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise CronError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'
        )
    number = int(expr)
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {expr}")
    return number


def _parse_int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _parse_int(expr)


def _range(expr: str, bounds: _Bounds) -> int:
    """robfig's getRange: one comma-separated part of a field, as bits."""
    low_bound, high_bound, names = bounds
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    extra = 0
    if low_and_high[0] in ("*", "?"):
        start, end = low_bound, high_bound
        extra = STAR
    else:
        start = _parse_int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_int_or_name(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if len(low_and_high) == 1:  # "N/step" means "N-max/step"
            end = high_bound
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < low_bound:
        raise CronError(f"beginning of range ({start}) below minimum ({low_bound}): {expr}")
    if end > high_bound:
        raise CronError(f"end of range ({end}) above maximum ({high_bound}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _field(text: str, bounds: _Bounds) -> int:
    out = 0
    for expr in text.split(","):
        out |= _range(expr, bounds)
    return out


def time_zone_exists(name: str) -> bool:
    """Whether Go's time.LoadLocation would find ``name`` (an IANA zone)."""
    if not name or name.startswith(("/", "-")) or ".." in name.split("/"):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_zone() -> datetime.tzinfo:
    """Go's time.Local: the zone ``TZ`` names, else UTC (the controller manager's zone
    when a CronJob names none)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name and name != "UTC" and time_zone_exists(name):
        return zoneinfo.ZoneInfo(name)
    return UTC


def _go_duration_seconds(text: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)", text):
        total += float(number) * _GO_UNITS[unit]
    return total


def parse_standard(schedule: str) -> Schedule:
    """robfig's ParseStandard; CronError with its message when it would refuse."""
    if not schedule:
        raise CronError("empty spec string")
    spec = schedule
    location: datetime.tzinfo = local_zone()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        name = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        if not time_zone_exists(name):
            raise CronError(f"provided bad location {name}: unknown time zone {name}")
        location = zoneinfo.ZoneInfo(name)
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTOR_FIELDS:
            minute, hour, dom, month, dow = _DESCRIPTOR_FIELDS[spec]
            return Schedule(minute, hour, dom, month, dow, location)
        if spec.startswith("@every "):
            duration = spec[len("@every ") :]
            if not _GO_DURATION.fullmatch(duration) and duration != "0":
                raise CronError(
                    f'failed to parse duration {spec}: time: invalid duration "{duration}"'
                )
            # constantdelay.go's Every: at least a second, whole seconds.
            seconds = max(1.0, float(int(_go_duration_seconds(duration))))
            return Schedule(location=location, every=seconds)
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != len(_BOUNDS):
        raise CronError(
            f"expected exactly {len(_BOUNDS)} fields, found {len(fields)}: {_go_fields(fields)}"
        )
    minute, hour, dom, month, dow = (
        _field(text, bounds) for text, bounds in zip(fields, _BOUNDS, strict=True)
    )
    return Schedule(minute, hour, dom, month, dow, location)


# --- Next: robfig's spec.go, on wall-clock time in the schedule's zone ---------------------


def _wall(
    loc: datetime.tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime.datetime:
    """Go's time.Date in ``loc``, normalising overflowed days and months; a wall time in a
    DST gap is read with the offset after the transition, an ambiguous one as the
    earlier instant, as Go does."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    base = datetime.datetime(year, month, 1, hour, minute, tzinfo=loc)
    when = base + datetime.timedelta(days=day - 1)
    when = when.replace(fold=0)
    round_trip = when.astimezone(UTC).astimezone(loc)
    if round_trip.replace(tzinfo=None) != when.replace(tzinfo=None):
        when = when.replace(fold=1)  # in a gap: PEP 495 fold=1 is the later offset
    return when.astimezone(UTC).astimezone(loc)


def _add(when: datetime.datetime, **delta: float) -> datetime.datetime:
    """Absolute time arithmetic (Go's Time.Add), shown in ``when``'s zone."""
    tz = when.tzinfo
    assert tz is not None
    return (when.astimezone(UTC) + datetime.timedelta(**delta)).astimezone(tz)


def _day_matches(s: Schedule, t: datetime.datetime) -> bool:
    dom_match = (1 << t.day) & s.dom > 0
    dow_match = (1 << ((t.weekday() + 1) % 7)) & s.dow > 0
    if s.dom & STAR or s.dow & STAR:
        return dom_match and dow_match
    return dom_match or dow_match


def _next(s: Schedule, after: datetime.datetime) -> datetime.datetime | None:
    original = after.tzinfo or UTC
    loc = s.location
    t = after.astimezone(loc)
    t = _add(t.replace(microsecond=0), seconds=1)
    added = False
    year_limit = t.year + 5
    while True:  # robfig's WRAP label
        if t.year > year_limit:
            return None
        wrapped = False
        while not (1 << t.month) & s.month:
            if not added:
                added = True
                t = _wall(loc, t.year, t.month, 1)
            t = _wall(loc, t.year, t.month + 1, t.day, t.hour, t.minute)
            if t.month == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not _day_matches(s, t):
            if not added:
                added = True
                t = _wall(loc, t.year, t.month, t.day)
            t = _wall(loc, t.year, t.month, t.day + 1, t.hour, t.minute)
            # A midnight that DST moved: back to the day's start (robfig's fix-up).
            if t.hour != 0:
                t = _add(t, hours=24 - t.hour) if t.hour > 12 else _add(t, hours=-t.hour)
            if t.day == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << t.hour) & s.hour:
            if not added:
                added = True
                t = _wall(loc, t.year, t.month, t.day, t.hour)
            t = _add(t, hours=1)
            if t.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << t.minute) & s.minute:
            if not added:
                added = True
                t = t.replace(second=0)
            t = _add(t, minutes=1)
            if t.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue
        if t.second != 0:  # the standard parser's seconds field is "0"
            if not added:
                added = True
            t = _add(t.replace(second=0), minutes=1)
            continue
        return t.astimezone(original)
