"""Reward rules, the grants they decide, and vouchers."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from ..enums import (
    Beneficiary,
    GrantSource,
    GrantStatus,
    RewardKind,
    RewardTrigger,
    VoucherKind,
    VoucherStatus,
)
from ..policies import MAX_DAYS
from .base import money_field_kwargs


class AbstractRewardRule(TimeStampedModel):
    """One reward staff configure: *when* (trigger), *whom* (beneficiary), *what* (kind
    and value) and *how long it is held*.

    ``value`` is in the kind's natural unit: whole points; an amount of the program
    currency (credit, fixed commission, fixed voucher, and the optional cap of free
    item / free period vouchers, 0 meaning no cap); or a percentage (commission and
    percent vouchers). A rule on a campaign replaces the program's rules of the same
    trigger for referrals made through that campaign's codes.
    """

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="reward_rules",
    )
    campaign = models.ForeignKey(
        "referral_rewards.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reward_rules",
        help_text=_("Empty: a program-wide rule."),
    )
    name = models.CharField(_("name"), max_length=200)
    trigger = models.CharField(_("trigger"), max_length=20, choices=RewardTrigger.choices)
    nth = models.PositiveIntegerField(
        _("nth conversion"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Milestones only: the referrer's conversion that earns it (1st, 5th, ...)."),
    )
    repeat = models.BooleanField(
        _("repeat"),
        default=False,
        help_text=_("Milestones only: also on every multiple of nth (2nd, 4th, 6th, ...)."),
    )
    beneficiary = models.CharField(_("beneficiary"), max_length=12, choices=Beneficiary.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    value = models.DecimalField(
        _("value"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Points; an amount of the program currency; or a percentage. For free item and "
            "free period vouchers, the largest discount (0: the whole order)."
        ),
        **money_field_kwargs,
    )
    hold_days = models.PositiveIntegerField(
        _("hold (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: the program's hold days."),
        validators=[MaxValueValidator(MAX_DAYS)],
    )
    voucher_valid_days = models.PositiveIntegerField(
        _("voucher valid for (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
        help_text=_("Vouchers only. Empty: the voucher never expires."),
    )
    description = models.CharField(
        _("description"),
        max_length=255,
        blank=True,
        help_text=_("Shown to the member, e.g. the free item or 'one month of service'."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        verbose_name = _("reward rule")
        verbose_name_plural = _("reward rules")
        ordering = ["program", "trigger", "nth", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(trigger=RewardTrigger.MILESTONE, nth__isnull=False)
                | (~models.Q(trigger=RewardTrigger.MILESTONE) & models.Q(nth__isnull=True)),
                name="referral_rewards_rule_nth_milestone",
            ),
            models.CheckConstraint(
                condition=models.Q(value__gte=0), name="referral_rewards_rule_value"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from ..policies import rule_errors

        errors = rule_errors(self)
        if errors:
            raise ValidationError(errors)


class AbstractRewardGrant(models.Model):
    """One decided reward: who gets what, why, and where it stands.

    A grant is ``held`` until ``release_at`` (the hold period), then ``released``: points,
    credit and commission become a ledger entry (``entry``), vouchers are issued
    (``voucher``). A refund voids a held grant and reverses a released one (in proportion
    to the amount refunded). ``idempotency_key`` is unique: the same decision made twice
    (a retried event, two workers) yields one grant.
    """

    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="grants",
    )
    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("beneficiary"),
        on_delete=models.PROTECT,
        related_name="grants",
    )
    rule = models.ForeignKey(
        "referral_rewards.RewardRule",
        verbose_name=_("rule"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="grants",
        help_text=_("Empty for rewards granted by hand."),
    )
    referral = models.ForeignKey(
        "referral_rewards.Referral",
        verbose_name=_("referral"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="grants",
    )
    order = models.ForeignKey(
        "referral_rewards.Order",
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="grants",
    )
    source = models.CharField(
        _("origin"), max_length=10, choices=GrantSource.choices, default=GrantSource.RULE
    )
    trigger = models.CharField(
        _("trigger"), max_length=20, choices=RewardTrigger.choices, blank=True
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    value = models.DecimalField(_("value"), **money_field_kwargs)
    reversed_value = models.DecimalField(
        _("reversed"), default=Decimal("0"), editable=False, **money_field_kwargs
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=GrantStatus.choices,
        default=GrantStatus.HELD,
        editable=False,
    )
    release_at = models.DateTimeField(_("release at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    reason = models.CharField(_("reason"), max_length=255)
    description = models.CharField(_("description"), max_length=255, blank=True)
    voucher_valid_days = models.PositiveIntegerField(
        _("voucher valid for (days)"), null=True, blank=True
    )
    explanation = models.JSONField(_("explanation"), default=dict, blank=True)
    entry = models.ForeignKey(
        "referral_rewards.LedgerEntry",
        verbose_name=_("ledger entry"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    revoke_reason = models.CharField(_("revocation reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("reward grant")
        verbose_name_plural = _("reward grants")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value__gte=0)
                & models.Q(reversed_value__gte=0)
                & models.Q(reversed_value__lte=models.F("value")),
                name="referral_rewards_grant_values",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "release_at"], name="referral_rew_grant_due"),
            models.Index(fields=["account", "created_at"], name="referral_rew_grant_account"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value} → {self.account}"


class AbstractVoucher(models.Model):
    """A discount code issued as a reward. Voucher codes are bearer secrets: 16 random
    characters (80 bits), shown grouped ``XXXX-XXXX-XXXX-XXXX``, stored without dashes.
    When ``account`` is set only that customer may apply it."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="vouchers",
    )
    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vouchers",
        help_text=_("Only this customer may apply it. Empty: anyone holding the code."),
    )
    grant = models.OneToOneField(
        "referral_rewards.RewardGrant",
        verbose_name=_("grant"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="voucher",
        editable=False,
    )
    kind = models.CharField(_("kind"), max_length=12, choices=VoucherKind.choices)
    value = models.DecimalField(
        _("value"),
        help_text=_("Percent off; amount off; or for free item/period the largest discount."),
        **money_field_kwargs,
    )
    currency = models.CharField(_("currency"), max_length=3)
    description = models.CharField(_("description"), max_length=255, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=VoucherStatus.choices,
        default=VoucherStatus.ISSUED,
        editable=False,
    )
    applied_order_id = models.CharField(
        _("applied to order"), max_length=100, blank=True, editable=False
    )
    applied_account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("applied by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    order_amount = models.DecimalField(
        _("order amount"), null=True, blank=True, editable=False, **money_field_kwargs
    )
    discount = models.DecimalField(
        _("discount"), null=True, blank=True, editable=False, **money_field_kwargs
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value__gte=0), name="referral_rewards_voucher_value"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="percent") | models.Q(value__lte=100),
                name="referral_rewards_voucher_percent",
            ),
        ]
        indexes = [
            models.Index(fields=["program", "applied_order_id"], name="referral_rew_voucher_order"),
        ]

    def __str__(self) -> str:
        return self.display_code

    @property
    def display_code(self) -> str:
        """The code grouped in fours for people: ``ABCD-EFGH-JKMN-PQRS``."""
        return "-".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))
