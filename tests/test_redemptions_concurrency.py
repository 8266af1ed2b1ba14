"""Redemptions under real concurrency (invariants 1, 2, 4 and 6): stock, per-member
limits and balances hold whatever number of members redeem at once; racing staff
steps and replayed requests act once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.enums import EntryKind
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
    OutOfStock,
    RedemptionLimitReached,
)
from django_referral_rewards.models import (
    Account,
    LedgerEntry,
    Redemption,
    RedemptionEvent,
    RewardOption,
    Voucher,
)
from django_referral_rewards.services import ledger, redemptions

from .concurrency import run_workers, split
from .test_ledger_concurrency import assert_consistent

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def make_option(program, **fields) -> RewardOption:
    fields.setdefault("name", "Free oil change")
    fields.setdefault("points_cost", 100)
    fields.setdefault("kind", "item")
    return RewardOption.objects.create(program=program, **fields)


def redeem(account: Account, option: RewardOption, **kwargs) -> Redemption:
    """One worker's request, with its own fresh instances (as a web request would)."""
    return redemptions.request_redemption(
        Account.objects.get(pk=account.pk), RewardOption.objects.get(pk=option.pk), **kwargs
    )


def test_stock_is_never_oversold(program):
    option = make_option(
        program, kind="voucher", voucher_kind="fixed", value=Decimal("5.00"), stock=3
    )
    members = [testing.make_account(program=program, points=500) for _ in range(8)]

    results, errors = split(run_workers(8, lambda i: redeem(members[i], option)), OutOfStock)

    assert (len(results), len(errors)) == (3, 5)
    assert RewardOption.objects.get(pk=option.pk).stock == 0
    assert Redemption.objects.count() == Voucher.objects.count() == 3
    assert {r.status for r in results} == {"fulfilled"}
    winners = {r.account_id for r in results}
    for account in members:
        expected = 400 if account.pk in winners else 500
        assert ledger.balance(account) == expected
        assert_consistent(account)


def test_the_per_member_limit_holds_under_concurrent_requests(program):
    option = make_option(program, per_member_limit=2)
    account = testing.make_account(program=program, points=10_000)

    results, errors = split(
        run_workers(6, lambda i: redeem(account, option)), RedemptionLimitReached
    )

    assert (len(results), len(errors)) == (2, 4)
    assert Redemption.objects.filter(account=account).count() == 2
    assert ledger.balance(account) == 10_000 - 200
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.SPEND).count() == 2
    assert_consistent(account)


def test_concurrent_requests_never_overdraw(program):
    option = make_option(program, points_cost=150)
    account = testing.make_account(program=program, points=300)

    results, errors = split(run_workers(5, lambda i: redeem(account, option)), InsufficientBalance)

    assert (len(results), len(errors)) == (2, 3)
    assert ledger.balance(account) == 0
    assert sorted(r.spend_entry.balance_after for r in results) == [0, 150]
    assert ledger.recompute(account=account) == []
    assert_consistent(account)


def test_one_key_from_many_workers_redeems_once(program):
    option = make_option(program, stock=10)
    account = testing.make_account(program=program, points=1000)

    results, _ = split(run_workers(6, lambda i: redeem(account, option, idempotency_key="k-1")))

    assert len({r.pk for r in results}) == 1
    assert Redemption.objects.count() == 1
    assert RewardOption.objects.get(pk=option.pk).stock == 9
    assert ledger.balance(account) == 900
    assert_consistent(account)


def test_one_key_for_two_members_at_once_writes_one_redemption(program):
    option = make_option(program)
    members = [testing.make_account(program=program, points=500) for _ in range(2)]

    results, errors = split(
        run_workers(2, lambda i: redeem(members[i], option, idempotency_key="shared")),
        IdempotencyConflict,
    )

    assert (len(results), len(errors)) == (1, 1)
    assert Redemption.objects.count() == 1
    assert sorted(ledger.balance(account) for account in members) == [400, 500]
    for account in members:
        assert_consistent(account)


def test_racing_approvals_and_rejections_act_once(program):
    """Approving and rejecting both need a pending redemption: exactly one wins."""
    option = make_option(program, requires_approval=True, stock=1)
    account = testing.make_account(program=program, points=500)
    redemption = redemptions.request_redemption(account, option)
    steps = [
        lambda r: redemptions.approve(r),
        lambda r: redemptions.reject(r, reason="No"),
    ] * 3

    def work(i: int) -> str:
        return steps[i](Redemption.objects.get(pk=redemption.pk)).status

    results, errors = split(run_workers(len(steps), work), InvalidTransition)

    assert len(results) == 1 and len(errors) == len(steps) - 1
    final = Redemption.objects.get(pk=redemption.pk)
    assert final.status == results[0]
    assert RedemptionEvent.objects.filter(redemption=final).count() == 2
    refunds = LedgerEntry.objects.filter(account=account, kind=EntryKind.REVERSE).count()
    stock = RewardOption.objects.get(pk=option.pk).stock
    if final.status == "approved":
        assert (refunds, ledger.balance(account), stock) == (0, 400, 0)
    else:
        assert (refunds, ledger.balance(account), stock) == (1, 500, 1)
    assert_consistent(account)


def test_racing_cancellations_refund_once(program):
    option = make_option(program, stock=1)
    account = testing.make_account(program=program, points=500)
    redemption = redemptions.request_redemption(account, option)
    assert redemption.status == "approved"

    def work(i: int) -> Redemption:
        return redemptions.cancel(Redemption.objects.get(pk=redemption.pk))

    results, errors = split(run_workers(6, work), InvalidTransition)

    assert (len(results), len(errors)) == (1, 5)
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.REVERSE).count() == 1
    assert ledger.balance(account) == 500
    assert RewardOption.objects.get(pk=option.pk).stock == 1
    assert_consistent(account)
