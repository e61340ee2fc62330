"""``resource.Quantity`` in the canonical form kube-apiserver stores and serves.

Why: kube-apiserver decodes every Quantity into a fixed-point value that remembers its
suffix family (binary SI ``Ki``..``Ei``, decimal SI ``n``..``E``, or a decimal exponent
``e3``) and writes it back in canonical form, so ``cpu: 1.5`` reads back as ``1500m``,
``memory: 0.5Gi`` as ``512Mi`` and ``1024Mi`` as ``1Gi``. A client diffing what it sent
against what it reads (``kubectl apply``, controllers) sees what a real cluster shows only
if the registry stores the same text.

The rules, as apimachinery's ``pkg/api/resource`` applies them (``ParseQuantity``,
``CanonicalizeBytes``):

- the value is exact (a decimal, or an integer times a power of two); values finer than
  a nano are rounded up, away from zero, to 1n; binary-SI values are capped at 2^63-1;
- a string already in canonical form is kept as written, sign and leading zeros included
  (the parser's fast path caches it): decimal when its scale is a multiple of three, its
  digits do not end in ``000`` and do not start with ``0`` (``100M``, ``2e3``, ``1.500``);
  binary when its integer is not a multiple of 8 (``1Ki``, ``1536Mi``);
- otherwise the value is written with the largest exponent that loses nothing: trailing
  zeros move into the exponent, which is then lowered to a multiple of three
  (``1.5`` -> ``1500m``, ``1000m`` -> ``1``, ``1000e3`` -> ``1e6``); binary SI in powers
  of 1024 when the value is a whole number of at least 1024 in magnitude, else as
  decimal SI (``0.5Ki`` -> ``512``, ``1.1Ki`` -> ``1126400m``);
- zero is ``0`` whatever its suffix.

Only values that parse (``schema_validation.quantity_error`` says "") are canonicalised.
A JSON number is read as the text Go's ``encoding/json`` writes for it (what kubectl sends
for ``cpu: 0.5`` in YAML).
"""

from __future__ import annotations

import decimal
import enum

_MAX_INT64 = 2**63 - 1
# maxInt64Factors: the decimal digits an int64 always holds.
_INT64_DIGITS = 18
_NANO = -9


class Format(enum.Enum):
    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


_DECIMAL_SUFFIXES = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_EXPONENT = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}


def _interpret(suffix: str) -> tuple[int, int, Format] | None:
    """A suffix as (base, exponent, format), or None when it is no suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:]), Format.DECIMAL_EXPONENT
        except ValueError:
            return None
    return None


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString: (positive, signed number as written, integer digits without
    leading zeros, fraction digits, suffix)."""
    positive = True
    pos = 0
    if text[:1] in ("-", "+"):
        positive = text[0] == "+"
        pos = 1
    while pos < len(text) and text[pos] == "0":
        pos += 1
    if pos == len(text):
        return positive, "0", "0", "", ""
    start = pos
    while pos < len(text) and text[pos].isdigit():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < len(text) and text[pos] == ".":
        pos += 1
        start = pos
        while pos < len(text) and text[pos].isdigit():
            pos += 1
        denom = text[start:pos]
    return positive, text[:pos], num, denom, text[pos:]


def json_number_text(value: int | float) -> str:
    """The text Go's ``encoding/json`` writes for a number (fixed notation from 1e-6 up to
    1e21, else the shortest exponent form, ``1e-07`` written ``1e-7``)."""
    if isinstance(value, int):
        return str(value)
    shortest = decimal.Decimal(repr(value))
    magnitude = abs(value)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        text = format(shortest, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    mantissa, _, exponent = format(shortest, "e").partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def canonical(value: str | int | float) -> str:
    """The canonical text of a Quantity that parses (see the module docstring)."""
    text = (json_number_text(value) if not isinstance(value, str) else value).strip()
    try:
        return _canonical(text)
    except ValueError:  # thousands of digits: beyond Python's int/str conversion limit
        return text


def _canonical(text: str) -> str:
    if text == "0":
        return text
    positive, number, num, denom, suffix = _split(text)
    interpreted = _interpret(suffix)
    if interpreted is None:
        return text  # not a Quantity: schema_validation refuses it first
    base, exponent, fmt = interpreted

    # The parser's int64 fast path (and the canonical text it keeps as written).
    mantissa = 1
    scale = 0
    if fmt is Format.BINARY_SI:
        if exponent >= 0 and not denom:
            mantissa = 1 << exponent
            precision = 15 - len(num) - exponent * 3 // 10 - 1
        else:
            precision = -1
    else:
        scale = exponent
        precision = _INT64_DIGITS - len(num) - len(denom)
    if precision >= 0 and scale - len(denom) >= _NANO:
        scale -= len(denom)
        shifted = num + denom
        digits = int(shifted)
        result = digits * mantissa
        if result <= _MAX_INT64:
            if fmt is Format.BINARY_SI:
                if exponent % 10 == 0 and digits & 0x07:
                    return text
            elif scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                return text
            return _format(result if positive else -result, scale, fmt)

    # The exact decimal path: value = unscaled * 10**scale.
    unscaled, scale = _decimal(number)
    if base == 10:
        scale += exponent
    else:
        unscaled <<= exponent
    negative = unscaled < 0
    unscaled = abs(unscaled)
    if unscaled and scale < _NANO:
        shift = _NANO - scale
        # Rounded up, away from zero, to a whole number of nanos (at least 1n).
        rounded = 1 if shift > len(str(unscaled)) else -(-unscaled // _ten(shift))
        unscaled, scale = rounded, _NANO
    if fmt is Format.BINARY_SI:
        if _cmp(unscaled, scale, _MAX_INT64) > 0:
            unscaled, scale = _MAX_INT64, 0
        if unscaled and _cmp(unscaled, scale, 1) < 0:
            fmt = Format.DECIMAL_SI  # between 0 and 1
    return _format(-unscaled if negative else unscaled, scale, fmt)


def _decimal(number: str) -> tuple[int, int]:
    """A signed decimal as written (``-1.50``) as (unscaled, base-10 scale)."""
    sign = -1 if number.startswith("-") else 1
    digits = number.lstrip("+-")
    whole, _, fraction = digits.partition(".")
    return sign * int((whole + fraction) or "0"), -len(fraction)


def _format(unscaled: int, scale: int, fmt: Format) -> str:
    """CanonicalizeBytes of the value ``unscaled * 10**scale``."""
    if unscaled == 0:
        return "0"
    if fmt is Format.BINARY_SI:
        whole = _whole(unscaled, scale)
        if _cmp(abs(unscaled), scale, 1024) < 0:
            fmt = Format.DECIMAL_SI  # small numbers are not written in Ki
        elif whole is None:
            fmt = Format.DECIMAL_SI  # a fraction would be lost: shown as decimal SI
        else:
            power = 0
            while whole % 1024 == 0:
                whole //= 1024
                power += 1
            return f"{whole}{_BINARY_BY_EXPONENT.get(power * 10, '')}"
    while unscaled % 10 == 0:
        unscaled //= 10
        scale += 1
    lowered = scale - scale % 3
    unscaled *= _ten(scale - lowered)
    if fmt is Format.DECIMAL_EXPONENT:
        return f"{unscaled}e{lowered}" if lowered else str(unscaled)
    return f"{unscaled}{_DECIMAL_BY_EXPONENT.get(lowered, '')}"


def _whole(unscaled: int, scale: int) -> int | None:
    """``unscaled * 10**scale`` as an integer, or None when it has a fraction."""
    if scale >= 0:
        return unscaled * _ten(scale)
    whole, rest = divmod(abs(unscaled), _ten(-scale))
    if rest:
        return None
    return whole if unscaled > 0 else -whole


def _cmp(unscaled: int, scale: int, bound: int) -> int:
    """-1, 0 or 1 as ``unscaled * 10**scale`` is below, at or above ``bound``."""
    if scale >= 0:
        left, right = unscaled * _ten(scale), bound
    else:
        left, right = unscaled, bound * _ten(-scale)
    return (left > right) - (left < right)


def _ten(power: int) -> int:
    """10 to a power that is not negative."""
    return int(10**power)
