"""Abstract bases of every model. ``models.py`` holds the concrete defaults.

``AbstractMember`` is the swappable base (``REFERRAL_REWARDS_MEMBER_MODEL``): it is a
leaf, with no foreign key into this app, so a host's own member model can subclass it
without depending on our migrations.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from .conf import get_member_model_string
from .enums import (
    NEGATIVE_KINDS,
    POSITIVE_KINDS,
    Beneficiary,
    CodeKind,
    ConversionEvent,
    EntryKind,
    GrantSource,
    GrantStatus,
    MemberKind,
    OptionKind,
    PointsRounding,
    RedemptionAction,
    RedemptionStatus,
    ReferralStatus,
    RewardKind,
    RewardTrigger,
    TierBasis,
    TierWindow,
    Unit,
    VoucherKind,
    VoucherStatus,
)
from .exceptions import LedgerImmutable
from .policies import MAX_DAYS
from .querysets import (
    AccountQuerySet,
    EarnLotQuerySet,
    LedgerEntryQuerySet,
    ProgramQuerySet,
    ReferralCodeQuerySet,
)

money_field_kwargs: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}
currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. USD."))


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

    def to_minor(self, amount: Decimal) -> int:
        """Convert a money ``Decimal`` in this program's currency to integer minor units.
        Refuses amounts with more precision than the currency has."""
        from .money import to_minor

        return to_minor(amount, self.currency_decimal_places)

    def from_minor(self, minor: int) -> Decimal:
        from .money import from_minor

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

    def get_balance(self, unit: str = Unit.POINTS) -> int:
        """The cached balance of ``unit`` as loaded on this instance."""
        from .services.ledger import balance_field

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
        from .policies import rule_errors

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


class AbstractRedemptionEvent(models.Model):
    """One step in a redemption's history (requested, approved, assigned, ...)."""

    redemption = models.ForeignKey(
        "referral_rewards.Redemption",
        verbose_name=_("redemption"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    action = models.CharField(_("action"), max_length=10, choices=RedemptionAction.choices)
    status = models.CharField(_("status after"), max_length=10, choices=RedemptionStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("redemption history entry")
        verbose_name_plural = _("redemption history")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.created_at:%Y-%m-%d %H:%M})"
