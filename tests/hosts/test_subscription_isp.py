"""Subscription ISP (seed 'CircleTel'): one free month (a free_period voucher) for every
2 referred customers who sign up and activate; nothing for sign-ups that never
activate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.models import RewardRule, Voucher
from django_referral_rewards.services import codes, events, referrals, vouchers

from ..conftest import days


@pytest.fixture
def isp(program):
    program.conversion_event = "activation"
    program.save()
    RewardRule.objects.create(
        program=program,
        name="A free month for every 2 friends",
        trigger="milestone",
        nth=2,
        repeat=True,
        beneficiary="referrer",
        kind="free_period",
        value=Decimal(0),
        description="One month of service free",
    )
    referrer = testing.make_user("thabo")
    return referrer, codes.get_or_create_personal_code(referrer).code


def friend(code, now, *, activate=True):
    user = testing.make_user()
    events.customer_signed_up(user, code=code, now=now)
    if activate:
        events.customer_activated(user, occurred_at=now + days(3))
    return user


@pytest.mark.django_db
def test_a_free_month_for_every_two_activated_friends(isp, now):
    referrer, code = isp
    for _ in range(5):
        friend(code, now)
    free_months = Voucher.objects.filter(account__member__user=referrer)
    assert free_months.count() == 2  # after the 2nd and the 4th activation
    month = free_months.first()
    assert (month.kind, month.description) == ("free_period", "One month of service free")
    # Applied to the next monthly invoice, it pays all of it.
    assert vouchers.apply_voucher(
        month.code, user=referrer, order_id="INV-2026-02", order_amount=Decimal("599.00")
    ) == Decimal("599.00")


@pytest.mark.django_db
def test_nothing_for_signups_that_never_activate(isp, now):
    referrer, code = isp
    friend(code, now, activate=False)
    friend(code, now, activate=False)
    friend(code, now)
    assert not Voucher.objects.filter(account__member__user=referrer).exists()
    # The ones that never activated expire with the attribution window.
    assert referrals.expire_pending(now=now + days(31)).expired == 2
