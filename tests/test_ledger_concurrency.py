"""The ledger's invariants under real concurrency (DESIGN.md section 6).

Every test here starts real threads, each with its own Django database connection, against
the configured database (``DB_BACKEND=sqlite|postgres|mysql``), and releases them together
with a barrier. Outcomes are asserted exactly: how many operations succeeded and failed,
the balance that results, and that the ledger agrees with itself afterwards
(``ledger.recompute`` finds nothing, open lots add up to the positive part of the balance,
and the entries, in the order they were written, carry a running ``balance_after``).

The crash-safety tests (invariant 9) also commit for real, so they live here too.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from django_referral_rewards import signals, testing
from django_referral_rewards.enums import EntryKind, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    NotReversible,
)
from django_referral_rewards.models import Account, EarnLot, LedgerEntry
from django_referral_rewards.querysets import AccountQuerySet
from django_referral_rewards.services import ledger

from .concurrency import JOIN_TIMEOUT, Crash, run_workers, split

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def fresh(account: Account) -> Account:
    return Account.objects.get(pk=account.pk)


def open_lots(account: Account, unit: str = Unit.POINTS) -> int:
    total = EarnLot.objects.filter(account=account, unit=unit, remaining__gt=0).aggregate(
        total=Sum("remaining")
    )["total"]
    return int(total or 0)


def entry_sum(account: Account, unit: str = Unit.POINTS, **filters: Any) -> int:
    total = LedgerEntry.objects.filter(account=account, unit=unit, **filters).aggregate(
        total=Sum("amount")
    )["total"]
    return int(total or 0)


def assert_consistent(account: Account, unit: str = Unit.POINTS) -> None:
    """Invariants 1 and 2 for one account, checked against the database.

    The entries, in the order they were written (by pk: every write holds the account
    lock, so that is the serial order), must each carry the running balance; only a
    reversal may take the balance below zero or further below it.
    """
    assert ledger.recompute(account=account) == []
    running = 0
    for entry in LedgerEntry.objects.filter(account=account, unit=unit).order_by("pk"):
        running += entry.amount
        assert entry.balance_after == running, (
            f"entry #{entry.pk} ({entry}) says balance {entry.balance_after}, "
            f"the entries before it add up to {running}"
        )
        if entry.amount < 0 and running < 0:
            assert entry.kind == EntryKind.REVERSE, f"{entry} took the balance to {running}"
    current = ledger.balance(fresh(account), unit=unit)
    assert current == running
    assert open_lots(account, unit) == max(current, 0)


# --- spends never overdraw (invariant 2) ------------------------------------------------


def test_concurrent_unit_debits_never_overdraw(program):
    account = testing.make_account(program=program, points=7)

    def work(i: int) -> LedgerEntry:
        return ledger.debit(fresh(account), 1, reason=f"worker {i}")

    entries, errors = split(run_workers(20, work), InsufficientBalance)

    assert len(entries) == 7
    assert len(errors) == 13
    assert all(exc.requested == 1 and exc.balance == 0 for exc in errors)
    assert len({entry.pk for entry in entries}) == 7
    assert ledger.balance(account) == 0
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.SPEND).count() == 7
    assert entry_sum(account) == 0
    assert open_lots(account) == 0
    assert sorted(entry.balance_after for entry in entries) == list(range(7))
    assert_consistent(account)


def test_concurrent_debits_and_credits_keep_balance_non_negative(program, now):
    account = testing.make_account(program=program, points=30)
    # Two lots already past their date: never spendable, expired by the first spend.
    for hours in (1, 2):
        ledger.credit(
            account,
            5,
            reason="old promo",
            expires_at=now - dt.timedelta(hours=hours),
            now=now - dt.timedelta(days=30),
        )
    start = ledger.balance(account)
    assert start == 40

    def work(i: int) -> list[tuple[str, int, bool]]:
        mine = fresh(account)
        done = []
        for step in range(3):
            if (i + step) % 2 == 0:
                amount = (i * 7 + step) % 9 + 4
                try:
                    ledger.debit(mine, amount, reason=f"w{i} s{step}", now=now)
                except InsufficientBalance:
                    done.append(("debit", amount, False))
                else:
                    done.append(("debit", amount, True))
            else:
                amount = (i + step) % 5 + 1
                ledger.credit(
                    mine,
                    amount,
                    reason=f"w{i} s{step}",
                    expires_at=now + dt.timedelta(days=1 + i % 3),
                    now=now,
                )
                done.append(("credit", amount, True))
        return done

    results, _ = split(run_workers(20, work))
    ops = [op for result in results for op in result]
    credited = sum(amount for kind, amount, ok in ops if kind == "credit")
    spent = sum(amount for kind, amount, ok in ops if kind == "debit" and ok)
    refused = [amount for kind, amount, ok in ops if kind == "debit" and not ok]
    requested = sum(amount for kind, amount, ok in ops if kind == "debit")

    # More was asked for than was ever there, so some spends must have been refused.
    assert requested > start - 10 + credited
    assert refused
    assert spent > 0
    # The two stale lots were expired exactly once, by the first spend.
    expiries = LedgerEntry.objects.filter(account=account, kind=EntryKind.EXPIRE)
    assert [entry.amount for entry in expiries] == [-10]
    assert ledger.balance(account) == start - 10 + credited - spent >= 0
    assert entry_sum(account, kind=EntryKind.SPEND) == -spent
    assert_consistent(account)


# --- idempotency under races (invariant 4) -----------------------------------------------


@pytest.mark.parametrize("operation", ["credit", "debit", "adjust"])
def test_replayed_key_has_one_effect(program, operation):
    account = testing.make_account(program=program, points=100)
    call = getattr(ledger, operation)

    def work(i: int) -> LedgerEntry:
        return call(fresh(account), 30, reason="order 1", idempotency_key="order-1")

    entries, _ = split(run_workers(10, work))

    assert len(entries) == 10
    assert len({entry.pk for entry in entries}) == 1
    assert LedgerEntry.objects.filter(account=account, idempotency_key="order-1").count() == 1
    assert LedgerEntry.objects.filter(account=account).count() == 2  # opening + one
    expected = 70 if operation == "debit" else 130
    assert ledger.balance(account) == expected
    assert_consistent(account)


@pytest.mark.parametrize("operation", ["credit", "debit"])
def test_replayed_key_with_another_amount_is_a_conflict(program, operation):
    account = testing.make_account(program=program, points=1000)
    call = getattr(ledger, operation)

    def work(i: int) -> LedgerEntry:
        return call(fresh(account), 10 + i, reason="order 2", idempotency_key="order-2")

    results, conflicts = split(run_workers(10, work), IdempotencyConflict)

    assert len(results) == 1
    assert len(conflicts) == 9
    (winner,) = results
    stored = LedgerEntry.objects.get(account=account, idempotency_key="order-2")
    assert stored.pk == winner.pk
    assert all(exc.context["entry_id"] == winner.pk for exc in conflicts)
    amount = abs(stored.amount)
    assert 10 <= amount < 20
    assert LedgerEntry.objects.filter(account=account).count() == 2
    expected = 1000 - amount if operation == "debit" else 1000 + amount
    assert ledger.balance(account) == expected
    assert_consistent(account)


# --- the expiry sweep (invariants 9 and 12) -----------------------------------------------


def _accounts_with_due_lots(
    program: Any, now: dt.datetime, accounts: int, due_per_account: int
) -> tuple[list[Account], dict[int, int], set[int]]:
    """``accounts`` accounts, each with 50 points that never expire, ``due_per_account``
    lots past their date and one lot due in ten days. Lots are created round-robin, so
    one account's lots are spread over several sweep batches. Returns the accounts, the
    due lots as ``{pk: amount}`` and the pks of the lots that are not due."""
    made = [testing.make_account(program=program, points=50) for _ in range(accounts)]
    earlier = now - dt.timedelta(days=30)
    for round_ in range(due_per_account):
        for n, account in enumerate(made):
            ledger.credit(
                account,
                1 + (n + round_) % 4,
                reason="promo",
                expires_at=now - dt.timedelta(hours=round_ + 1),
                now=earlier,
            )
    for account in made:
        ledger.credit(
            account, 3, reason="later", expires_at=now + dt.timedelta(days=10), now=earlier
        )
    due = dict(EarnLot.objects.due(now).filter(account__in=made).values_list("pk", "amount"))
    assert len(due) == accounts * due_per_account
    not_due = set(
        EarnLot.objects.filter(account__in=made).exclude(pk__in=due).values_list("pk", flat=True)
    )
    return made, due, not_due


def _assert_expired_exactly_once(
    made: list[Account], due: dict[int, int], not_due: set[int]
) -> None:
    lots = {lot.pk: lot for lot in EarnLot.objects.filter(account__in=made)}
    for pk, amount in due.items():
        assert (lots[pk].remaining, lots[pk].expired) == (0, amount), f"lot #{pk}"
    for pk in not_due:
        assert lots[pk].expired == 0, f"lot #{pk} expired although not due"
    mentions: Counter[int] = Counter()
    for entry in LedgerEntry.objects.filter(account__in=made, kind=EntryKind.EXPIRE):
        for lot_pk, qty in entry.lots:
            mentions[lot_pk] += 1
            assert qty == due[lot_pk]
    assert dict(mentions) == dict.fromkeys(due, 1), "a lot expired twice or not at all"
    total = sum(
        entry.amount
        for entry in LedgerEntry.objects.filter(account__in=made, kind=EntryKind.EXPIRE)
    )
    assert total == -sum(due.values())
    assert ledger.recompute() == []
    # Invariant 11: issued - spent - expired == the sum of the balances.
    totals = ledger.program_totals()[Unit.POINTS]
    assert totals["expire"] == -sum(due.values())
    assert totals["ledger"] == totals["balances"]


def test_racing_sweeps_and_spends_expire_each_lot_once(program, now):
    made, due, not_due = _accounts_with_due_lots(program, now, accounts=24, due_per_account=3)
    before = {account.pk: ledger.balance(account) for account in made}
    due_by_account = Counter()
    for lot in EarnLot.objects.filter(pk__in=due):
        due_by_account[lot.account_id] += lot.amount

    def work(i: int) -> Any:
        if i < 2:  # two sweeps, small batches so that they interleave
            return ledger.expire_lots(now=now, batch_size=7)
        order = made if i == 2 else made[::-1]  # two spenders, opposite orders
        for account in order:
            ledger.debit(fresh(account), 1, reason=f"spender {i}", now=now)
        return None

    results, _ = split(run_workers(4, work))
    sweeps = [result for result in results if result is not None]
    assert len(sweeps) == 2
    # A sweep skips accounts another worker has locked (SKIP LOCKED); the next run
    # picks up whatever both racing runs skipped, and must not repeat anything.
    final = ledger.expire_lots(now=now, batch_size=7)
    again = ledger.expire_lots(now=now, batch_size=7)
    assert (again.lots, again.entries, again.amounts) == (0, 0, {})

    swept = sum(result.amounts.get(Unit.POINTS, 0) for result in [*sweeps, final])
    assert swept <= sum(due.values())
    assert sum(result.lots for result in [*sweeps, final]) <= len(due)
    _assert_expired_exactly_once(made, due, not_due)
    for account in made:
        assert ledger.balance(account) == before[account.pk] - due_by_account[account.pk] - 2
        assert_consistent(account)


def test_racing_sweeps_alone_expire_each_lot_once(program, now):
    made, due, not_due = _accounts_with_due_lots(program, now, accounts=20, due_per_account=4)

    results, _ = split(run_workers(3, lambda i: ledger.expire_lots(now=now, batch_size=5 + i)))
    final = ledger.expire_lots(now=now, batch_size=5)
    total = sum(result.amounts.get(Unit.POINTS, 0) for result in [*results, final])
    assert total == sum(due.values())  # reported exactly once between all the runs
    assert sum(result.lots for result in [*results, final]) == len(due)
    _assert_expired_exactly_once(made, due, not_due)


# --- clawbacks racing spends (invariant 2: only reversals go below zero) --------------


def test_clawback_racing_spends(program):
    account = testing.make_account(program=program)
    earned = ledger.credit(account, 100, reason="referral reward")

    def work(i: int) -> Any:
        if i == 0:
            return ledger.reverse(LedgerEntry.objects.get(pk=earned.pk), reason="order refunded")
        return ledger.debit(fresh(account), 10, reason=f"redeem {i}")

    outcomes = run_workers(13, work)
    results, refused = split(outcomes, InsufficientBalance)
    assert outcomes[0][0] == "ok"
    clawback = outcomes[0][1]
    spends = [entry for entry in results if entry.pk != clawback.pk]
    assert clawback.kind == EntryKind.REVERSE
    assert clawback.amount == -100  # spends do not lower what a clawback may take
    assert len(spends) + len(refused) == 12
    assert len(spends) <= 10
    assert ledger.balance(account) == -10 * len(spends)
    assert all(entry.balance_after >= 0 for entry in spends)
    assert open_lots(account) == 0
    assert_consistent(account)
    # Below zero, nothing more can be spent.
    if spends:
        with pytest.raises(InsufficientBalance):
            ledger.debit(fresh(account), 1, reason="late")


@pytest.mark.parametrize("keyed", [False, True])
def test_racing_full_reversals_reverse_once(program, keyed):
    """The same refund processed by ten workers claws back once."""
    account = testing.make_account(program=program, points=20)
    earned = ledger.credit(account, 100, reason="referral reward")

    def work(i: int) -> LedgerEntry:
        return ledger.reverse(
            LedgerEntry.objects.get(pk=earned.pk),
            reason="order refunded",
            idempotency_key="refund-1" if keyed else None,
        )

    results, errors = split(run_workers(10, work), NotReversible)
    if keyed:
        assert len(results) == 10
        assert not errors
    else:
        assert len(results) == 1
        assert len(errors) == 9
    assert len({entry.pk for entry in results}) == 1
    assert LedgerEntry.objects.filter(reverses=earned).count() == 1
    assert ledger.balance(account) == 20
    assert ledger.reversible_amount(earned) == 0
    assert_consistent(account)


def test_racing_partial_reversals_never_exceed_the_entry(program):
    account = testing.make_account(program=program, points=5)
    earned = ledger.credit(account, 100, reason="referral reward")

    def work(i: int) -> LedgerEntry:
        return ledger.reverse(
            LedgerEntry.objects.get(pk=earned.pk), reason=f"partial refund {i}", amount=15
        )

    results, errors = split(run_workers(10, work), InvalidAmount)
    assert len(results) == 6  # 6 x 15 = 90; the 10 left is less than 15
    assert len(errors) == 4
    assert all(exc.context["reversible"] == 10 for exc in errors)
    assert entry_sum(account, reverses=earned) == -90
    assert ledger.reversible_amount(earned) == 10
    assert ledger.balance(account) == 15
    assert_consistent(account)


def test_spend_reversal_racing_spends(program):
    account = testing.make_account(program=program, points=100)
    spend = ledger.debit(account, 60, reason="redemption")

    def work(i: int) -> Any:
        if i == 0:
            return ledger.reverse(LedgerEntry.objects.get(pk=spend.pk), reason="rejected")
        return ledger.debit(fresh(account), 10, reason=f"redeem {i}")

    outcomes = run_workers(13, work)
    results, refused = split(outcomes, InsufficientBalance)
    assert outcomes[0][0] == "ok"
    assert outcomes[0][1].amount == 60
    spends = [entry for entry in results if entry.kind == EntryKind.SPEND]
    assert len(spends) + len(refused) == 12
    assert 4 <= len(spends) <= 10
    assert ledger.balance(account) == 100 - 10 * len(spends) >= 0
    assert_consistent(account)


# --- crash safety (invariant 9) --------------------------------------------------------


def _snapshot(account: Account) -> tuple:
    return (
        ledger.balance(account),
        fresh(account).lifetime_points,
        sorted(LedgerEntry.objects.filter(account=account).values_list("pk", "amount")),
        sorted(EarnLot.objects.filter(account=account).values_list("pk", "remaining", "expired")),
    )


@pytest.fixture
def sent() -> Any:
    """Every points signal sent during the test (invariant 8: none for rolled-back work)."""
    received: list[tuple[str, int]] = []
    receivers = []
    for name in signals.OUTBOUND_SIGNALS:

        def receiver(sender: Any, entry: LedgerEntry, name: str = name, **kwargs: Any) -> None:
            received.append((name, entry.pk))

        getattr(signals, name).connect(receiver, weak=False)
        receivers.append((name, receiver))
    yield received
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver)


def test_crash_after_entry_insert_in_credit_writes_nothing(program, monkeypatch, sent):
    account = testing.make_account(program=program, points=10)
    before = _snapshot(account)
    sent.clear()
    manager_class = type(EarnLot.objects)
    seen_inside: list[bool] = []

    def crash(self: Any, **kwargs: Any) -> Any:
        # The entry is already written inside the transaction when the crash happens.
        seen_inside.append(
            LedgerEntry.objects.filter(account=account, idempotency_key="order-7").exists()
        )
        raise Crash

    monkeypatch.setattr(manager_class, "create", crash)
    with pytest.raises(Crash):
        ledger.credit(fresh(account), 5, reason="order", idempotency_key="order-7")
    monkeypatch.undo()

    assert seen_inside == [True]
    assert _snapshot(account) == before
    assert not LedgerEntry.objects.filter(idempotency_key="order-7").exists()
    assert sent == []
    # Retrying the operation does it once.
    first = ledger.credit(fresh(account), 5, reason="order", idempotency_key="order-7")
    second = ledger.credit(fresh(account), 5, reason="order", idempotency_key="order-7")
    assert first.pk == second.pk
    assert ledger.balance(account) == 15
    assert sent == [("points_credited", first.pk)]
    assert_consistent(account)


def test_crash_at_end_of_debit_writes_nothing(program, now, monkeypatch, sent):
    account = testing.make_account(program=program, points=20)
    ledger.credit(
        account,
        4,
        reason="stale",
        expires_at=now - dt.timedelta(days=1),
        now=now - dt.timedelta(days=9),
    )
    before = _snapshot(account)
    sent.clear()
    inside: list[tuple[int, int]] = []

    def crash(entry: LedgerEntry, account_: Account) -> None:
        # Everything is written (expiry, spend, lots, cached balance) when it crashes.
        inside.append(
            (
                LedgerEntry.objects.filter(account=account).count(),
                Account.objects.get(pk=account.pk).points_balance,
            )
        )
        raise Crash

    monkeypatch.setattr(ledger, "_notify", crash)
    with pytest.raises(Crash):
        ledger.debit(fresh(account), 7, reason="redeem", now=now)
    monkeypatch.undo()

    assert inside == [(len(before[2]) + 2, 24 - 4 - 7)]
    assert _snapshot(account) == before
    assert sent == []
    ledger.debit(fresh(account), 7, reason="redeem", now=now)
    assert ledger.balance(account) == 24 - 4 - 7
    assert [kind for kind, _ in sent] == ["points_expired", "points_debited"]
    assert_consistent(account)


def test_crash_at_account_update_in_reversal_writes_nothing(program, monkeypatch, sent):
    account = testing.make_account(program=program, points=10)
    earned = ledger.credit(account, 50, reason="reward")
    ledger.debit(account, 45, reason="redeem")
    before = _snapshot(account)
    sent.clear()
    seen: list[int] = []

    def crash(self: Any, **kwargs: Any) -> int:
        seen.append(LedgerEntry.objects.filter(account=account, kind=EntryKind.REVERSE).count())
        raise Crash

    monkeypatch.setattr(AccountQuerySet, "update", crash)
    with pytest.raises(Crash):
        ledger.reverse(LedgerEntry.objects.get(pk=earned.pk), reason="refund")
    monkeypatch.undo()

    assert seen == [1]
    assert _snapshot(account) == before
    assert sent == []
    ledger.reverse(LedgerEntry.objects.get(pk=earned.pk), reason="refund")
    assert ledger.balance(account) == 15 - 50
    assert_consistent(account)


def test_sweep_crash_keeps_committed_batches_and_rerun_finishes(program, now, monkeypatch, sent):
    made, due, not_due = _accounts_with_due_lots(program, now, accounts=5, due_per_account=3)
    first_batch = sorted(due)[:5]
    before = {
        lot.pk: (lot.remaining, lot.expired) for lot in EarnLot.objects.filter(account__in=made)
    }
    sent.clear()
    real_mark = ledger._mark_expired
    calls: list[list[int]] = []

    def crash_on_second_batch(lot_ids: list[int]) -> None:
        calls.append(sorted(lot_ids))
        if len(calls) == 2:
            raise Crash  # after the batch's entries were inserted
        real_mark(lot_ids)

    monkeypatch.setattr(ledger, "_mark_expired", crash_on_second_batch)
    with pytest.raises(Crash):
        ledger.expire_lots(now=now, batch_size=5)
    monkeypatch.undo()

    assert calls[0] == first_batch
    lots = {lot.pk: lot for lot in EarnLot.objects.filter(account__in=made)}
    for pk in first_batch:
        assert (lots[pk].remaining, lots[pk].expired) == (0, due[pk])
    for pk, state in before.items():
        if pk not in first_batch:
            assert (lots[pk].remaining, lots[pk].expired) == state, f"lot #{pk} changed"
    expiries = LedgerEntry.objects.filter(account__in=made, kind=EntryKind.EXPIRE)
    assert sorted(pk for entry in expiries for pk, _ in entry.lots) == first_batch
    assert sum(entry.amount for entry in expiries) == -sum(due[pk] for pk in first_batch)
    assert len(sent) == len(expiries)  # only the committed batch was announced
    assert ledger.recompute() == []

    rerun = ledger.expire_lots(now=now, batch_size=5)
    assert rerun.lots == len(due) - 5
    assert rerun.amounts == {Unit.POINTS: sum(due.values()) - sum(due[pk] for pk in first_batch)}
    _assert_expired_exactly_once(made, due, not_due)
    again = ledger.expire_lots(now=now, batch_size=5)
    assert (again.lots, again.entries) == (0, 0)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_sweep_reports_accounts_left_for_the_next_run(program, now):
    """Where the database can skip locked rows, a sweep does not wait for an account
    another transaction holds: it says how many it left, and the next run expires them."""
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("this database serialises writers instead of skipping locked rows")
    from django.db import transaction

    account = testing.make_account(program=program)
    ledger.credit(account, 10, reason="x", expires_at=now - dt.timedelta(days=1), now=now)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Account.objects.select_for_update().get(pk=account.pk)
                locked.set()
                release.wait(JOIN_TIMEOUT)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(JOIN_TIMEOUT)
        busy = ledger.expire_lots(now=now)
    finally:
        release.set()
        holder.join(JOIN_TIMEOUT)
    assert (busy.lots, busy.skipped_accounts) == (0, 1)
    done = ledger.expire_lots(now=now)
    assert (done.lots, done.skipped_accounts) == (1, 0)
    assert ledger.balance(account) == 0
