"""kube's quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go) over
``resource.Quantity`` values parsed as apimachinery's ``ParseQuantity`` does.

A value travels as a ``kubernetes.Quantity`` message holding its exact value as a
fraction (``"1500"``, ``"1/2"``), so ``quantity('1k') == quantity('1000')`` as in kube.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from cel_expr_python import cel

from kapi.cel import opaque
from kapi.cel.library.errors import EvalError

Q = opaque.cel_type(opaque.QUANTITY)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# apimachinery resource.ErrFormatWrong, ErrSuffix.
FORMAT = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{FORMAT}'"
ERR_SUFFIX = "unable to parse quantity's suffix"
ERR_NUMERIC = "unable to parse numeric part of quantity"

_FORMAT = re.compile(FORMAT)
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")


def parse(text: str) -> Fraction:
    """The exact value of a quantity string, or ``EvalError`` with apimachinery's text."""
    match = _FORMAT.match(text)
    if not match:
        raise EvalError(ERR_FORMAT)
    number, suffix = match.group(1), match.group(2)
    # the broad pattern lets digits of an exponent spill into the suffix group
    if not _NUMBER.match(number):
        raise EvalError(ERR_NUMERIC)
    value = Fraction(number)
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix]
    exponent = _EXPONENT.match(suffix)
    if exponent:
        return value * Fraction(10) ** int(exponent.group(1))
    raise EvalError(ERR_SUFFIX)


def _wrap(value: Fraction) -> Any:
    return opaque.new(opaque.QUANTITY, str(value))


def _value(message: Any) -> Fraction:
    return Fraction(opaque.text(message))


def is_quantity(text: str) -> bool:
    try:
        parse(text)
    except EvalError:
        return False
    return True


def quantity(text: str) -> Any:
    return _wrap(parse(text))


def _is_int64(v: Fraction) -> bool:
    return v.denominator == 1 and INT64_MIN <= v.numerator <= INT64_MAX


def is_integer(q: Any) -> bool:
    return _is_int64(_value(q))


def as_integer(q: Any) -> int:
    v = _value(q)
    if not _is_int64(v):
        raise EvalError("cannot convert value to integer")
    return v.numerator


def as_approximate_float(q: Any) -> float:
    return float(_value(q))


def sign(q: Any) -> int:
    v = _value(q)
    return (v > 0) - (v < 0)


def compare_to(a: Any, b: Any) -> int:
    x, y = _value(a), _value(b)
    return (x > y) - (x < y)


def is_greater_than(a: Any, b: Any) -> bool:
    return _value(a) > _value(b)


def is_less_than(a: Any, b: Any) -> bool:
    return _value(a) < _value(b)


def add(a: Any, b: Any) -> Any:
    return _wrap(_value(a) + _value(b))


def add_int(a: Any, b: int) -> Any:
    return _wrap(_value(a) + b)


def sub(a: Any, b: Any) -> Any:
    return _wrap(_value(a) - _value(b))


def sub_int(a: Any, b: int) -> Any:
    return _wrap(_value(a) - b)


def _member(name: str, *overloads: tuple[str, cel.Type, list[cel.Type], Any]) -> Any:
    return cel.FunctionDecl(
        name, [cel.Overload(o, r, p, is_member=True, impl=i) for o, r, p, i in overloads]
    )


S, INT, B, D = cel.Type.STRING, cel.Type.INT, cel.Type.BOOL, cel.Type.DOUBLE
DECLS = [
    cel.FunctionDecl("quantity", [cel.Overload("string_to_quantity", Q, [S], impl=quantity)]),
    cel.FunctionDecl("isQuantity", [cel.Overload("is_quantity_string", B, [S], impl=is_quantity)]),
    _member("sign", ("quantity_sign", INT, [Q], sign)),
    _member("isInteger", ("quantity_is_integer", B, [Q], is_integer)),
    _member("asInteger", ("quantity_get_integer", INT, [Q], as_integer)),
    _member("asApproximateFloat", ("quantity_get_float", D, [Q], as_approximate_float)),
    _member("compareTo", ("quantity_compare_to", INT, [Q, Q], compare_to)),
    _member("isGreaterThan", ("quantity_is_greater_than", B, [Q, Q], is_greater_than)),
    _member("isLessThan", ("quantity_is_less_than", B, [Q, Q], is_less_than)),
    _member("add", ("quantity_add", Q, [Q, Q], add), ("quantity_add_int", Q, [Q, INT], add_int)),
    _member("sub", ("quantity_sub", Q, [Q, Q], sub), ("quantity_sub_int", Q, [Q, INT], sub_int)),
]
