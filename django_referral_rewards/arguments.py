"""Checks of service arguments shared by several services (orders, vouchers, rewards,
the ledger, redemptions, payouts, professional referrals). Each returns the cleaned value or raises
:class:`~.exceptions.InvalidArgument`."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.utils.translation import gettext

from .exceptions import InvalidArgument
from .policies import MAX_DAYS

#: The longest idempotency key, and the longest host reference type or id.
MAX_KEY_LENGTH = 200
MAX_REFERENCE_LENGTH = 100


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


def check_idempotency_key(key: Any) -> str | None:
    """An idempotency key: ``None``, or a non-empty string of at most 200 characters."""
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            gettext("An idempotency key is a non-empty string of at most %(n)s characters.")
            % {"n": MAX_KEY_LENGTH}
        )
    return key


def check_reference(value: Any, name: str = "reference") -> tuple[str, str]:
    """``(type, id)`` strings for a host object: a ``(type, id)`` pair, or a saved model
    instance (then ``("app_label.modelname", str(pk))``); ``None`` gives ``("", "")``."""
    if value is None:
        return ("", "")
    if isinstance(value, Model):
        if value.pk is None:
            raise InvalidArgument(
                gettext("Save the object before using it as %(name)s.") % {"name": name}
            )
        return (value._meta.label_lower, str(value.pk))
    try:
        if isinstance(value, str):
            raise TypeError("a bare string is not a pair")
        ref_type, ref_id = value
    except (TypeError, ValueError):
        raise InvalidArgument(
            gettext("Give %(name)s as a model instance or a (type, id) pair, not %(value)r.")
            % {"name": name, "value": value}
        ) from None
    ref_type, ref_id = str(ref_type).strip(), str(ref_id).strip()
    if not ref_type or not ref_id:
        raise InvalidArgument(
            gettext("%(name)s needs both a type and an id.") % {"name": name.capitalize()}
        )
    if len(ref_type) > MAX_REFERENCE_LENGTH or len(ref_id) > MAX_REFERENCE_LENGTH:
        raise InvalidArgument(
            gettext("The type and id of %(name)s are at most %(n)s characters each.")
            % {"name": name, "n": MAX_REFERENCE_LENGTH}
        )
    return (ref_type, ref_id)


def check_text(value: Any, name: str, limit: int | None = None) -> str:
    """``value`` stripped; not text, or longer than ``limit`` characters, raises."""
    if not isinstance(value, str):
        raise InvalidArgument(gettext("%(name)s must be text.") % {"name": name}, **{name: value})
    value = value.strip()
    if limit is not None and len(value) > limit:
        raise InvalidArgument(
            gettext("%(name)s is longer than %(limit)d characters.")
            % {"name": name, "limit": limit},
            **{name: value},
        )
    return value
