"""Money helpers: amounts are ``Decimal`` in a currency; the ledger stores integer minor
units. No floats anywhere (invariant 7)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .exceptions import InvalidAmount


def as_decimal(value: Any, name: str = "amount") -> Decimal:
    """``value`` (a ``Decimal``, ``int`` or numeric ``str``) as a finite ``Decimal``;
    floats and anything else raise :class:`InvalidAmount` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise InvalidAmount(f"{name} must be a Decimal, not {value!r}.", **{name: value})
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise InvalidAmount(f"{name} must be a number, not {value!r}.", **{name: value}) from None
    if not result.is_finite():
        raise InvalidAmount(f"{name} must be a finite number.", **{name: value})
    return result


def to_minor(amount: Decimal, decimal_places: int = 2) -> int:
    """``Decimal("12.34")`` -> ``1234`` for a currency with two decimal places.

    Floats are refused (they cannot represent money exactly), and so are amounts with
    more decimal places than the currency has.
    """
    if isinstance(amount, float) or not isinstance(amount, (Decimal, int)):
        raise InvalidAmount(f"Money amounts must be Decimal, not {type(amount).__name__}.")
    value = Decimal(amount)
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not a valid amount.")
    scaled = value.scaleb(decimal_places)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(
            f"{amount} has more than {decimal_places} decimal places for this currency."
        )
    return int(scaled)


def from_minor(minor: int, decimal_places: int = 2) -> Decimal:
    """``1234`` -> ``Decimal("12.34")`` for a currency with two decimal places."""
    return Decimal(int(minor)).scaleb(-decimal_places).quantize(Decimal(1).scaleb(-decimal_places))
