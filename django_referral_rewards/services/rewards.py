"""Reward grants: writing the policy's decisions, releasing them, taking them back.

A grant is ``held`` until its ``release_at``, then ``released``: points, credit and
commission become a ledger entry, vouchers are issued. Held points are shown on the
account as ``held_points`` (not spendable). A held grant may be ``voided``; a released
one ``reversed`` (wholly, or partly on a partial refund).

Every transition is a compare-and-set on the status (invariant 6) and every write is
keyed: a grant's ``idempotency_key`` is unique, and its ledger entry's key is derived
from the grant, so a release retried after a crash, or run by two workers, has one
effect (invariants 4, 9 and 12).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from .. import signals
from ..arguments import check_days
from ..conf import app_settings
from ..enums import (
    VOUCHER_REWARD_KINDS,
    Beneficiary,
    FraudStatus,
    GrantSource,
    GrantStatus,
    RewardKind,
    RewardTrigger,
    TierBasis,
    Unit,
    VoucherStatus,
)
from ..exceptions import InvalidAmount, InvalidArgument, InvalidTransition
from ..models import Account, Order, Referral, RewardGrant, RewardRule, Voucher
from ..money import as_decimal
from ..policies import (
    COMMISSION_KINDS,
    CommissionTerms,
    Grant,
    ProgramTerms,
    RewardContext,
    ledger_unit,
    make_key,
    value_error,
)
from ..signals import send_on_commit
from . import ledger, vouchers
from .sweeps import claim_batches
from .workflow import copy_into


def terms_of(program: Any) -> ProgramTerms:
    return ProgramTerms(
        currency=program.currency,
        decimal_places=program.currency_decimal_places,
        hold_days=program.hold_days,
    )


def candidate_rules(referral: Referral, triggers: Iterable[str]) -> list[RewardRule]:
    """Active rules of the referral's program (and its campaign) for ``triggers``."""
    campaign = Q(campaign__isnull=True)
    if referral.campaign_id is not None:
        campaign |= Q(campaign_id=referral.campaign_id)
    return list(
        RewardRule.objects.filter(
            campaign, program_id=referral.program_id, active=True, trigger__in=list(triggers)
        ).order_by("pk")
    )


def referrer_terms(
    referral: Referral, triggers: frozenset[str], rules: list[RewardRule]
) -> CommissionTerms | None:
    """The referrer's own commission terms, read only when they can matter: on a first
    order (they pay then) or when a referrer commission rule is in play (they replace
    it)."""
    if referral.referrer_id is None:
        return None
    if RewardTrigger.FIRST_ORDER not in triggers and not any(
        rule.beneficiary == Beneficiary.REFERRER and rule.kind in COMMISSION_KINDS for rule in rules
    ):
        return None
    known = getattr(referral, "referrer_commission_terms", None)
    kind, value = known or (
        Account.objects.filter(pk=referral.referrer_id)
        .values_list("commission_kind", "commission_value")
        .get()
    )
    if not kind or value is None:
        return None
    return CommissionTerms(kind=kind, value=value)


def decide_and_grant(
    referral: Referral,
    *,
    triggers: Iterable[str],
    source: str,
    occurred_at: datetime,
    order: Order | None = None,
    conversion_number: int | None = None,
) -> list[RewardGrant]:
    """Ask the policy what ``referral``'s event earns and write the grants (inside the
    caller's transaction). Returns the grants this call created."""
    triggers = frozenset(triggers)
    wanted = set(triggers) | ({"milestone"} if conversion_number else set())
    if not wanted:
        return []
    rules = candidate_rules(referral, wanted)
    own_terms = referrer_terms(referral, triggers, rules)
    if not rules and own_terms is None:
        return []
    context = RewardContext(
        triggers=triggers,
        terms=terms_of(referral.program),
        rules=rules,
        occurred_at=occurred_at,
        source=source,
        referral_id=referral.pk,
        referral_status=referral.status,
        campaign_id=referral.campaign_id,
        referrer_id=referral.referrer_id,
        referee_id=referral.referred_id,
        order_amount=order.amount if order is not None else None,
        conversion_number=conversion_number,
        referrer_commission=own_terms,
    )
    decisions = app_settings.reward_policy().decide(context)
    created = []
    for decision in decisions:
        grant = write_grant(decision, referral=referral, order=order, now=occurred_at)
        if grant is not None:
            created.append(grant)
    return created


def write_grant(
    decision: Grant,
    *,
    referral: Referral | None = None,
    order: Order | None = None,
    created_by: Any = None,
    now: datetime | None = None,
    evaluate_tier: bool = True,
) -> RewardGrant | None:
    """Write one decision as a held grant, and release it at once when it is due.
    Returns ``None`` when a grant with its idempotency key exists (already decided).
    ``evaluate_tier=False`` leaves the tier upgrade to the caller (the order path
    evaluates the customer once, after all its writes)."""
    now = now or timezone.now()
    account = Account.objects.select_related("program").get(pk=decision.account_id)
    try:
        with transaction.atomic():
            grant = RewardGrant.objects.create(
                program=account.program,
                account=account,
                rule=decision.rule,
                source=decision.source,
                referral=referral,
                order=order,
                trigger=decision.trigger,
                kind=decision.kind,
                value=decision.value,
                release_at=decision.release_at,
                idempotency_key=decision.idempotency_key,
                reason=decision.reason[:255],
                description=decision.description[:255],
                voucher_valid_days=decision.voucher_valid_days,
                explanation=decision.explanation,
                created_by=created_by,
                created_at=now,
            )
            if decision.kind == RewardKind.POINTS:
                Account.objects.filter(pk=account.pk).update(
                    held_points=F("held_points") + int(decision.value)
                )
    except IntegrityError:
        if RewardGrant.objects.filter(idempotency_key=decision.idempotency_key).exists():
            return None
        raise
    grant.account = account
    send_on_commit(signals.reward_granted, sender=RewardGrant, grant=grant, account=account)
    # Rewards of a referral in review wait for the decision, even when due.
    in_review = referral is not None and referral.fraud_status == FraudStatus.REVIEW
    if grant.release_at <= now and not in_review:
        release(grant, now=now, evaluate_tier=evaluate_tier)
    return grant


def _unhold(grant: RewardGrant, value: Decimal) -> None:
    """Take ``value`` of a held points grant off the account's ``held_points``."""
    if grant.kind == RewardKind.POINTS and value:
        Account.objects.filter(pk=grant.account_id).update(
            held_points=F("held_points") - int(value)
        )


def _minor(grant: RewardGrant, value: Decimal) -> int:
    if grant.kind == RewardKind.POINTS:
        return int(value)
    return grant.program.to_minor(value)


def _grant_reference(grant: RewardGrant) -> tuple[str, Any]:
    return ("grant", grant.pk)


def release(
    grant: RewardGrant, *, now: datetime | None = None, evaluate_tier: bool = True
) -> RewardGrant:
    """Release a held grant: write its ledger entry or issue its voucher. Releasing a
    grant that is already released returns it unchanged; a voided or reversed one
    raises :class:`InvalidTransition`, and so does one whose referral is in fraud
    review (it waits for the decision). Released points move the member up a
    points-based tier they now reach (unless ``evaluate_tier`` is false)."""
    now = now or timezone.now()
    with transaction.atomic():
        held = RewardGrant.objects.filter(pk=grant.pk, status=GrantStatus.HELD)
        if grant.referral_id is not None:
            held = held.exclude(referral__fraud_status=FraudStatus.REVIEW)
        won = held.update(status=GrantStatus.RELEASED, resolved_at=now)
        grant = RewardGrant.objects.select_related("program", "account").get(pk=grant.pk)
        if not won and grant.status == GrantStatus.HELD:
            raise InvalidTransition(
                gettext("This reward waits for the fraud review of its referral."),
                status=grant.status,
            )
        if not won:
            if grant.status == GrantStatus.RELEASED:
                return grant
            raise InvalidTransition(
                f"A {grant.get_status_display().lower()} reward cannot be released.",
                status=grant.status,
            )
        remaining = grant.value - grant.reversed_value
        entry = voucher = None
        unit = ledger_unit(grant.kind)
        _unhold(grant, remaining)
        if unit is not None and remaining > 0:
            expires_at = None
            if unit == Unit.POINTS and grant.program.points_expiry_days:
                expires_at = now + timedelta(days=grant.program.points_expiry_days)
            entry = ledger.credit(
                grant.account,
                _minor(grant, remaining),
                unit=unit,
                reason=grant.reason,
                idempotency_key=f"grant:{grant.pk}:release",
                expires_at=expires_at,
                reference=_grant_reference(grant),
                created_by=grant.created_by,
                now=now,
            )
            RewardGrant.objects.filter(pk=grant.pk).update(entry=entry)
            grant.entry = entry
            if unit == Unit.POINTS and evaluate_tier:
                _promote(grant.account, now)
        elif unit is None and (remaining > 0 or grant.value == 0):
            voucher = vouchers.issue_voucher(
                grant.account,
                kind=VOUCHER_REWARD_KINDS[grant.kind],  # type: ignore[index]
                value=remaining,
                description=grant.description or grant.reason,
                valid_days=grant.voucher_valid_days,
                grant=grant,
                now=now,
            )
        send_on_commit(
            signals.reward_released,
            sender=RewardGrant,
            grant=grant,
            account=grant.account,
            entry=entry,
            voucher=voucher,
        )
    return grant


def _promote(account: Account, now: datetime) -> None:
    """Move the member up if released points took them over a points-based tier's
    threshold (downgrades wait for re-evaluation)."""
    from . import tiers

    program_tiers = tiers.program_tiers(account.program_id)
    if any(tier.active and tier.basis == TierBasis.POINTS for tier in program_tiers):
        tiers.evaluate_locked(
            tiers.lock_account(account),
            tiers=program_tiers,
            grace_days=account.program.tier_grace_days,
            now=now,
        )


@dataclasses.dataclass(frozen=True)
class ReleaseSweepResult:
    released: int
    batches: int


def release_due(
    *, now: datetime | None = None, batch_size: int | None = None
) -> ReleaseSweepResult:
    """Release every held grant whose ``release_at`` has passed (except those of
    referrals in review). Batched; with ``SKIP LOCKED`` where the database has it, so
    several workers can run it at once; running it twice has no second effect."""
    now = now or timezone.now()
    batch_size = batch_size or app_settings.SWEEP_BATCH_SIZE
    released = batches = 0
    due = RewardGrant.objects.filter(status=GrantStatus.HELD, release_at__lte=now).exclude(
        referral__fraud_status=FraudStatus.REVIEW
    )
    for batch in claim_batches(due, batch_size):
        batches += 1
        for grant in batch:
            release(grant, now=now)
            released += 1
    return ReleaseSweepResult(released=released, batches=batches)


def void(
    grant: RewardGrant, *, reason: str, revoked_by: Any = None, now: datetime | None = None
) -> bool:
    """Void a held grant (nothing was paid out); ``grant`` is refreshed. Returns
    ``False`` when it is no longer held (released, or voided already)."""
    now = now or timezone.now()
    with transaction.atomic():
        won = RewardGrant.objects.filter(pk=grant.pk, status=GrantStatus.HELD).update(
            status=GrantStatus.VOIDED,
            resolved_at=now,
            revoked_by=revoked_by,
            revoke_reason=reason[:255],
        )
        if not won:
            return False
        copy_into(RewardGrant.objects.select_related("account").get(pk=grant.pk), grant)
        remaining = grant.value - grant.reversed_value
        _unhold(grant, remaining)
        send_on_commit(
            signals.reward_reversed,
            sender=RewardGrant,
            grant=grant,
            account=grant.account,
            value=remaining,
            reason=reason,
        )
    return True


def reverse(
    grant: RewardGrant,
    *,
    reason: str,
    value: Decimal | None = None,
    revoked_by: Any = None,
    now: datetime | None = None,
) -> Decimal:
    """Take back ``value`` (default: all that is left) of a grant. A held grant keeps
    its status and is released later for less; a released one gets a reversing ledger
    entry (points may go negative: a clawback) and becomes ``reversed`` when nothing is
    left. An unused voucher is voided; a voucher already used cannot be taken back and
    ``0`` is returned for it. Returns the value taken back."""
    now = now or timezone.now()
    with transaction.atomic():
        grant = RewardGrant.objects.select_for_update().get(pk=grant.pk)
        grant = RewardGrant.objects.select_related("program", "account", "entry").get(pk=grant.pk)
        if grant.status in (GrantStatus.VOIDED, GrantStatus.REVERSED):
            return Decimal(0)
        remaining = grant.value - grant.reversed_value
        take = remaining if value is None else min(Decimal(value), remaining)
        if take < 0:
            raise InvalidAmount("The value to take back cannot be negative.", value=value)
        if grant.status == GrantStatus.HELD:
            if take == remaining:
                void(grant, reason=reason, revoked_by=revoked_by, now=now)
                return take
            _record_reversal(grant, take, reason, revoked_by, now, final=False)
            _unhold(grant, take)
            return take
        unit = ledger_unit(grant.kind)
        if unit is None:
            # A voucher is taken back whole, by voiding it, or not at all (once used).
            voucher = Voucher.objects.filter(grant=grant).first()
            if voucher is None:
                return Decimal(0)
            if not vouchers.void_voucher(voucher) and voucher.status != VoucherStatus.VOID:
                return Decimal(0)  # applied to an order: used, not taken back
            _record_reversal(grant, remaining, reason, revoked_by, now, final=True)
            return remaining
        elif take > 0 and grant.entry is not None:
            # Reverse what the ledger still allows (expired points are gone already);
            # for the whole remainder all of it, so rounding of earlier partial
            # reversals never leaves a stray unit behind.
            cap = ledger.reversible_amount(grant.entry, now=now)
            amount = cap if take == remaining else min(_minor(grant, take), cap)
            if amount > 0:
                ledger.reverse(
                    grant.entry,
                    reason=reason,
                    amount=amount,
                    created_by=revoked_by,
                    idempotency_key=f"grant:{grant.pk}:reverse:{grant.reversed_value}",
                    now=now,
                )
        if take == 0:
            return take
        _record_reversal(grant, take, reason, revoked_by, now, final=take == remaining)
    return take


def _record_reversal(
    grant: RewardGrant,
    take: Decimal,
    reason: str,
    revoked_by: Any,
    now: datetime,
    *,
    final: bool,
) -> None:
    changes: dict[str, Any] = {"reversed_value": F("reversed_value") + take}
    if final:
        changes.update(
            status=GrantStatus.REVERSED,
            resolved_at=now,
            revoked_by=revoked_by,
            revoke_reason=reason[:255],
        )
    RewardGrant.objects.filter(pk=grant.pk).update(**changes)
    grant.refresh_from_db()
    send_on_commit(
        signals.reward_reversed,
        sender=RewardGrant,
        grant=grant,
        account=grant.account,
        value=take,
        reason=reason,
    )


def proportion(grant: RewardGrant, fraction: Decimal) -> Decimal:
    """The part of ``grant`` matching ``fraction`` of its order (a partial refund), in
    the grant's unit, rounded like the grant; never more than what is left."""
    remaining = grant.value - grant.reversed_value
    if ledger_unit(grant.kind) is None:
        return Decimal(0)  # a voucher is taken back whole (on a full refund) or not at all
    if grant.kind == RewardKind.POINTS:
        share = (grant.value * fraction).to_integral_value(rounding=ROUND_HALF_UP)
    else:
        share = (grant.value * fraction).quantize(
            Decimal(1).scaleb(-grant.program.currency_decimal_places), rounding=ROUND_HALF_UP
        )
    return min(share, remaining)


# --- granting and revoking by hand -------------------------------------------------


def grant_reward(
    account: Account,
    *,
    kind: str,
    value: Decimal | int | str,
    reason: str,
    created_by: Any = None,
    hold_days: int = 0,
    description: str = "",
    voucher_valid_days: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> RewardGrant:
    """Grant a reward by hand (staff goodwill, a correction). ``value`` is in the kind's
    unit (points, an amount, or a percentage for percent vouchers); the reason and the
    staff user are recorded. Released at once unless ``hold_days`` is set."""
    now = now or timezone.now()
    if kind not in RewardKind.values or kind == RewardKind.COMMISSION_PERCENT:
        raise InvalidArgument(
            f"Cannot grant {kind!r} by hand; use points, credit, commission_fixed or a voucher.",
            kind=kind,
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument("Give a reason for the reward.")
    value = as_decimal(value, "value")
    problem = value_error(kind, value, account.program)
    if problem:
        raise InvalidAmount(problem, value=value)
    hold_days = check_days(hold_days, "hold_days", minimum=0) or 0
    voucher_valid_days = check_days(voucher_valid_days, "voucher_valid_days", minimum=1)
    key = idempotency_key or make_key("manual", account.pk, now.isoformat(), kind, value, reason)
    decision = Grant(
        rule=None,
        account_id=account.pk,
        trigger="",
        kind=kind,
        value=value,
        release_at=now + timedelta(days=hold_days),
        idempotency_key=key,
        reason=reason.strip(),
        description=description,
        voucher_valid_days=voucher_valid_days,
        explanation={"manual": True, "granted_by": getattr(created_by, "pk", None)},
        source=GrantSource.MANUAL,
    )
    with transaction.atomic():
        grant = write_grant(decision, created_by=created_by, now=now)
    if grant is None:
        grant = RewardGrant.objects.get(idempotency_key=key)
        if grant.kind != kind or grant.value != value or grant.account_id != account.pk:
            from ..exceptions import IdempotencyConflict

            raise IdempotencyConflict(idempotency_key=key)
        return grant
    grant.refresh_from_db()
    return grant


def revoke(
    grant: RewardGrant, *, reason: str, revoked_by: Any = None, now: datetime | None = None
) -> RewardGrant:
    """Take a reward back by hand: void it if held, reverse what is left if released.
    The reason and the staff user are recorded. Raises :class:`InvalidTransition` for
    a reward already voided or reversed."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument("Give a reason for revoking the reward.")
    grant.refresh_from_db()
    if grant.status in (GrantStatus.VOIDED, GrantStatus.REVERSED):
        raise InvalidTransition(
            f"This reward is already {grant.get_status_display().lower()}.", status=grant.status
        )
    reason = reason.strip()
    if grant.status == GrantStatus.HELD:
        if not void(grant, reason=reason, revoked_by=revoked_by, now=now):
            return revoke(grant, reason=reason, revoked_by=revoked_by, now=now)
    else:
        reverse(grant, reason=reason, revoked_by=revoked_by, now=now)
        grant.refresh_from_db()
        if grant.status == GrantStatus.RELEASED:
            raise InvalidTransition(
                "This reward's voucher has been used and cannot be taken back.",
                status=grant.status,
            )
    grant.refresh_from_db()
    return grant


def grants_for_order(order: Order) -> list[RewardGrant]:
    return list(RewardGrant.objects.filter(order=order).select_related("program").order_by("pk"))
