"""The API's shared serializers: what an account, a code, a referral, a reward option, a
redemption, a voucher, a payout and a ledger entry look like in JSON, and the bodies of
the member's writes.

Money is always an object ``{"amount": "12.50", "currency": "EUR"}`` (a decimal string
at the currency's decimal places, never a float); points are integers. The output
serializers read model instances (or the services' dataclasses) and write nothing.
Some need ``context["request"]`` (absolute URLs, "you" in histories) or
``context["program"]`` (the currency of figures that do not carry one).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import cards, links
from ..enums import (
    OPEN_REDEMPTION_STATUSES,
    EntryKind,
    FraudStatus,
    PayoutAction,
    PayoutMethod,
    PayoutStatus,
    RedemptionAction,
    RedemptionStatus,
    Unit,
)
from ..models import Program
from ..services import payouts
from ..services.codes import unusable_reason
from ..views.portal.community import customer_label

#: Longest reason a member may give when cancelling (the services keep 255 characters).
MAX_REASON = 255
#: Longest payout destination (``Payout.destination``).
MAX_DESTINATION = 255
#: Payout methods that need to know where to send the money.
METHODS_NEEDING_DESTINATION = (PayoutMethod.BANK_TRANSFER, PayoutMethod.CHEQUE)
#: History steps a member does not see: who on the staff handles a redemption, and the
#: payout backend's attempts (their notes hold the provider's technical errors).
HIDDEN_REDEMPTION_ACTIONS = (RedemptionAction.ASSIGNED,)
HIDDEN_PAYOUT_ACTIONS = (PayoutAction.SUBMITTED, PayoutAction.FAILED)


# --- money --------------------------------------------------------------------------------


def money(amount: Decimal, program: Program, currency: str | None = None) -> dict[str, Any]:
    """``{"amount": Decimal, "currency": str}`` at ``program``'s decimal places."""
    places = Decimal(1).scaleb(-program.currency_decimal_places)
    return {"amount": Decimal(amount).quantize(places), "currency": currency or program.currency}


def minor_money(minor: int, program: Program) -> dict[str, Any]:
    """Money from integer minor units of ``program``'s currency."""
    return money(program.from_minor(minor), program)


class MoneySerializer(serializers.Serializer):
    """An amount of money: a decimal string and an ISO 4217 currency code."""

    amount = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        read_only=True,
        help_text=_("A decimal string, at the currency's decimal places."),
    )
    currency = serializers.CharField(read_only=True, help_text=_("ISO 4217 code."))


@extend_schema_field(MoneySerializer)
class MinorMoneyField(serializers.Field):
    """An integer attribute of minor units (an account balance) as money of the
    object's program (``program_attr``; ``None``: ``context["program"]``)."""

    def __init__(self, attr: str, *, program_attr: str | None = "program", **kwargs: Any) -> None:
        self.attr = attr
        self.program_attr = program_attr
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        program = (
            getattr(value, self.program_attr) if self.program_attr else self.context["program"]
        )
        return MoneySerializer(minor_money(getattr(value, self.attr), program)).data


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """A ``Decimal`` attribute (``attr``) with the object's ``currency`` as money, at the
    decimal places of the object's ``program`` (load it with the object)."""

    def __init__(self, attr: str, **kwargs: Any) -> None:
        self.attr = attr
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        amount = getattr(value, self.attr)
        if amount is None:  # e.g. a referral's first order amount before any order
            return None
        program = value.program
        currency = getattr(value, "currency", None) or program.currency
        return MoneySerializer(money(amount, program, currency)).data


class ReasonSerializer(serializers.Serializer):
    """Why something cannot be done: the stable ``code`` of the error the action would
    raise, and its message."""

    code = serializers.CharField(read_only=True)
    message = serializers.CharField(read_only=True)


def reason_of(error: Any) -> dict[str, str] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message}


# --- programs and accounts ----------------------------------------------------------------


class ProgramSummarySerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True)


class TierSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    rank = serializers.IntegerField(read_only=True)


class AccountBalancesSerializer(serializers.Serializer):
    """An account's balances: points (released and held) as integers, credit and
    commission as money."""

    points = serializers.IntegerField(source="points_balance", read_only=True)
    held_points = serializers.IntegerField(read_only=True)
    credit = MinorMoneyField("credit_balance")
    commission = MinorMoneyField("commission_balance")


class AccountSerializer(serializers.Serializer):
    """One of the member's accounts (one per program)."""

    id = serializers.IntegerField(read_only=True)
    program = ProgramSummarySerializer(read_only=True)
    tier = TierSummarySerializer(read_only=True, allow_null=True)
    tier_since = serializers.DateTimeField(read_only=True, allow_null=True)
    balances = AccountBalancesSerializer(source="*", read_only=True)
    lifetime_points = serializers.IntegerField(read_only=True)
    conversions = serializers.IntegerField(
        source="conversions_count",
        read_only=True,
        help_text=_("Referred customers who converted."),
    )
    show_on_leaderboard = serializers.BooleanField(read_only=True)
    leaderboard_name = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)


class BalanceSerializer(AccountBalancesSerializer):
    """The balances of one account, with what may be paid out now."""

    program = serializers.SlugField(source="program.slug", read_only=True)
    commission_available = serializers.SerializerMethodField(
        help_text=_("Commission that may be asked to be paid out now (never negative).")
    )
    payout_minimum = serializers.SerializerMethodField(
        help_text=_("The smallest payout the program accepts.")
    )

    @extend_schema_field(MoneySerializer)
    def get_commission_available(self, account: Any) -> Any:
        return MoneySerializer(money(payouts.available(account), account.program)).data

    @extend_schema_field(MoneySerializer)
    def get_payout_minimum(self, account: Any) -> Any:
        return MoneySerializer(money(account.program.payout_minimum, account.program)).data


# --- codes --------------------------------------------------------------------------------


class CodeSerializer(serializers.Serializer):
    """One of the member's codes, with its share link and where its QR images and
    printable cards are (the portal's URLs: they need the member's session)."""

    code = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    program = serializers.SlugField(source="program.slug", read_only=True)
    campaign = serializers.CharField(source="campaign.name", read_only=True, allow_null=True)
    active = serializers.BooleanField(read_only=True)
    usable = serializers.SerializerMethodField()
    unusable_reason = serializers.SerializerMethodField(
        help_text=_(
            "Why nobody can use the code now (code_inactive, code_not_yet_valid, "
            "code_expired, code_exhausted), or null."
        )
    )
    uses = serializers.IntegerField(source="times_used", read_only=True)
    max_uses = serializers.IntegerField(read_only=True, allow_null=True)
    starts_at = serializers.DateTimeField(read_only=True, allow_null=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    share_url = serializers.SerializerMethodField()
    qr_svg_url = serializers.SerializerMethodField()
    qr_png_url = serializers.SerializerMethodField()
    card_urls = serializers.SerializerMethodField(
        help_text=_("Printable PDF cards by size (empty where cards are not available).")
    )
    created = serializers.DateTimeField(read_only=True)

    def _reason(self, code: Any) -> Any:
        cache = cast(dict[str, Any], self.context).setdefault("_unusable", {})
        if code.pk not in cache:
            cache[code.pk] = unusable_reason(code, now=self.context.get("now") or timezone.now())
        return cache[code.pk]

    def get_usable(self, code: Any) -> bool:
        return self._reason(code) is None

    @extend_schema_field(ReasonSerializer(allow_null=True))
    def get_unusable_reason(self, code: Any) -> Any:
        return reason_of(self._reason(code))

    def _absolute(self, path: str) -> str:
        return links.absolute_url(path, request=self.context.get("request"))

    def get_share_url(self, code: Any) -> str:
        return links.share_url(code, request=self.context.get("request"))

    def get_qr_svg_url(self, code: Any) -> str:
        return self._absolute(
            reverse("referral_rewards:portal_code_qr", kwargs={"code": code.code, "format": "svg"})
        )

    def get_qr_png_url(self, code: Any) -> str:
        return self._absolute(
            reverse("referral_rewards:portal_code_qr", kwargs={"code": code.code, "format": "png"})
        )

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_card_urls(self, code: Any) -> dict[str, str]:
        if not cards.available():
            return {}
        path = reverse("referral_rewards:portal_code_card", kwargs={"code": code.code})
        return {size: self._absolute(f"{path}?size={size}") for size in cards.CARD_SIZES}


# --- referrals ----------------------------------------------------------------------------


class ReferralSerializer(serializers.Serializer):
    """A customer the member referred, as the member sees them: never their e-mail
    address, only the portal's label (first name and last initial)."""

    id = serializers.IntegerField(read_only=True)
    customer = serializers.SerializerMethodField(
        help_text=_('"Juan P.", or "Customer #12" when there is no usable name.')
    )
    code = serializers.CharField(source="code.code", read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    in_review = serializers.SerializerMethodField(
        help_text=_("Its rewards wait for a fraud review.")
    )
    attached_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    activated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    converted_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_customer(self, referral: Any) -> str:
        return customer_label(referral)

    def get_in_review(self, referral: Any) -> bool:
        return bool(referral.fraud_status == FraudStatus.REVIEW)


class ReferralStatsSerializer(serializers.Serializer):
    """:class:`~django_referral_rewards.services.stats.ReferralStats` (money in
    ``context["program"]``'s currency)."""

    visits = serializers.IntegerField(read_only=True)
    signups = serializers.IntegerField(read_only=True)
    pending = serializers.IntegerField(read_only=True)
    converted = serializers.IntegerField(read_only=True)
    rejected = serializers.IntegerField(read_only=True)
    expired = serializers.IntegerField(read_only=True)
    in_review = serializers.IntegerField(read_only=True)
    conversion_rate = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Whole percent of sign-ups; null without any.")
    )
    earned_points = serializers.IntegerField(read_only=True)
    earned_credit = serializers.SerializerMethodField()
    earned_commission = serializers.SerializerMethodField()
    held_points = serializers.IntegerField(read_only=True)
    held_credit = serializers.SerializerMethodField()
    held_commission = serializers.SerializerMethodField()

    def _money(self, amount: Decimal) -> Any:
        return MoneySerializer(money(amount, self.context["program"])).data

    @extend_schema_field(MoneySerializer)
    def get_earned_credit(self, stats: Any) -> Any:
        return self._money(stats.earned_credit)

    @extend_schema_field(MoneySerializer)
    def get_earned_commission(self, stats: Any) -> Any:
        return self._money(stats.earned_commission)

    @extend_schema_field(MoneySerializer)
    def get_held_credit(self, stats: Any) -> Any:
        return self._money(stats.held_credit)

    @extend_schema_field(MoneySerializer)
    def get_held_commission(self, stats: Any) -> Any:
        return self._money(stats.held_commission)


class LeaderboardRowSerializer(serializers.Serializer):
    """One place on the leaderboard: the name the member chose to show, or null for
    one shown anonymously."""

    rank = serializers.IntegerField(read_only=True)
    name = serializers.SerializerMethodField()
    conversions = serializers.IntegerField(read_only=True)
    is_you = serializers.BooleanField(read_only=True)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_name(self, row: Any) -> str | None:
        return row.name or None


class LeaderboardSerializer(serializers.Serializer):
    program = serializers.SlugField(read_only=True)
    period = serializers.CharField(read_only=True)
    rows = LeaderboardRowSerializer(many=True, read_only=True)
    show_on_leaderboard = serializers.BooleanField(
        read_only=True, help_text=_("Whether others see you by name.")
    )
    leaderboard_name = serializers.CharField(read_only=True)


class LeaderboardQuerySerializer(serializers.Serializer):
    program = serializers.SlugField(required=False)
    period = serializers.ChoiceField(choices=["all", "month"], default="all")


# --- the catalog, redemptions and vouchers ------------------------------------------------


class RewardOptionSerializer(serializers.Serializer):
    """A reward catalog option. ``value`` is the percent off for a percent voucher,
    else an amount of the program's currency."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    voucher_kind = serializers.CharField(read_only=True)
    value = serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True)
    currency = serializers.CharField(source="program.currency", read_only=True)
    points_cost = serializers.IntegerField(read_only=True)
    stock = serializers.IntegerField(read_only=True, allow_null=True)
    per_member_limit = serializers.IntegerField(read_only=True, allow_null=True)
    minimum_tier = TierSummarySerializer(read_only=True, allow_null=True)
    needs_approval = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ends_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_needs_approval(self, option: Any) -> bool:
        return bool(option.needs_approval())


class RewardChoiceSerializer(serializers.Serializer):
    """A catalog option as the member sees it: whether they may redeem it now, and if
    not, why (the error a redemption would answer with)."""

    option = RewardOptionSerializer(read_only=True)
    allowed = serializers.BooleanField(read_only=True)
    refusal = serializers.SerializerMethodField()

    @extend_schema_field(ReasonSerializer(allow_null=True))
    def get_refusal(self, choice: Any) -> Any:
        return reason_of(choice.error)


class VoucherSerializer(serializers.Serializer):
    """A voucher the member holds. ``value`` is the percent off for a percent voucher,
    else an amount of ``currency``."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    program = serializers.SlugField(source="program.slug", read_only=True)
    kind = serializers.CharField(read_only=True)
    value = serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True)
    currency = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    applied_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class RedemptionQuerySerializer(serializers.Serializer):
    program = serializers.SlugField(required=False)
    status = serializers.ChoiceField(choices=RedemptionStatus.choices, required=False)


class OptionSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)


class StepSerializer(serializers.Serializer):
    """One step of a redemption's or payout's history. ``by`` is ``you``, ``staff`` or
    null (the system): a staff user's identity is not the member's business."""

    action = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    at = serializers.DateTimeField(source="created_at", read_only=True)
    note = serializers.CharField(read_only=True)
    by = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "enum": ["you", "staff"], "nullable": True})
    def get_by(self, step: Any) -> str | None:
        if step.actor_id is None:
            return None
        request = self.context.get("request")
        user_pk = getattr(getattr(request, "user", None), "pk", None)
        return "you" if step.actor_id == user_pk else "staff"


def visible_steps(steps: Any, hidden: tuple[str, ...]) -> list[Any]:
    return [step for step in steps if step.action not in hidden]


class RedemptionSerializer(serializers.Serializer):
    """One of the member's redemptions (load ``option``, ``voucher`` and ``program``
    with it)."""

    id = serializers.IntegerField(read_only=True)
    program = serializers.SlugField(source="program.slug", read_only=True)
    option = OptionSummarySerializer(read_only=True)
    points = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=RedemptionStatus.choices, read_only=True)
    can_cancel = serializers.SerializerMethodField()
    reason = serializers.CharField(read_only=True)
    voucher = VoucherSerializer(read_only=True, allow_null=True)
    requested_at = serializers.DateTimeField(read_only=True)
    processed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    fulfilled_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_can_cancel(self, redemption: Any) -> bool:
        return redemption.status in OPEN_REDEMPTION_STATUSES


class RedemptionDetailSerializer(RedemptionSerializer):
    """A redemption with its history (``context["history"]``: the service's steps)."""

    history = serializers.SerializerMethodField()

    @extend_schema_field(StepSerializer(many=True))
    def get_history(self, redemption: Any) -> Any:
        steps = visible_steps(self.context.get("history", []), HIDDEN_REDEMPTION_ACTIONS)
        return StepSerializer(steps, many=True, context=self.context).data


class PayoutSerializer(serializers.Serializer):
    """One of the member's payouts (load ``program`` with it)."""

    id = serializers.IntegerField(read_only=True)
    program = serializers.SlugField(source="program.slug", read_only=True)
    amount = MoneyField("amount")
    method = serializers.ChoiceField(choices=PayoutMethod.choices, read_only=True)
    destination = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=PayoutStatus.choices, read_only=True)
    can_cancel = serializers.SerializerMethodField(
        help_text=_("Only a payout waiting for approval can be cancelled by the member.")
    )
    reason = serializers.CharField(read_only=True)
    external_reference = serializers.CharField(read_only=True)
    requested_at = serializers.DateTimeField(read_only=True)
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    paid_at = serializers.DateTimeField(read_only=True, allow_null=True)
    cancelled_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_can_cancel(self, payout: Any) -> bool:
        return payout.status == PayoutStatus.PENDING


class PayoutDetailSerializer(PayoutSerializer):
    """A payout with its history (``context["history"]``: the service's steps)."""

    history = serializers.SerializerMethodField()

    @extend_schema_field(StepSerializer(many=True))
    def get_history(self, payout: Any) -> Any:
        steps = visible_steps(self.context.get("history", []), HIDDEN_PAYOUT_ACTIONS)
        return StepSerializer(steps, many=True, context=self.context).data


# --- the ledger ---------------------------------------------------------------------------


class LedgerEntrySerializer(serializers.Serializer):
    """One movement of the account's ledger. A points entry has ``points`` and
    ``points_after`` (integers); a credit or commission entry ``money`` and
    ``money_after`` (in ``context["program"]``'s currency); the others are null."""

    id = serializers.IntegerField(read_only=True)
    unit = serializers.ChoiceField(choices=Unit.choices, read_only=True)
    kind = serializers.ChoiceField(choices=EntryKind.choices, read_only=True)
    points = serializers.SerializerMethodField()
    points_after = serializers.SerializerMethodField()
    money = serializers.SerializerMethodField()
    money_after = serializers.SerializerMethodField()
    reason = serializers.CharField(source="memo", read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(OpenApiTypes.INT)
    def get_points(self, entry: Any) -> int | None:
        return int(entry.amount) if entry.unit == Unit.POINTS else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_points_after(self, entry: Any) -> int | None:
        return int(entry.balance_after) if entry.unit == Unit.POINTS else None

    def _money(self, entry: Any, minor: int) -> Any:
        if entry.unit == Unit.POINTS:
            return None
        return MoneySerializer(minor_money(minor, self.context["program"])).data

    @extend_schema_field(MoneySerializer(allow_null=True))
    def get_money(self, entry: Any) -> Any:
        return self._money(entry, entry.amount)

    @extend_schema_field(MoneySerializer(allow_null=True))
    def get_money_after(self, entry: Any) -> Any:
        return self._money(entry, entry.balance_after)


class LedgerQuerySerializer(serializers.Serializer):
    program = serializers.SlugField(required=False)
    unit = serializers.ChoiceField(choices=Unit.choices, required=False)


# --- the member's writes ------------------------------------------------------------------


class ProgramBodySerializer(serializers.Serializer):
    """A write's body: only the program (optional; ``?program=`` works too)."""

    program = serializers.SlugField(
        required=False, help_text=_("The program's slug; the default program otherwise.")
    )


class CancelSerializer(ProgramBodySerializer):
    reason = serializers.CharField(
        max_length=MAX_REASON, required=False, allow_blank=True, default=""
    )


class DecimalStringField(serializers.DecimalField):
    """A decimal amount sent as a string (or a whole number): a JSON float is refused,
    money is never a float."""

    default_error_messages = {
        "float": _('Send the amount as a decimal string, e.g. "20.00", not a number.'),
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, float):
            self.fail("float")
        return super().to_internal_value(data)


class PayoutRequestSerializer(ProgramBodySerializer):
    """Ask for commission to be paid out. ``context["program"]`` gives the currency the
    amount is checked against (its decimal places)."""

    amount = DecimalStringField(
        max_digits=14,
        decimal_places=None,
        max_value=Decimal("9999999999"),
        help_text=_("In the program's currency, as a decimal string."),
    )
    method = serializers.ChoiceField(choices=PayoutMethod.choices)
    destination = serializers.CharField(
        max_length=MAX_DESTINATION,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The IBAN for a bank transfer, the postal address for a cheque."),
    )

    def validate_amount(self, amount: Decimal) -> Decimal:
        if amount <= 0:
            raise serializers.ValidationError(
                gettext("Enter an amount above zero."), code="min_value"
            )
        program = self.context["program"]
        places = program.currency_decimal_places
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise serializers.ValidationError(
                gettext("Use at most %(places)d decimal places for %(currency)s.")
                % {"places": places, "currency": program.currency},
                code="decimal_places",
            )
        return amount

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("method") in METHODS_NEEDING_DESTINATION and not data.get("destination"):
            raise serializers.ValidationError(
                {
                    "destination": serializers.ErrorDetail(
                        gettext("Say where to send a %(method)s.")
                        % {"method": PayoutMethod(data["method"]).label.lower()},
                        code="required",
                    )
                }
            )
        return data


__all__ = [
    "AccountBalancesSerializer",
    "AccountSerializer",
    "BalanceSerializer",
    "CancelSerializer",
    "CodeSerializer",
    "LeaderboardQuerySerializer",
    "LeaderboardRowSerializer",
    "LeaderboardSerializer",
    "LedgerEntrySerializer",
    "LedgerQuerySerializer",
    "MinorMoneyField",
    "MoneyField",
    "MoneySerializer",
    "OptionSummarySerializer",
    "PayoutDetailSerializer",
    "PayoutRequestSerializer",
    "PayoutSerializer",
    "ProgramBodySerializer",
    "ProgramSummarySerializer",
    "ReasonSerializer",
    "RedemptionDetailSerializer",
    "RedemptionQuerySerializer",
    "RedemptionSerializer",
    "ReferralSerializer",
    "ReferralStatsSerializer",
    "RewardChoiceSerializer",
    "RewardOptionSerializer",
    "StepSerializer",
    "TierSummarySerializer",
    "VoucherSerializer",
    "minor_money",
    "money",
]
