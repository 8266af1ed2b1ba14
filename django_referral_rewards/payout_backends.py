"""Payout backends: how approved commission payouts reach the member.

The backend named by ``REFERRAL_REWARDS_PAYOUT_BACKEND`` is used by
:func:`django_referral_rewards.services.payouts.send_payout`. The default,
:class:`ManualPayoutBackend`, sends nothing: staff pay by hand (a bank batch exported
from the admin, cash at the counter, a cheque) and mark each payout paid with its
reference.

A backend that pays through a provider subclasses :class:`PayoutBackend`, sets
``automatic = True`` and implements :meth:`~PayoutBackend.submit`::

    class AcmePayBackend(PayoutBackend):
        automatic = True

        def submit(self, payout):
            transfer = acme.transfers.create(
                amount=str(payout.amount),
                currency=payout.currency,
                destination=payout.destination,
                idempotency_key=payout.submission_key,
            )
            return transfer.id

``submit`` is called outside any database transaction or lock (the payout is marked
``processing`` and committed first), so a slow provider holds nothing up. It returns the
provider's reference; the payout is then marked paid. If it raises, the payout goes
back to ``approved`` with the error recorded and may be sent again. Pass
``payout.submission_key`` to the provider as its idempotency key: it is the same on
every attempt, so a retry after a crash between the provider's answer and our commit
cannot pay twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import PayoutError

if TYPE_CHECKING:
    from .models import Payout


class PayoutBackend:
    """Base class of payout backends (``REFERRAL_REWARDS_PAYOUT_BACKEND``)."""

    #: Whether :meth:`submit` sends money. The admin offers "Send" only then; otherwise
    #: staff mark payouts paid themselves.
    automatic: bool = False

    def submit(self, payout: Payout) -> str:
        """Send ``payout`` and return the provider's reference for the payment. Raise
        any exception to report a failure (the payout stays retryable)."""
        raise NotImplementedError("Payout backends implement submit(payout).")


class ManualPayoutBackend(PayoutBackend):
    """Staff pay outside this system and mark payouts paid (the default)."""

    automatic = False

    def submit(self, payout: Payout) -> str:
        raise PayoutError(
            "Payouts are paid by hand with the manual payout backend: pay it, then mark "
            "it paid with the payment's reference.",
            payout_id=payout.pk,
        )


__all__ = ["ManualPayoutBackend", "PayoutBackend"]
