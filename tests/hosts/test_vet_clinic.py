"""Vet clinic (seed 001): a campaign code with an expiry and a usage limit; the referrer
is paid 10% commission of the new client's first purchase; the new client gets a 15%
discount voucher for the first visit; milestone bonuses on the 1st, 5th and 10th
converted referral."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.enums import Unit
from django_referral_rewards.exceptions import CodeExhausted, CodeExpired
from django_referral_rewards.models import Account, Campaign, RewardGrant, RewardRule
from django_referral_rewards.services import codes, events, ledger, vouchers

from ..conftest import days


@pytest.fixture
def clinic(program, now):
    program.conversion_event = "first_order"
    program.save()
    campaign = Campaign.objects.create(
        program=program, name="Spring check-ups", slug="spring", starts_at=now - days(1)
    )
    rule = RewardRule.objects.create
    rule(
        program=program,
        name="10% of the first visit",
        trigger="first_order",
        beneficiary="referrer",
        kind="commission_percent",
        value=Decimal(10),
    )
    rule(
        program=program,
        name="15% off your first visit",
        trigger="signup",
        beneficiary="referee",
        kind="voucher_percent",
        value=Decimal(15),
        voucher_valid_days=90,
        description="15% off your first visit",
    )
    for nth, bonus in ((1, "25.00"), (5, "100.00"), (10, "250.00")):
        rule(
            program=program,
            name=f"Milestone: {nth} referrals",
            trigger="milestone",
            nth=nth,
            beneficiary="referrer",
            kind="commission_fixed",
            value=Decimal(bonus),
        )
    referrer = testing.make_user("dr_smith")
    code = codes.create_code(
        "SPRING25", campaign=campaign, owner=referrer, expires_at=now + days(30), max_uses=10
    )
    return referrer, code


def first_visit(code, now, n):
    client = testing.make_user(f"client{n}")
    events.customer_signed_up(client, code=code, now=now)
    voucher = Account.objects.get(member__user=client).vouchers.get()
    bill = Decimal("200.00")
    discount = vouchers.apply_voucher(
        voucher.code, user=client, order_id=f"visit-{n}", order_amount=bill, now=now
    )
    events.order_completed(client, f"visit-{n}", bill - discount, occurred_at=now)
    return client, discount


@pytest.mark.django_db
def test_first_visit_pays_commission_and_uses_the_welcome_voucher(clinic, now):
    referrer, _code = clinic
    client, discount = first_visit("spring25", now, 1)
    assert discount == Decimal("30.00")  # 15% of 200
    # 10% of what the client paid (170) + the 1st-referral milestone bonus.
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 1700 + 2500
    # A second visit earns no more first-order commission.
    events.order_completed(client, "visit-1b", Decimal("80.00"), occurred_at=now)
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 4200


@pytest.mark.django_db
def test_milestones_on_the_1st_5th_and_10th_referral(clinic, now):
    referrer, code = clinic
    for n in range(1, 11):
        first_visit(code.code, now, n)
    milestones = RewardGrant.objects.filter(trigger="milestone").order_by("pk")
    assert [m.reason for m in milestones] == [
        "Milestone: 1 referrals",
        "Milestone: 5 referrals",
        "Milestone: 10 referrals",
    ]
    commission = 10 * 1700 + 2500 + 10000 + 25000
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == commission


@pytest.mark.django_db
def test_the_campaign_code_has_a_usage_limit_and_an_expiry(clinic, now):
    _referrer, code = clinic
    for _ in range(10):
        events.customer_signed_up(testing.make_user(), code=code.code, now=now)
    with pytest.raises(CodeExhausted):
        events.customer_signed_up(testing.make_user(), code=code.code, now=now)
    fresh = codes.create_code("AUTUMN25", expires_at=now + days(1))
    with pytest.raises(CodeExpired):
        events.customer_signed_up(testing.make_user(), code=fresh.code, now=now + days(2))
