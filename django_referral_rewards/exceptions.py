"""Exceptions raised by the package's services.

Every error a host can trigger with bad input is a subclass of
:class:`ReferralRewardsError`, so ``except ReferralRewardsError`` catches them all. Each
carries a stable ``code`` (used by the admin, the portal and the API) and a
human-readable message.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class ReferralRewardsError(Exception):
    """Base class of every error raised by django-referral-rewards."""

    code: str = "error"
    #: The message when none is given, translated into the active language when the
    #: error is raised.
    default_message: str | Promise = _("The operation could not be completed.")

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.message = str(message or self.default_message)
        self.context = context
        super().__init__(self.message)


class ConfigurationError(ReferralRewardsError):
    """A ``REFERRAL_REWARDS_*`` setting is missing or wrong."""

    code = "configuration"
    default_message = _("django-referral-rewards is misconfigured.")


class RateLimited(ReferralRewardsError):
    """Too many requests from this client (IP address or user) for a rate-limited
    action; nothing was done. ``retry_after`` is the whole number of seconds (at least
    1) after which the same request would be allowed, for a ``Retry-After`` header."""

    code = "rate_limited"
    default_message = _("Too many requests; please try again later.")

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **context: Any) -> None:
        self.retry_after = max(1, int(retry_after))
        if message is None:
            message = ngettext(
                "Too many requests; try again in %(seconds)d second.",
                "Too many requests; try again in %(seconds)d seconds.",
                self.retry_after,
            ) % {"seconds": self.retry_after}
        super().__init__(message, retry_after=self.retry_after, **context)


class ProgramNotFound(ReferralRewardsError):
    """No program with the given slug exists."""

    code = "program_not_found"
    default_message = _("No such program.")


class MemberNotFound(ReferralRewardsError):
    """The user has no member record and the adapter declined to create one."""

    code = "member_not_found"
    default_message = _("This user is not a member of the rewards program.")


class InvalidArgument(ReferralRewardsError):
    """An argument to a service is malformed (wrong type, too long, unknown value)."""

    code = "invalid"
    default_message = _("Invalid argument.")


class InvalidAmount(InvalidArgument):
    """An amount is not a positive integer (or exceeds what may be reversed)."""

    code = "invalid_amount"
    default_message = _("The amount must be a positive whole number.")


class InvalidUnit(InvalidArgument):
    """The unit is not one of ``points``, ``credit`` or ``commission``."""

    code = "invalid_unit"
    default_message = _("Unknown unit.")


class InsufficientBalance(ReferralRewardsError):
    """A spend would take the balance below zero. Nothing was written."""

    code = "insufficient_balance"
    default_message = _("The balance is too low for this operation.")

    def __init__(
        self,
        message: str | None = None,
        *,
        balance: int | None = None,
        requested: int | None = None,
        **context: Any,
    ) -> None:
        self.balance = balance
        self.requested = requested
        if message is None and balance is not None and requested is not None:
            message = f"The balance is {balance}; {requested} was requested."
        super().__init__(message, balance=balance, requested=requested, **context)


class IdempotencyConflict(ReferralRewardsError):
    """The idempotency key was used before with a different payload.

    Nothing was written; the first operation stands.
    """

    code = "idempotency_conflict"
    default_message = _("This idempotency key was already used for a different operation.")


class NotReversible(ReferralRewardsError):
    """The ledger entry cannot be reversed (a reversal, an expiry, or nothing is left)."""

    code = "not_reversible"
    default_message = _("This entry cannot be reversed.")


class LedgerImmutable(ReferralRewardsError):
    """Ledger entries are append-only: they are never updated or deleted."""

    code = "ledger_immutable"
    default_message = _("Ledger entries cannot be changed or deleted; post a reversal instead.")


class DecisionImmutable(ReferralRewardsError):
    """Fraud decisions are an append-only audit trail: never updated or deleted."""

    code = "decision_immutable"
    default_message = _("Fraud decisions cannot be changed or deleted; record a new decision.")


class CodeError(ReferralRewardsError):
    """Base class of the reasons a referral code cannot be used."""

    code = "invalid_code"
    default_message = _("This code cannot be used.")


class CodeNotFound(CodeError):
    """No such code (in this program)."""

    code = "code_not_found"
    default_message = _("This code does not exist.")


class CodeMistyped(CodeNotFound):
    """The code has the shape of a generated code but its check character is wrong:
    a typo, caught without a database lookup."""

    code = "code_mistyped"
    default_message = _("This code looks mistyped; please check it.")


class CodeInactive(CodeError):
    """The code (or its campaign) has been deactivated."""

    code = "code_inactive"
    default_message = _("This code is no longer active.")


class CodeNotYetValid(CodeError):
    """The code's (or its campaign's) validity window has not started."""

    code = "code_not_yet_valid"
    default_message = _("This code is not valid yet.")


class CodeExpired(CodeError):
    """The code's (or its campaign's) validity window has ended."""

    code = "code_expired"
    default_message = _("This code has expired.")


class CodeExhausted(CodeError):
    """The code reached its maximum number of uses."""

    code = "code_exhausted"
    default_message = _("This code has been used the maximum number of times.")


class CodeAlreadyUsed(CodeError):
    """This customer reached the code's per-customer limit."""

    code = "code_already_used"
    default_message = _("You have already used this code.")


class OwnCode(CodeError):
    """A member tried to use their own code."""

    code = "own_code"
    default_message = _("You cannot use your own code.")


class CodeTaken(InvalidArgument):
    """A new code collides with an existing one."""

    code = "code_taken"
    default_message = _("This code is already taken.")


class AlreadyReferred(ReferralRewardsError):
    """The customer was already referred in this program (by another code)."""

    code = "already_referred"
    default_message = _("This customer has already been referred.")


class InvalidTransition(ReferralRewardsError):
    """A status change the state machine does not allow (e.g. releasing a voided
    grant). Nothing was changed."""

    code = "invalid_transition"
    default_message = _("This change is not allowed in the current state.")


class OrderNotFound(ReferralRewardsError):
    """A refund names an order the package was never told about."""

    code = "order_not_found"
    default_message = _("No such order.")


class VoucherError(ReferralRewardsError):
    """Base class of the reasons a voucher cannot be applied."""

    code = "voucher_invalid"
    default_message = _("This voucher cannot be used.")


class VoucherNotFound(VoucherError):
    """No voucher has this code (in this program)."""

    code = "voucher_not_found"
    default_message = _("This voucher code does not exist.")


class VoucherExpired(VoucherError):
    """The voucher's expiry date has passed."""

    code = "voucher_expired"
    default_message = _("This voucher has expired.")


class VoucherVoid(VoucherError):
    """The voucher was voided (its reward was reversed or revoked)."""

    code = "voucher_void"
    default_message = _("This voucher is no longer valid.")


class VoucherAlreadyApplied(VoucherError):
    """The voucher is applied to another order (release it there first)."""

    code = "voucher_already_applied"
    default_message = _("This voucher has already been used.")


class VoucherNotYours(VoucherError):
    """The voucher belongs to another customer."""

    code = "voucher_not_yours"
    default_message = _("This voucher belongs to another customer.")


class RedemptionError(ReferralRewardsError):
    """Base class of the reasons a reward option cannot be redeemed. Nothing was
    written (no points were taken)."""

    code = "redemption_refused"
    default_message = _("This reward cannot be redeemed.")


class OptionUnavailable(RedemptionError):
    """The option is inactive, outside its availability window, or in another program."""

    code = "option_unavailable"
    default_message = _("This reward is not available.")


class OutOfStock(RedemptionError):
    """The option has no stock left."""

    code = "out_of_stock"
    default_message = _("This reward is out of stock.")


class RedemptionLimitReached(RedemptionError):
    """The member has redeemed the option as many times as its per-member limit allows."""

    code = "redemption_limit_reached"
    default_message = _("You have redeemed this reward as many times as allowed.")


class TierRequired(RedemptionError):
    """The option needs a higher tier than the member's."""

    code = "tier_required"
    default_message = _("This reward needs a higher tier.")


class MinimumBalanceRequired(RedemptionError):
    """The redemption would leave fewer points than the program's minimum balance."""

    code = "minimum_balance"
    default_message = _("This redemption would leave too few points.")


class PayoutError(ReferralRewardsError):
    """A payout cannot be requested or sent. Nothing was written (except, for a failed
    send, the failure itself, recorded on the payout)."""

    code = "payout_refused"
    default_message = _("This payout cannot be made.")


class PayoutBelowMinimum(PayoutError):
    """The amount is below the program's payout minimum."""

    code = "payout_below_minimum"
    default_message = _("The amount is below the minimum payout.")


class PayoutSendFailed(PayoutError):
    """The payout backend failed to send a payout. The payout is back to ``approved``
    with the error recorded (``last_error``) and may be sent again."""

    code = "payout_send_failed"
    default_message = _("The payout could not be sent; it can be sent again.")


class SignatureInvalid(ReferralRewardsError):
    """A signed request (a host event, a webhook delivery) carries no signature, a
    malformed one, one made with another key, or one whose timestamp is outside
    ``REFERRAL_REWARDS_SIGNATURE_TOLERANCE``. Nothing was done."""

    code = "invalid_signature"
    default_message = _("The request signature is missing or invalid.")
