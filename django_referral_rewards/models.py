"""Concrete models. Abstract bases (and their documentation) live in ``abstract_models``.

Package code never imports ``Member`` directly: use ``conf.get_member_model()``, because
a host may swap it (``REFERRAL_REWARDS_MEMBER_MODEL``).
"""

from __future__ import annotations

from .abstract_models import (
    AbstractAccount,
    AbstractCampaign,
    AbstractCodeUse,
    AbstractEarnLot,
    AbstractFraudDecision,
    AbstractFraudSignal,
    AbstractIdempotencyRecord,
    AbstractLedgerEntry,
    AbstractMember,
    AbstractOrder,
    AbstractOrderRefund,
    AbstractPartner,
    AbstractPayout,
    AbstractPayoutEvent,
    AbstractProfessionalReferral,
    AbstractProgram,
    AbstractRedemption,
    AbstractRedemptionEvent,
    AbstractReferral,
    AbstractReferralCode,
    AbstractRewardGrant,
    AbstractRewardOption,
    AbstractRewardRule,
    AbstractTier,
    AbstractTrace,
    AbstractVisit,
    AbstractVoucher,
    AbstractWebhookAttempt,
    AbstractWebhookDelivery,
    AbstractWebhookEndpoint,
)


class Program(AbstractProgram):
    class Meta(AbstractProgram.Meta):
        pass


class Member(AbstractMember):
    class Meta(AbstractMember.Meta):
        swappable = "REFERRAL_REWARDS_MEMBER_MODEL"


class Account(AbstractAccount):
    class Meta(AbstractAccount.Meta):
        pass


class LedgerEntry(AbstractLedgerEntry):
    class Meta(AbstractLedgerEntry.Meta):
        pass


class EarnLot(AbstractEarnLot):
    class Meta(AbstractEarnLot.Meta):
        pass


class Campaign(AbstractCampaign):
    class Meta(AbstractCampaign.Meta):
        pass


class ReferralCode(AbstractReferralCode):
    class Meta(AbstractReferralCode.Meta):
        pass


class CodeUse(AbstractCodeUse):
    class Meta(AbstractCodeUse.Meta):
        pass


class Visit(AbstractVisit):
    class Meta(AbstractVisit.Meta):
        pass


class Referral(AbstractReferral):
    class Meta(AbstractReferral.Meta):
        pass


class Order(AbstractOrder):
    class Meta(AbstractOrder.Meta):
        pass


class OrderRefund(AbstractOrderRefund):
    class Meta(AbstractOrderRefund.Meta):
        pass


class RewardRule(AbstractRewardRule):
    class Meta(AbstractRewardRule.Meta):
        pass


class RewardGrant(AbstractRewardGrant):
    class Meta(AbstractRewardGrant.Meta):
        pass


class Voucher(AbstractVoucher):
    class Meta(AbstractVoucher.Meta):
        pass


class Tier(AbstractTier):
    class Meta(AbstractTier.Meta):
        pass


class RewardOption(AbstractRewardOption):
    class Meta(AbstractRewardOption.Meta):
        pass


class Redemption(AbstractRedemption):
    class Meta(AbstractRedemption.Meta):
        pass


class RedemptionEvent(AbstractRedemptionEvent):
    class Meta(AbstractRedemptionEvent.Meta):
        pass


class Payout(AbstractPayout):
    class Meta(AbstractPayout.Meta):
        pass


class PayoutEvent(AbstractPayoutEvent):
    class Meta(AbstractPayoutEvent.Meta):
        pass


class Partner(AbstractPartner):
    class Meta(AbstractPartner.Meta):
        pass


class ProfessionalReferral(AbstractProfessionalReferral):
    class Meta(AbstractProfessionalReferral.Meta):
        pass


class FraudSignal(AbstractFraudSignal):
    class Meta(AbstractFraudSignal.Meta):
        pass


class FraudDecision(AbstractFraudDecision):
    class Meta(AbstractFraudDecision.Meta):
        pass


class Trace(AbstractTrace):
    class Meta(AbstractTrace.Meta):
        pass


class IdempotencyRecord(AbstractIdempotencyRecord):
    class Meta(AbstractIdempotencyRecord.Meta):
        pass


class WebhookEndpoint(AbstractWebhookEndpoint):
    class Meta(AbstractWebhookEndpoint.Meta):
        pass


class WebhookDelivery(AbstractWebhookDelivery):
    class Meta(AbstractWebhookDelivery.Meta):
        pass


class WebhookAttempt(AbstractWebhookAttempt):
    class Meta(AbstractWebhookAttempt.Meta):
        pass


__all__ = [
    "Account",
    "Campaign",
    "CodeUse",
    "EarnLot",
    "FraudDecision",
    "FraudSignal",
    "IdempotencyRecord",
    "LedgerEntry",
    "Member",
    "Order",
    "OrderRefund",
    "Partner",
    "Payout",
    "PayoutEvent",
    "ProfessionalReferral",
    "Program",
    "Redemption",
    "RedemptionEvent",
    "Referral",
    "ReferralCode",
    "RewardGrant",
    "RewardOption",
    "RewardRule",
    "Tier",
    "Trace",
    "Visit",
    "Voucher",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
