"""Multi-shop marketplace (seed 'OneSoko'): every shop runs its own program with its own
tiers; a customer earns 1 point per unit at Bronze and 1.5 times as many after reaching
Gold by annual spend; each shop's balance is separate; points expire after the shop's
days; the tier is lowered at re-evaluation when the year's spend no longer reaches it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from django_referral_rewards import signals, testing
from django_referral_rewards.models import Account, Tier
from django_referral_rewards.services import accounts, events, ledger, tiers

MARCH = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def shop(slug: str) -> object:
    program = testing.make_program(
        slug, points_per_unit=Decimal(1), points_expiry_days=90, hold_days=0
    )
    for rank, name, threshold, multiplier in [
        (0, "Bronze", 0, "1"),
        (1, "Silver", 500, "1.2"),
        (2, "Gold", 1000, "1.5"),
    ]:
        Tier.objects.create(
            program=program,
            name=name,
            rank=rank,
            basis="spend",
            window="calendar_year",
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
        )
    return program


@pytest.fixture
def shops(db):
    return shop("shop-a"), shop("shop-b")


def order(user, number, amount, program, at):
    return events.order_completed(
        user, order_id=number, amount=Decimal(amount), program=program, occurred_at=at
    )


@pytest.mark.django_db(transaction=True)
def test_gold_earns_half_as_many_again_and_shops_keep_their_own_balances(shops):
    shop_a, shop_b = shops
    customer = testing.make_user("wanjiru")
    changes = []

    def on_change(sender, account, old_tier, new_tier, **kwargs):
        changes.append((account.program.slug, old_tier and old_tier.name, new_tier.name))

    signals.tier_changed.connect(on_change)
    try:
        first = order(customer, "A-1", "800", shop_a, MARCH)
        second = order(customer, "A-2", "300", shop_a, MARCH + dt.timedelta(days=1))
        third = order(customer, "A-3", "100", shop_a, MARCH + dt.timedelta(days=2))
        in_b = order(customer, "B-1", "50", shop_b, MARCH + dt.timedelta(days=2))
    finally:
        signals.tier_changed.disconnect(on_change)

    assert first.points_earned == 800  # Bronze: 1 point per unit
    assert second.points_earned == 360  # Silver (1.2x) reached by A-1; A-2 crosses Gold
    assert third.points_earned == 150  # Gold: 1.5x
    assert in_b.points_earned == 50  # shop B: its own Bronze
    account_a = accounts.get_or_create_account(customer, program=shop_a)
    account_b = accounts.get_or_create_account(customer, program=shop_b)
    assert account_a.tier.name == "Gold" and account_b.tier.name == "Bronze"
    assert ledger.balance(customer, program=shop_a) == 800 + 360 + 150
    assert ledger.balance(customer, program=shop_b) == 50
    assert {a.program.slug for a in accounts.accounts_for(customer)} == {"shop-a", "shop-b"}
    assert ("shop-a", "Silver", "Gold") in changes
    assert third.points_grant.explanation["tier"] == "Gold"


@pytest.mark.django_db
def test_points_expire_after_the_shops_days(shops):
    shop_a, shop_b = shops
    customer = testing.make_user("wanjiru")
    order(customer, "A-1", "200", shop_a, MARCH)
    order(customer, "B-1", "40", shop_b, MARCH)

    ledger.expire_lots(now=MARCH + dt.timedelta(days=89))
    assert ledger.balance(customer, program=shop_a) == 200
    ledger.expire_lots(now=MARCH + dt.timedelta(days=91))
    assert ledger.balance(customer, program=shop_a) == 0
    assert ledger.balance(customer, program=shop_b) == 0
    account_a = accounts.get_or_create_account(customer, program=shop_a)
    assert testing.ledger_is_consistent(account_a)


@pytest.mark.django_db
def test_the_tier_is_lowered_at_re_evaluation_when_the_years_spend_falls(shops):
    shop_a, _ = shops
    customer = testing.make_user("wanjiru")
    order(customer, "A-1", "1200", shop_a, MARCH)
    account = accounts.get_or_create_account(customer, program=shop_a)
    assert account.tier.name == "Gold"

    # A refund lowers the spend but never the tier by itself.
    events.order_refunded(customer, order_id="A-1", amount=Decimal("900"), program=shop_a)
    account.refresh_from_db()
    assert account.tier.name == "Gold"

    # Still 2026: the re-evaluation finds 300 of spend this year: Bronze.
    tiers.reevaluate(program=shop_a, now=MARCH + dt.timedelta(days=30))
    account.refresh_from_db()
    assert account.tier.name == "Bronze"

    # Spend again: up at once on the order that crosses the threshold.
    order(customer, "A-2", "700", shop_a, MARCH + dt.timedelta(days=40))
    account.refresh_from_db()
    assert account.tier.name == "Gold"

    # The next year starts with no spend: Bronze again at the first re-evaluation.
    tiers.reevaluate(now=dt.datetime(2027, 1, 5, tzinfo=dt.UTC))
    account.refresh_from_db()
    assert account.tier.name == "Bronze"
    assert Account.objects.get(pk=account.pk).tier_since == dt.datetime(2027, 1, 5, tzinfo=dt.UTC)
