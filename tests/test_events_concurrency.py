"""Host events under real concurrency (invariants 4, 5 and 12): the same event from
several workers acts once; conversions racing for one referrer count exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.enums import GrantStatus, Unit
from django_referral_rewards.models import Account, Order, OrderRefund, Referral, RewardGrant
from django_referral_rewards.services import codes, events, ledger, rewards

from .concurrency import run_workers, split
from .conftest import days
from .test_rewards import add_rule, signup

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_the_same_order_from_many_workers_is_processed_once(program):
    add_rule(program, trigger="first_order", kind="commission_percent", value=Decimal(10))
    referrer, newcomer, _ = signup(program)
    outcomes = run_workers(6, lambda i: events.order_completed(newcomer, "A1", Decimal(100)))
    results, _ = split(outcomes)
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert Order.objects.count() == 1 and RewardGrant.objects.count() == 1
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 1000


def test_the_same_signup_from_many_workers_attaches_once(program):
    add_rule(program)
    add_rule(program, beneficiary="referee", value=Decimal(100))
    referrer = testing.make_user()
    code = codes.get_or_create_personal_code(referrer)
    newcomer = testing.make_user()
    outcomes = run_workers(6, lambda i: events.customer_signed_up(newcomer, code=code.code))
    results, _ = split(outcomes)
    assert len({r.pk for r in results}) == 1
    assert Referral.objects.count() == 1 and RewardGrant.objects.count() == 2
    assert (ledger.balance(referrer), ledger.balance(newcomer)) == (500, 100)


def test_racing_conversions_of_one_referrer_are_numbered_exactly(program):
    add_rule(program, trigger="milestone", nth=1, repeat=True, value=Decimal(1))
    add_rule(program, trigger="milestone", nth=3, value=Decimal(1000))
    referrer = testing.make_user()
    newcomers = [signup(program, referrer)[1] for _ in range(6)]
    outcomes = run_workers(6, lambda i: events.order_completed(newcomers[i], f"O{i}", Decimal(50)))
    split(outcomes)
    numbers = sorted(
        RewardGrant.objects.filter(trigger="milestone", value=1).values_list(
            "explanation__conversion_number", flat=True
        )
    )
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert RewardGrant.objects.filter(value=1000).count() == 1
    assert Account.objects.get(member__user=referrer).conversions_count == 6
    assert ledger.balance(referrer) == 1006


def test_release_sweeps_racing_release_each_grant_once(program, now):
    add_rule(program, hold_days=1)
    referrer = testing.make_user()
    for _ in range(12):
        signup(program, referrer, now=now)
    outcomes = run_workers(4, lambda i: rewards.release_due(now=now + days(2), batch_size=3))
    results, _ = split(outcomes)
    assert sum(r.released for r in results) == 12
    assert not RewardGrant.objects.filter(status=GrantStatus.HELD).exists()
    account = Account.objects.get(member__user=referrer)
    assert (ledger.balance(account), account.held_points) == (6000, 0)
    assert testing.ledger_is_consistent(account)


def test_the_same_refund_from_many_workers_acts_once(program):
    add_rule(program, trigger="first_order", kind="credit", value=Decimal(10))
    referrer, newcomer, _ = signup(program)
    events.order_completed(newcomer, "A1", Decimal(100))
    outcomes = run_workers(
        5, lambda i: events.order_refunded(newcomer, "A1", Decimal(40), refund_id="R1")
    )
    results, _ = split(outcomes)
    assert sorted(r.created for r in results) == [False] * 4 + [True]
    assert OrderRefund.objects.count() == 1
    assert Order.objects.get().refunded_amount == Decimal(40)
    assert ledger.balance(referrer, unit=Unit.CREDIT) == 600
