"""Reward policies: which rewards an event earns. Pure decisions, no database access.

The services gather everything a decision needs into a :class:`RewardContext` (the
event, the referral's standing, the order, the candidate rules) and ask the policy
configured in ``REFERRAL_REWARDS_REWARD_POLICY`` for a list of :class:`Grant` decisions.
The services then write them (``RewardGrant`` rows, idempotently) and release them when
their hold period ends.

Subclass :class:`DefaultRewardPolicy` to change a decision, e.g. cap commissions::

    class CappedPolicy(DefaultRewardPolicy):
        def value(self, rule, context):
            value = super().value(rule, context)
            if rule.kind == "commission_percent":
                value = min(value, Decimal("50.00"))
            return value
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from .enums import (
    LEDGER_REWARD_UNITS,
    Beneficiary,
    CommissionKind,
    GrantSource,
    ReferralStatus,
    RewardKind,
    RewardTrigger,
)

if TYPE_CHECKING:
    from .abstract_models import AbstractRewardRule
    from .models import RewardRule

#: Kinds whose value is a percentage.
PERCENT_KINDS = frozenset({RewardKind.COMMISSION_PERCENT, RewardKind.VOUCHER_PERCENT})
#: Kinds whose value is an amount of the program currency.
MONEY_KINDS = frozenset(
    {
        RewardKind.CREDIT,
        RewardKind.COMMISSION_FIXED,
        RewardKind.VOUCHER_FIXED,
        RewardKind.FREE_ITEM,
        RewardKind.FREE_PERIOD,
    }
)
#: Kinds that may have a value of 0 (free item/period vouchers without a cap).
ZERO_ALLOWED = frozenset({RewardKind.FREE_ITEM, RewardKind.FREE_PERIOD})
#: Triggers that carry an order.
ORDER_TRIGGERS = frozenset({RewardTrigger.FIRST_ORDER, RewardTrigger.EVERY_ORDER})
#: Kinds that pay commission.
COMMISSION_KINDS = frozenset({RewardKind.COMMISSION_FIXED, RewardKind.COMMISSION_PERCENT})
#: Referral states in which rewards are still earned.
EARNING_STATES = frozenset({ReferralStatus.PENDING, ReferralStatus.CONVERTED})
MAX_KEY = 200
#: The longest hold, validity or window in days (ten years): day counts become dates.
MAX_DAYS = 3650


@dataclasses.dataclass(frozen=True)
class ProgramTerms:
    """What a decision needs to know about the program."""

    currency: str
    decimal_places: int
    hold_days: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimal_places)


@dataclasses.dataclass(frozen=True)
class CommissionTerms:
    """A referrer's own commission terms (``Account.commission_kind`` and
    ``commission_value``): ``commission_percent`` of the first order, or a
    ``commission_fixed`` amount per converted customer."""

    kind: str
    value: Decimal


@dataclasses.dataclass(frozen=True)
class RewardContext:
    """One event, as the policy sees it.

    ``triggers`` are the rule triggers this event fires (``signup``, ``activation``,
    ``first_order``, ``every_order``); ``conversion_number`` is set when the event
    converted the referral: it is the referrer's nth conversion, and fires milestone
    rules. ``source`` names the event for idempotency keys (``"signup"``,
    ``"order:<id>"``, ...).
    """

    triggers: frozenset[str]
    terms: ProgramTerms
    rules: Sequence[RewardRule]
    occurred_at: datetime
    source: str
    referral_id: int
    referral_status: str
    campaign_id: int | None
    referrer_id: int | None
    referee_id: int
    order_amount: Decimal | None = None
    conversion_number: int | None = None
    #: The referrer's own commission terms, when they have them; they replace the
    #: program's commission rules for this referrer.
    referrer_commission: CommissionTerms | None = None


@dataclasses.dataclass(frozen=True)
class Grant:
    """One decided reward, not yet written."""

    rule: RewardRule | None
    account_id: int
    trigger: str
    kind: str
    value: Decimal
    release_at: datetime
    idempotency_key: str
    reason: str
    description: str = ""
    voucher_valid_days: int | None = None
    explanation: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = "rule"


def make_key(*parts: Any) -> str:
    """An idempotency key from ``parts``; hashed when it would pass the column width."""
    key = ":".join(str(part) for part in parts)
    if len(key) <= MAX_KEY:
        return key
    return f"{key[:120]}~{hashlib.sha256(key.encode()).hexdigest()}"


def value_error(kind: str, value: Decimal, program: Any = None) -> str | None:
    """What is wrong with ``value`` for a reward of ``kind`` (``None`` when it is fine):
    the checks shared by reward rules, rewards granted by hand and the admin's forms.
    With ``program``, amounts are also checked against its currency's decimal places."""
    if value < 0 or (value == 0 and kind not in ZERO_ALLOWED):
        return _("The value must be more than zero.")
    if kind in PERCENT_KINDS and value > 100:
        return _("A percentage cannot exceed 100.")
    if kind == RewardKind.POINTS and value != value.to_integral_value():
        return _("Points are whole numbers.")
    if kind in MONEY_KINDS and program is not None:
        places = program.currency_decimal_places
        if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
            return _("%(currency)s amounts have at most %(places)d decimal places.") % {
                "currency": program.currency,
                "places": places,
            }
    return None


def commission_terms_errors(
    kind: str, value: Decimal | None, program: Any = None
) -> dict[str, str]:
    """What is wrong with a member's own commission terms, by field (empty when they
    are valid, or absent: no kind and no value)."""
    if not kind:
        if value is not None:
            return {"commission_kind": _("Choose the kind of commission, or clear the value.")}
        return {}
    if kind not in CommissionKind.values:
        return {"commission_kind": _("Choose a percentage or a fixed commission.")}
    if value is None:
        return {"commission_value": _("Enter the commission value.")}
    problem = value_error(kind, Decimal(value), program)
    return {"commission_value": problem} if problem else {}


def rule_errors(rule: AbstractRewardRule) -> dict[str, str]:
    """What is wrong with ``rule``, by field (empty when it is valid). Used by the
    model's ``clean()`` (admin and forms) and by the policy before deciding."""
    errors: dict[str, str] = {}
    milestone = rule.trigger == RewardTrigger.MILESTONE
    if milestone and not rule.nth:
        errors["nth"] = _("A milestone needs the conversion number that earns it.")
    if not milestone and rule.nth is not None:
        errors["nth"] = _("Only milestones have a conversion number.")
    if not milestone and rule.repeat:
        errors["repeat"] = _("Only milestones repeat.")
    if rule.value is None:
        errors["value"] = _("Enter a value.")
        return errors
    problem = value_error(
        rule.kind, rule.value, rule.program if rule.program_id is not None else None
    )
    if problem:
        errors["value"] = problem
    for name in ("hold_days", "voucher_valid_days"):
        days = getattr(rule, name)
        if days is not None and not 0 <= days <= MAX_DAYS:
            errors[name] = _("Use a number of days from 0 to %(max)d.") % {"max": MAX_DAYS}
    if rule.voucher_valid_days == 0:
        errors["voucher_valid_days"] = _("A voucher must be valid for at least a day.")
    if rule.kind == RewardKind.COMMISSION_PERCENT and rule.trigger in (
        RewardTrigger.SIGNUP,
        RewardTrigger.ACTIVATION,
    ):
        errors["kind"] = _("A percentage commission needs an order: use an order trigger.")
    if (
        rule.campaign_id is not None
        and rule.program_id is not None
        and rule.campaign is not None
        and rule.campaign.program_id != rule.program_id
    ):
        errors["campaign"] = _("This campaign belongs to another program.")
    return errors


class RewardPolicy:
    """Base class of reward policies (``REFERRAL_REWARDS_REWARD_POLICY``).

    ``decide`` must be pure: read the context, return decisions, write nothing.
    """

    def decide(self, context: RewardContext) -> list[Grant]:
        raise NotImplementedError("Reward policies implement decide(context).")


class DefaultRewardPolicy(RewardPolicy):
    """Turns reward rules into grants.

    * Only referrals that are pending or converted earn (not expired, cancelled,
      rejected or in review).
    * Rules on the referral's campaign replace the program's rules of the same trigger.
    * Milestone rules fire on the referrer's ``nth`` conversion (and, with ``repeat``, on
      every multiple of it).
    * Percentages of an order are rounded half up to the currency's minor unit; a
      reward that rounds to nothing is skipped.
    * Referrer rules are skipped for house codes (no referrer).
    """

    def decide(self, context: RewardContext) -> list[Grant]:
        if context.referral_status not in EARNING_STATES:
            return []
        grants = []
        for rule in self.applicable_rules(context):
            grant = self.grant_for(rule, context)
            if grant is not None:
                grants.append(grant)
        own = self.own_commission(context)
        if own is not None:
            grants.append(own)
        return grants

    def fired_triggers(self, context: RewardContext) -> set[str]:
        triggers = set(context.triggers)
        if context.conversion_number:
            triggers.add(RewardTrigger.MILESTONE)
        return triggers

    def applicable_rules(self, context: RewardContext) -> list[RewardRule]:
        triggers = self.fired_triggers(context)
        candidates = [rule for rule in context.rules if rule.active and rule.trigger in triggers]
        overridden = {
            rule.trigger
            for rule in candidates
            if rule.campaign_id is not None and rule.campaign_id == context.campaign_id
        }
        chosen = []
        for rule in candidates:
            if self.replaced_by_own_terms(rule, context):
                continue
            if rule.campaign_id is None:
                if rule.trigger in overridden:
                    continue
            elif rule.campaign_id != context.campaign_id:
                continue
            if rule.trigger == RewardTrigger.MILESTONE and not self.reaches_milestone(
                rule, context.conversion_number or 0
            ):
                continue
            chosen.append(rule)
        return chosen

    def reaches_milestone(self, rule: RewardRule, number: int) -> bool:
        nth = rule.nth or 0
        if nth < 1 or number < 1:
            return False
        return number % nth == 0 if rule.repeat else number == nth

    def beneficiary(self, rule: RewardRule, context: RewardContext) -> int | None:
        if rule.beneficiary == Beneficiary.REFERRER:
            return context.referrer_id
        return context.referee_id

    def replaced_by_own_terms(self, rule: RewardRule, context: RewardContext) -> bool:
        """Whether ``rule`` is a commission for a referrer who has their own terms."""
        terms = context.referrer_commission
        return (
            terms is not None
            and rule.beneficiary == Beneficiary.REFERRER
            and rule.kind in COMMISSION_KINDS
            # Defective terms (saved around ``clean()``) replace nothing.
            and not commission_terms_errors(terms.kind, terms.value)
        )

    def value(self, rule: RewardRule, context: RewardContext) -> Decimal:
        """The grant's value in its natural unit (points, currency amount, percent)."""
        return self.amount(rule.kind, Decimal(rule.value), context)

    def amount(self, kind: str, value: Decimal, context: RewardContext) -> Decimal:
        """``value`` of a reward of ``kind`` for this event, rounded: whole points, the
        currency's minor unit, or a percentage of the order for a percentage commission
        (nothing without an order)."""
        if kind == RewardKind.COMMISSION_PERCENT:
            if context.order_amount is None:
                return Decimal(0)
            value = context.order_amount * value / 100
        if kind == RewardKind.POINTS:
            return value.to_integral_value(rounding=ROUND_HALF_UP)
        if kind == RewardKind.VOUCHER_PERCENT:
            return value
        return value.quantize(context.terms.quantum, rounding=ROUND_HALF_UP)

    def own_commission(self, context: RewardContext) -> Grant | None:
        """The referrer's commission under their own terms: on the referred customer's
        first qualifying order, held for the program's hold days."""
        terms = context.referrer_commission
        if (
            terms is None
            or context.referrer_id is None
            or RewardTrigger.FIRST_ORDER not in context.triggers
            or commission_terms_errors(terms.kind, terms.value)
        ):
            return None
        value = self.amount(terms.kind, terms.value, context)
        if value <= 0:
            return None
        explanation: dict[str, Any] = {
            "commission_terms": terms.kind,
            "commission_value": str(terms.value),
            "trigger": RewardTrigger.FIRST_ORDER,
            "event": context.source,
            "beneficiary": Beneficiary.REFERRER,
        }
        if context.order_amount is not None:
            explanation["order_amount"] = str(context.order_amount)
        return Grant(
            rule=None,
            account_id=context.referrer_id,
            trigger=RewardTrigger.FIRST_ORDER,
            kind=terms.kind,
            value=value,
            release_at=context.occurred_at + timedelta(days=min(context.terms.hold_days, MAX_DAYS)),
            idempotency_key=make_key(
                "commission-terms", context.referral_id, RewardTrigger.FIRST_ORDER, context.source
            ),
            reason=_("Commission for a referred customer's first order"),
            explanation=explanation,
            source=GrantSource.COMMISSION_TERMS,
        )

    def hold_days(self, rule: RewardRule, context: RewardContext) -> int:
        days = rule.hold_days if rule.hold_days is not None else context.terms.hold_days
        return min(days, MAX_DAYS)

    def grant_for(self, rule: RewardRule, context: RewardContext) -> Grant | None:
        if rule_errors_without_db(rule):
            return None
        account_id = self.beneficiary(rule, context)
        if account_id is None:
            return None
        value = self.value(rule, context)
        if value <= 0 and rule.kind not in ZERO_ALLOWED:
            return None
        trigger = rule.trigger
        if trigger == RewardTrigger.MILESTONE:
            key = make_key(
                "rule", rule.pk, "milestone", context.conversion_number, context.referral_id
            )
            key = make_key(key, context.source)
        else:
            key = make_key("rule", rule.pk, trigger, context.referral_id)
            if trigger in ORDER_TRIGGERS:
                key = make_key(key, context.source)
        explanation: dict[str, Any] = {
            "rule": rule.pk,
            "rule_name": rule.name,
            "trigger": trigger,
            "event": context.source,
            "beneficiary": rule.beneficiary,
            "rule_value": str(rule.value),
        }
        if context.order_amount is not None:
            explanation["order_amount"] = str(context.order_amount)
        if trigger == RewardTrigger.MILESTONE:
            explanation["conversion_number"] = context.conversion_number
        if rule.campaign_id is not None:
            explanation["campaign"] = rule.campaign_id
        return Grant(
            rule=rule,
            account_id=account_id,
            trigger=trigger,
            kind=rule.kind,
            value=value,
            release_at=context.occurred_at + timedelta(days=self.hold_days(rule, context)),
            idempotency_key=key,
            reason=rule.name,
            description=rule.description,
            voucher_valid_days=rule.voucher_valid_days,
            explanation=explanation,
        )


def rule_errors_without_db(rule: RewardRule) -> bool:
    """Whether ``rule`` has a defect the policy must not act on (checks that need no
    database: a rule saved around ``clean()``, e.g. through a bulk import)."""
    milestone = rule.trigger == RewardTrigger.MILESTONE
    if milestone != bool(rule.nth):
        return True
    value = rule.value
    if value is None or value < 0 or (rule.kind in PERCENT_KINDS and value > 100):
        return True
    if any(
        days is not None and not 0 <= days <= MAX_DAYS
        for days in (rule.hold_days, rule.voucher_valid_days)
    ):
        return True
    return rule.kind == RewardKind.COMMISSION_PERCENT and rule.trigger in (
        RewardTrigger.SIGNUP,
        RewardTrigger.ACTIVATION,
    )


def ledger_unit(kind: str) -> str | None:
    """The ledger unit a released grant of ``kind`` writes to (None for vouchers)."""
    unit = LEDGER_REWARD_UNITS.get(kind)  # type: ignore[call-overload]
    return str(unit) if unit is not None else None


__all__ = [
    "CommissionTerms",
    "DefaultRewardPolicy",
    "Grant",
    "ProgramTerms",
    "RewardContext",
    "RewardPolicy",
    "commission_terms_errors",
    "ledger_unit",
    "make_key",
    "rule_errors",
    "value_error",
]
