"""Orders: ``order_completed`` and ``order_refunded``.

Each completed order is recorded once (a unique constraint on program and order id), so
a retried event, or two workers racing, has one effect (invariant 4); the same order id
with another amount or customer raises :class:`IdempotencyConflict`. All events of one
referred customer take the lock on their referral row, so they apply one at a time.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from ..arguments import check_order_id
from ..enums import (
    ConversionEvent,
    GrantSource,
    GrantStatus,
    PointsRounding,
    ReferralStatus,
    RewardKind,
    RewardTrigger,
)
from ..exceptions import IdempotencyConflict, InvalidAmount, InvalidArgument, OrderNotFound
from ..hashing import keyed_hash
from ..models import Account, Order, OrderRefund, Program, Referral, RewardGrant, Tier
from ..money import as_decimal
from ..policies import Grant, make_key
from . import fraud, referrals, rewards, tiers, vouchers
from .accounts import get_or_create_account


@dataclasses.dataclass(frozen=True)
class OrderOutcome:
    """What ``order_completed`` did. ``created`` is false for a replayed event (the
    outcome then describes the first processing). ``referral`` is the referral the
    order counted for (``None`` when the customer was not referred, the order did not
    qualify, or the referral no longer earns). ``points_earned`` are the customer's
    loyalty points for the order (``points_grant``, held for the program's hold days);
    referral rewards are in ``grants``. ``tier_change`` is the move up this order
    earned (``None``: none, or a replay)."""

    order: Order
    created: bool
    referral: Referral | None
    converted: bool
    grants: list[RewardGrant]
    points_earned: int = 0
    points_grant: RewardGrant | None = None
    tier_change: tiers.TierChange | None = None


@dataclasses.dataclass(frozen=True)
class RefundOutcome:
    """What ``order_refunded`` did. ``amount`` is what this event refunded (0 for a
    replay); ``unconverted`` says whether the referral went back to pending."""

    order: Order
    created: bool
    amount: Decimal
    voided: list[RewardGrant]
    reversed: list[RewardGrant]
    vouchers_released: int
    unconverted: bool


def _amount(value: Any, program: Program, name: str = "amount") -> Decimal:
    amount = as_decimal(value, name)
    if amount < 0:
        raise InvalidAmount(f"The {name} cannot be negative.", **{name: value})
    program.to_minor(amount)  # refuses more decimals than the currency has
    return amount


def _currency(currency: Any, program: Program) -> str:
    if currency is None:
        return program.currency
    if not isinstance(currency, str) or currency.upper() != program.currency:
        raise InvalidArgument(
            f"The {program} program counts in {program.currency}, not {currency!r}; "
            "convert the amount first.",
            currency=currency,
        )
    return program.currency


def _replay(order: Order, account: Account, amount: Decimal) -> OrderOutcome:
    if order.account_id != account.pk or order.amount != amount:
        raise IdempotencyConflict(
            f"Order {order.order_id} was recorded for another customer or amount "
            f"({order.amount}); an order id is processed once.",
            order_id=order.order_id,
        )
    grants = rewards.grants_for_order(order)
    earned = next((g for g in grants if g.source == GrantSource.PURCHASE), None)
    return OrderOutcome(
        order=order,
        created=False,
        referral=order.referral,
        converted=order.converted_referral,
        grants=[g for g in grants if g is not earned],
        points_earned=int(earned.value) if earned is not None else 0,
        points_grant=earned,
    )


def order_completed(
    user: Any,
    order_id: Any,
    amount: Any,
    *,
    currency: str | None = None,
    program: Program | str | None = None,
    occurred_at: datetime | None = None,
    payment_fingerprint: str | None = None,
) -> OrderOutcome:
    """Record a completed order of ``user`` and apply what it earns: the referral's
    conversion (first qualifying order, if that is the program's conversion event),
    ``first_order``, ``every_order`` and milestone rewards.

    An order qualifies when its amount is at least the program's minimum order amount.
    A qualifying order adds to the customer's qualifying spend, earns loyalty points at
    the multiplier of the tier held before it, and may move the customer up a tier
    (:func:`~django_referral_rewards.services.tiers.evaluate`, in the same
    transaction). Idempotent per ``order_id`` (per program).
    """
    program_obj = Program.objects.resolve(program)
    order_id = check_order_id(order_id)
    amount = _amount(amount, program_obj)
    currency = _currency(currency, program_obj)
    now = occurred_at or timezone.now()
    account = get_or_create_account(user, program=program_obj)
    recorded, tiered = _recorded_order(program_obj, order_id)
    if recorded is not None:
        return _replay(Order.objects.get(pk=recorded), account, amount)
    qualifying = amount > 0 and amount >= program_obj.minimum_order_amount
    payment_hash = keyed_hash(str(payment_fingerprint or ""), purpose="payment")
    try:
        with transaction.atomic():
            referral = referrals.locked_referral(account)
            locked = program_tiers = None
            if tiered and qualifying:
                # Lock the account first so the tier read (its multiplier) is the one
                # this order's evaluation starts from, whatever runs concurrently.
                locked = tiers.lock_account(account)
                program_tiers = tiers.program_tiers(program_obj)
            counts_for, converts = _referral_terms(referral if qualifying else None, now)
            if counts_for is not None and not fraud.screen_order(
                counts_for,
                customer=account,
                user=user,
                order_id=order_id,
                payment_hash=payment_hash,
                now=now,
            ):
                counts_for, converts = None, False  # the checks blocked the referral
            order = Order.objects.create(
                program=program_obj,
                account=account,
                order_id=order_id,
                amount=amount,
                currency=currency,
                qualifying=qualifying,
                referral=counts_for,
                converted_referral=converts,
                payment_fingerprint_hash=payment_hash,
                occurred_at=now,
            )
            grants: list[RewardGrant] = []
            earned = change = None
            if qualifying:
                Account.objects.filter(pk=account.pk).update(
                    qualifying_spend=F("qualifying_spend") + amount
                )
                earned = _earn_points(order, now, tier=_tier_of(locked, program_tiers))
            if counts_for is not None:
                grants = _apply_to_referral(counts_for, order, now)
            if locked is not None and program_tiers is not None:
                locked.qualifying_spend += amount
                change = tiers.evaluate_locked(
                    locked,
                    tiers=program_tiers,
                    grace_days=program_obj.tier_grace_days,
                    now=now,
                )
    except IntegrityError:
        # Another worker recorded this order first.
        return _replay(Order.objects.get(program=program_obj, order_id=order_id), account, amount)
    return OrderOutcome(
        order=order,
        created=True,
        referral=order.referral,
        converted=order.converted_referral,
        grants=grants,
        points_earned=int(earned.value) if earned is not None else 0,
        points_grant=earned,
        tier_change=change,
    )


def _recorded_order(program: Program, order_id: str) -> tuple[int | None, bool]:
    """One query: the primary key of the order already recorded as ``order_id`` (a
    replay), and whether the program has active tiers (so that programs without tiers
    pay nothing more for them)."""
    same_id = Order.objects.filter(program_id=OuterRef("pk"), order_id=order_id).order_by()
    recorded, tiered = (
        Program.objects.filter(pk=program.pk)
        .annotate(
            recorded=Subquery(same_id.values("pk")[:1]),
            tiered=Exists(Tier.objects.filter(program_id=OuterRef("pk"), active=True)),
        )
        .values_list("recorded", "tiered")
        .get()
    )
    return recorded, bool(tiered)


def _tier_of(locked: Account | None, program_tiers: list[Tier] | None) -> Tier | None:
    """The tier ``locked`` holds (``None`` without tiers)."""
    if locked is None or locked.tier_id is None or not program_tiers:
        return None
    return next((tier for tier in program_tiers if tier.pk == locked.tier_id), None)


def points_for(program: Program, amount: Decimal, multiplier: Decimal = Decimal(1)) -> int:
    """Loyalty points an order of ``amount`` earns in ``program``: amount times the
    program's points per currency unit times ``multiplier`` (the member's tier), rounded
    by the program's rounding rule."""
    rounding = {
        PointsRounding.DOWN: ROUND_DOWN,
        PointsRounding.HALF_UP: ROUND_HALF_UP,
        PointsRounding.UP: ROUND_UP,
    }[program.points_rounding]  # type: ignore[index]
    points = amount * program.points_per_unit * multiplier
    return int(points.to_integral_value(rounding=rounding))


def _earn_points(order: Order, now: datetime, *, tier: Tier | None = None) -> RewardGrant | None:
    """Grant the order's loyalty points, at the multiplier of ``tier`` (held before the
    order), held for the program's hold days (the return window); a refund takes them
    back in proportion like any reward of the order."""
    program = order.program
    multiplier = tier.multiplier if tier is not None else Decimal(1)
    points = points_for(program, order.amount, multiplier)
    if points <= 0:
        return None
    decision = Grant(
        rule=None,
        account_id=order.account_id,
        trigger="",
        kind=RewardKind.POINTS,
        value=Decimal(points),
        release_at=now + timedelta(days=program.hold_days),
        idempotency_key=make_key("purchase", program.pk, order.order_id),
        reason=f"Order {order.order_id}",
        explanation={
            "order_amount": str(order.amount),
            "points_per_unit": str(program.points_per_unit),
            "rounding": program.points_rounding,
            "tier": tier.name if tier is not None else None,
            "multiplier": str(multiplier),
        },
        source=GrantSource.PURCHASE,
    )
    return rewards.write_grant(decision, order=order, now=now, evaluate_tier=False)


def _referral_terms(referral: Referral | None, now: datetime) -> tuple[Referral | None, bool]:
    """Whether a qualifying order of the customer of the (locked) ``referral`` counts
    for it (revenue, conversion, rewards; a refund takes back only from orders linked to
    it): the referral, or ``None`` when it no longer earns (it expires here if it is
    past its window). And whether the order converts it (its first order, when that is
    the program's conversion event). Decided before the order is written, so the order
    row is written once."""
    if referral is None:
        return None, False
    if referrals.expire_if_due(referral, now) or referral.status not in (
        ReferralStatus.PENDING,
        ReferralStatus.CONVERTED,
    ):
        return None, False
    converts = (
        not referral.first_order_id
        and referral.status == ReferralStatus.PENDING
        and referral.program.conversion_event == ConversionEvent.FIRST_ORDER
    )
    return referral, converts


def _apply_to_referral(referral: Referral, order: Order, now: datetime) -> list[RewardGrant]:
    """Count ``order`` (linked to ``referral`` already) for the referral: revenue, the
    conversion it makes, and the rewards it earns."""
    first = not referral.first_order_id
    changes: dict[str, Any] = {"referred_revenue": referral.referred_revenue + order.amount}
    if first:
        changes.update(first_order_id=order.order_id, first_order_amount=order.amount)
    Referral.objects.filter(pk=referral.pk).update(**changes)
    for field, value in changes.items():
        setattr(referral, field, value)
    number = referrals.convert(referral, now=now) if order.converted_referral else None
    triggers = {RewardTrigger.EVERY_ORDER}
    if first:
        triggers.add(RewardTrigger.FIRST_ORDER)
    grants = rewards.decide_and_grant(
        referral,
        triggers=triggers,
        source=f"order:{order.order_id}",
        occurred_at=now,
        order=order,
        conversion_number=number,
    )
    return grants


def order_refunded(
    user: Any,
    order_id: Any,
    amount: Any = None,
    *,
    program: Program | str | None = None,
    refund_id: str | None = None,
    occurred_at: datetime | None = None,
) -> RefundOutcome:
    """Record a refund of ``amount`` (``None``: everything not yet refunded) of the
    order ``order_id`` and take back what the order earned: held rewards shrink in
    proportion (and are voided on a full refund), released ones are reversed in
    proportion (points may go negative: a clawback); vouchers applied to the order are
    released on a full refund; a referral converted by this order, when it is fully
    refunded, goes back to pending.

    Idempotent per ``refund_id``; without one, per amount (two partial refunds of the
    same amount need distinct ``refund_id`` values).
    """
    program_obj = Program.objects.resolve(program)
    order_id = check_order_id(order_id)
    now = occurred_at or timezone.now()
    account = get_or_create_account(user, program=program_obj)
    if refund_id is not None and (not isinstance(refund_id, str) or not 0 < len(refund_id) <= 100):
        raise InvalidArgument("refund_id must be a string of 1 to 100 characters.")
    requested = None if amount is None else _amount(amount, program_obj)
    if requested is not None and requested == 0:
        raise InvalidAmount("A refund must be more than zero.", amount=amount)
    key = refund_id or ("full" if requested is None else f"amount:{requested.normalize()}")
    with transaction.atomic():
        referral = referrals.locked_referral(account)
        order = Order.objects.select_for_update().filter(program=program_obj, order_id=order_id)
        found = order.first()
        if found is None:
            raise OrderNotFound(f"No completed order {order_id!r} in {program_obj}.")
        order_obj: Order = found
        if order_obj.account_id != account.pk:
            raise IdempotencyConflict(
                f"Order {order_id} belongs to another customer.", order_id=order_id
            )
        previous = OrderRefund.objects.filter(order=order_obj, key=key).first()
        if previous is not None:
            if requested is not None and previous.amount != requested:
                raise IdempotencyConflict(
                    f"Refund {key} of order {order_id} was for {previous.amount}, not {requested}.",
                    order_id=order_id,
                )
            return _nothing(order_obj)
        left = order_obj.amount - order_obj.refunded_amount
        size = left if requested is None else requested
        if size > left:
            raise InvalidAmount(
                f"Only {left} of order {order_id} is left to refund, not {size}.",
                amount=size,
                refundable=left,
            )
        if size == 0:
            return _nothing(order_obj)
        OrderRefund.objects.create(order=order_obj, key=key, amount=size, created_at=now)
        Order.objects.filter(pk=order_obj.pk).update(
            refunded_amount=order_obj.refunded_amount + size
        )
        if order_obj.qualifying:
            # Spend counted toward tiers shrinks; the tier itself is kept until the
            # next re-evaluation (refunds never move a member down).
            Account.objects.filter(pk=account.pk).update(
                qualifying_spend=F("qualifying_spend") - size
            )
        order_obj.refunded_amount += size
        outcome = _take_back(order_obj, referral, size, now)
    return outcome


def _nothing(order: Order) -> RefundOutcome:
    return RefundOutcome(
        order=order,
        created=False,
        amount=Decimal(0),
        voided=[],
        reversed=[],
        vouchers_released=0,
        unconverted=False,
    )


def _take_back(
    order: Order, referral: Referral | None, size: Decimal, now: datetime
) -> RefundOutcome:
    full = order.fully_refunded
    fraction = size / order.amount if order.amount else Decimal(1)
    reason = f"Order {order.order_id} refunded"
    voided: list[RewardGrant] = []
    reversed_: list[RewardGrant] = []
    for grant in rewards.grants_for_order(order):
        if grant.status in (GrantStatus.VOIDED, GrantStatus.REVERSED):
            continue
        if grant.status == GrantStatus.HELD and full:
            if rewards.void(grant, reason=reason, now=now):
                voided.append(grant)
            continue
        before = (grant.status, grant.reversed_value)
        if full:
            rewards.reverse(grant, reason=reason, now=now)  # all that is left
        else:
            share = rewards.proportion(grant, fraction)
            if share > 0:
                rewards.reverse(grant, reason=reason, value=share, now=now)
        grant.refresh_from_db()
        if (grant.status, grant.reversed_value) != before:
            reversed_.append(grant)
    released = (
        vouchers.release_for_order(order.program, order.order_id, order.account) if full else 0
    )
    unconverted = False
    if referral is not None and order.referral_id == referral.pk:
        Referral.objects.filter(pk=referral.pk).update(
            referred_revenue=referral.referred_revenue - size
        )
        if full and order.converted_referral and not _other_qualifying_orders(order):
            unconverted = referrals.unconvert(referral)
    return RefundOutcome(
        order=order,
        created=True,
        amount=size,
        voided=voided,
        reversed=reversed_,
        vouchers_released=released,
        unconverted=unconverted,
    )


def _other_qualifying_orders(order: Order) -> bool:
    return (
        Order.objects.filter(
            account_id=order.account_id, program_id=order.program_id, qualifying=True
        )
        .exclude(pk=order.pk)
        .filter(refunded_amount__lt=F("amount"))
        .exists()
    )
