"""Kubernetes resource quantities (``resource.Quantity``) as exact values: ``250m`` is
1/4, ``1Gi`` is 2**30, ``2e3`` is 2000. Fractions, so that sums and ratios of CPU and
memory carry no rounding until a caller rounds them the way kube does."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))([eE][+-]?[0-9]+|[numkKMGTPE]i?|)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse(text: Any) -> Fraction | None:
    """A resource quantity's exact value (None when it is not one)."""
    match = _QUANTITY.match(str(text).strip()) if text is not None else None
    if match is None:
        return None
    value = Fraction(match.group(1))
    suffix = match.group(2)
    if suffix in _BINARY:
        return value * Fraction(2) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix]
    if suffix[:1] in "eE":
        return value * Fraction(10) ** int(suffix[1:])
    return None


def milli_text(value: Fraction) -> str:
    """kube's canonical DecimalSI text of a value held in thousandths, as
    ``resource.NewMilliQuantity(v, DecimalSI).String()`` writes it: ``250m``, ``2``,
    ``3k``, ``134217728``."""
    milli = round(value * 1000)
    if milli % 1000:
        return f"{milli}m"
    whole = milli // 1000
    for exponent, suffix in ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if whole and whole % 10**exponent == 0:
            return f"{whole // 10**exponent}{suffix}"
    return str(whole)
