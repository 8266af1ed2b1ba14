"""Service-order platform (seed 'service orders'): the referral discount is applied to
the order before points are redeemed against what is left; the same code cannot be used
twice by one customer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.exceptions import AlreadyReferred, CodeAlreadyUsed
from django_referral_rewards.models import Account, RewardRule
from django_referral_rewards.services import accounts, codes, events, ledger, vouchers


@pytest.fixture
def platform(program):
    RewardRule.objects.create(
        program=program,
        name="10% off your first service",
        trigger="signup",
        beneficiary="referee",
        kind="voucher_percent",
        value=Decimal(10),
    )
    RewardRule.objects.create(
        program=program,
        name="Thanks for the referral",
        trigger="first_order",
        beneficiary="referrer",
        kind="points",
        value=Decimal(300),
    )
    return program


@pytest.mark.django_db
def test_discount_first_then_points_on_the_rest(platform):
    referrer = testing.make_user()
    code = codes.get_or_create_personal_code(referrer)
    customer = testing.make_user()
    events.customer_signed_up(customer, code=code.code)
    account = Account.objects.get(member__user=customer)
    ledger.credit(account, 5000, reason="Points from earlier services")  # 1 point = 0.01

    order_total = Decimal("120.00")
    voucher = account.vouchers.get()
    discount = vouchers.apply_voucher(
        voucher.code, user=customer, order_id="SO-1", order_amount=order_total
    )
    after_discount = order_total - discount
    assert after_discount == Decimal("108.00")
    # Points pay for part of what is left, never of the discount.
    points_value = min(Decimal(account.program.from_minor(ledger.balance(account))), after_discount)
    ledger.debit(
        account,
        account.program.to_minor(points_value),
        reason="Paid with points",
        idempotency_key="SO-1:points",
        reference=("service_order", "SO-1"),
    )
    to_pay = after_discount - points_value
    assert (points_value, to_pay) == (Decimal("50.00"), Decimal("58.00"))
    outcome = events.order_completed(customer, "SO-1", to_pay)
    assert outcome.converted
    assert ledger.balance(customer) == 0
    assert ledger.balance(referrer) == 300


@pytest.mark.django_db
def test_the_same_code_cannot_be_used_twice_by_one_customer(platform):
    code = codes.create_code("FRIEND10", owner=testing.make_user(), max_uses_per_customer=1)
    customer = testing.make_user()
    codes.use_code(code.code, user=customer, reference=("service_order", "SO-1"))
    with pytest.raises(CodeAlreadyUsed):
        codes.use_code(code.code, user=customer, reference=("service_order", "SO-2"))
    # And a customer is referred once: another referrer's code is refused at sign-up.
    other = codes.get_or_create_personal_code(testing.make_user())
    newcomer = testing.make_user()
    events.customer_signed_up(
        newcomer, code=codes.get_or_create_personal_code(testing.make_user()).code
    )
    with pytest.raises(AlreadyReferred):
        events.customer_signed_up(newcomer, code=other.code)


@pytest.mark.django_db
def test_a_redemption_above_the_threshold_waits_for_an_admin_and_rejecting_refunds(platform):
    from django_referral_rewards.exceptions import InvalidTransition
    from django_referral_rewards.models import RewardOption
    from django_referral_rewards.services import redemptions

    platform.redemption_approval_threshold = 1000
    platform.save()
    small = RewardOption.objects.create(
        program=platform, name="Free wash", points_cost=400, kind="item"
    )
    big = RewardOption.objects.create(
        program=platform,
        name="Free full service",
        points_cost=1500,
        kind="voucher",
        voucher_kind="free_item",
        value=Decimal(0),
    )
    admin = testing.make_user("ops", is_staff=True)
    customer = testing.make_user()
    account = accounts.get_or_create_account(customer, program=platform)
    ledger.credit(account, 2000, reason="Points from service orders")

    assert redemptions.request_redemption(account, small).status == "approved"
    waiting = redemptions.request_redemption(account, big)

    assert waiting.status == "pending" and waiting.voucher is None
    assert ledger.balance(customer) == 100  # both taken at once

    redemptions.reject(waiting, by=admin, reason="Service not offered at your branch.")

    waiting.refresh_from_db()
    assert waiting.status == "rejected" and waiting.processed_by == admin
    assert waiting.reason == "Service not offered at your branch."
    assert ledger.balance(customer) == 1600  # the 1,500 points came back
    assert waiting.refund_entry.amount == 1500 and waiting.refund_entry.kind == "reverse"
    with pytest.raises(InvalidTransition):
        redemptions.approve(waiting, by=admin)
    assert ledger.balance(customer) == 1600
    assert testing.ledger_is_consistent(account)


@pytest.mark.django_db
def test_an_approved_redemption_above_the_threshold_issues_its_voucher(platform):
    from django_referral_rewards.models import RewardOption
    from django_referral_rewards.services import redemptions

    platform.redemption_approval_threshold = 1000
    platform.save()
    big = RewardOption.objects.create(
        program=platform,
        name="Free full service",
        points_cost=1500,
        kind="voucher",
        voucher_kind="free_item",
        value=Decimal(0),
    )
    admin = testing.make_user("ops", is_staff=True)
    customer = testing.make_user()
    account = accounts.get_or_create_account(customer, program=platform)
    ledger.credit(account, 1500, reason="Points from service orders")
    waiting = redemptions.request_redemption(account, big)

    redemptions.approve(waiting, by=admin)

    waiting.refresh_from_db()
    assert waiting.status == "fulfilled" and waiting.voucher.kind == "free_item"
    assert vouchers.apply_voucher(
        waiting.voucher.code, user=customer, order_id="SO-9", order_amount=Decimal("80")
    ) == Decimal("80")
