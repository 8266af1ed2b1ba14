"""The events a host sends. Each is idempotent: sending it twice (a retried signal, two
workers) has the effect of sending it once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Program, Referral
from . import referrals


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
