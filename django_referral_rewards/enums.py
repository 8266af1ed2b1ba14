"""Every status and kind used by the package, as ``TextChoices``.

The stored values are the lower-case words of the design (``"points"``, ``"earn"``, ...);
hosts may compare against either the enum member or the plain string.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Unit(models.TextChoices):
    """What a ledger entry counts. Points are whole points; credit and commission are
    integer minor units (cents) of the program currency."""

    POINTS = "points", _("Points")
    CREDIT = "credit", _("Account credit")
    COMMISSION = "commission", _("Commission")


class EntryKind(models.TextChoices):
    """Why a ledger entry exists. The sign of the amount is fixed for most kinds
    (a database constraint enforces it)."""

    EARN = "earn", _("Earned")  # always positive
    SPEND = "spend", _("Spent")  # always negative
    EXPIRE = "expire", _("Expired")  # always negative
    PAYOUT = "payout", _("Paid out")  # always negative
    REVERSE = "reverse", _("Reversed")  # either sign: the opposite of the entry it reverses
    ADJUST = "adjust", _("Adjusted by staff")  # either sign
    TRANSFER = "transfer", _("Transferred")  # either sign


class MemberKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    PARTNER = "partner", _("Business partner")
    INFLUENCER = "influencer", _("Influencer")
    EMPLOYEE = "employee", _("Employee")
    PROFESSIONAL = "professional", _("Professional")


class ConversionEvent(models.TextChoices):
    """The event that turns a pending referral into a converted one."""

    SIGNUP = "signup", _("Sign-up")
    ACTIVATION = "activation", _("Activation")
    FIRST_ORDER = "first_order", _("First qualifying order")


class ReviewOutcome(models.TextChoices):
    """What happens to a referral in review when its deadline passes."""

    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


class ReferralStatus(models.TextChoices):
    """visited -> pending (signed up) -> converted, or expired / cancelled / rejected.
    A suspicious referral's fraud review is separate (:class:`FraudStatus`): it follows
    this life cycle while its rewards wait for the decision."""

    PENDING = "pending", _("Pending")
    CONVERTED = "converted", _("Converted")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")


class FraudStatus(models.TextChoices):
    """A referral's standing with the fraud checks (see ``docs/topics/fraud.rst``)."""

    CLEAR = "clear", _("Clear")  # no check scored enough for a review
    REVIEW = "review", _("In review")  # its rewards wait for a staff decision or the deadline
    APPROVED = "approved", _("Approved after review")
    REJECTED = "rejected", _("Rejected after review")
    BLOCKED = "blocked", _("Blocked")  # scored at or above the block score: nobody rewarded


class FraudAction(models.TextChoices):
    """What a fraud decision did (the rows of a referral's decision history)."""

    FLAGGED = "flagged", _("Sent to review")
    BLOCKED = "blocked", _("Blocked")
    NOTED = "noted", _("Signals noted, no action")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class FraudStage(models.TextChoices):
    """When the checks ran."""

    SIGNUP = "signup", _("Sign-up")
    ORDER = "order", _("Order")


class TraceKind(models.TextChoices):
    """What a member's :class:`Trace` records (always as a keyed hash)."""

    IP = "ip", _("IP address")
    DEVICE = "device", _("Device cookie")


class CodeKind(models.TextChoices):
    PERSONAL = "personal", _("Personal")
    CAMPAIGN = "campaign", _("Campaign")


POSITIVE_KINDS = frozenset({EntryKind.EARN})
NEGATIVE_KINDS = frozenset({EntryKind.SPEND, EntryKind.EXPIRE, EntryKind.PAYOUT})


class RewardTrigger(models.TextChoices):
    """The event a reward rule reacts to."""

    SIGNUP = "signup", _("Sign-up")
    ACTIVATION = "activation", _("Activation")
    FIRST_ORDER = "first_order", _("First qualifying order")
    EVERY_ORDER = "every_order", _("Every qualifying order")
    MILESTONE = "milestone", _("Referrer's nth conversion")


class Beneficiary(models.TextChoices):
    """Who a reward rule rewards: the member who referred, or the customer referred."""

    REFERRER = "referrer", _("Referrer")
    REFEREE = "referee", _("Referred customer")


class RewardKind(models.TextChoices):
    """What a reward rule (and the grant it decides) gives."""

    POINTS = "points", _("Points")
    CREDIT = "credit", _("Account credit")
    COMMISSION_FIXED = "commission_fixed", _("Commission (fixed amount)")
    COMMISSION_PERCENT = "commission_percent", _("Commission (% of the order)")
    VOUCHER_PERCENT = "voucher_percent", _("Discount voucher (percent)")
    VOUCHER_FIXED = "voucher_fixed", _("Discount voucher (fixed amount)")
    FREE_ITEM = "free_item", _("Free item or service voucher")
    FREE_PERIOD = "free_period", _("Free billing period voucher")


class GrantStatus(models.TextChoices):
    """held -> released, or held -> voided; released -> reversed (on a full refund or a
    staff revocation). ``voided`` and ``reversed`` are terminal."""

    HELD = "held", _("Held")
    RELEASED = "released", _("Released")
    VOIDED = "voided", _("Voided")
    REVERSED = "reversed", _("Reversed")


class VoucherKind(models.TextChoices):
    PERCENT = "percent", _("Percent off")
    FIXED = "fixed", _("Amount off")
    FREE_ITEM = "free_item", _("Free item or service")
    FREE_PERIOD = "free_period", _("Free billing period")


class VoucherStatus(models.TextChoices):
    """issued -> applied (to one order) -> issued again when released; issued -> void."""

    ISSUED = "issued", _("Issued")
    APPLIED = "applied", _("Applied")
    VOID = "void", _("Void")


#: Reward kinds written to the ledger when released, and the unit they use.
LEDGER_REWARD_UNITS = {
    RewardKind.POINTS: Unit.POINTS,
    RewardKind.CREDIT: Unit.CREDIT,
    RewardKind.COMMISSION_FIXED: Unit.COMMISSION,
    RewardKind.COMMISSION_PERCENT: Unit.COMMISSION,
}
#: Reward kinds released as a voucher, and the voucher kind issued.
VOUCHER_REWARD_KINDS = {
    RewardKind.VOUCHER_PERCENT: VoucherKind.PERCENT,
    RewardKind.VOUCHER_FIXED: VoucherKind.FIXED,
    RewardKind.FREE_ITEM: VoucherKind.FREE_ITEM,
    RewardKind.FREE_PERIOD: VoucherKind.FREE_PERIOD,
}


class GrantSource(models.TextChoices):
    """Where a reward grant came from."""

    RULE = "rule", _("A reward rule")
    MANUAL = "manual", _("Granted by hand")
    PURCHASE = "purchase", _("Points on an order")
    COMMISSION_TERMS = "terms", _("The member's own commission terms")


class PointsRounding(models.TextChoices):
    """How points on an order are rounded to a whole number."""

    DOWN = "down", _("Down (whole points only)")
    HALF_UP = "half_up", _("To the nearest (half up)")
    UP = "up", _("Up")


class TierBasis(models.TextChoices):
    """What a tier's threshold counts."""

    SPEND = "spend", _("Qualifying spend")
    POINTS = "points", _("Points earned")


class TierWindow(models.TextChoices):
    """The period a tier's threshold is counted over."""

    LIFETIME = "lifetime", _("Lifetime")
    CALENDAR_YEAR = "calendar_year", _("This calendar year")
    ROLLING_12_MONTHS = "rolling_12_months", _("The last 12 months")


class OptionKind(models.TextChoices):
    """What a catalog option gives when its redemption is approved."""

    VOUCHER = "voucher", _("A discount voucher")
    CREDIT = "credit", _("Account credit")
    ITEM = "item", _("An item or service fulfilled by staff")


class RedemptionStatus(models.TextChoices):
    """pending -> approved -> fulfilled; pending -> rejected; pending or approved ->
    cancelled. ``fulfilled``, ``rejected`` and ``cancelled`` are terminal; rejecting or
    cancelling refunds the points."""

    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    FULFILLED = "fulfilled", _("Fulfilled")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class RedemptionAction(models.TextChoices):
    """The steps recorded in a redemption's history."""

    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    ASSIGNED = "assigned", _("Assigned")
    FULFILLED = "fulfilled", _("Fulfilled")


#: Redemption statuses that still count against stock and per-member limits, and that
#: staff still have to act on.
OPEN_REDEMPTION_STATUSES = (RedemptionStatus.PENDING, RedemptionStatus.APPROVED)
#: Redemption statuses that count against a per-member limit (all but the refunded).
COUNTED_REDEMPTION_STATUSES = (
    RedemptionStatus.PENDING,
    RedemptionStatus.APPROVED,
    RedemptionStatus.FULFILLED,
)


class CommissionKind(models.TextChoices):
    """A member's own commission terms (they replace the program's commission rules)."""

    PERCENT = "commission_percent", _("Percentage of the first order")
    FIXED = "commission_fixed", _("Fixed amount per converted customer")


class PayoutMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    ACCOUNT_CREDIT = "account_credit", _("Account credit")


class PayoutStatus(models.TextChoices):
    """``pending`` → ``approved`` → ``paid``, or ``cancelled`` (the amount returned).
    ``processing`` while a payout backend sends it; a failure returns it to
    ``approved`` (retryable). ``paid`` and ``cancelled`` are terminal."""

    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    PROCESSING = "processing", _("Being sent")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


class PayoutAction(models.TextChoices):
    """The steps recorded in a payout's history."""

    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    SUBMITTED = "submitted", _("Sent to the payout backend")
    FAILED = "failed", _("Sending failed")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


#: Payout statuses in which the amount is reserved but not yet paid.
OPEN_PAYOUT_STATUSES = (PayoutStatus.PENDING, PayoutStatus.APPROVED, PayoutStatus.PROCESSING)


class PartnerKind(models.TextChoices):
    CLINIC = "clinic", _("Clinic or practice")
    SPECIALIST = "specialist", _("Specialist")
    OTHER = "other", _("Other professional")


class ReferralDirection(models.TextChoices):
    """Which way a professional referral went, seen from this site."""

    SENT = "sent", _("Sent to the partner")
    RECEIVED = "received", _("Received from the partner")


class WebhookDeliveryStatus(models.TextChoices):
    """``pending`` (waiting for its first or next attempt) → ``delivered`` (a 2xx
    answer), or ``failed`` (every attempt failed: given up), or ``cancelled`` (its
    endpoint was deactivated). A replay puts any of the last three back to
    ``pending``."""

    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")
    CANCELLED = "cancelled", _("Cancelled")
