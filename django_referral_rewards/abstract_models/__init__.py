"""Abstract bases of every model. ``models.py`` holds the concrete defaults.

``AbstractMember`` is the swappable base (``REFERRAL_REWARDS_MEMBER_MODEL``): it is a
leaf, with no foreign key into this app, so a host's own member model can subclass it
without depending on our migrations.
"""

from .api import AbstractIdempotencyRecord
from .base import currency_validator, money_field_kwargs
from .core import (
    AbstractAccount,
    AbstractEarnLot,
    AbstractLedgerEntry,
    AbstractMember,
    AbstractProgram,
)
from .fraud import AbstractFraudDecision, AbstractFraudSignal, AbstractTrace
from .loyalty import AbstractRedemption, AbstractRedemptionEvent, AbstractRewardOption, AbstractTier
from .payouts import AbstractPayout, AbstractPayoutEvent
from .professional import AbstractPartner, AbstractProfessionalReferral
from .referrals import (
    AbstractCampaign,
    AbstractCodeUse,
    AbstractOrder,
    AbstractOrderRefund,
    AbstractReferral,
    AbstractReferralCode,
    AbstractVisit,
)
from .rewards import AbstractRewardGrant, AbstractRewardRule, AbstractVoucher
from .webhooks import AbstractWebhookAttempt, AbstractWebhookDelivery, AbstractWebhookEndpoint

__all__ = [
    "AbstractAccount",
    "AbstractCampaign",
    "AbstractCodeUse",
    "AbstractEarnLot",
    "AbstractFraudDecision",
    "AbstractFraudSignal",
    "AbstractIdempotencyRecord",
    "AbstractLedgerEntry",
    "AbstractMember",
    "AbstractOrder",
    "AbstractOrderRefund",
    "AbstractPartner",
    "AbstractPayout",
    "AbstractPayoutEvent",
    "AbstractProfessionalReferral",
    "AbstractProgram",
    "AbstractRedemption",
    "AbstractRedemptionEvent",
    "AbstractReferral",
    "AbstractReferralCode",
    "AbstractRewardGrant",
    "AbstractRewardOption",
    "AbstractRewardRule",
    "AbstractTier",
    "AbstractTrace",
    "AbstractVisit",
    "AbstractVoucher",
    "AbstractWebhookAttempt",
    "AbstractWebhookDelivery",
    "AbstractWebhookEndpoint",
    "currency_validator",
    "money_field_kwargs",
]
