"""Programs, members, accounts and the ledger."""

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

from ..conf import get_member_model_string
from ..enums import (
    NEGATIVE_KINDS,
    POSITIVE_KINDS,
    CommissionKind,
    ConversionEvent,
    EntryKind,
    MemberKind,
    PointsRounding,
    ReviewOutcome,
    Unit,
)
from ..exceptions import LedgerImmutable
from ..policies import MAX_DAYS
from ..querysets import (
    AccountQuerySet,
    EarnLotQuerySet,
    LedgerEntryQuerySet,
    ProgramQuerySet,
)
from .base import currency_validator, money_field_kwargs


class AbstractProgram(TimeStampedModel):
    """A loyalty and referral program: one per shop or brand, or the single default one."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    currency = models.CharField(
        _("currency"), max_length=3, default="USD", validators=[currency_validator]
    )
    currency_decimal_places = models.PositiveSmallIntegerField(
        _("currency decimal places"),
        default=2,
        help_text=_("Minor units per major unit: 2 for USD/EUR (cents), 0 for JPY."),
    )
    attribution_window_days = models.PositiveIntegerField(
        _("attribution window (days)"),
        default=30,
        help_text=_("How long a followed referral link is remembered for sign-up."),
        validators=[MaxValueValidator(MAX_DAYS)],
    )
    conversion_event = models.CharField(
        _("conversion event"),
        max_length=20,
        choices=ConversionEvent.choices,
        default=ConversionEvent.FIRST_ORDER,
        help_text=_("What turns a referred sign-up into a converted referral."),
    )
    points_expiry_days = models.PositiveIntegerField(
        _("points expire after (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: points never expire."),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
    )
    minimum_order_amount = models.DecimalField(
        _("minimum order amount"),
        max_digits=14,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Orders below this amount do not qualify (no conversion, no order rewards)."),
    )
    points_per_unit = models.DecimalField(
        _("points per currency unit"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Loyalty points a qualifying order earns per unit of its amount (1: a point per "
            "dollar). 0: orders earn no points."
        ),
    )
    points_rounding = models.CharField(
        _("points rounding"),
        max_length=10,
        choices=PointsRounding.choices,
        default=PointsRounding.DOWN,
    )
    hold_days = models.PositiveIntegerField(
        _("hold rewards for (days)"),
        default=0,
        help_text=_(
            "Rewards stay held (not spendable) this long, e.g. the return window. "
            "A reward rule may set its own."
        ),
        validators=[MaxValueValidator(MAX_DAYS)],
    )
    expiry_notice_days = models.PositiveIntegerField(
        _("warn of expiring points (days before)"),
        null=True,
        blank=True,
        help_text=_(
            "Members are e-mailed this many days before points expire (once per lot). "
            "Empty: no notice."
        ),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
    )
    tier_grace_days = models.PositiveIntegerField(
        _("tier grace period (days)"),
        default=0,
        help_text=_(
            "At re-evaluation a member who no longer meets their tier keeps it this long "
            "before moving down. 0: they move down at once."
        ),
        validators=[MaxValueValidator(MAX_DAYS)],
    )
    redemption_approval_threshold = models.PositiveIntegerField(
        _("redemptions need approval above (points)"),
        null=True,
        blank=True,
        help_text=_("Redemptions costing more points wait for staff approval. Empty: never."),
    )
    minimum_balance_after_redemption = models.PositiveIntegerField(
        _("minimum balance after a redemption (points)"),
        default=0,
        help_text=_("A redemption is refused if it would leave fewer points than this."),
    )
    fulfilment_group = models.CharField(
        _("fulfilment staff group"),
        max_length=150,
        blank=True,
        help_text=_(
            "Name of the auth group whose active staff users fulfil redemptions (e.g. "
            "technicians). Empty: the REFERRAL_REWARDS_FULFILMENT_GROUP setting."
        ),
    )
    payout_minimum = models.DecimalField(
        _("minimum payout"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Members cannot request a payout of less commission than this."),
        **money_field_kwargs,
    )
    fraud_review_score = models.PositiveIntegerField(
        _("review referrals scoring at least"),
        default=50,
        validators=[MinValueValidator(1)],
        help_text=_(
            "A referral whose fraud signals add up to this score waits for a staff review; "
            "its rewards are held until the decision."
        ),
    )
    fraud_block_score = models.PositiveIntegerField(
        _("block referrals scoring at least"),
        default=100,
        validators=[MinValueValidator(1)],
        help_text=_("A referral scoring this much is rejected at once: nobody is rewarded."),
    )
    review_days = models.PositiveIntegerField(
        _("review deadline (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
        help_text=_("How long staff have to decide a review before the default outcome applies."),
    )
    review_default_outcome = models.CharField(
        _("outcome when the review deadline passes"),
        max_length=10,
        choices=ReviewOutcome.choices,
        default=ReviewOutcome.APPROVE,
    )
    active = models.BooleanField(_("active"), default=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    objects = ProgramQuerySet.as_manager()

    class Meta:
        abstract = True
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.fraud_review_score > self.fraud_block_score:
            raise ValidationError(
                {
                    "fraud_review_score": _(
                        "The review score cannot be above the block score (a referral would "
                        "be blocked before it could be reviewed)."
                    )
                }
            )

    def to_minor(self, amount: Decimal) -> int:
        """Convert a money ``Decimal`` in this program's currency to integer minor units.
        Refuses amounts with more precision than the currency has."""
        from ..money import to_minor

        return to_minor(amount, self.currency_decimal_places)

    def from_minor(self, minor: int) -> Decimal:
        from ..money import from_minor

        return from_minor(minor, self.currency_decimal_places)


class AbstractMember(TimeStampedModel):
    """A person or organisation who refers and/or earns.

    Members need not be users: partners and influencers who never log in are members
    without a ``user``. Swap this model with ``REFERRAL_REWARDS_MEMBER_MODEL``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referral_member",
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=MemberKind.choices, default=MemberKind.CUSTOMER
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        return self.name or self.email or f"{_('Member')} #{self.pk}"


class AbstractAccount(TimeStampedModel):
    """One member's standing in one program: cached balances and counters.

    Balances are caches of the ledger (invariant 1: each equals the sum of its entries);
    only ``services.ledger`` changes them, under a row lock.
    """

    member = models.ForeignKey(
        get_member_model_string(),
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    program = models.ForeignKey(
        "referral_rewards.Program",
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    points_balance = models.BigIntegerField(_("points"), default=0, editable=False)
    held_points = models.BigIntegerField(
        _("held points"),
        default=0,
        editable=False,
        help_text=_("Points decided but not yet spendable (inside a hold period)."),
    )
    credit_balance = models.BigIntegerField(_("credit (minor units)"), default=0, editable=False)
    commission_balance = models.BigIntegerField(
        _("commission (minor units)"), default=0, editable=False
    )
    lifetime_points = models.BigIntegerField(_("lifetime points"), default=0, editable=False)
    #: Referrals of this account that converted; incremented under the account's row lock
    #: so that milestone rewards (the 1st, 5th, 10th conversion) count exactly.
    conversions_count = models.PositiveIntegerField(
        _("converted referrals"), default=0, editable=False
    )
    #: Lifetime qualifying spend (orders at or above the minimum, less refunds).
    qualifying_spend = models.DecimalField(
        _("qualifying spend"), default=Decimal("0"), editable=False, **money_field_kwargs
    )
    tier = models.ForeignKey(
        "referral_rewards.Tier",
        verbose_name=_("tier"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounts",
        editable=False,
    )
    tier_since = models.DateTimeField(_("in tier since"), null=True, blank=True, editable=False)
    #: Set at re-evaluation when the member no longer meets their tier and the program
    #: has a grace period: they move down at this time unless they qualify again.
    tier_review_at = models.DateTimeField(_("moves down at"), null=True, blank=True, editable=False)
    #: The member's own commission terms in this program (a partner's, an influencer's):
    #: they replace the program's commission rules for the referrals this account makes.
    commission_kind = models.CharField(
        _("own commission"),
        max_length=20,
        choices=CommissionKind.choices,
        blank=True,
        help_text=_(
            "Empty: the program's commission rules apply. Otherwise this member earns this "
            "commission on each referred customer's first qualifying order instead."
        ),
    )
    commission_value = models.DecimalField(
        _("own commission value"),
        null=True,
        blank=True,
        help_text=_("A percentage (10 for 10%) or an amount of the program currency."),
        **money_field_kwargs,
    )
    #: Leaderboard opt-in: the member chooses whether (and under which name) other
    #: members see them on the program's leaderboard. Others are listed anonymously.
    show_on_leaderboard = models.BooleanField(
        _("show on the leaderboard"),
        default=False,
        help_text=_("Show this member's leaderboard name to other members."),
    )
    leaderboard_name = models.CharField(
        _("leaderboard name"),
        max_length=40,
        blank=True,
        help_text=_("The name other members see on the leaderboard (the member chooses it)."),
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    objects = AccountQuerySet.as_manager()

    BALANCE_FIELDS: dict[str, str] = {
        Unit.POINTS: "points_balance",
        Unit.CREDIT: "credit_balance",
        Unit.COMMISSION: "commission_balance",
    }

    class Meta:
        abstract = True
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "program"], name="referral_rewards_account_member_program"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} @ {self.program}"

    def clean(self) -> None:
        super().clean()
        from ..policies import commission_terms_errors

        errors = commission_terms_errors(
            self.commission_kind,
            self.commission_value,
            self.program if self.program_id is not None else None,
        )
        if errors:
            raise ValidationError(errors)

    def get_balance(self, unit: str = Unit.POINTS) -> int:
        """The cached balance of ``unit`` as loaded on this instance."""
        from ..services.ledger import balance_field

        return int(getattr(self, balance_field(unit)))


class AbstractLedgerEntry(models.Model):
    """One immutable movement of points, credit or commission.

    The ledger is append-only: a mistake is corrected by a ``reverse`` or ``adjust``
    entry, never by editing. ``amount`` is signed, in whole points or minor currency
    units; ``balance_after`` is the account's balance of that unit after this entry.
    """

    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="entries",
    )
    unit = models.CharField(_("unit"), max_length=12, choices=Unit.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    amount = models.BigIntegerField(_("amount"))
    balance_after = models.BigIntegerField(_("balance after"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, null=True, blank=True)
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("reverses"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
    )
    reference_type = models.CharField(_("reference type"), max_length=100, blank=True)
    reference_id = models.CharField(_("reference id"), max_length=100, blank=True)
    memo = models.CharField(_("reason"), max_length=255)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    #: For entries that take from the balance: ``[[lot_id, amount], ...]`` in the order
    #: the lots were consumed; a reversal gives back to the same lots.
    lots = models.JSONField(_("lots consumed"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        abstract = True
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # NULL keys are distinct on every supported database, so entries without a
            # key never collide; a repeated key is refused by the database itself.
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                name="referral_rewards_entry_idempotency",
            ),
            models.CheckConstraint(
                condition=~models.Q(amount=0), name="referral_rewards_entry_nonzero"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=sorted(POSITIVE_KINDS), amount__gt=0)
                    | models.Q(kind__in=sorted(NEGATIVE_KINDS), amount__lt=0)
                    | ~models.Q(kind__in=sorted(POSITIVE_KINDS | NEGATIVE_KINDS))
                ),
                name="referral_rewards_entry_sign_matches_kind",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "unit", "created_at"], name="referral_rew_entry_acct_unit"
            ),
            models.Index(fields=["reference_type", "reference_id"], name="referral_rew_entry_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.unit} ({self.get_kind_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise LedgerImmutable()

    @property
    def reference(self) -> tuple[str, str] | None:
        if not self.reference_type:
            return None
        return (self.reference_type, self.reference_id)


class AbstractEarnLot(models.Model):
    """What is left of one positive ledger entry, for FIFO spending and expiry.

    Spending consumes the lots that expire soonest first; the expiry sweep expires what
    is left of lots past ``expires_at``. For every account and unit the open lots add up
    to the balance whenever it is positive (and to zero when a clawback took it below).
    """

    account = models.ForeignKey(
        "referral_rewards.Account",
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="lots",
    )
    entry = models.OneToOneField(
        "referral_rewards.LedgerEntry",
        verbose_name=_("ledger entry"),
        on_delete=models.PROTECT,
        related_name="lot",
    )
    unit = models.CharField(_("unit"), max_length=12, choices=Unit.choices)
    amount = models.BigIntegerField(_("amount"), validators=[MinValueValidator(1)])
    remaining = models.BigIntegerField(_("remaining"))
    expired = models.BigIntegerField(_("expired"), default=0)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    #: When the member was told this lot is about to expire (the notice goes once).
    notified_at = models.DateTimeField(_("expiry notice sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = EarnLotQuerySet.as_manager()

    class Meta:
        abstract = True
        verbose_name = _("earn lot")
        verbose_name_plural = _("earn lots")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0, expired__gte=0, amount__gt=0),
                name="referral_rewards_lot_nonnegative",
            ),
            models.CheckConstraint(
                condition=models.Q(remaining__lte=models.F("amount")),
                name="referral_rewards_lot_remaining_le_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "unit", "expires_at"], name="referral_rew_lot_fifo"),
            models.Index(fields=["expires_at", "remaining"], name="referral_rew_lot_due"),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.amount} {self.unit}"
