"""Decimal arithmetic for totals: exact, and spelled one way.

Reported numbers are decimal strings of up to 18 integer and 12 fraction digits; their sums need
more than the 28 significant digits of Python's default context, so totals use a wider one.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

EXACT = Context(prec=100)
RATIO_PLACES = Decimal("0.0001")
ZERO = Decimal(0)


def decimal_text(value: Decimal) -> str:
    """One spelling per value (no exponent, no trailing zeros), so totals compare as text."""
    if value == 0:
        return "0"
    return format(value.normalize(EXACT), "f")


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """A share or a progress fraction, to four places (banker's rounding)."""
    return EXACT.divide(numerator, denominator).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def share(count: int, total: int) -> str | None:
    return decimal_text(ratio(Decimal(count), Decimal(total))) if total else None
