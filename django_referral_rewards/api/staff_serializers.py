"""Serializers of the staff endpoints (:mod:`.staff`): what staff send and what they
get back. Points are integers, money decimal strings; objects name their program by
slug and other objects by id.

Writable model serializers (programs, reward rules) run the model's own validation
(``full_clean()``) after DRF's, so a rule the admin would refuse is refused here too,
field by field.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..enums import RewardKind
from ..forms import MANUAL_REWARD_KINDS
from ..models import (
    Campaign,
    Payout,
    Program,
    Redemption,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardRule,
)
from ..policies import MAX_DAYS
from ..services.codes import MAX_USE_LIMIT
from .serializers import MoneyField

#: The most codes one ``codes/bulk/`` request creates.
MAX_BULK_CODES = 1000


class FullCleanMixin:
    """Run the model's ``full_clean()`` on the instance the validated data would make
    (uniqueness is left to DRF's validators and the database), reporting its errors by
    field."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)  # type: ignore[misc]
        model: type[Model] = self.Meta.model  # type: ignore[attr-defined]
        current = getattr(self, "instance", None)
        instance = (
            model(**{f.attname: getattr(current, f.attname) for f in model._meta.fields})
            if current
            else model()
        )
        for name, value in attrs.items():
            setattr(instance, name, value)
        try:
            instance.full_clean(validate_unique=False, validate_constraints=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


# Programs and rules.


class StaffProgramSerializer(FullCleanMixin, serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "currency",
            "currency_decimal_places",
            "attribution_window_days",
            "conversion_event",
            "points_expiry_days",
            "minimum_order_amount",
            "points_per_unit",
            "points_rounding",
            "hold_days",
            "expiry_notice_days",
            "tier_grace_days",
            "redemption_approval_threshold",
            "minimum_balance_after_redemption",
            "fulfilment_group",
            "payout_minimum",
            "fraud_review_score",
            "fraud_block_score",
            "review_days",
            "review_default_outcome",
            "active",
            "metadata",
            "created",
            "modified",
        ]
        read_only_fields = ["id", "created", "modified"]


class StaffRewardRuleSerializer(FullCleanMixin, serializers.ModelSerializer):
    program = serializers.SlugRelatedField(slug_field="slug", queryset=Program.objects.all())
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = RewardRule
        fields = [
            "id",
            "program",
            "campaign",
            "name",
            "trigger",
            "nth",
            "repeat",
            "beneficiary",
            "kind",
            "value",
            "hold_days",
            "voucher_valid_days",
            "description",
            "active",
            "created",
            "modified",
        ]
        read_only_fields = ["id", "created", "modified"]


# Codes.


class StaffReferralCodeSerializer(serializers.ModelSerializer):
    program: serializers.SlugRelatedField[Program] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    owner = serializers.IntegerField(source="owner_id", allow_null=True, read_only=True)
    owner_member = serializers.IntegerField(
        source="owner.member_id", allow_null=True, read_only=True, default=None
    )
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True, read_only=True)

    class Meta:
        model = ReferralCode
        fields = [
            "id",
            "code",
            "program",
            "kind",
            "owner",
            "owner_member",
            "campaign",
            "starts_at",
            "expires_at",
            "max_uses",
            "max_uses_per_customer",
            "times_used",
            "active",
            "created",
        ]
        read_only_fields = fields


class StaffCodeLimitsSerializer(serializers.Serializer):
    """Where new campaign codes go and their limits."""

    program = serializers.SlugRelatedField(
        slug_field="slug", queryset=Program.objects.all(), required=False, allow_null=True
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.select_related("program"), required=False, allow_null=True
    )
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    max_uses = serializers.IntegerField(
        min_value=1, max_value=MAX_USE_LIMIT, required=False, allow_null=True
    )
    max_uses_per_customer = serializers.IntegerField(
        min_value=1, max_value=MAX_USE_LIMIT, required=False, allow_null=True
    )
    active = serializers.BooleanField(default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        program, campaign = attrs.get("program"), attrs.get("campaign")
        if program is not None and campaign is not None and campaign.program_id != program.pk:
            raise serializers.ValidationError(
                {"campaign": "The campaign belongs to another program."}
            )
        starts, expires = attrs.get("starts_at"), attrs.get("expires_at")
        if starts and expires and expires <= starts:
            raise serializers.ValidationError({"expires_at": "A code must expire after it starts."})
        return attrs


class StaffCodeCreateSerializer(StaffCodeLimitsSerializer):
    """One campaign code: ``code`` for a vanity code (``SUMMER25``), generated when
    left out; ``owner`` (an account id) credits a referrer for its uses."""

    code = serializers.CharField(required=False, allow_null=True, max_length=64)
    owner = serializers.IntegerField(required=False, allow_null=True)

    def validate_code(self, value: str | None) -> str | None:
        from ..exceptions import InvalidArgument
        from ..services.codes import clean_new_code

        if value is None:
            return None
        try:
            return clean_new_code(value)
        except InvalidArgument as exc:
            raise serializers.ValidationError(exc.message) from exc

    def validate_owner(self, value: int | None) -> Any:
        from ..models import Account

        if value is None:
            return None
        found = Account.objects.select_related("program").filter(pk=value).first()
        if found is None:
            raise serializers.ValidationError(f"No account {value}.")
        return found


class StaffCodeBulkSerializer(StaffCodeLimitsSerializer):
    count = serializers.IntegerField(min_value=1, max_value=MAX_BULK_CODES)


class StaffCodeBulkResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    codes = StaffReferralCodeSerializer(many=True)


# Referrals.


class StaffReferralSerializer(serializers.ModelSerializer):
    program: serializers.SlugRelatedField[Program] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    first_order_amount = MoneyField("first_order_amount", allow_null=True)
    referred_revenue = MoneyField("referred_revenue")
    referrer = serializers.IntegerField(source="referrer_id", allow_null=True, read_only=True)
    referrer_member = serializers.IntegerField(
        source="referrer.member_id", allow_null=True, read_only=True, default=None
    )
    referrer_name = serializers.CharField(
        source="referrer.member.__str__", read_only=True, default=None, allow_null=True
    )
    referred = serializers.IntegerField(source="referred_id", read_only=True)
    referred_member = serializers.IntegerField(source="referred.member_id", read_only=True)
    referred_name = serializers.CharField(source="referred.member.__str__", read_only=True)
    code: serializers.SlugRelatedField[ReferralCode] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True, read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id",
            "program",
            "referrer",
            "referrer_member",
            "referrer_name",
            "referred",
            "referred_member",
            "referred_name",
            "code",
            "campaign",
            "status",
            "fraud_status",
            "fraud_score",
            "review_deadline",
            "attached_at",
            "expires_at",
            "activated_at",
            "converted_at",
            "first_order_id",
            "first_order_amount",
            "referred_revenue",
        ]
        read_only_fields = fields


class StaffNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class StaffReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


# Grants.


class StaffProgramChoiceSerializer(serializers.Serializer):
    program = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Program.objects.all(),
        required=False,
        allow_null=True,
        help_text="The program's slug (the default program when left out).",
    )


class StaffGrantCreateSerializer(StaffProgramChoiceSerializer):
    """A reward granted by hand: what :func:`services.rewards.grant_reward` takes."""

    kind = serializers.ChoiceField(choices=MANUAL_REWARD_KINDS)
    value = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        min_value=0,
        help_text=(
            "Whole points; an amount of the program currency; or a percentage (percent "
            "voucher). For free item and free period vouchers the largest discount."
        ),
    )
    reason = serializers.CharField(max_length=255)
    description = serializers.CharField(
        max_length=255, required=False, default="", allow_blank=True
    )
    hold_days = serializers.IntegerField(min_value=0, max_value=MAX_DAYS, default=0)
    voucher_valid_days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, required=False, allow_null=True, default=None
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == RewardKind.POINTS and attrs["value"] != attrs["value"].to_integral():
            raise serializers.ValidationError({"value": "Points are whole numbers."})
        return attrs


class StaffRevokeSerializer(serializers.Serializer):
    grant = serializers.IntegerField(help_text="The id of the member's reward grant.")
    reason = serializers.CharField(max_length=255)


# What a reward grant, a redemption or a payout shows of its account: the program's
# slug, the account and its member. (A comment, not a docstring: the schema would give
# it to each of them as their description.)
class StaffAccountObjectSerializer(serializers.ModelSerializer):
    program: serializers.SlugRelatedField[Program] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    account = serializers.IntegerField(source="account_id", read_only=True)
    member = serializers.IntegerField(source="account.member_id", read_only=True)


class StaffGrantSerializer(StaffAccountObjectSerializer):
    rule = serializers.IntegerField(source="rule_id", allow_null=True, read_only=True)
    referral = serializers.IntegerField(source="referral_id", allow_null=True, read_only=True)
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True, read_only=True)
    revoked_by = serializers.IntegerField(source="revoked_by_id", allow_null=True, read_only=True)

    class Meta:
        model = RewardGrant
        fields = [
            "id",
            "program",
            "account",
            "member",
            "rule",
            "referral",
            "source",
            "kind",
            "value",
            "reversed_value",
            "status",
            "release_at",
            "resolved_at",
            "reason",
            "description",
            "voucher_valid_days",
            "created_by",
            "created_at",
            "revoked_by",
            "revoke_reason",
        ]
        read_only_fields = fields


# Redemptions.


class StaffReferenceSerializer(serializers.Serializer):
    """A host object as a ``(type, id)`` pair: ``{"type": "repair", "id": "123"}``."""

    type = serializers.CharField(max_length=100)
    id = serializers.CharField(max_length=100)


class StaffRedemptionSerializer(StaffAccountObjectSerializer):
    member_name = serializers.CharField(source="account.member.__str__", read_only=True)
    option = serializers.IntegerField(source="option_id", read_only=True)
    option_name = serializers.CharField(source="option.name", read_only=True)
    assigned_to = serializers.IntegerField(source="assigned_to_id", allow_null=True, read_only=True)
    processed_by = serializers.IntegerField(
        source="processed_by_id", allow_null=True, read_only=True
    )
    fulfilled_by = serializers.IntegerField(
        source="fulfilled_by_id", allow_null=True, read_only=True
    )
    voucher = serializers.IntegerField(source="voucher_id", allow_null=True, read_only=True)
    applied_to = serializers.SerializerMethodField()

    class Meta:
        model = Redemption
        fields = [
            "id",
            "program",
            "account",
            "member",
            "member_name",
            "option",
            "option_name",
            "points",
            "status",
            "requested_at",
            "processed_by",
            "processed_at",
            "reason",
            "assigned_to",
            "assigned_at",
            "fulfilled_by",
            "fulfilled_at",
            "notes",
            "applied_to",
            "voucher",
        ]
        read_only_fields = fields

    @extend_schema_field(StaffReferenceSerializer(allow_null=True))
    def get_applied_to(self, obj: Redemption) -> dict[str, str] | None:
        if not obj.applied_to_type and not obj.applied_to_id:
            return None
        return {"type": obj.applied_to_type, "id": obj.applied_to_id}


class StaffAssignSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model()._default_manager.all(),
        allow_null=True,
        help_text="The staff user's id; null lets the configured assigner choose.",
    )


class StaffFulfilSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    applied_to = StaffReferenceSerializer(required=False, allow_null=True, default=None)


# Payouts.


class StaffPayoutSerializer(StaffAccountObjectSerializer):
    amount = MoneyField("amount")
    member_name = serializers.CharField(source="account.member.__str__", read_only=True)
    approved_by = serializers.IntegerField(source="approved_by_id", allow_null=True, read_only=True)
    paid_by = serializers.IntegerField(source="paid_by_id", allow_null=True, read_only=True)

    class Meta:
        model = Payout
        fields = [
            "id",
            "program",
            "account",
            "member",
            "member_name",
            "amount",
            "method",
            "destination",
            "status",
            "requested_at",
            "approved_by",
            "approved_at",
            "paid_by",
            "paid_at",
            "external_reference",
            "cancelled_at",
            "reason",
            "notes",
        ]
        read_only_fields = fields


class StaffMarkPaidSerializer(serializers.Serializer):
    external_reference = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class StaffOptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


# Analytics.


class StaffUnitTotalsSerializer(serializers.Serializer):
    """One unit's ledger totals (points as integers, money as decimal strings):
    ``issued`` earned, ``spent``, ``expired``, ``paid_out`` (positive numbers),
    ``reversed`` and ``adjusted`` (signed), ``outstanding`` the sum of the balances."""

    issued = serializers.CharField()
    spent = serializers.CharField()
    expired = serializers.CharField()
    paid_out = serializers.CharField()
    reversed = serializers.CharField()
    adjusted = serializers.CharField()
    outstanding = serializers.CharField()


class StaffPointsTotalsSerializer(StaffUnitTotalsSerializer):
    issued = serializers.IntegerField()  # type: ignore[assignment]
    spent = serializers.IntegerField()  # type: ignore[assignment]
    expired = serializers.IntegerField()  # type: ignore[assignment]
    paid_out = serializers.IntegerField()  # type: ignore[assignment]
    reversed = serializers.IntegerField()  # type: ignore[assignment]
    adjusted = serializers.IntegerField()  # type: ignore[assignment]
    outstanding = serializers.IntegerField()  # type: ignore[assignment]


class StaffLedgerTotalsSerializer(serializers.Serializer):
    points = StaffPointsTotalsSerializer()
    credit = StaffUnitTotalsSerializer()
    commission = StaffUnitTotalsSerializer()


class StaffReferralCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    converted = serializers.IntegerField()
    expired = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    rejected = serializers.IntegerField()
    in_review = serializers.IntegerField()
    conversion_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text="Converted referrals as a percentage of all (null without any).",
    )


class StaffTopReferrerSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    account = serializers.IntegerField()
    member = serializers.IntegerField()
    name = serializers.CharField(help_text="The member's name (staff see every name).")
    leaderboard_name = serializers.CharField(help_text="The name members see, if opted in.")
    conversions = serializers.IntegerField()


class StaffTierCountSerializer(serializers.Serializer):
    tier = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)
    accounts = serializers.IntegerField()


class StaffAnalyticsSerializer(serializers.Serializer):
    program = serializers.CharField()
    currency = serializers.CharField()
    accounts = serializers.IntegerField()
    ledger = StaffLedgerTotalsSerializer()
    referrals = StaffReferralCountsSerializer()
    top_referrers = StaffTopReferrerSerializer(many=True)
    tiers = StaffTierCountSerializer(many=True)
