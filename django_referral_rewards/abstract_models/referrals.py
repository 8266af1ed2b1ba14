"""Campaigns, codes, visits, referrals and the host's orders."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from ..enums import (
    CodeKind,
    FraudStatus,
    ReferralStatus,
)
from ..querysets import (
    ReferralCodeQuerySet,
)
from .base import money_field_kwargs


class AbstractCampaign(TimeStampedModel):
    """A time-boxed promotion in a program, with its own codes (``SUMMER25``)."""

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    budget = models.DecimalField(
        _("budget"),
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "What the campaign's rewards may cost, in the program currency (empty: no "
            "budget). Analytics report the cost against it; rewards are not stopped at it."
        ),
        **money_field_kwargs,
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_at", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "slug"], name="referral_rewards_campaign_slug"
            ),
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="referral_rewards_campaign_window",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AbstractReferralCode(TimeStampedModel):
    """A code people type or follow: a member's personal code, or a campaign code.

    ``code`` is stored normalised (upper case, no spaces or dashes). ``times_used`` is
    kept only for codes with ``max_uses`` (a database constraint keeps it at or below
    the limit); unlimited codes count their :class:`CodeUse` rows instead, so one popular
    code never serialises every sign-up on a counter row.
    """

    code = models.CharField(_("code"), max_length=32, unique=True)
    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="codes",
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=CodeKind.choices, default=CodeKind.PERSONAL
    )
    owner = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="codes",
        help_text=_("The referrer credited for uses. Empty for house campaign codes."),
    )
    #: Set (to the owner) only on an account's one personal code: the unique index makes
    #: "one personal code per account" a database rule on every supported database.
    personal_for = models.OneToOneField(
        "referral_rewards.Account",
        verbose_name=_("personal code of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="personal_code",
        editable=False,
    )
    campaign = models.ForeignKey(
        "referral_rewards.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="codes",
    )
    starts_at = models.DateTimeField(_("valid from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(
        _("maximum uses"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )
    max_uses_per_customer = models.PositiveIntegerField(
        _("maximum uses per customer"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )
    times_used = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    active = models.BooleanField(_("active"), default=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    objects = ReferralCodeQuerySet.as_manager()

    class Meta:
        abstract = True
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_uses__isnull=True)
                | models.Q(times_used__lte=models.F("max_uses")),
                name="referral_rewards_code_within_max_uses",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=CodeKind.PERSONAL, personal_for=models.F("owner"))
                    | models.Q(kind=CodeKind.CAMPAIGN, personal_for__isnull=True)
                ),
                name="referral_rewards_code_kind_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class AbstractCodeUse(models.Model):
    """One use of a code by a customer (a sign-up, or an order that used it)."""

    code = models.ForeignKey(
        "referral_rewards.ReferralCode",
        verbose_name=_("code"),
        on_delete=models.PROTECT,
        related_name="uses",
    )
    customer = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="code_uses",
    )
    reference_type = models.CharField(_("reference type"), max_length=100, blank=True)
    reference_id = models.CharField(_("reference id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("used at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("code use")
        verbose_name_plural = _("code uses")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["code", "customer"], name="referral_rew_use_code_cust"),
        ]

    def __str__(self) -> str:
        return f"{self.code} by {self.customer}"


class AbstractVisit(models.Model):
    """Someone followed a referral link (``/r/CODE/`` or ``?ref=CODE``).

    IP address, user agent and device id are stored only as keyed hashes: enough to
    match them for fraud checks, useless to anyone without the key.
    """

    code = models.ForeignKey(
        "referral_rewards.ReferralCode",
        verbose_name=_("code"),
        on_delete=models.CASCADE,
        related_name="visits",
    )
    created_at = models.DateTimeField(_("visited at"), default=timezone.now)
    ip_hash = models.CharField(_("IP address (hashed)"), max_length=64, blank=True)
    user_agent_hash = models.CharField(_("user agent (hashed)"), max_length=64, blank=True)
    device_hash = models.CharField(_("device (hashed)"), max_length=64, blank=True)
    landing_path = models.CharField(_("landing path"), max_length=500, blank=True)
    referrer_host = models.CharField(_("referring site"), max_length=255, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["code", "created_at"], name="referral_rew_visit_code"),
            models.Index(fields=["ip_hash", "created_at"], name="referral_rew_visit_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.code} @ {self.created_at:%Y-%m-%d %H:%M}"


class AbstractReferral(TimeStampedModel):
    """A referred customer, attached to the referrer whose code they used.

    A customer is referred at most once per program (``referred`` is one-to-one with
    the customer's account) and never by themselves (a check constraint).
    """

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="referrals",
    )
    referrer = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("referrer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals_made",
        help_text=_("Empty for house campaign codes."),
    )
    referred = models.OneToOneField(
        "referral_rewards.Account",
        verbose_name=_("referred customer"),
        on_delete=models.PROTECT,
        related_name="referral",
    )
    code = models.ForeignKey(
        "referral_rewards.ReferralCode",
        verbose_name=_("code"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
    )
    campaign = models.ForeignKey(
        "referral_rewards.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=ReferralStatus.choices,
        default=ReferralStatus.PENDING,
        editable=False,
    )
    attached_at = models.DateTimeField(_("signed up at"), default=timezone.now)
    expires_at = models.DateTimeField(
        _("expires at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A pending referral not converted by then expires (the attribution window)."),
    )
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True, editable=False)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True, editable=False)
    first_order_id = models.CharField(_("first order"), max_length=100, blank=True, editable=False)
    first_order_amount = models.DecimalField(
        _("first order amount"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        editable=False,
    )
    referred_revenue = models.DecimalField(
        _("referred revenue"),
        max_digits=16,
        decimal_places=4,
        default=Decimal("0"),
        editable=False,
        help_text=_("Qualifying orders of the referred customer, net of refunds."),
    )
    fraud_status = models.CharField(
        _("fraud status"),
        max_length=10,
        choices=FraudStatus.choices,
        default=FraudStatus.CLEAR,
        editable=False,
    )
    fraud_score = models.PositiveIntegerField(
        _("fraud score"),
        default=0,
        editable=False,
        help_text=_("The sum of the scores of the fraud signals found (see its decisions)."),
    )
    review_deadline = models.DateTimeField(
        _("review deadline"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Undecided by then, the program's default review outcome applies."),
    )
    ip_hash = models.CharField(_("sign-up IP address (hashed)"), max_length=64, blank=True)
    device_hash = models.CharField(_("sign-up device (hashed)"), max_length=64, blank=True)
    user_agent_hash = models.CharField(_("sign-up user agent (hashed)"), max_length=64, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-attached_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(referrer=models.F("referred")),
                name="referral_rewards_referral_not_self",
            ),
        ]
        indexes = [
            models.Index(
                fields=["referrer", "status", "attached_at"], name="referral_rew_ref_referrer"
            ),
            models.Index(fields=["program", "attached_at"], name="referral_rew_ref_program"),
            models.Index(fields=["status", "expires_at"], name="referral_rew_ref_expiry"),
            models.Index(fields=["code", "attached_at"], name="referral_rew_ref_code"),
            models.Index(fields=["ip_hash", "attached_at"], name="referral_rew_ref_ip"),
            models.Index(
                fields=["fraud_status", "review_deadline"], name="referral_rew_ref_review"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referred} ← {self.referrer or self.code}"


class AbstractOrder(models.Model):
    """An order the host reported with ``order_completed``: the record that makes the
    event idempotent (one row per program and order id, a unique constraint)."""

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="orders",
    )
    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="orders",
    )
    order_id = models.CharField(_("order id"), max_length=100)
    amount = models.DecimalField(_("amount"), **money_field_kwargs)
    refunded_amount = models.DecimalField(
        _("refunded"), default=Decimal("0"), editable=False, **money_field_kwargs
    )
    currency = models.CharField(_("currency"), max_length=3)
    qualifying = models.BooleanField(
        _("qualifying"),
        default=True,
        help_text=_("At or above the program's minimum order amount."),
    )
    referral = models.ForeignKey(
        "referral_rewards.Referral",
        verbose_name=_("referral"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        help_text=_("The referral this order counted for (revenue, conversion, rewards)."),
    )
    converted_referral = models.BooleanField(
        _("converted the referral"), default=False, editable=False
    )
    payment_fingerprint_hash = models.CharField(
        _("payment fingerprint (hashed)"), max_length=64, blank=True
    )
    occurred_at = models.DateTimeField(_("completed at"), default=timezone.now)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "order_id"], name="referral_rewards_order_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0)
                & models.Q(refunded_amount__gte=0)
                & models.Q(refunded_amount__lte=models.F("amount")),
                name="referral_rewards_order_amounts",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="referral_rew_order_account"),
            models.Index(fields=["payment_fingerprint_hash"], name="referral_rew_order_payment"),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.refunded_amount

    @property
    def fully_refunded(self) -> bool:
        return self.refunded_amount >= self.amount


class AbstractOrderRefund(models.Model):
    """One ``order_refunded`` event; ``key`` (the host's refund id, or the amount) is
    unique per order so a retried refund acts once."""

    order = models.ForeignKey(
        "referral_rewards.Order",
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    key = models.CharField(_("refund id"), max_length=100)
    amount = models.DecimalField(_("amount"), **money_field_kwargs)
    created_at = models.DateTimeField(_("refunded at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("order refund")
        verbose_name_plural = _("order refunds")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "key"], name="referral_rewards_refund_key"),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="referral_rewards_refund_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} -{self.amount}"
