"""Vet clinic (seed 001): a campaign code with an expiry and a usage limit; the referrer
is paid 10% commission of the new client's first purchase; the new client gets a 15%
discount voucher for the first visit; milestone bonuses on the 1st, 5th and 10th
converted referral. An influencer without a user account on their own 10% commission
is paid out by bank transfer (and the bank batch exported); a referrer takes their
commission as account credit; the balance of referrals with a partner clinic."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.enums import Unit
from django_referral_rewards.exceptions import CodeExhausted, CodeExpired, InsufficientBalance
from django_referral_rewards.models import (
    Account,
    Campaign,
    Partner,
    Payout,
    RewardGrant,
    RewardRule,
)
from django_referral_rewards.resources import export_payouts
from django_referral_rewards.services import (
    codes,
    events,
    ledger,
    payouts,
    professional,
    rewards,
    vouchers,
)

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


# --- commissions, payouts and account credit (issue 5) --------------------------------------


@pytest.mark.django_db
def test_an_influencer_on_10_percent_is_paid_20_by_bank_transfer(clinic, program, now):
    """The issue's scenario: an influencer (no user account) with a 10% commission
    refers three customers; two convert with first purchases of 80 and 120; after the
    hold period the commission balance is 20; a payout of 20 by bank transfer is
    requested, approved and paid; a second request for any amount is refused; the CSV
    export lists the paid payout."""
    program.hold_days = 14
    program.save()
    influencer = testing.make_member(
        user=False, kind="influencer", name="Paws & Claws Blog", email="hello@paws.example"
    )
    account = testing.make_account(influencer, program=program)
    account.commission_kind, account.commission_value = "commission_percent", Decimal(10)
    account.full_clean()
    account.save()
    code = codes.get_or_create_personal_code(influencer, program=program)

    customers = [testing.make_user(f"pet_owner{n}") for n in range(3)]
    for customer in customers:
        events.customer_signed_up(customer, code=code.code, program=program, now=now)
    events.order_completed(customers[0], "visit-80", Decimal("80.00"), occurred_at=now)
    events.order_completed(customers[1], "visit-120", Decimal("120.00"), occurred_at=now)

    # Held during the hold period (her own terms replace the clinic's commission rules
    # and milestone bonuses).
    assert ledger.balance(influencer, unit=Unit.COMMISSION, program=program) == 0
    assert sorted(g.value for g in RewardGrant.objects.filter(account=account)) == [
        Decimal("8.00"),
        Decimal("12.00"),
    ]
    rewards.release_due(now=now + days(14))
    assert ledger.balance(influencer, unit=Unit.COMMISSION, program=program) == 2000
    account.refresh_from_db()
    assert payouts.available(account) == Decimal("20.00")

    payout = payouts.request_payout(
        influencer,
        amount=Decimal("20"),
        method="bank_transfer",
        destination="DE89 3704 0044 0532 0130 00",
        program=program,
    )
    practice_manager = testing.make_user("practice_manager", is_staff=True)
    payouts.approve_payout(payout, by=practice_manager)
    payouts.mark_paid(payout, by=practice_manager, reference="SEPA-0001")

    payout.refresh_from_db()
    assert (payout.status, payout.amount, payout.external_reference) == (
        "paid",
        Decimal("20.00"),
        "SEPA-0001",
    )
    assert ledger.balance(influencer, unit=Unit.COMMISSION, program=program) == 0
    assert testing.ledger_is_consistent(Account.objects.get(pk=account.pk))
    for amount in (Decimal("20.00"), Decimal("0.01"), Decimal(5)):
        with pytest.raises(InsufficientBalance, match=r"0\.00 USD of commission is available"):
            payouts.request_payout(influencer, amount=amount, method="bank_transfer")
    assert Payout.objects.count() == 1

    rows = list(csv.DictReader(io.StringIO(export_payouts(Payout.objects.all()))))
    assert len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("id", "payee", "email", "method", "amount", "status")} == {
        "id": str(payout.pk),
        "payee": "Paws & Claws Blog",
        "email": "hello@paws.example",
        "method": "bank_transfer",
        "amount": "20.00",
        "status": "paid",
    }
    assert (row["destination"], row["currency"], row["external_reference"]) == (
        "DE89 3704 0044 0532 0130 00",
        "USD",
        "SEPA-0001",
    )
    assert row["program"] == program.slug and row["paid_at"]


@pytest.mark.django_db
def test_a_referrer_takes_commission_as_account_credit(clinic, program, now):
    """Dr Smith takes the commission as credit on the clinic's bills; the clinic's
    billing reads the credit balance and applies it to an invoice."""
    referrer, code = clinic
    first_visit(code.code, now, 1)
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 4200  # 10% of 170 + 25

    payout = payouts.request_payout(referrer, amount=Decimal("42.00"), method="account_credit")
    assert payout.requested_by == referrer
    payouts.approve_payout(payout, by=testing.make_user("manager", is_staff=True))

    assert Payout.objects.get(pk=payout.pk).status == "paid"
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 0
    # The host's billing reads the credit, then takes what it applies to an invoice.
    account = Account.objects.get(member__user=referrer)
    assert ledger.balance(account, unit="credit") == 4200
    ledger.debit(
        account, 3000, unit="credit", reason="Applied to invoice", reference=("invoice", "INV-7")
    )
    assert ledger.balance(referrer, unit="credit") == 1200
    assert testing.ledger_is_consistent(Account.objects.get(pk=account.pk))


@pytest.mark.django_db
def test_the_bank_batch_exports_approved_payouts(clinic, program, now):
    referrer, code = clinic
    first_visit(code.code, now, 1)
    manager = testing.make_user("manager", is_staff=True)
    approved = payouts.request_payout(referrer, amount=Decimal("30.00"), method="bank_transfer")
    payouts.approve_payout(approved, by=manager)
    payouts.request_payout(referrer, amount=Decimal("12.00"), method="cash")  # still pending

    rows = list(
        csv.DictReader(io.StringIO(export_payouts(Payout.objects.filter(status="approved"))))
    )
    assert [(r["id"], r["payee"], r["amount"], r["status"]) for r in rows] == [
        (str(approved.pk), "dr_smith", "30.00", "approved")
    ]


@pytest.mark.django_db
def test_a_partner_clinic_that_sent_us_3_and_received_2_owes_us_1():
    """The issue's scenario: "A partner clinic sent us 3 referrals and received 2: the
    balance reads 'They owe us 1'"."""
    oncology = Partner.objects.create(
        name="Northside Veterinary Oncology", kind="specialist", specialty="Oncology"
    )
    for n in range(3):
        professional.record_referral(oncology, direction="received", reference=f"PET-{n}")
    for n in range(2):
        professional.record_referral(oncology, direction="sent", reference=f"PET-{10 + n}")

    result = professional.balance(oncology)

    assert (result.received, result.sent, result.balance) == (3, 2, 1)
    assert result.description.startswith("They owe us 1")
    assert result.description == "They owe us 1 referral"
    assert [row.description for row in professional.balances()] == ["They owe us 1 referral"]
