"""Repair shop (seed 'repair shop'): the referrer gets 500 points and the new customer
100 when the new customer signs up with the referrer's code."""

from __future__ import annotations

import pytest

from django_referral_rewards import testing
from django_referral_rewards.models import RewardGrant, RewardRule
from django_referral_rewards.services import accounts, codes, events, ledger


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


@pytest.fixture
def technicians(db):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="technicians")
    busy = testing.make_user("busy_tech", is_staff=True, email="busy@repairs.example")
    free = testing.make_user("free_tech", is_staff=True, email="free@repairs.example")
    away = testing.make_user("away_tech", is_staff=True, is_active=False)
    for user in (busy, free, away):
        user.groups.add(group)
    return {"busy": busy, "free": free, "away": away}


@pytest.mark.django_db(transaction=True)
def test_redeeming_500_points_for_a_repair_discount(program, technicians, mailoutbox):
    from django_referral_rewards.models import RewardOption
    from django_referral_rewards.services import redemptions

    program.fulfilment_group = "technicians"
    program.save()
    discount = RewardOption.objects.create(
        program=program, name="Repair discount", points_cost=500, kind="item", value=25
    )
    # The busy technician already has a repair discount to apply.
    regular = testing.make_user("regular")
    regular_account = accounts.get_or_create_account(regular, program=program)
    ledger.credit(regular_account, 500, reason="Loyal customer")
    first = redemptions.request_redemption(regular_account, discount)
    redemptions.assign(first, technicians["busy"])
    mailoutbox.clear()

    customer = testing.make_user("tom", email="tom@example.com")
    account = accounts.get_or_create_account(customer, program=program)
    ledger.credit(account, 650, reason="Points from repairs")

    redemption = redemptions.request_redemption(account, discount)

    assert ledger.balance(customer) == 150  # taken at once
    assert redemption.status == "approved"  # under the approval threshold
    assert redemption.assigned_to == technicians["free"]  # fewest open redemptions
    assert [m.to for m in mailoutbox] == [["free@repairs.example"]]
    assert "Repair discount" in mailoutbox[0].subject

    tech = technicians["free"]
    redemptions.fulfil(
        redemption, by=tech, notes="Applied to the screen repair.", applied_to=("repair", "123")
    )

    redemption.refresh_from_db()
    assert redemption.status == "fulfilled"
    assert redemption.fulfilled_by == tech and redemption.fulfilled_at is not None
    assert redemption.applied_to == "repair #123"
    assert redemption.notes == "Applied to the screen repair."
    steps = [(e.action, e.status) for e in redemptions.history(redemption)]
    assert steps == [
        ("requested", "pending"),
        ("approved", "approved"),
        ("assigned", "approved"),
        ("fulfilled", "fulfilled"),
    ]
    assert redemptions.history(redemption)[-1].actor == tech
