"""Checks of service arguments shared by several services (orders, vouchers, rewards).
Each returns the cleaned value or raises :class:`~.exceptions.InvalidArgument`."""

from __future__ import annotations

from typing import Any

from .exceptions import InvalidArgument
from .policies import MAX_DAYS


def check_order_id(order_id: Any) -> str:
    """A host order id: a non-empty string (or an int) of at most 100 characters."""
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not order_id.strip() or len(order_id) > 100:
        raise InvalidArgument(
            "order_id must be a non-empty string of at most 100 characters.", order_id=order_id
        )
    return order_id.strip()


def check_days(value: Any, name: str, *, minimum: int) -> int | None:
    """``value`` as a number of days from ``minimum`` to ``MAX_DAYS`` (``None`` stays)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_DAYS:
        raise InvalidArgument(
            f"{name} must be a whole number of days from {minimum} to {MAX_DAYS}, not {value!r}.",
            **{name: value},
        )
    return value
