"""Signals.

Outbound signals tell the host what happened. They are sent only after the transaction
that made the change commits (never for rolled-back work), ``sender`` is the model class,
and every argument is a keyword. Receivers must accept ``**kwargs``. The package never
relies on its own signals for correctness.

The comment above each signal lists its arguments; ``docs/reference/signals.rst`` says
the same (a test keeps the two in step).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger(__name__)


def send_after_commit(signal: Signal, **kwargs: Any) -> None:
    """Deliver ``signal`` to every receiver. The change is already committed, so a
    receiver that raises is logged and does not stop the other receivers."""
    for receiver, result in signal.send_robust(**kwargs):
        if isinstance(result, Exception):
            logger.error(
                "Receiver %r of a django-referral-rewards signal raised.",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


# Points were added to an account (an earn, a positive adjustment or reversal).
# Arguments: sender (LedgerEntry), entry, account, amount (int, positive), balance (int).
points_credited = Signal()

# Points were taken from an account (a spend, a negative adjustment or a clawback).
# Arguments: sender (LedgerEntry), entry, account, amount (int, positive), balance (int).
points_debited = Signal()

# Points expired (what was left of earn lots past their date).
# Arguments: sender (LedgerEntry), entry, account, amount (int, positive), balance (int).
points_expired = Signal()

# A signed-up customer was attached to a referrer (or a house campaign code).
# Arguments: sender (Referral), referral, referrer (Account or None), referred (Account).
referral_attached = Signal()

# A referral reached its program's conversion event.
# Arguments: sender (Referral), referral.
referral_converted = Signal()

OUTBOUND_SIGNALS = (
    "points_credited",
    "points_debited",
    "points_expired",
    "referral_attached",
    "referral_converted",
)
