"""Payouts under real concurrency (invariants 1, 2, 4 and 6): however many requests
race on one account, no more commission is reserved than was earned, the balance never
goes below zero and the ledger agrees with itself; racing staff steps on one payout
act once; a replayed request writes one payout; a payout is sent once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from django_referral_rewards import testing
from django_referral_rewards.enums import EntryKind, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransition,
)
from django_referral_rewards.models import Account, LedgerEntry, Payout, PayoutEvent
from django_referral_rewards.payout_backends import PayoutBackend
from django_referral_rewards.services import ledger, payouts

from .concurrency import run_workers, split
from .test_ledger_concurrency import assert_consistent

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def request(account: Account, amount: str, **kwargs: Any) -> Payout:
    """One worker's request, with its own fresh account (as a web request would)."""
    kwargs.setdefault("method", "bank_transfer")
    return payouts.request_payout(
        Account.objects.get(pk=account.pk), amount=Decimal(amount), **kwargs
    )


def fresh(payout: Payout) -> Payout:
    return Payout.objects.get(pk=payout.pk)


def commission(account: Account) -> int:
    return ledger.balance(Account.objects.get(pk=account.pk), unit=Unit.COMMISSION)


def reserved(account: Account) -> int:
    """Minor units reserved by the account's payouts (what their entries took)."""
    return -sum(
        LedgerEntry.objects.filter(
            account=account, kind=EntryKind.PAYOUT, unit=Unit.COMMISSION
        ).values_list("amount", flat=True)
    )


@pytest.fixture
def boss(db):
    return testing.make_user("boss", is_staff=True)


def test_concurrent_requests_never_overdraw(program):
    account = testing.make_account(program=program, commission=5000)

    results, errors = split(
        run_workers(8, lambda i: request(account, "15.00")), InsufficientBalance
    )

    assert (len(results), len(errors)) == (3, 5)
    assert commission(account) == 500
    assert reserved(account) == 4500
    assert Payout.objects.filter(account=account).count() == 3
    assert PayoutEvent.objects.count() == 3
    assert sorted(fresh(p).reserve_entry.balance_after for p in results) == [500, 2000, 3500]
    assert all(exc.context["requested"] == 1500 for exc in errors)
    assert "of commission is available; 15.00 USD was requested" in str(errors[0])
    assert_consistent(account, Unit.COMMISSION)
    assert testing.ledger_is_consistent(Account.objects.get(pk=account.pk))


def test_requests_of_different_sizes_reserve_no_more_than_the_balance(program):
    account = testing.make_account(program=program, commission=6000)
    amounts = ["10.00", "20.00", "30.00", "40.00", "15.00", "25.00", "5.00", "35.00"]

    results, errors = split(
        run_workers(len(amounts), lambda i: request(account, amounts[i])), InsufficientBalance
    )

    left = commission(account)
    assert left >= 0
    taken = sum(int(p.amount * 100) for p in results)
    assert reserved(account) == taken == 6000 - left
    # A request is refused only when it did not fit: and the balance only went down.
    assert all(exc.context["requested"] > left for exc in errors)
    assert len(results) + len(errors) == len(amounts)
    assert_consistent(account, Unit.COMMISSION)


def test_requests_and_a_clawback_at_once_keep_the_ledger_consistent(program):
    """Only the clawback (a reversal) may take the balance below zero; a request never
    does."""
    account = testing.make_account(program=program, commission=4000)
    earned = LedgerEntry.objects.get(account=account)

    def work(i: int) -> Any:
        if i == 0:
            return ledger.reverse(LedgerEntry.objects.get(pk=earned.pk), reason="Refunded order")
        return request(account, "10.00")

    results, errors = split(run_workers(6, work), InsufficientBalance)

    granted = [r for r in results if isinstance(r, Payout)]
    assert len(granted) + len(errors) == 5
    assert len(granted) <= 4
    assert commission(account) == -1000 * len(granted)
    for payout in granted:
        assert fresh(payout).reserve_entry.balance_after >= 0
    assert_consistent(account, Unit.COMMISSION)


def test_one_key_from_many_workers_requests_once(program):
    account = testing.make_account(program=program, commission=5000)

    results, _ = split(run_workers(6, lambda i: request(account, "20.00", idempotency_key="k-1")))

    assert len({p.pk for p in results}) == 1
    assert Payout.objects.count() == 1 and PayoutEvent.objects.count() == 1
    assert commission(account) == 3000
    assert_consistent(account, Unit.COMMISSION)


def test_one_key_for_two_members_at_once_writes_one_payout(program):
    members = [testing.make_account(program=program, commission=5000) for _ in range(2)]

    results, errors = split(
        run_workers(2, lambda i: request(members[i], "20.00", idempotency_key="shared")),
        IdempotencyConflict,
    )

    assert (len(results), len(errors)) == (1, 1)
    assert Payout.objects.count() == 1
    assert sorted(commission(account) for account in members) == [3000, 5000]
    for account in members:
        assert_consistent(account, Unit.COMMISSION)


def test_racing_approvals_and_cancellations_of_an_account_credit_payout_act_once(program, boss):
    """An account-credit payout is paid when approved (final), and a cancelled one is
    final too: of approvals and cancellations racing, exactly one wins."""
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00", method="account_credit")
    steps = [
        lambda p: payouts.approve_payout(p, by=boss),
        lambda p: payouts.cancel_payout(p, by=boss, reason="No"),
    ] * 3

    results, errors = split(
        run_workers(len(steps), lambda i: steps[i](fresh(payout)).status), InvalidTransition
    )

    assert len(results) == 1 and len(errors) == len(steps) - 1
    final = fresh(payout)
    assert final.status == results[0]
    credit = ledger.balance(Account.objects.get(pk=account.pk), unit=Unit.CREDIT)
    returns = LedgerEntry.objects.filter(account=account, kind=EntryKind.REVERSE).count()
    actions = list(PayoutEvent.objects.filter(payout=final).values_list("action", flat=True))
    if final.status == "paid":
        assert (credit, commission(account), returns) == (2000, 3000, 0)
        assert actions == ["requested", "approved", "paid"]
    else:
        assert final.status == "cancelled"
        assert (credit, commission(account), returns) == (0, 5000, 1)
        assert actions == ["requested", "cancelled"]
    assert_consistent(account, Unit.COMMISSION)
    assert_consistent(account, Unit.CREDIT)


def test_a_cancel_racing_approvals_cancels_once(program, boss):
    """An approved bank transfer may still be cancelled, so a cancellation racing
    approvals always ends cancelled: one cancellation wins, at most one approval comes
    before it, and the amount is returned once."""
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00")
    steps = [
        lambda p: ("approve", payouts.approve_payout(p, by=boss).status),
        lambda p: ("cancel", payouts.cancel_payout(p, by=boss, reason="No").status),
    ] * 3

    results, errors = split(
        run_workers(len(steps), lambda i: steps[i](fresh(payout))), InvalidTransition
    )

    assert results.count(("cancel", "cancelled")) == 1
    approvals = results.count(("approve", "approved"))
    assert approvals <= 1
    assert len(results) + len(errors) == len(steps)
    final = fresh(payout)
    assert final.status == "cancelled"
    assert (final.approved_by is not None) == (approvals == 1)
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.REVERSE).count() == 1
    assert PayoutEvent.objects.filter(payout=final).count() == 2 + approvals
    assert commission(account) == 5000
    assert_consistent(account, Unit.COMMISSION)


def test_racing_approvals_act_once(program, boss):
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00")
    other = testing.make_user("other_boss", is_staff=True)

    results, errors = split(
        run_workers(6, lambda i: payouts.approve_payout(fresh(payout), by=(boss, other)[i % 2])),
        InvalidTransition,
    )

    assert (len(results), len(errors)) == (1, 5)
    final = fresh(payout)
    assert (final.status, final.approved_by) == ("approved", results[0].approved_by)
    assert PayoutEvent.objects.filter(payout=final, action="approved").count() == 1


def test_racing_cancellations_return_the_amount_once(program):
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00")

    results, errors = split(
        run_workers(6, lambda i: payouts.cancel_payout(fresh(payout))), InvalidTransition
    )

    assert (len(results), len(errors)) == (1, 5)
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.REVERSE).count() == 1
    assert commission(account) == 5000
    assert_consistent(account, Unit.COMMISSION)


def test_racing_mark_paid_and_cancel_of_an_approved_payout_act_once(program, boss):
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00")
    payouts.approve_payout(payout, by=boss)
    steps = [
        lambda p: payouts.mark_paid(p, by=boss, reference="BANK-1"),
        lambda p: payouts.cancel_payout(p, by=boss),
    ] * 3

    results, errors = split(
        run_workers(len(steps), lambda i: steps[i](fresh(payout)).status), InvalidTransition
    )

    assert len(results) == 1 and len(errors) == 5
    final = fresh(payout)
    assert final.status == results[0]
    assert PayoutEvent.objects.filter(payout=final).count() == 3
    expected = 3000 if final.status == "paid" else 5000
    assert commission(account) == expected
    assert_consistent(account, Unit.COMMISSION)


def test_racing_approvals_of_an_account_credit_payout_credit_once(program, boss):
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00", method="account_credit")

    results, errors = split(
        run_workers(6, lambda i: payouts.approve_payout(fresh(payout), by=boss)),
        InvalidTransition,
    )

    assert (len(results), len(errors)) == (1, 5)
    assert fresh(payout).status == "paid"
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.TRANSFER).count() == 1
    assert ledger.balance(Account.objects.get(pk=account.pk), unit=Unit.CREDIT) == 2000
    assert commission(account) == 3000
    assert_consistent(account, Unit.COMMISSION)
    assert_consistent(account, Unit.CREDIT)


class CountingProvider(PayoutBackend):
    """Pays at once and counts the calls."""

    automatic = True
    calls: list[int] = []

    def submit(self, payout: Payout) -> str:
        CountingProvider.calls.append(payout.pk)
        return f"P-{payout.pk}"


def test_racing_sends_call_the_provider_once(program, boss, settings):
    CountingProvider.calls = []
    settings.REFERRAL_REWARDS_PAYOUT_BACKEND = "tests.test_payouts_concurrency.CountingProvider"
    account = testing.make_account(program=program, commission=5000)
    payout = request(account, "20.00")
    payouts.approve_payout(payout, by=boss)

    results, errors = split(
        run_workers(5, lambda i: payouts.send_payout(fresh(payout), by=boss)), InvalidTransition
    )

    assert (len(results), len(errors)) == (1, 4)
    assert CountingProvider.calls == [payout.pk]
    final = fresh(payout)
    assert (final.status, final.attempts, final.external_reference) == (
        "paid",
        1,
        f"P-{payout.pk}",
    )
    assert commission(account) == 3000
