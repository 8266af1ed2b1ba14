"""The read-only figures of the member portal: one referrer's referral stats (counts per
status, rewards earned net of reversals, held rewards, conversion rate) and the program
leaderboard (all time and this month, ties, opt-in names, the viewer's row, size)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.enums import FraudStatus, GrantStatus, ReferralStatus
from django_referral_rewards.exceptions import InvalidArgument
from django_referral_rewards.models import (
    Account,
    Program,
    Referral,
    ReferralCode,
    RewardGrant,
    Visit,
)
from django_referral_rewards.services import codes, stats

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


def refer(
    referrer: Account,
    *,
    status: str = ReferralStatus.PENDING,
    converted_at: dt.datetime | None = None,
    fraud_status: str = FraudStatus.CLEAR,
    program: Program | None = None,
) -> Referral:
    """A referral of a new customer by ``referrer``."""
    program = program or referrer.program
    customer = testing.make_account(program=program)
    if status == ReferralStatus.CONVERTED and converted_at is None:
        converted_at = timezone.now()
    return Referral.objects.create(
        program=program,
        referrer=referrer,
        referred=customer,
        status=status,
        converted_at=converted_at,
        fraud_status=fraud_status,
    )


def grant(
    account: Account,
    referral: Referral | None,
    kind: str,
    value: str,
    *,
    status: str = GrantStatus.RELEASED,
    reversed_value: str = "0",
) -> RewardGrant:
    return RewardGrant.objects.create(
        program=account.program,
        account=account,
        referral=referral,
        kind=kind,
        value=Decimal(value),
        reversed_value=Decimal(reversed_value),
        status=status,
        release_at=timezone.now(),
        idempotency_key=f"stats-test-{next(_keys)}",
        reason="test",
    )


def converted(account: Account, n: int) -> Account:
    """Set ``account``'s all-time count of converted referrals."""
    Account.objects.filter(pk=account.pk).update(conversions_count=n)
    account.conversions_count = n
    return account


# --- referral_stats -----------------------------------------------------------------------


def test_a_new_referrer_has_nothing_and_no_conversion_rate(account, django_assert_num_queries):
    with django_assert_num_queries(3):
        figures = stats.referral_stats(account)
    assert figures == stats.ReferralStats(
        visits=0,
        signups=0,
        pending=0,
        converted=0,
        rejected=0,
        expired=0,
        in_review=0,
        earned_points=0,
        earned_credit=Decimal("0"),
        earned_commission=Decimal("0"),
        held_points=0,
        held_credit=Decimal("0"),
        held_commission=Decimal("0"),
    )
    assert figures.conversion_rate is None


def test_counts_per_status_and_visits_of_own_codes_only(program, account):
    code = codes.get_or_create_personal_code(account)
    other = testing.make_account(program=program)
    other_code = codes.get_or_create_personal_code(other)
    for _ in range(3):
        Visit.objects.create(code=code)
    Visit.objects.create(code=other_code)
    refer(account)
    refer(account, fraud_status=FraudStatus.REVIEW)
    for _ in range(3):
        refer(account, status=ReferralStatus.CONVERTED)
    refer(account, status=ReferralStatus.REJECTED)
    refer(account, status=ReferralStatus.CANCELLED)
    refer(account, status=ReferralStatus.EXPIRED)
    refer(other, status=ReferralStatus.CONVERTED)  # someone else's

    figures = stats.referral_stats(account)

    assert figures.visits == 3
    assert figures.signups == 8
    assert figures.pending == 2
    assert figures.converted == 3
    assert figures.rejected == 2  # rejected and cancelled
    assert figures.expired == 1
    assert figures.in_review == 1
    assert figures.conversion_rate == 37  # 3 of 8, rounded down


def test_earned_sums_are_net_of_reversals_and_held_sums_are_apart(program, account):
    one = refer(account, status=ReferralStatus.CONVERTED)
    two = refer(account, status=ReferralStatus.CONVERTED)
    grant(account, one, "points", "100")
    grant(account, two, "points", "50", reversed_value="20")
    grant(account, one, "points", "30", status=GrantStatus.HELD)
    grant(account, one, "points", "500", status=GrantStatus.VOIDED)
    grant(account, two, "points", "40", status=GrantStatus.REVERSED, reversed_value="40")
    grant(account, one, "credit", "5.50")
    grant(account, two, "credit", "2.25", status=GrantStatus.HELD)
    grant(account, one, "commission_fixed", "10.00")
    grant(account, two, "commission_percent", "4.40", reversed_value="1.10")
    grant(account, one, "commission_percent", "3.00", status=GrantStatus.HELD)
    grant(account, one, "voucher_percent", "10")  # a voucher is not a sum of money
    grant(account, None, "points", "999")  # not from a referral (an order's points)
    grant(testing.make_account(program=program), one, "points", "77")  # the customer's

    figures = stats.referral_stats(account)

    assert figures.earned_points == 130
    assert figures.earned_credit == Decimal("5.50")
    assert figures.earned_commission == Decimal("13.30")
    assert figures.held_points == 30
    assert figures.held_credit == Decimal("2.25")
    assert figures.held_commission == Decimal("3.00")
    assert figures.conversion_rate == 100


def test_referral_stats_take_three_queries_whatever_the_history(account, django_assert_num_queries):
    for _ in range(5):
        referral = refer(account, status=ReferralStatus.CONVERTED)
        grant(account, referral, "points", "10")
    with django_assert_num_queries(3):
        stats.referral_stats(account)


# --- leaderboard --------------------------------------------------------------------------


@pytest.fixture
def board(program):
    """Four referrers with 5, 3, 3 and 0 conversions (the two with 3: older first)."""
    accounts = [testing.make_account(program=program) for _ in range(4)]
    for account, n in zip(accounts, (5, 3, 3, 0), strict=True):
        converted(account, n)
    return accounts


def ranking(rows: list[stats.LeaderboardRow]) -> list[tuple[int, int, int]]:
    return [(row.rank, row.account_id, row.conversions) for row in rows]


def test_all_time_ranks_by_conversions_with_ties_to_the_older_account(
    program, board, django_assert_num_queries
):
    first, tied_older, tied_newer, nobody = board
    with django_assert_num_queries(2):
        rows = stats.leaderboard(program)
    assert ranking(rows) == [
        (1, first.pk, 5),
        (2, tied_older.pk, 3),
        (3, tied_newer.pk, 3),
    ]
    assert nobody.pk not in [row.account_id for row in rows]  # no conversions: not listed


def test_names_only_of_those_who_opted_in_with_a_name(program, board):
    first, second, third, _ = board
    Account.objects.filter(pk=first.pk).update(show_on_leaderboard=True, leaderboard_name="Ana")
    # A name without the opt-in, and the opt-in without a name, stay anonymous.
    Account.objects.filter(pk=second.pk).update(show_on_leaderboard=False, leaderboard_name="Bob")
    Account.objects.filter(pk=third.pk).update(show_on_leaderboard=True, leaderboard_name="")
    names = [row.name for row in stats.leaderboard(program)]
    assert names == ["Ana", "", ""]


def test_the_viewers_row_is_marked(program, board):
    rows = stats.leaderboard(program, viewer=board[1])
    assert [row.is_you for row in rows] == [False, True, False]
    assert not any(row.is_you for row in stats.leaderboard(program))
    assert not any(row.is_you for row in stats.leaderboard(program, viewer=board[3]))


def test_size_defaults_to_the_setting(program, board):
    assert len(stats.leaderboard(program, size=2)) == 2
    with override_settings(REFERRAL_REWARDS_LEADERBOARD_SIZE=1):
        assert ranking(stats.leaderboard(program)) == [(1, board[0].pk, 5)]


def test_only_the_programs_referrers_are_ranked(program, board):
    shop = testing.make_program()
    elsewhere = converted(testing.make_account(program=shop), 9)
    assert elsewhere.pk not in [row.account_id for row in stats.leaderboard(program)]
    assert ranking(stats.leaderboard(shop)) == [(1, elsewhere.pk, 9)]


def test_an_empty_leaderboard_takes_one_query(program, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert stats.leaderboard(program) == []
    with django_assert_num_queries(1):
        assert stats.leaderboard(program, period="month") == []


@pytest.mark.parametrize("period", ["week", "", "ALL", None])
def test_a_bad_period_is_refused(program, period: Any):
    with pytest.raises(InvalidArgument, match="all or month"):
        stats.leaderboard(program, period=period)


def test_this_month_counts_conversions_since_the_first_of_the_month(program):
    now = timezone.make_aware(dt.datetime(2025, 3, 15, 12, 0))
    start = timezone.make_aware(dt.datetime(2025, 3, 1, 0, 0))
    ana, bob, carla, dan = (testing.make_account(program=program) for _ in range(4))
    converted(dan, 50)  # a great past: not this month
    for _ in range(2):
        refer(bob, status=ReferralStatus.CONVERTED, converted_at=start)
    refer(ana, status=ReferralStatus.CONVERTED, converted_at=now - dt.timedelta(days=1))
    refer(ana, status=ReferralStatus.CONVERTED, converted_at=now)
    refer(carla, status=ReferralStatus.CONVERTED, converted_at=now)
    refer(dan, status=ReferralStatus.CONVERTED, converted_at=start - dt.timedelta(seconds=1))
    refer(carla, status=ReferralStatus.PENDING)  # not converted
    refer(carla, status=ReferralStatus.CANCELLED, converted_at=now)  # converted, then undone

    rows = stats.leaderboard(program, period="month", now=now, viewer=carla)

    # Ana and Bob tie at 2: the older account (Ana) first.
    assert ranking(rows) == [(1, ana.pk, 2), (2, bob.pk, 2), (3, carla.pk, 1)]
    assert [row.is_you for row in rows] == [False, False, True]
    # House campaign referrals (no referrer) are not anyone's.
    house = ReferralCode.objects.create(code="HOUSE2025", program=program, kind="campaign")
    Referral.objects.create(
        program=program,
        referrer=None,
        referred=testing.make_account(program=program),
        code=house,
        status=ReferralStatus.CONVERTED,
        converted_at=now,
    )
    assert len(stats.leaderboard(program, period="month", now=now)) == 3


def test_this_month_follows_the_current_time_zone(program):
    # 23:30 UTC on 31 March is already 1 April in Madrid (UTC+2 in summer time), so a
    # conversion at 21:30 UTC (23:30 in Madrid, 31 March) was last month there.
    late = timezone.make_aware(dt.datetime(2025, 3, 31, 23, 30), dt.UTC)
    ana = testing.make_account(program=program)
    refer(ana, status=ReferralStatus.CONVERTED, converted_at=late - dt.timedelta(hours=2))
    assert len(stats.leaderboard(program, period="month", now=late)) == 1
    with timezone.override("Europe/Madrid"):
        assert stats.leaderboard(program, period="month", now=late) == []


def test_the_month_board_shows_opted_in_names(program):
    ana = testing.make_account(program=program)
    Account.objects.filter(pk=ana.pk).update(show_on_leaderboard=True, leaderboard_name="Ana")
    refer(ana, status=ReferralStatus.CONVERTED)
    rows = stats.leaderboard(program, period="month", viewer=ana)
    assert [(row.name, row.conversions, row.is_you) for row in rows] == [("Ana", 1, True)]
