"""Vouchers: issue, apply (idempotent per order), release, void; the errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import signals, testing
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidArgument,
    VoucherAlreadyApplied,
    VoucherError,
    VoucherExpired,
    VoucherNotFound,
    VoucherNotYours,
    VoucherVoid,
)
from django_referral_rewards.models import Program, Voucher
from django_referral_rewards.services import vouchers

from .concurrency import run_workers, split
from .conftest import days


@pytest.fixture
def customer(program):
    user = testing.make_user()
    testing.make_account(testing.make_member(user), program=program)
    return user


def issue(customer, program, **kwargs) -> Voucher:
    from django_referral_rewards.models import Account

    account = Account.objects.get(member__user=customer, program=program)
    kwargs.setdefault("kind", "percent")
    kwargs.setdefault("value", Decimal(15))
    return vouchers.issue_voucher(account, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "value", "order", "discount"),
    [
        ("percent", Decimal(15), Decimal("80.00"), Decimal("12.00")),
        ("percent", Decimal(15), Decimal("0.10"), Decimal("0.02")),  # 0.015 rounds half up
        ("fixed", Decimal("20.00"), Decimal("80.00"), Decimal("20.00")),
        ("fixed", Decimal("20.00"), Decimal("12.50"), Decimal("12.50")),  # never more
        ("free_item", Decimal(0), Decimal("35.00"), Decimal("35.00")),
        ("free_item", Decimal("25.00"), Decimal("35.00"), Decimal("25.00")),  # capped
        ("free_period", Decimal(0), Decimal("49.99"), Decimal("49.99")),
    ],
)
def test_discounts(program, customer, kind, value, order, discount):
    voucher = issue(customer, program, kind=kind, value=value)
    got = vouchers.apply_voucher(voucher.code, user=customer, order_id="A1", order_amount=order)
    assert got == discount
    voucher.refresh_from_db()
    assert (voucher.status, voucher.applied_order_id, voucher.discount) == (
        "applied",
        "A1",
        discount,
    )


@pytest.mark.django_db
def test_codes_are_80_bit_and_found_grouped_or_not(program, customer):
    voucher = issue(customer, program)
    assert len(voucher.code) == 16 and voucher.code.isalnum()
    assert str(voucher) == voucher.display_code
    typed = voucher.display_code.lower()
    assert vouchers.get_voucher(typed) == voucher
    assert vouchers.get_voucher(f" {typed} ", program=program.slug) == voucher
    other = Program.objects.create(slug="other", name="Other")
    with pytest.raises(VoucherNotFound):
        vouchers.get_voucher(voucher.code, program=other)
    with pytest.raises(VoucherNotFound):
        vouchers.get_voucher("")


@pytest.mark.django_db
def test_apply_is_idempotent_per_order(program, customer, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, voucher, order_id, discount, **kwargs):
        seen.append((voucher.pk, order_id, discount))

    signals.voucher_applied.connect(receiver)
    try:
        voucher = issue(customer, program)
        with django_capture_on_commit_callbacks(execute=True):
            first = vouchers.apply_voucher(
                voucher.code, user=customer, order_id="A1", order_amount=100
            )
            again = vouchers.apply_voucher(
                voucher.code, user=customer, order_id="A1", order_amount=Decimal("100.00")
            )
    finally:
        signals.voucher_applied.disconnect(receiver)
    assert first == again == Decimal("15.00")
    assert seen == [(voucher.pk, "A1", Decimal("15.00"))]
    with pytest.raises(IdempotencyConflict):
        vouchers.apply_voucher(voucher.code, user=customer, order_id="A1", order_amount=90)
    with pytest.raises(VoucherAlreadyApplied):
        vouchers.apply_voucher(voucher.code, user=customer, order_id="A2", order_amount=100)


@pytest.mark.django_db
def test_release_makes_it_usable_again(program, customer):
    voucher = issue(customer, program)
    vouchers.apply_voucher(voucher.code, user=customer, order_id="A1", order_amount=100)
    assert vouchers.release_voucher(voucher.code, order_id="B9") is False  # not that order
    assert vouchers.release_voucher(voucher.display_code, order_id="A1") is True
    assert vouchers.release_voucher(voucher.code, order_id="A1") is False  # already
    voucher.refresh_from_db()
    assert (voucher.status, voucher.applied_order_id, voucher.discount) == ("issued", "", None)
    assert vouchers.apply_voucher(
        voucher.code, user=customer, order_id="A2", order_amount=Decimal(20)
    ) == Decimal("3.00")


@pytest.mark.django_db
def test_refusals(program, customer, now):
    expired = issue(customer, program, expires_at=now - days(1))
    with pytest.raises(VoucherExpired):
        vouchers.apply_voucher(expired.code, user=customer, order_id="A", order_amount=10)
    voided = issue(customer, program)
    assert vouchers.void_voucher(voided) is True
    assert vouchers.void_voucher(voided) is False
    with pytest.raises(VoucherVoid):
        vouchers.apply_voucher(voided.code, user=customer, order_id="A", order_amount=10)
    mine = issue(customer, program)
    with pytest.raises(VoucherNotYours):
        vouchers.apply_voucher(mine.code, user=testing.make_user(), order_id="A", order_amount=10)
    with pytest.raises(VoucherNotFound):
        vouchers.apply_voucher("AAAA-BBBB", user=customer, order_id="A", order_amount=10)
    with pytest.raises(InvalidAmount):
        vouchers.apply_voucher(mine.code, user=customer, order_id="A", order_amount=-1)
    with pytest.raises(InvalidAmount):
        vouchers.apply_voucher(mine.code, user=customer, order_id="A", order_amount=1.5)
    with pytest.raises(InvalidArgument):
        vouchers.apply_voucher(mine.code, user=customer, order_id=" ", order_amount=10)
    # Every refusal is a VoucherError or an input error; none changed the voucher.
    assert issubclass(VoucherExpired, VoucherError)
    mine.refresh_from_db()
    assert mine.status == "issued"


@pytest.mark.django_db
def test_bearer_vouchers_can_be_used_by_anyone(program, now):
    voucher = vouchers.issue_voucher(None, program=program, kind="fixed", value=Decimal(5))
    stranger = testing.make_user()
    assert vouchers.apply_voucher(
        voucher.code, user=stranger, order_id="Z", order_amount=50, now=now
    ) == Decimal("5.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("bogus", Decimal(1), InvalidArgument),
        ("percent", Decimal(0), InvalidAmount),
        ("percent", Decimal(101), InvalidAmount),
        ("fixed", Decimal(0), InvalidAmount),
        ("fixed", Decimal(-3), InvalidAmount),
        ("fixed", "x", InvalidAmount),
        ("fixed", Decimal("Infinity"), InvalidAmount),
    ],
)
def test_issue_refuses_bad_input(program, customer, kind, value, error):
    with pytest.raises(error):
        issue(customer, program, kind=kind, value=value)


@pytest.mark.django_db
def test_valid_days_set_the_expiry(program, customer, now):
    voucher = issue(customer, program, valid_days=30, now=now)
    assert voucher.expires_at == now + days(30)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_checkouts_racing_for_one_voucher(program):
    user = testing.make_user()
    testing.make_account(testing.make_member(user), program=program)
    voucher = issue(user, program, kind="fixed", value=Decimal(10))
    outcomes = run_workers(
        8,
        lambda i: vouchers.apply_voucher(
            voucher.code, user=user, order_id=f"O{i}", order_amount=Decimal(50)
        ),
    )
    results, errors = split(outcomes, VoucherAlreadyApplied)
    assert (len(results), len(errors)) == (1, 7)
    assert Voucher.objects.get().status == "applied"
