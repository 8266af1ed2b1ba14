"""Service-order platform (seed 'service orders'): the referral discount is applied to
the order before points are redeemed against what is left; the same code cannot be used
twice by one customer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.exceptions import AlreadyReferred, CodeAlreadyUsed
from django_referral_rewards.models import Account, RewardRule
from django_referral_rewards.services import codes, events, ledger, vouchers


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
