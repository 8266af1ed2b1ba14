"""Signals.

Outbound signals tell the host what happened. They are sent only after the transaction
that made the change commits (never for rolled-back work), ``sender`` is the model class,
and every argument is a keyword. Receivers must accept ``**kwargs``. The package never
relies on its own signals for correctness.

The comment above each signal lists its arguments; ``docs/reference/signals.rst`` says
the same (a test keeps the two in step).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import transaction
from django.db.models import signals as model_signals
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


def send_on_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one);
    never for work that is rolled back.

    An outbound signal is also a webhook event: its deliveries (one per active endpoint
    that wants it) are written now, in the current transaction, and sent after the
    commit (:mod:`~django_referral_rewards.services.webhooks`)."""
    from .services import webhooks

    webhooks.record_event(signal, kwargs)
    transaction.on_commit(functools.partial(send_after_commit, signal, **kwargs))


def _forget_webhook_endpoints(**kwargs: Any) -> None:
    from .services import webhooks

    webhooks.forget_endpoints()


# The cached list of active webhook endpoints is dropped whenever one is saved or deleted.
model_signals.post_save.connect(
    _forget_webhook_endpoints,
    sender="referral_rewards.WebhookEndpoint",
    dispatch_uid="referral_rewards_webhook_endpoint_saved",
)
model_signals.post_delete.connect(
    _forget_webhook_endpoints,
    sender="referral_rewards.WebhookEndpoint",
    dispatch_uid="referral_rewards_webhook_endpoint_deleted",
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

# A referral was rejected (by staff, or by a fraud decision): nobody is rewarded for it.
# Arguments: sender (Referral), referral, reason (str), rejected_by (user or None).
referral_rejected = Signal()

# A reward was decided (held until its release time, or released at once).
# Arguments: sender (RewardGrant), grant, account.
reward_granted = Signal()

# A held reward was released: its points, credit or commission are on the ledger, or
# its voucher was issued.
# Arguments: sender (RewardGrant), grant, account, entry (LedgerEntry or None),
# voucher (Voucher or None).
reward_released = Signal()

# A reward was taken back: a held one voided, or a released one reversed (wholly or in
# proportion to a partial refund).
# Arguments: sender (RewardGrant), grant, account, value (Decimal), reason (str).
reward_reversed = Signal()

# A voucher was applied to an order.
# Arguments: sender (Voucher), voucher, order_id (str), discount (Decimal).
voucher_applied = Signal()

# Points will expire soon (the pre-expiry notice; sent once per earn lot).
# Arguments: sender (EarnLot), account, amount (int, positive), expires_at (datetime),
# lots (list of EarnLot).
points_expiring = Signal()

# A member moved to another tier (up on the event that crossed a threshold, down at a
# re-evaluation).
# Arguments: sender (Account), account, old_tier (Tier or None), new_tier (Tier or None).
tier_changed = Signal()

# A member asked to redeem a catalog option (the points are already taken).
# Arguments: sender (Redemption), redemption, account.
redemption_requested = Signal()

# A redemption changed status (approved, rejected, cancelled, fulfilled).
# Arguments: sender (Redemption), redemption, old_status (str), new_status (str),
# actor (user or None).
redemption_status_changed = Signal()

# A member asked to be paid commission (the amount is already taken from their
# commission balance).
# Arguments: sender (Payout), payout, account.
payout_requested = Signal()

# A payout changed status (approved, processing, paid, cancelled; or back to approved
# after a failed send).
# Arguments: sender (Payout), payout, old_status (str), new_status (str), actor (user or
# None).
payout_status_changed = Signal()

# A referral's fraud checks found enough to act on: it went to review (its rewards wait
# for a staff decision or the deadline) or it was blocked (rejected at once).
# Arguments: sender (Referral), referral, outcome ("review" or "block"), score (int),
# signals (list of fraud.Signal: name, score, reason).
fraud_flagged = Signal()

OUTBOUND_SIGNALS = (
    "fraud_flagged",
    "payout_requested",
    "payout_status_changed",
    "points_credited",
    "points_debited",
    "points_expired",
    "points_expiring",
    "redemption_requested",
    "redemption_status_changed",
    "referral_attached",
    "referral_converted",
    "referral_rejected",
    "reward_granted",
    "reward_released",
    "reward_reversed",
    "tier_changed",
    "voucher_applied",
)

# --- inbound: the host sends these; receivers.py passes them to services.events --------

# A customer signed up (send it after the user is saved).
# Arguments: sender (any), user, code (str or None), request (HttpRequest or None),
# program (Program, slug or None).
customer_signed_up = Signal()

# A customer activated (their account or service went live).
# Arguments: sender (any), user, program (Program, slug or None), occurred_at (datetime or None).
customer_activated = Signal()

# An order completed (paid, delivered: whatever the host counts as done).
# Arguments: sender (any), user, order_id, amount (Decimal), currency, program,
# occurred_at, payment_fingerprint.
order_completed = Signal()

# An order was refunded, wholly (amount None) or in part.
# Arguments: sender (any), user, order_id, amount (Decimal or None), program,
# refund_id (str or None), occurred_at (datetime or None).
order_refunded = Signal()

INBOUND_SIGNALS = (
    "customer_signed_up",
    "customer_activated",
    "order_completed",
    "order_refunded",
)
