"""Staff analytics (services/analytics.py): the funnel, per-referrer and per-campaign
performance, the leaderboard, the points summary, the tier distribution and the top
customers; exact figures, date ranges, filters, ties, empty programs, and query counts
that do not grow with the number of rows."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.test import override_settings

from django_referral_rewards import testing
from django_referral_rewards.enums import FraudStatus, ReferralStatus
from django_referral_rewards.exceptions import InvalidArgument
from django_referral_rewards.models import (
    Account,
    Campaign,
    Program,
    Referral,
    Tier,
    Visit,
)
from django_referral_rewards.services import analytics, codes, events, ledger

from .test_rewards import account_of, add_rule, signup

pytestmark = pytest.mark.django_db

_orders = itertools.count(1)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def order(user, amount: str, *, program: Program, at: dt.datetime) -> str:
    order_id = f"O{next(_orders)}"
    events.order_completed(user, order_id, Decimal(amount), program=program, occurred_at=at)
    return order_id


def set_status(referral: Referral, **fields) -> None:
    # Test data only: the analytics read whatever status the services left.
    Referral.objects.filter(pk=referral.pk).update(**fields)


@pytest.fixture
def world(program, now):
    """A program with a 100-point sign-up bonus and 10% commission on the first order
    (both to the referrer), 1 point per currency unit on orders, and:

    * Ann (personal code, 3 visits): 4 sign-ups 10 days ago; two convert (orders of 80
      and 30, then a 20 order of the first customer), one expires, one is rejected;
    * Bob (campaign code SUMMER25, 2 visits): 2 sign-ups 2 days ago, one converts (an
      order of 50), the other is in review.
    """
    program.points_per_unit = Decimal(1)
    program.save()
    add_rule(program, name="Sign-up bonus", trigger="signup", kind="points", value=Decimal(100))
    add_rule(
        program,
        name="Commission",
        trigger="first_order",
        kind="commission_percent",
        value=Decimal(10),
    )
    old, recent = now - days(10), now - days(2)
    ann, bob = testing.make_user(), testing.make_user()
    ann_code = codes.get_or_create_personal_code(ann, program=program)
    summer = Campaign.objects.create(program=program, name="Summer", slug="summer")
    Campaign.objects.create(program=program, name="Winter", slug="winter")
    summer_code = codes.create_code("SUMMER25", campaign=summer, owner=bob)
    for _ in range(3):
        Visit.objects.create(code=ann_code, created_at=old)
    for _ in range(2):
        Visit.objects.create(code=summer_code, created_at=recent)

    ann_refs = [signup(program, ann, now=old) for _ in range(4)]
    order(ann_refs[0][1], "80.00", program=program, at=old)
    order(ann_refs[0][1], "20.00", program=program, at=old)
    order(ann_refs[1][1], "30.00", program=program, at=old)
    set_status(ann_refs[2][2], status=ReferralStatus.EXPIRED)
    set_status(ann_refs[3][2], status=ReferralStatus.REJECTED)

    bob_refs = []
    for _ in range(2):
        newcomer = testing.make_user()
        referral = events.customer_signed_up(newcomer, code="summer25", program=program, now=recent)
        bob_refs.append((newcomer, referral))
    order(bob_refs[0][0], "50.00", program=program, at=recent)
    set_status(bob_refs[1][1], fraud_status=FraudStatus.REVIEW)
    return {
        "program": program,
        "ann": account_of(ann, program),
        "bob": account_of(bob, program),
        "ann_code": ann_code,
        "summer": summer,
        "old": old,
        "recent": recent,
        "now": now,
    }


# --- funnel ------------------------------------------------------------------------------


def test_funnel_counts_every_stage(world):
    f = analytics.funnel()
    assert (f.visits, f.signups, f.pending, f.converted) == (5, 6, 1, 3)
    assert (f.expired, f.rejected, f.cancelled, f.in_review) == (1, 1, 0, 1)
    assert f.conversion_rate == Decimal("50.00")
    assert f.revenue == Decimal("180.00")
    assert f == analytics.funnel(world["program"].slug)


def test_funnel_by_date_range_campaign_and_code(world):
    recent = analytics.funnel(since=world["recent"] - days(1), until=world["now"])
    assert (recent.visits, recent.signups, recent.converted) == (2, 2, 1)
    older = analytics.funnel(until=world["recent"] - days(1))
    assert (older.visits, older.signups, older.converted, older.expired) == (3, 4, 2, 1)
    # Half-open: a sign-up exactly at ``until`` is out, exactly at ``since`` is in.
    assert analytics.funnel(until=world["old"]).signups == 0
    assert analytics.funnel(since=world["old"], until=world["recent"]).signups == 4

    summer = analytics.funnel(campaign="summer")
    assert (summer.visits, summer.signups, summer.converted, summer.in_review) == (2, 2, 1, 1)
    assert summer == analytics.funnel(campaign=world["summer"])
    assert summer.conversion_rate == Decimal("50.00")
    assert summer.revenue == Decimal("50.00")

    ann = analytics.funnel(code=world["ann_code"].code.lower())
    assert (ann.visits, ann.signups, ann.converted) == (3, 4, 2)
    assert analytics.funnel(code=world["ann_code"]) == ann
    assert analytics.funnel(campaign="winter").signups == 0


def test_funnel_of_an_empty_program_divides_by_nothing():
    f = analytics.funnel(testing.make_program())
    assert (f.visits, f.signups, f.converted, f.conversion_rate) == (0, 0, 0, None)
    assert f.revenue == Decimal("0")


def test_bad_arguments_are_refused(world, now):
    with pytest.raises(InvalidArgument):
        analytics.funnel(since=now, until=now)
    with pytest.raises(InvalidArgument):
        analytics.funnel(campaign=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        analytics.referrer_performance(order_by="cost")
    with pytest.raises(InvalidArgument):
        analytics.referrer_performance(limit=0)
    with pytest.raises(InvalidArgument):
        analytics.leaderboard(period="week")
    with pytest.raises(InvalidArgument):
        analytics.top_customers(by="visits")
    with pytest.raises(InvalidArgument):
        analytics.points_summary(point_value=0.01)  # type: ignore[arg-type]


# --- referrers ---------------------------------------------------------------------------


def test_referrer_performance(world):
    ann, bob = analytics.referrer_performance()
    assert (ann.account_id, bob.account_id) == (world["ann"].pk, world["bob"].pk)
    assert (ann.signups, ann.conversions, ann.conversion_rate) == (4, 2, Decimal("50.00"))
    assert ann.revenue == Decimal("130.00")
    # 4 sign-up bonuses; 10% of 80 and of 30.
    assert ann.cost == analytics.RewardsCost(
        points=400, credit=Decimal("0"), commission=Decimal("11.00"), vouchers=0
    )
    assert ann.cost_total is None  # points granted, no value given
    assert "@" not in ann.name and ann.name
    assert (bob.signups, bob.conversions, bob.revenue) == (2, 1, Decimal("50.00"))
    assert bob.cost.points == 200 and bob.cost.commission == Decimal("5.00")

    valued = analytics.referrer_performance(point_value=Decimal("0.01"))
    assert valued[0].cost_total == Decimal("15.00")  # 11.00 + 400 * 0.01


def test_referrer_performance_orders_filters_and_limits(world):
    by_signups = analytics.referrer_performance(order_by="signups")
    assert [r.account_id for r in by_signups] == [world["ann"].pk, world["bob"].pk]
    (top,) = analytics.referrer_performance(order_by="revenue", limit=1)
    assert top.account_id == world["ann"].pk
    (recent,) = analytics.referrer_performance(since=world["recent"])
    assert (recent.account_id, recent.signups, recent.cost.points) == (world["bob"].pk, 2, 200)
    (summer,) = analytics.referrer_performance(campaign="summer")
    assert summer.account_id == world["bob"].pk
    assert analytics.referrer_performance(campaign="winter") == []


def test_refunds_and_voids_reduce_revenue_and_cost(world):
    # The first customer's 80 order is refunded in full: its commission is reversed.
    referral = Referral.objects.get(first_order_amount=Decimal("80.00"))
    events.order_refunded(referral.referred.member.user, referral.first_order_id)
    ann = analytics.referrer_performance()[0]
    assert ann.revenue == Decimal("50.00")
    assert ann.cost.commission == Decimal("3.00")


def test_referrer_ties_go_to_the_older_account(program, now):
    first, second = testing.make_user(), testing.make_user()
    codes.get_or_create_personal_code(first, program=program)
    codes.get_or_create_personal_code(second, program=program)
    signup(program, second, now=now)  # the younger account's customer signs up first
    signup(program, first, now=now)
    rows = analytics.referrer_performance()
    assert [r.account_id for r in rows] == sorted(r.account_id for r in rows)
    assert rows[0].account_id == account_of(first, program).pk


def _referrers(program: Program, n: int, now: dt.datetime) -> None:
    """``n`` referrers with one converted referral each (written directly: fast)."""
    for _ in range(n):
        referrer = testing.make_account(program=program)
        customer = testing.make_account(program=program)
        Referral.objects.create(
            program=program,
            referrer=referrer,
            referred=customer,
            status=ReferralStatus.CONVERTED,
            converted_at=now,
            referred_revenue=Decimal("10.00"),
        )
        Account.objects.filter(pk=referrer.pk).update(conversions_count=1)


@pytest.mark.parametrize("n", [3, 30])
def test_query_counts_do_not_grow_with_rows(program, now, n, django_assert_max_num_queries):
    _referrers(program, n, now)
    Campaign.objects.create(program=program, name="C", slug="c")
    with django_assert_max_num_queries(4):
        rows = analytics.referrer_performance(limit=100)
    assert len(rows) == n
    with django_assert_max_num_queries(3):
        assert analytics.funnel().signups == n
    with django_assert_max_num_queries(4):
        assert len(analytics.leaderboard(limit=100)) == n
    with django_assert_max_num_queries(4):
        assert len(analytics.leaderboard(period="month", limit=100, now=now)) == n
    with django_assert_max_num_queries(5):
        analytics.campaign_performance()
    with django_assert_max_num_queries(4):
        analytics.points_summary()
    with django_assert_max_num_queries(4):
        analytics.points_summary(since=now - days(1), until=now + days(1))
    with django_assert_max_num_queries(3):
        analytics.tier_distribution()
    with django_assert_max_num_queries(4):
        analytics.top_customers(since=now - days(1))


# --- leaderboard -------------------------------------------------------------------------


def test_leaderboard_shows_everyone_by_name(world):
    Account.objects.filter(pk=world["bob"].pk).update(
        show_on_leaderboard=True, leaderboard_name="Bobby"
    )
    first, second = analytics.leaderboard()
    assert (first.rank, first.account_id, first.conversions) == (1, world["ann"].pk, 2)
    assert first.leaderboard_name == ""  # not opted in, but staff see the member's name
    assert first.name == world["ann"].member.name
    assert (second.rank, second.account_id, second.conversions) == (2, world["bob"].pk, 1)
    assert second.leaderboard_name == "Bobby"
    assert [r.account_id for r in analytics.leaderboard(limit=1)] == [world["ann"].pk]


def test_leaderboard_month_and_ties(program, now):
    early, late = testing.make_account(program=program), testing.make_account(program=program)
    for referrer, when in ((late, now), (early, now), (early, now - days(62))):
        Referral.objects.create(
            program=program,
            referrer=referrer,
            referred=testing.make_account(program=program),
            status=ReferralStatus.CONVERTED,
            converted_at=when,
        )
    Account.objects.filter(pk__in=[early.pk, late.pk]).update(conversions_count=1)
    assert [r.account_id for r in analytics.leaderboard(period="month", now=now)] == [
        early.pk,
        late.pk,
    ]
    assert [r.conversions for r in analytics.leaderboard(period="month", now=now)] == [1, 1]
    assert analytics.leaderboard(testing.make_program()) == []


def test_member_without_a_name_is_shown_by_number_never_by_email(program, now):
    member = testing.make_member(name="")
    referrer = testing.make_account(member, program=program)
    Referral.objects.create(
        program=program,
        referrer=referrer,
        referred=testing.make_account(program=program),
        status=ReferralStatus.CONVERTED,
        converted_at=now,
    )
    Account.objects.filter(pk=referrer.pk).update(conversions_count=1)
    (row,) = analytics.leaderboard()
    assert row.name == f"Member #{member.pk}"
    (perf,) = analytics.referrer_performance()
    assert perf.name == f"Member #{member.pk}"


# --- campaigns ---------------------------------------------------------------------------


def test_campaign_performance(world):
    rows = {row.slug: row for row in analytics.campaign_performance()}
    assert set(rows) == {"summer", "winter"}
    summer, winter = rows["summer"], rows["winter"]
    assert (summer.visits, summer.signups, summer.conversions) == (2, 2, 1)
    assert (summer.conversion_rate, summer.revenue) == (Decimal("50.00"), Decimal("50.00"))
    assert summer.cost.points == 200 and summer.cost.commission == Decimal("5.00")
    assert summer.budget is None and summer.budget_used is None
    assert (winter.visits, winter.signups, winter.conversion_rate) == (0, 0, None)
    assert winter.budget_used == Decimal("0")

    valued = {r.slug: r for r in analytics.campaign_performance(point_value=Decimal("0.05"))}
    assert valued["summer"].budget_used == Decimal("15.00")  # 5.00 + 200 * 0.05
    Campaign.objects.filter(slug="summer").update(budget=Decimal("100.00"))
    with override_settings(REFERRAL_REWARDS_POINT_VALUE="0.05"):  # the setting's default
        budgeted = {r.slug: r for r in analytics.campaign_performance()}
        assert analytics.points_summary().point_value == Decimal("0.05")
    assert budgeted["summer"].budget == Decimal("100.00")
    assert budgeted["summer"].budget_used == Decimal("15.00")
    before = {r.slug: r for r in analytics.campaign_performance(until=world["recent"])}
    assert (before["summer"].visits, before["summer"].signups) == (0, 0)
    assert analytics.campaign_performance(testing.make_program()) == []


# --- points ------------------------------------------------------------------------------


def test_points_summary_all_time(world, now):
    ann = world["ann"]
    ledger.debit(ann, 150, reason="Redeemed")
    ledger.adjust(ann, -10, reason="Correction")
    expiring = testing.make_account(program=world["program"])
    ledger.credit(expiring, 40, reason="Gift", expires_at=now + days(1))
    ledger.expire_lots(now=now + days(2))
    s = analytics.points_summary(point_value=Decimal("0.01"))
    # 600 sign-up bonus points, the customers' order points (one a unit), the 40 gift.
    order_points = 80 + 20 + 30 + 50
    assert s.issued == 600 + order_points + 40
    assert (s.redeemed, s.expired, s.adjusted, s.reversed) == (150, 40, -10, 0)
    assert s.outstanding == s.net == 600 + order_points - 150 - 10
    assert s.held == 0
    assert s.liability == Decimal("6.20")
    totals = ledger.program_totals(world["program"])["points"]
    assert s.outstanding == totals["balances"] == totals["ledger"]
    assert analytics.points_summary().liability is None


def test_points_summary_over_a_range(world, now):
    later = now + days(5)
    ledger.debit(world["ann"], 100, reason="Redeemed", now=later)
    window = analytics.points_summary(since=now + days(1), until=now + days(10))
    assert (window.issued, window.redeemed, window.net) == (0, 100, -100)
    all_time = analytics.points_summary()
    assert window.outstanding == all_time.outstanding
    before = analytics.points_summary(until=now + days(1))
    assert before.outstanding == all_time.outstanding + 100
    assert before.redeemed == 0


def test_points_summary_of_an_empty_program():
    s = analytics.points_summary(testing.make_program(), point_value=Decimal("0.01"))
    assert (s.issued, s.outstanding, s.held, s.liability) == (0, 0, 0, Decimal("0.00"))


# --- tiers and customers -----------------------------------------------------------------


def test_tier_distribution_in_rank_order(program):
    gold = Tier.objects.create(program=program, name="Gold", rank=2, threshold=Decimal(500))
    bronze = Tier.objects.create(program=program, name="Bronze", rank=0)
    Tier.objects.create(program=program, name="Silver", rank=1, threshold=Decimal(100))
    accounts = [testing.make_account(program=program) for _ in range(4)]
    Account.objects.filter(pk__in=[a.pk for a in accounts[:2]]).update(tier=bronze)
    Account.objects.filter(pk=accounts[2].pk).update(tier=gold)
    rows = analytics.tier_distribution()
    assert [(r.name, r.rank, r.accounts, r.share) for r in rows] == [
        ("", None, 1, Decimal("25.00")),
        ("Bronze", 0, 2, Decimal("50.00")),
        ("Silver", 1, 0, Decimal("0.00")),
        ("Gold", 2, 1, Decimal("25.00")),
    ]
    (empty,) = analytics.tier_distribution(testing.make_program())
    assert (empty.accounts, empty.share) == (0, None)


def test_top_customers(world, now):
    all_time = analytics.top_customers()
    assert [(c.spend, c.points) for c in all_time[:3]] == [
        (Decimal("100.00"), 100),
        (Decimal("50.00"), 50),
        (Decimal("30.00"), 30),
    ]
    assert [c.rank for c in all_time] == list(range(1, len(all_time) + 1))
    by_points = analytics.top_customers(by="points", limit=2)
    assert [c.points for c in by_points] == [400, 200]  # Ann's and Bob's bonuses
    assert by_points[0].account_id == world["ann"].pk and by_points[0].spend == Decimal("0")
    recent = analytics.top_customers(since=world["recent"] - days(1))
    assert [(c.spend, c.points) for c in recent] == [(Decimal("50.00"), 50)]
    recent_points = analytics.top_customers(by="points", since=world["recent"] - days(1))
    assert [c.points for c in recent_points] == [200, 50]
    assert analytics.top_customers(testing.make_program()) == []
