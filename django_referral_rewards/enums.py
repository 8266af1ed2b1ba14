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
    """visited -> pending (signed up) -> converted, or expired / cancelled / rejected;
    ``review`` holds a suspicious referral for a staff decision."""

    PENDING = "pending", _("Pending")
    REVIEW = "review", _("In review")
    CONVERTED = "converted", _("Converted")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")


class CodeKind(models.TextChoices):
    PERSONAL = "personal", _("Personal")
    CAMPAIGN = "campaign", _("Campaign")


POSITIVE_KINDS = frozenset({EntryKind.EARN})
NEGATIVE_KINDS = frozenset({EntryKind.SPEND, EntryKind.EXPIRE, EntryKind.PAYOUT})
