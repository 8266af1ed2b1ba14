"""The events a host sends: the public contract (DESIGN section 5).

Call these functions directly, or send the same-named signals of
:mod:`django_referral_rewards.signals` (``receivers.py`` passes them here). Each is
idempotent: sending it twice (a retried signal, two workers) has the effect of sending
it once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..models import Program, Referral
from . import orders, referrals
from .orders import OrderOutcome, RefundOutcome


def customer_signed_up(
    user: Any,
    code: str | None = None,
    request: Any = None,
    program: Program | str | None = None,
    *,
    now: datetime | None = None,
) -> Referral | None:
    """A customer signed up, with a typed ``code`` or one remembered on ``request`` from
    a share link. Returns the :class:`~django_referral_rewards.models.Referral` or
    ``None``; see :func:`django_referral_rewards.services.referrals.attach`."""
    return referrals.attach(user, code=code, request=request, program=program, now=now)


def customer_activated(
    user: Any, program: Program | str | None = None, occurred_at: datetime | None = None
) -> Referral | None:
    """A customer activated (their service went live). Converts the referral when the
    program's conversion event is ``activation`` and grants ``activation`` rewards.
    Returns the customer's referral, or ``None`` when they were not referred."""
    return referrals.activate(user, program=program, occurred_at=occurred_at)


def order_completed(
    user: Any,
    order_id: Any,
    amount: Decimal,
    currency: str | None = None,
    program: Program | str | None = None,
    occurred_at: datetime | None = None,
    payment_fingerprint: str | None = None,
) -> OrderOutcome:
    """An order of ``user`` completed. Returns an
    :class:`~django_referral_rewards.services.orders.OrderOutcome`; see
    :func:`django_referral_rewards.services.orders.order_completed`."""
    return orders.order_completed(
        user,
        order_id,
        amount,
        currency=currency,
        program=program,
        occurred_at=occurred_at,
        payment_fingerprint=payment_fingerprint,
    )


def order_refunded(
    user: Any,
    order_id: Any,
    amount: Decimal | None = None,
    program: Program | str | None = None,
    refund_id: str | None = None,
    occurred_at: datetime | None = None,
) -> RefundOutcome:
    """An order of ``user`` was refunded, wholly (``amount=None``) or in part. Returns a
    :class:`~django_referral_rewards.services.orders.RefundOutcome`; see
    :func:`django_referral_rewards.services.orders.order_refunded`."""
    return orders.order_refunded(
        user, order_id, amount, program=program, refund_id=refund_id, occurred_at=occurred_at
    )
