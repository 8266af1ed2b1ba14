"""Tiers, the reward catalog and redemptions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from ..enums import (
    OptionKind,
    RedemptionAction,
    RedemptionStatus,
    TierBasis,
    TierWindow,
    VoucherKind,
)
from ..policies import MAX_DAYS
from .base import AbstractStep, money_field_kwargs


class AbstractTier(TimeStampedModel):
    """A loyalty tier (Bronze, Silver, Gold, ...). A member reaches the highest tier
    whose threshold they meet: qualifying spend (in the program currency) or points
    earned, over their lifetime, this calendar year or the last 12 months. The tier's
    multiplier scales the points their orders earn."""

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="tiers",
    )
    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveSmallIntegerField(
        _("rank"), help_text=_("Higher ranks are better tiers; 0 is the entry tier.")
    )
    basis = models.CharField(
        _("counts"), max_length=10, choices=TierBasis.choices, default=TierBasis.SPEND
    )
    window = models.CharField(
        _("over"), max_length=20, choices=TierWindow.choices, default=TierWindow.LIFETIME
    )
    threshold = models.DecimalField(
        _("threshold"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Spend in the program currency, or points, needed to reach the tier."),
        **money_field_kwargs,
    )
    multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Points on orders are multiplied by this (1.5: half as many again)."),
    )
    benefits = models.TextField(_("benefits"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "rank"], name="referral_rewards_tier_program_rank"
            ),
            models.UniqueConstraint(
                fields=["program", "name"], name="referral_rewards_tier_program_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AbstractRewardOption(TimeStampedModel):
    """An entry in a program's reward catalog: what members can spend points on."""

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="reward_options",
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    points_cost = models.PositiveIntegerField(_("points cost"), validators=[MinValueValidator(1)])
    kind = models.CharField(_("gives"), max_length=10, choices=OptionKind.choices)
    voucher_kind = models.CharField(
        _("voucher kind"),
        max_length=12,
        choices=VoucherKind.choices,
        blank=True,
        help_text=_("For options that give a voucher."),
    )
    value = models.DecimalField(
        _("value"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Voucher: percent off, amount off, or the largest discount of a free item or "
            "period. Credit: the amount credited. Staff-fulfilled items: its worth, for reports."
        ),
        **money_field_kwargs,
    )
    voucher_valid_days = models.PositiveIntegerField(
        _("voucher valid for (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: the voucher does not expire."),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
    )
    minimum_tier = models.ForeignKey(
        "referral_rewards.Tier",
        verbose_name=_("minimum tier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    stock = models.PositiveIntegerField(
        _("in stock"),
        null=True,
        blank=True,
        help_text=_("How many are left. Empty: unlimited."),
    )
    per_member_limit = models.PositiveIntegerField(
        _("limit per member"),
        null=True,
        blank=True,
        help_text=_("Empty: no limit."),
        validators=[MinValueValidator(1)],
    )
    requires_approval = models.BooleanField(
        _("always needs approval"),
        default=False,
        help_text=_("Every redemption waits for staff approval, whatever the program's threshold."),
    )
    starts_at = models.DateTimeField(_("available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("available until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        abstract = True
        verbose_name = _("reward option")
        verbose_name_plural = _("reward options")
        ordering = ["program", "position", "points_cost", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points_cost__gt=0) & models.Q(value__gte=0),
                name="referral_rewards_option_values",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        if self.kind == OptionKind.VOUCHER:
            if not self.voucher_kind:
                errors["voucher_kind"] = _("Choose the kind of voucher this option gives.")
            elif self.voucher_kind == VoucherKind.PERCENT and not 0 < self.value <= 100:
                errors["value"] = _("A percent voucher takes a value from 0 to 100.")
            elif self.value is not None and self.value <= 0:
                errors["value"] = _("A voucher needs a value above zero.")
        elif self.voucher_kind:
            errors["voucher_kind"] = _("Only options that give a voucher have a voucher kind.")
        if self.kind == OptionKind.CREDIT and (self.value is None or self.value <= 0):
            errors["value"] = _("Credit needs an amount above zero.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The end must come after the start.")
        if (
            self.minimum_tier_id
            and self.program_id
            and self.minimum_tier is not None
            and self.minimum_tier.program_id != self.program_id
        ):
            errors["minimum_tier"] = _("The tier belongs to another program.")
        if errors:
            raise ValidationError(errors)

    def needs_approval(self) -> bool:
        """Whether redemptions of this option wait for staff approval."""
        threshold = self.program.redemption_approval_threshold
        return self.requires_approval or (threshold is not None and self.points_cost > threshold)

    def is_available(self, at: Any = None) -> bool:
        """Active, inside its window, and not out of stock."""
        at = at or timezone.now()
        return (
            self.active
            and (self.starts_at is None or self.starts_at <= at)
            and (self.ends_at is None or at < self.ends_at)
            and (self.stock is None or self.stock > 0)
        )


class AbstractRedemption(models.Model):
    """A member's request to spend points on a catalog option, and its fulfilment.

    The points are debited when it is requested (``spend_entry``) and refunded by a
    reverse entry (``refund_entry``) if it is rejected or cancelled. Every step is
    recorded in its history (``events``).
    """

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="redemptions",
    )
    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="redemptions",
    )
    option = models.ForeignKey(
        "referral_rewards.RewardOption",
        verbose_name=_("option"),
        on_delete=models.PROTECT,
        related_name="redemptions",
    )
    points = models.PositiveIntegerField(_("points spent"), editable=False)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.PENDING,
        editable=False,
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=200, null=True, blank=True, unique=True, editable=False
    )
    spend_entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("spend"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    refund_entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("refund"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    credit_entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("credit given"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    voucher = models.OneToOneField(
        "referral_rewards.Voucher",
        verbose_name=_("voucher issued"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemption",
        editable=False,
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True, editable=False)
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    processed_at = models.DateTimeField(
        _("approved or rejected at"), null=True, blank=True, editable=False
    )
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("fulfilled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True, editable=False)
    notes = models.TextField(_("fulfilment notes"), blank=True, editable=False)
    reason = models.CharField(
        _("reason rejected or cancelled"), max_length=255, blank=True, editable=False
    )
    applied_to_type = models.CharField(
        _("applied to (type)"), max_length=100, blank=True, editable=False
    )
    applied_to_id = models.CharField(
        _("applied to (id)"), max_length=100, blank=True, editable=False
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, editable=False)

    class Meta:
        abstract = True
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-requested_at", "-pk"]
        permissions = [
            # The staff fulfilment queue of the member portal: a technician with only this
            # permission sees and fulfils the redemptions assigned to them.
            ("fulfil_redemption", _("Can fulfil the redemptions assigned to them")),
        ]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="referral_rew_redeem_status"),
            models.Index(fields=["assigned_to", "status"], name="referral_rew_redeem_staff"),
            models.Index(fields=["account", "option", "status"], name="referral_rew_redeem_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.option} ← {self.account}"

    @property
    def applied_to(self) -> str:
        """``"repair #123"``-style text for the host object it was applied to."""
        if not self.applied_to_type and not self.applied_to_id:
            return ""
        return f"{self.applied_to_type} #{self.applied_to_id}".strip()


class AbstractRedemptionEvent(AbstractStep):
    """One step in a redemption's history (requested, approved, assigned, ...)."""

    redemption = models.ForeignKey(
        "referral_rewards.Redemption",
        verbose_name=_("redemption"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    action = models.CharField(_("action"), max_length=10, choices=RedemptionAction.choices)
    status = models.CharField(_("status after"), max_length=10, choices=RedemptionStatus.choices)

    class Meta(AbstractStep.Meta):
        abstract = True
        verbose_name = _("redemption history entry")
        verbose_name_plural = _("redemption history")
