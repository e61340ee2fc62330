"""Go's ``%v`` for decoded JSON, for the error messages kube-apiserver builds with it.

Strategic merge patch errors print the offending map or list as Go does
(``map[$patch:delete name:a]``, ``[[x y] [1]]``); clients show them verbatim.
"""

from __future__ import annotations

import decimal
import math
from typing import Any


def go_float(number: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)``, which Go's ``%v`` prints float64 with:
    the shortest digits, in exponent form below 1e-4 and from 1e6 on (``1e+06``)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "0"
    sign, digit_tuple, exponent = decimal.Decimal(repr(float(number))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    point = len(digits) + exponent  # digits * 10**exponent == 0.<digits> * 10**point
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{prefix}{digits}{'0' * (point - len(digits))}"
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def go_value(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for a value decoded from JSON into ``interface{}``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_float(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_type(value: Any) -> str:
    """``reflect.TypeOf(value)`` printed with %s, for values decoded from JSON."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def json_kind(value: Any) -> str:
    """How Go's JSON decoder names a decoded value in ``json: cannot unmarshal <kind>
    into Go value of type ...``."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"
