"""Repair shop (seed 'repair shop'): the referrer gets 500 points and the new customer
100 when the new customer signs up with the referrer's code."""

from __future__ import annotations

import pytest

from django_referral_rewards import testing
from django_referral_rewards.models import RewardGrant, RewardRule
from django_referral_rewards.services import codes, events, ledger


@pytest.fixture
def rules(program):
    RewardRule.objects.create(
        program=program,
        name="Referral bonus",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=500,
    )
    RewardRule.objects.create(
        program=program,
        name="Welcome bonus",
        trigger="signup",
        beneficiary="referee",
        kind="points",
        value=100,
    )


@pytest.mark.django_db
def test_both_sides_get_points_on_signup_with_the_code(program, rules):
    referrer = testing.make_user("maria")
    code = codes.get_or_create_personal_code(referrer)
    newcomer = testing.make_user("tom")

    referral = events.customer_signed_up(newcomer, code=code.code.lower())

    assert referral is not None and referral.referrer.member.user == referrer
    assert ledger.balance(referrer) == 500
    assert ledger.balance(newcomer) == 100
    assert RewardGrant.objects.filter(status="released").count() == 2


@pytest.mark.django_db
def test_a_repeated_signup_event_rewards_once(program, rules):
    referrer = testing.make_user("maria")
    code = codes.get_or_create_personal_code(referrer)
    newcomer = testing.make_user("tom")
    events.customer_signed_up(newcomer, code=code.code)
    events.customer_signed_up(newcomer, code=code.code)
    assert ledger.balance(referrer) == 500
    assert ledger.balance(newcomer) == 100


@pytest.mark.django_db
def test_signing_up_without_a_code_earns_nothing(program, rules):
    newcomer = testing.make_user("tom")
    assert events.customer_signed_up(newcomer) is None
    assert ledger.balance(newcomer) == 0
