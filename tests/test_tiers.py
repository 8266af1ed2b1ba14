"""Loyalty tiers: values by basis and window, upgrades on orders (and the multiplier),
downgrades only at re-evaluation with a grace period, progress, the sweep and its
command, the template tag."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_referral_rewards import signals, testing
from django_referral_rewards.exceptions import InvalidArgument
from django_referral_rewards.models import Account, Program, RewardGrant, Tier
from django_referral_rewards.services import events, ledger, orders, tiers

from .concurrency import run_workers, split
from .conftest import days

UTC = dt.UTC
NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


def make_tier(program, name, rank, threshold, multiplier="1", **fields) -> Tier:
    return Tier.objects.create(
        program=program,
        name=name,
        rank=rank,
        threshold=Decimal(threshold),
        multiplier=Decimal(multiplier),
        **fields,
    )


@pytest.fixture
def shop(program) -> Program:
    program.points_per_unit = Decimal(1)
    program.minimum_order_amount = Decimal(10)
    program.save()
    return program


@pytest.fixture
def ladder(shop) -> dict[str, Tier]:
    """Bronze (entry), Silver from 200 and Gold from 500 of lifetime spend."""
    return {
        "bronze": make_tier(shop, "Bronze", 0, 0),
        "silver": make_tier(shop, "Silver", 1, 200, "1.25"),
        "gold": make_tier(shop, "Gold", 2, 500, "1.5"),
    }


@pytest.fixture
def changes():
    seen: list[dict] = []

    def receiver(sender, **kwargs):
        seen.append({"sender": sender, **kwargs})

    signals.tier_changed.connect(receiver)
    yield seen
    signals.tier_changed.disconnect(receiver)


def customer_account(user, program) -> Account:
    return Account.objects.get(member__user=user, program=program)


def order(user, order_id, amount, when=None, program=None):
    return events.order_completed(
        user, order_id, Decimal(amount), occurred_at=when or NOW, program=program
    )


# --- values ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_spend_by_window_counts_qualifying_orders_net_of_refunds(shop):
    user = testing.make_user()
    order(user, "old", 20, dt.datetime(2024, 3, 15, 11, 59, tzinfo=UTC))  # before 12 months
    order(user, "edge", 30, dt.datetime(2024, 3, 15, 12, 0, tzinfo=UTC))  # 365 days ago
    order(user, "dec", 100, dt.datetime(2024, 12, 31, 23, 59, tzinfo=UTC))
    order(user, "jan", 50, dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC))
    order(user, "small", 5, dt.datetime(2025, 2, 1, tzinfo=UTC))  # below the minimum
    order(user, "refunded", 40, dt.datetime(2025, 2, 2, tzinfo=UTC))
    events.order_refunded(user, "refunded", Decimal("15.01"))
    account = customer_account(user, shop)

    def value(window):
        return tiers.qualifying_value(account, "spend", window, now=NOW)

    assert value("lifetime") == Decimal("224.99")  # 20 + 30 + 100 + 50 + 24.99
    assert value("rolling_12_months") == Decimal("204.99")
    assert value("calendar_year") == Decimal("74.99")  # 50 + 24.99
    # The lifetime cache agrees.
    assert account.qualifying_spend == Decimal("224.99")


@pytest.mark.django_db
def test_calendar_year_starts_at_midnight_in_the_current_time_zone(shop):
    user = testing.make_user()
    # 03:00 UTC on 1 January is still 31 December in New York.
    order(user, "a", 70, dt.datetime(2025, 1, 1, 3, 0, tzinfo=UTC))
    order(user, "b", 30, dt.datetime(2025, 1, 1, 6, 0, tzinfo=UTC))
    account = customer_account(user, shop)
    assert tiers.qualifying_value(account, "spend", "calendar_year", now=NOW) == 100
    with timezone.override("America/New_York"):
        assert tiers.qualifying_value(account, "spend", "calendar_year", now=NOW) == 30


@pytest.mark.django_db
def test_points_by_window_count_earned_points_less_clawbacks(account):
    last_year = dt.datetime(2024, 6, 1, tzinfo=UTC)
    long_ago = dt.datetime(2023, 6, 1, tzinfo=UTC)
    ledger.credit(account, 100, reason="old", now=long_ago)
    ledger.credit(account, 200, reason="last year", now=last_year)
    earned = ledger.credit(account, 300, reason="this year", now=NOW - days(10))
    ledger.reverse(earned, reason="refund", amount=50, now=NOW - days(5))  # a clawback
    spent = ledger.debit(account, 80, reason="redeemed", now=NOW - days(4))
    ledger.reverse(spent, reason="cancelled", now=NOW - days(3))  # gives back a spend
    ledger.adjust(account, 40, reason="goodwill", now=NOW - days(2))  # not earned
    ledger.debit(account, 70, reason="redeemed", now=NOW - days(1))  # spending never counts

    def value(window):
        return tiers.qualifying_value(account, "points", window, now=NOW)

    assert value("lifetime") == Decimal(550)
    assert value("rolling_12_months") == Decimal(450)
    assert value("calendar_year") == Decimal(250)
    account.refresh_from_db()
    assert value("lifetime") == account.lifetime_points  # the ledger's own counter


@pytest.mark.django_db
def test_unknown_basis_or_window_is_refused(account):
    with pytest.raises(InvalidArgument):
        tiers.qualifying_value(account, "visits", "lifetime")
    with pytest.raises(InvalidArgument):
        tiers.qualifying_value(account, "spend", "decade")


@pytest.mark.django_db
def test_each_tier_is_judged_by_its_own_basis_and_window(shop):
    shop.points_per_unit = Decimal(0)  # points only from the credit below
    shop.save()
    make_tier(shop, "Member", 0, 0)
    make_tier(shop, "Earner", 1, 300, basis="points", window="calendar_year")
    make_tier(shop, "Spender", 2, 1000, window="rolling_12_months")
    user = testing.make_user()
    order(user, "a", 900, dt.datetime(2024, 6, 1, tzinfo=UTC))
    account = customer_account(user, shop)
    assert tiers.tier_for(account, now=NOW).name == "Member"  # 900 points, last year
    ledger.credit(account, 300, reason="bonus", now=NOW)
    assert tiers.tier_for(account, now=NOW).name == "Earner"
    order(user, "b", 100, NOW)
    assert tiers.tier_for(account, now=NOW).name == "Spender"  # 1000 over 12 months
    assert tiers.tier_for(account, now=NOW + days(100)).name == "Earner"  # June order gone
    assert tiers.tier_for(account, now=NOW + days(300)).name == "Member"  # a new year


@pytest.mark.django_db
def test_tier_for_without_tiers(account):
    assert tiers.tier_for(account) is None
    assert tiers.evaluate(account) is None


# --- upgrades on orders --------------------------------------------------------------


@pytest.mark.django_db
def test_the_crossing_order_upgrades_and_the_multiplier_applies_from_the_next(ladder, changes):
    user = testing.make_user()
    first = order(user, "A1", 100)
    # No tier before the first order: it earns at 1x, and the member enters Bronze.
    assert first.points_earned == 100
    assert first.points_grant.explanation["tier"] is None
    assert first.points_grant.explanation["multiplier"] == "1"
    assert (first.tier_change.old_tier, first.tier_change.new_tier) == (None, ladder["bronze"])

    crossing = order(user, "A2", 450)  # 550 in all: past Silver, into Gold
    assert crossing.points_earned == 450  # still at the Bronze rate
    assert crossing.points_grant.explanation["tier"] == "Bronze"
    assert crossing.tier_change.reason == "upgrade"
    assert (crossing.tier_change.old_tier, crossing.tier_change.new_tier) == (
        ladder["bronze"],
        ladder["gold"],
    )

    after = order(user, "A3", 100)
    assert after.points_earned == 150  # Gold: 1.5x
    assert after.points_grant.explanation["tier"] == "Gold"
    assert after.points_grant.explanation["multiplier"] == "1.500"
    assert after.tier_change is None

    account = customer_account(user, ladder["gold"].program)
    assert (account.tier, account.tier_since, account.tier_review_at) == (ladder["gold"], NOW, None)
    assert account.qualifying_spend == Decimal(650)
    assert ledger.balance(account) == 700


@pytest.mark.django_db
def test_the_multiplier_is_rounded_by_the_programs_rule(ladder):
    shop = ladder["gold"].program
    shop.points_rounding = "half_up"
    shop.save()
    user = testing.make_user()
    order(user, "A1", 500)  # into Gold
    assert order(user, "A2", 11).points_earned == 17  # 16.5
    shop.points_rounding = "down"
    shop.save()
    assert order(user, "A3", 11).points_earned == 16
    assert orders.points_for(shop, Decimal(11), Decimal("1.5")) == 16


@pytest.mark.django_db
def test_orders_below_the_minimum_neither_count_nor_upgrade(ladder):
    user = testing.make_user()
    outcome = order(user, "A1", 9)
    account = customer_account(user, ladder["gold"].program)
    assert (outcome.tier_change, account.tier, account.qualifying_spend) == (None, None, 0)


@pytest.mark.django_db
def test_a_replayed_order_does_not_upgrade_twice(
    ladder, changes, django_capture_on_commit_callbacks
):
    user = testing.make_user()
    with django_capture_on_commit_callbacks(execute=True):
        order(user, "A1", 600)
        again = order(user, "A1", 600)
    assert again.created is False and again.tier_change is None
    assert [change["new_tier"] for change in changes] == [ladder["gold"]]
    assert customer_account(user, ladder["gold"].program).qualifying_spend == 600


@pytest.mark.django_db
def test_tier_changed_is_sent_after_commit_with_its_arguments(
    ladder, changes, django_capture_on_commit_callbacks
):
    user = testing.make_user()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order(user, "A1", 250)
    assert changes == []  # nothing before commit
    for callback in callbacks:
        callback()
    (change,) = changes
    assert change["sender"] is Account
    assert change["account"].pk == customer_account(user, ladder["gold"].program).pk
    assert change["account"].tier == ladder["silver"]
    assert (change["old_tier"], change["new_tier"]) == (None, ladder["silver"])


@pytest.mark.django_db(transaction=True)
def test_tier_changed_is_not_sent_for_rolled_back_work(ladder, changes):
    from django.db import transaction

    user = testing.make_user()

    def order_then_fail():
        with transaction.atomic():
            order(user, "A1", 600)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        order_then_fail()
    assert changes == []
    assert not Account.objects.filter(tier__isnull=False).exists()


@pytest.mark.django_db
def test_inactive_tiers_are_ignored(ladder):
    Tier.objects.filter(pk=ladder["gold"].pk).update(active=False)
    user = testing.make_user()
    order(user, "A1", 900)
    account = customer_account(user, ladder["gold"].program)
    assert account.tier == ladder["silver"]
    assert tiers.tier_for(account) == ladder["silver"]
    assert tiers.progress(account).next is None


@pytest.mark.django_db
def test_programs_are_isolated(ladder):
    other = testing.make_program(points_per_unit=Decimal(1))
    other_gold = make_tier(other, "Gold", 1, 100, "3")
    user = testing.make_user()
    order(user, "A1", 600)  # default program: Gold there
    home = customer_account(user, ladder["gold"].program)
    assert home.tier == ladder["gold"]
    outcome = order(user, "B1", 50, program=other)
    away = customer_account(user, other)
    assert (outcome.points_earned, outcome.tier_change, away.tier) == (50, None, None)
    assert tiers.qualifying_value(away, "spend", "lifetime") == 50
    assert order(user, "B2", 60, program=other).tier_change.new_tier == other_gold
    assert order(user, "B3", 10, program=other).points_earned == 30
    assert order(user, "A2", 10).points_earned == 15  # still 1.5x at home
    assert tiers.reevaluate(program=other).downgraded == 0
    assert customer_account(user, other).tier == other_gold


@pytest.mark.django_db
def test_order_query_count_with_tiers(ladder, django_assert_max_num_queries):
    user = testing.make_user()
    order(user, "A0", 20)
    # The order with its points released at once (27 queries, savepoints included),
    # plus the account lock, the tiers, one spend total and the upgrade.
    with django_assert_max_num_queries(31):
        order(user, "A1", 300)


@pytest.mark.django_db
def test_programs_without_tiers_pay_no_tier_queries(shop):
    user = testing.make_user()
    order(user, "A0", 20)
    with CaptureQueriesContext(connection) as queries:
        outcome = order(user, "A1", 300)
    statements = [query["sql"].replace("`", '"') for query in queries.captured_queries]
    # Whether the program has tiers is asked inside the order lookup; nothing else
    # (no tier list, no account lock, no spend or points totals).
    assert sum('"referral_rewards_tier"' in sql for sql in statements) == 1
    assert not any(sql.startswith('SELECT "referral_rewards_tier"') for sql in statements)
    assert not any("SUM(" in sql.upper() for sql in statements)
    assert outcome.points_earned == 300
    assert customer_account(user, shop).qualifying_spend == 320


# --- refunds and re-evaluation -----------------------------------------------------------


@pytest.mark.django_db
def test_refunds_do_not_downgrade_but_re_evaluation_does(
    ladder, changes, now, django_capture_on_commit_callbacks
):
    user = testing.make_user()
    order(user, "A1", 100, now)
    order(user, "A2", 500, now)
    events.order_refunded(user, "A2")
    account = customer_account(user, ladder["gold"].program)
    assert account.tier == ladder["gold"]
    assert account.qualifying_spend == 100
    assert tiers.tier_for(account, now=now) == ladder["bronze"]

    with django_capture_on_commit_callbacks(execute=True):
        result = tiers.reevaluate(now=now)
    assert (result.accounts, result.upgraded, result.downgraded, result.scheduled) == (1, 0, 1, 0)
    account.refresh_from_db()
    assert (account.tier, account.tier_since) == (ladder["bronze"], now)
    (change,) = changes
    assert (change["sender"], change["account"].pk) == (Account, account.pk)
    assert (change["old_tier"], change["new_tier"]) == (ladder["gold"], ladder["bronze"])
    again = tiers.reevaluate(now=now)
    assert (again.accounts, again.upgraded, again.downgraded) == (1, 0, 0)


@pytest.mark.django_db
def test_grace_period(ladder, now):
    shop = ladder["gold"].program
    shop.tier_grace_days = 30
    shop.save()
    user = testing.make_user()
    order(user, "A1", 600, now)
    events.order_refunded(user, "A1", Decimal(450))  # 150: Bronze level
    account = customer_account(user, shop)

    # First re-evaluation: scheduled, nothing else changes.
    assert tiers.reevaluate(now=now).scheduled == 1
    account.refresh_from_db()
    assert (account.tier, account.tier_review_at) == (ladder["gold"], now + days(30))
    # Later, still within the grace period: kept, the date does not move.
    result = tiers.reevaluate(now=now + days(10))
    assert (result.scheduled, result.downgraded) == (0, 0)
    account.refresh_from_db()
    assert (account.tier, account.tier_review_at) == (ladder["gold"], now + days(30))
    assert tiers.progress(account, now=now + days(10)).review_at == now + days(30)

    # Qualifying again (an order) calls the move off.
    outcome = order(user, "A2", 400, now + days(12))
    assert outcome.tier_change is None
    account.refresh_from_db()
    assert (account.tier, account.tier_review_at) == (ladder["gold"], None)

    # Short again: a new grace period, then down after it, to the tier they meet.
    events.order_refunded(user, "A2")
    assert tiers.evaluate(account, now=now + days(13), allow_downgrade=True) is None
    assert account.tier_review_at == now + days(43)
    assert tiers.evaluate(account, now=now + days(42), allow_downgrade=True) is None
    change = tiers.evaluate(account, now=now + days(43), allow_downgrade=True)
    assert (change.old_tier, change.new_tier, change.reason) == (
        ladder["gold"],
        ladder["bronze"],
        "downgrade",
    )
    assert change.account is account
    account.refresh_from_db()
    assert (account.tier, account.tier_since, account.tier_review_at) == (
        ladder["bronze"],
        now + days(43),
        None,
    )


@pytest.mark.django_db
def test_re_evaluation_clears_a_review_for_members_who_qualify_again(ladder, now):
    user = testing.make_user()
    order(user, "A1", 600, now)
    account = customer_account(user, ladder["gold"].program)
    Account.objects.filter(pk=account.pk).update(tier_review_at=now + days(5))
    result = tiers.reevaluate(now=now)
    assert (result.downgraded, result.scheduled) == (0, 0)
    account.refresh_from_db()
    assert (account.tier, account.tier_review_at) == (ladder["gold"], None)


@pytest.mark.django_db
def test_evaluate_is_upgrade_only_unless_asked(ladder, now):
    user = testing.make_user()
    order(user, "A1", 600, now)
    events.order_refunded(user, "A1")
    account = customer_account(user, ladder["gold"].program)
    assert tiers.evaluate(account, now=now) is None
    assert Account.objects.get(pk=account.pk).tier == ladder["gold"]
    change = tiers.evaluate(account, now=now, allow_downgrade=True)
    assert change.new_tier == ladder["bronze"]
    assert account.tier_id == ladder["bronze"].pk


@pytest.mark.django_db
def test_members_of_a_retired_tier_move_down_and_without_tiers_lose_theirs(ladder, now):
    user = testing.make_user()
    order(user, "A1", 600, now)
    Tier.objects.filter(pk=ladder["gold"].pk).update(active=False)
    account = customer_account(user, ladder["gold"].program)
    assert tiers.reevaluate(now=now).downgraded == 1
    account.refresh_from_db()
    assert account.tier == ladder["silver"]
    Tier.objects.update(active=False)
    assert tiers.reevaluate(now=now).downgraded == 1
    account.refresh_from_db()
    assert account.tier is None
    assert tiers.reevaluate(now=now).accounts == 0


@pytest.mark.django_db
def test_re_evaluation_upgrades_points_members_and_enters_new_members(shop, now):
    make_tier(shop, "Member", 0, 0)
    make_tier(shop, "Star", 1, 100, basis="points")
    quiet = testing.make_account(program=shop)
    earner = testing.make_account(program=shop)
    ledger.credit(earner, 150, reason="held points released", now=now)
    result = tiers.reevaluate(now=now)
    assert (result.accounts, result.upgraded) == (2, 2)
    assert Account.objects.get(pk=quiet.pk).tier.name == "Member"
    assert Account.objects.get(pk=earner.pk).tier.name == "Star"


# --- the sweep ---------------------------------------------------------------------------


def _members(program, count, amount, when):
    for _ in range(count):
        account = testing.make_account(program=program)
        events.order_completed(
            account.member, f"S{account.pk}", Decimal(amount), occurred_at=when, program=program
        )
        Account.objects.filter(pk=account.pk).update(tier=None)


@pytest.mark.django_db
def test_sweep_queries_grow_with_batches_not_accounts(
    ladder, now, changes, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    shop = ladder["gold"].program
    shop.tier_grace_days = 7
    shop.save()
    make_tier(shop, "Star", 3, 50, basis="points", window="calendar_year")
    _members(shop, 5, 250, now)  # Silver by spend, Star by points
    with CaptureQueriesContext(connection) as small:
        assert tiers.reevaluate(now=now, batch_size=100).upgraded == 5
    _members(shop, 25, 600, now)
    Account.objects.filter(tier__isnull=False).update(tier=None)
    with (
        django_assert_max_num_queries(len(small.captured_queries)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = tiers.reevaluate(now=now, batch_size=100)
    assert (result.accounts, result.upgraded) == (30, 30)
    assert len(changes) == 30
    assert {change["new_tier"].name for change in changes} == {"Star"}
    # Three batches of ten: more queries, all accounts still done once. Star is
    # retired: its members are given the grace period; the others enter Silver.
    Tier.objects.filter(name="Star").update(active=False)
    Account.objects.filter(qualifying_spend__lt=500).update(tier=None)
    with CaptureQueriesContext(connection) as batched:
        result = tiers.reevaluate(now=now, batch_size=10)
    assert (result.accounts, result.upgraded, result.scheduled) == (30, 5, 25)
    assert len(batched.captured_queries) > len(small.captured_queries)
    assert Account.objects.filter(tier_review_at=now + days(7)).count() == 25


@pytest.mark.django_db
def test_evaluate_tiers_command(ladder, now):
    user = testing.make_user()
    order(user, "A1", 600, now)
    events.order_refunded(user, "A1")
    testing.make_account(program=ladder["gold"].program)  # no tier yet: enters Bronze
    out = io.StringIO()
    call_command("rewards_evaluate_tiers", "--batch-size", "1", stdout=out)
    assert out.getvalue().strip() == (
        "Evaluated 2 account(s): 1 moved up, 1 moved down, 0 given a grace period before "
        "moving down."
    )
    out = io.StringIO()
    later = (now + days(1)).isoformat()
    call_command("rewards_evaluate_tiers", "--program", "default", "--now", later, stdout=out)
    assert "Evaluated 2 account(s): 0 moved up, 0 moved down" in out.getvalue()
    with pytest.raises(CommandError, match="No program"):
        call_command("rewards_evaluate_tiers", "--program", "missing")
    with pytest.raises(CommandError, match="time zone"):
        call_command("rewards_evaluate_tiers", "--now", "2030-01-01T00:00")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rewards_evaluate_tiers", "--batch-size", "0")


# --- progress and the template tag -----------------------------------------------------


@pytest.mark.django_db
def test_progress_toward_the_next_tier(ladder, now):
    user = testing.make_user()
    order(user, "A1", 50, now)
    account = customer_account(user, ladder["gold"].program)
    progress = tiers.progress(account, now=now)
    assert (progress.current, progress.next) == (ladder["bronze"], ladder["silver"])
    assert (progress.basis, progress.window) == ("spend", "lifetime")
    assert (progress.value, progress.threshold, progress.remaining) == (50, 200, 150)
    assert (progress.percent, progress.review_at) == (25, None)

    order(user, "A2", 349, now)  # 399: Silver, toward Gold
    account.refresh_from_db()
    progress = tiers.progress(account, now=now)
    assert (progress.current, progress.next) == (ladder["silver"], ladder["gold"])
    assert (progress.value, progress.remaining, progress.percent) == (399, 101, 79)

    order(user, "A3", 1000, now)
    account.refresh_from_db()
    top = tiers.progress(account, now=now)
    assert (top.current, top.next, top.threshold, top.remaining, top.percent) == (
        ladder["gold"],
        None,
        None,
        0,
        100,
    )
    assert top.value == 1399


@pytest.mark.django_db
def test_progress_without_a_tier_or_without_tiers(shop, account):
    nothing = tiers.progress(account)
    assert (nothing.current, nothing.next, nothing.percent, nothing.basis) == (None, None, 0, None)
    first = make_tier(shop, "Regular", 0, 20)
    progress = tiers.progress(account)
    assert (progress.current, progress.next, progress.value, progress.percent) == (
        None,
        first,
        0,
        0,
    )


@pytest.mark.django_db
def test_progress_of_a_member_never_evaluated_shows_the_tier_they_meet(ladder):
    """Tiers set up after the member's last order: the entry tier (threshold 0) is
    theirs already, and the progress counts toward the next one."""
    account = testing.make_account(program=ladder["gold"].program)
    assert account.tier is None
    progress = tiers.progress(account)
    assert (progress.current, progress.next, progress.remaining) == (
        ladder["bronze"],
        ladder["silver"],
        200,
    )


@pytest.mark.django_db
def test_released_points_move_the_member_up_a_points_tier(shop, now):
    from django_referral_rewards.services import rewards

    make_tier(shop, "Member", 0, 0, basis="points")
    star = make_tier(shop, "Star", 1, 100, basis="points")
    shop.hold_days = 14
    shop.save()
    user = testing.make_user()
    events.order_completed(user, "P1", Decimal(120), occurred_at=now)
    account = customer_account(user, shop)
    assert account.tier.name == "Member"  # the points are still held

    later = now + days(15)
    assert rewards.release_due(now=later).released == 1

    account.refresh_from_db()
    assert (account.tier, account.tier_since) == (star, later)
    entry = RewardGrant.objects.get(account=account).entry
    assert entry.created_at == later  # stamped with the sweep's time


@pytest.mark.django_db
def test_tier_progress_template_tag(ladder, now):
    user = testing.make_user()
    order(user, "A1", 50, now)
    account = customer_account(user, ladder["gold"].program)
    template = Template(
        "{% load referral_rewards %}{% tier_progress account as progress %}"
        "{% if progress.next %}{{ progress.current.name }}: {{ progress.remaining|floatformat:0 }}"
        " more to {{ progress.next.name }} ({{ progress.percent }}%)"
        "{% else %}Top: {{ progress.current.name }}{% endif %}"
    )
    assert template.render(Context({"account": account})) == "Bronze: 150 more to Silver (25%)"
    order(user, "A2", 500, now)
    account.refresh_from_db()
    assert template.render(Context({"account": account})) == "Top: Gold"
    assert template.render(Context({"account": None})) == "Top: "


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_racing_orders_of_one_member_upgrade_once_and_earn_at_the_tier_before_them(ladder, changes):
    user = testing.make_user()
    order(user, "A0", 100)  # Bronze, 100 spent
    outcomes = run_workers(4, lambda i: order(user, f"R{i}", 150))
    results, _ = split(outcomes)
    # Applied one at a time: 250 (Silver), 400, 550 (Gold), 700.
    assert sorted(r.points_earned for r in results) == [150, 187, 187, 225]
    ups = [r.tier_change.new_tier.name for r in results if r.tier_change]
    assert sorted(ups) == ["Gold", "Silver"]
    account = customer_account(user, ladder["gold"].program)
    assert (account.tier, account.qualifying_spend) == (ladder["gold"], 700)
    assert testing.ledger_is_consistent(account)
    assert RewardGrant.objects.filter(source="purchase").count() == 5


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_racing_sweeps_move_each_member_once(ladder, changes, now):
    for _ in range(12):
        testing.make_account(program=ladder["gold"].program)
    outcomes = run_workers(4, lambda i: tiers.reevaluate(now=now, batch_size=3))
    results, _ = split(outcomes)
    assert sum(result.upgraded for result in results) == 12
    assert len(changes) == 12
    assert Account.objects.filter(tier=ladder["bronze"], tier_since=now).count() == 12
