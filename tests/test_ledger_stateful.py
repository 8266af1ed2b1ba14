"""Property-based, stateful tests of the ledger (hypothesis ``RuleBasedStateMachine``).

Random sequences of credits (with and without an expiry date), debits, signed
adjustments, full and partial reversals, idempotent replays and expiry sweeps run
against one fresh account, with time moved forward by a fake clock (``now=`` is passed
to every service call). Next to the database, the machine keeps its own model of the
account: balances per unit and every earn lot (remaining, expired, expiry date). After
every step the database must agree with the model lot for lot, the cached balance with
the sum of the entries, the open lots with the positive part of the balance, and
``ledger.recompute`` must find nothing (invariant 1); a balance may only go below zero
through a reversal (invariant 2); a replayed idempotency key has no second effect and a
replay with another payload is a conflict that writes nothing (invariant 4).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from django_referral_rewards import testing
from django_referral_rewards.enums import EntryKind, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    NotReversible,
)
from django_referral_rewards.models import Account, EarnLot, LedgerEntry
from django_referral_rewards.services import ledger

START = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
UNITS = [Unit.POINTS, Unit.CREDIT]
_keys = itertools.count(1)

amounts = st.integers(min_value=1, max_value=30)
#: Mostly points, so that one unit gathers enough lots for multi-lot spends.
units = st.one_of(st.just(Unit.POINTS), st.sampled_from(UNITS))
#: Days from now to the expiry date: never, already past, today (due at once), soon (so
#: that moving the clock by a few days often lands exactly on an expiry date), or later.
expiry_days = st.one_of(st.none(), st.integers(min_value=-1, max_value=6), st.just(30))


@dataclasses.dataclass
class Lot:
    pk: int
    unit: str
    amount: int
    remaining: int
    expires_at: dt.datetime | None
    expired: int = 0


@dataclasses.dataclass
class Entry:
    pk: int
    kind: str
    unit: str
    amount: int
    #: ``[[lot_pk, qty], ...]`` consumed (negative entries), as the ledger records it.
    lots: list[list[int]]
    lot: Lot | None = None
    reversed: int = 0


@dataclasses.dataclass(frozen=True)
class Keyed:
    """A successful keyed operation, for replays."""

    operation: str
    unit: str
    amount: int
    key: str
    entry_pk: int


class LedgerMachine(RuleBasedStateMachine):
    #: Entries that may be reversed (earn, spend, adjust), by pk.
    reversible = Bundle("reversible")

    def __init__(self) -> None:
        super().__init__()
        # Each run works in its own savepoint, rolled back in teardown().
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.program = testing.make_program()
        self.account = testing.make_account(program=self.program)
        self.now = START
        self.balances = dict.fromkeys(UNITS, 0)
        self.lots: dict[int, Lot] = {}
        self.entries: dict[int, Entry] = {}
        self.kind_totals: Counter[tuple[str, str]] = Counter()
        self.negative_ok = dict.fromkeys(UNITS, False)
        self.keyed: list[Keyed] = []

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the model ----------------------------------------------------------------------

    def is_due(self, lot: Lot) -> bool:
        return lot.expires_at is not None and lot.expires_at <= self.now

    @staticmethod
    def fifo(lot: Lot) -> tuple:
        return (lot.expires_at is None, lot.expires_at or START, lot.pk)

    def plan(self, unit: str, need: int, first: Lot | None = None) -> tuple[list[Lot], list]:
        """(due lots to expire first, [(lot, qty)] to consume): soonest expiry first,
        the entry's own lot first for a clawback; past-due lots are expired, not spent."""
        order = [first] if first is not None and first.remaining > 0 else []
        order += sorted(
            (
                lot
                for lot in self.lots.values()
                if lot.unit == unit and lot.remaining > 0 and lot is not first
            ),
            key=self.fifo,
        )
        due, take, left = [], [], need
        for lot in order:
            if self.is_due(lot):
                due.append(lot)
            elif left:
                qty = min(left, lot.remaining)
                take.append((lot, qty))
                left -= qty
        return due, take

    def new_entries(self) -> list[LedgerEntry]:
        last = max(self.entries, default=0)
        return list(LedgerEntry.objects.filter(account=self.account, pk__gt=last).order_by("pk"))

    def add(self, entry: Entry) -> Entry:
        self.entries[entry.pk] = entry
        self.kind_totals[(entry.unit, entry.kind)] += entry.amount
        return entry

    def record_expiry(self, db_entry: LedgerEntry, unit: str, due: list[Lot]) -> None:
        total = sum(lot.remaining for lot in due)
        assert db_entry.kind == EntryKind.EXPIRE
        assert db_entry.unit == unit
        assert db_entry.amount == -total
        assert db_entry.lots == [[lot.pk, lot.remaining] for lot in due]
        for lot in due:
            lot.expired += lot.remaining
            lot.remaining = 0
        self.balances[unit] -= total
        assert db_entry.balance_after == self.balances[unit]
        self.add(Entry(db_entry.pk, db_entry.kind, unit, -total, db_entry.lots))

    def apply_negative(
        self,
        kind: str,
        unit: str,
        need: int,
        first: Lot | None = None,
        allow_negative: bool = False,
    ) -> Entry | None:
        """Check the database's last write against the model of a negative movement.
        Returns the main entry, or None if the model says it must have been refused."""
        due, take = self.plan(unit, need, first)
        spendable = self.balances[unit] - sum(lot.remaining for lot in due)
        written = self.new_entries()
        if not allow_negative and spendable < need:
            assert written == []
            return None
        assert len(written) == (2 if due else 1), written
        if due:
            self.record_expiry(written[0], unit, due)
        main = written[-1]
        for lot, qty in take:
            lot.remaining -= qty
        self.balances[unit] -= need
        consumed = [[lot.pk, qty] for lot, qty in take]
        event(f"{kind} consumed {min(len(take), 3)}+ lots, expired {bool(due)}")
        assert (main.kind, main.unit, main.amount) == (kind, unit, -need)
        assert main.balance_after == self.balances[unit]
        assert main.lots == consumed
        return self.add(Entry(main.pk, kind, unit, -need, consumed))

    def apply_positive(
        self,
        kind: str,
        unit: str,
        amount: int,
        expires_at: dt.datetime | None,
        restore: list[tuple[int, int]] | None = None,
    ) -> Entry:
        (main,) = self.new_entries()
        debt = max(-self.balances[unit], 0)
        available = amount - min(amount, debt)
        if restore is not None:
            for lot_pk, qty in restore:
                give = min(qty, available)
                self.lots[lot_pk].remaining += give
                available -= give
        self.balances[unit] += amount
        assert (main.kind, main.unit, main.amount) == (kind, unit, amount)
        assert main.balance_after == self.balances[unit]
        assert main.lots == []
        entry = Entry(main.pk, kind, unit, amount, [])
        db_lot = EarnLot.objects.filter(entry=main).first()
        if restore is None or available:
            assert db_lot is not None
            assert (db_lot.unit, db_lot.amount, db_lot.remaining, db_lot.expires_at) == (
                unit,
                amount,
                available,
                expires_at if restore is None else None,
            )
            entry.lot = self.lots[db_lot.pk] = Lot(
                db_lot.pk, unit, amount, available, db_lot.expires_at
            )
        else:
            assert db_lot is None
        return self.add(entry)

    def cap(self, entry: Entry) -> int:
        if entry.kind in (EntryKind.REVERSE, EntryKind.EXPIRE):
            return 0
        if entry.amount < 0:
            return -entry.amount - entry.reversed
        lot = entry.lot
        gone = lot.expired + (lot.remaining if self.is_due(lot) else 0) if lot else 0
        return max(entry.amount - entry.reversed - gone, 0)

    def restore_plan(self, entry: Entry, amount: int) -> list[tuple[int, int]]:
        plan, skip, left = [], entry.reversed, amount
        for lot_pk, qty in reversed(entry.lots):
            if skip >= qty:
                skip -= qty
                continue
            qty, skip = qty - skip, 0
            give = min(qty, left)
            plan.append((lot_pk, give))
            left -= give
            if not left:
                break
        return plan

    def expires(self, days: int | None) -> dt.datetime | None:
        return None if days is None else self.now + dt.timedelta(days=days)

    def expect_no_write(self) -> None:
        """Nothing was written (the invariant checked the count before this step)."""
        assert LedgerEntry.objects.filter(account=self.account).count() == len(self.entries)

    def settle(self, unit: str, before: int, reversal: bool) -> None:
        """Invariant 2: a balance goes (or stays) below zero only through a reversal."""
        after = self.balances[unit]
        if reversal:
            self.negative_ok[unit] = after < 0
        elif after < 0:
            assert before < 0 and after >= before, (before, after)
        else:
            self.negative_ok[unit] = False

    # --- rules ---------------------------------------------------------------------------

    @initialize()
    def check_fresh(self) -> None:
        assert ledger.balance(self.account) == 0

    @rule(target=reversible, unit=units, amount=amounts, days=expiry_days, keyed=st.booleans())
    def credit(self, unit: str, amount: int, days: int | None, keyed: bool) -> Any:
        key = f"k{next(_keys)}" if keyed else None
        before = self.balances[unit]
        entry = ledger.credit(
            self.account,
            amount,
            unit=unit,
            reason="earned",
            expires_at=self.expires(days),
            idempotency_key=key,
            now=self.now,
        )
        model = self.apply_positive(EntryKind.EARN, unit, amount, self.expires(days))
        assert entry.pk == model.pk
        self.settle(unit, before, reversal=False)
        return self._remember(model, "credit", key)

    def spendable(self, unit: str) -> int:
        """The balance less what is past its date (never spendable, even unswept)."""
        due, _ = self.plan(unit, 0)
        return self.balances[unit] - sum(lot.remaining for lot in due)

    def expect_refusal(self, call: Any, unit: str, amount: int) -> None:
        """The spend must raise InsufficientBalance and write nothing."""
        spendable = self.spendable(unit)
        with pytest.raises(InsufficientBalance) as refused:
            call()
        assert (refused.value.balance, refused.value.requested) == (max(spendable, 0), amount)
        self.expect_no_write()
        assert self.apply_negative(EntryKind.SPEND, unit, amount) is None

    def draw_spend(self, data: st.DataObject, unit: str) -> int:
        """Mostly what can be spent (often all of it), sometimes a little more."""
        top = max(self.spendable(unit), 0) + 3
        return data.draw(
            st.one_of(st.integers(1, top), st.just(top - 3) if top > 3 else st.just(1))
        )

    @rule(target=reversible, unit=units, data=st.data(), keyed=st.booleans())
    def debit(self, unit: str, data: st.DataObject, keyed: bool) -> Any:
        amount = self.draw_spend(data, unit)
        key = f"k{next(_keys)}" if keyed else None
        before = self.balances[unit]

        def call() -> LedgerEntry:
            return ledger.debit(
                self.account, amount, unit=unit, reason="spent", idempotency_key=key, now=self.now
            )

        if self.spendable(unit) < amount:
            self.expect_refusal(call, unit, amount)
            return multiple()
        entry = call()
        model = self.apply_negative(EntryKind.SPEND, unit, amount)
        assert model is not None and entry.pk == model.pk
        self.settle(unit, before, reversal=False)
        return self._remember(model, "debit", key)

    @rule(target=reversible, unit=units, data=st.data(), negative=st.booleans(), days=expiry_days)
    def adjust(self, unit: str, data: st.DataObject, negative: bool, days: int | None) -> Any:
        amount = self.draw_spend(data, unit) if negative else data.draw(amounts)
        before = self.balances[unit]

        def call() -> LedgerEntry:
            return ledger.adjust(
                self.account,
                -amount if negative else amount,
                unit=unit,
                reason="staff correction",
                expires_at=self.expires(days),
                now=self.now,
            )

        if negative and self.spendable(unit) < amount:
            self.expect_refusal(call, unit, amount)
            return multiple()
        entry = call()
        if negative:
            model = self.apply_negative(EntryKind.ADJUST, unit, amount)
            assert model is not None
        else:
            model = self.apply_positive(EntryKind.ADJUST, unit, amount, self.expires(days))
        assert entry.pk == model.pk
        self.settle(unit, before, reversal=False)
        return model.pk

    def _remember(self, model: Entry, operation: str, key: str | None) -> int:
        if key is not None:
            self.keyed.append(Keyed(operation, model.unit, abs(model.amount), key, model.pk))
        return model.pk

    def check_reverse(self, pk: int, amount: int | None) -> None:
        """Reverse ``amount`` of entry ``pk`` (all that is left when None): refused with
        NotReversible when nothing is left, with InvalidAmount above the cap (both
        writing nothing); otherwise it must match the model."""
        entry = self.entries[pk]
        unit = entry.unit
        before = self.balances[unit]
        cap = self.cap(entry)
        db_entry = LedgerEntry.objects.get(pk=pk)
        assert ledger.reversible_amount(db_entry, now=self.now) == cap
        if cap <= 0:
            with pytest.raises(NotReversible):
                ledger.reverse(db_entry, reason="refund", amount=amount, now=self.now)
            self.expect_no_write()
            return
        if amount is not None and amount > cap:
            with pytest.raises(InvalidAmount):
                ledger.reverse(db_entry, reason="refund", amount=amount, now=self.now)
            self.expect_no_write()
            return
        result = ledger.reverse(db_entry, reason="refund", amount=amount, now=self.now)
        event(
            f"reverse {'clawback' if entry.amount > 0 else 'give-back'}: "
            f"{'again' if entry.reversed else 'first'}, "
            f"{'one lot' if len(entry.lots) < 2 else 'several lots'}"
        )
        amount = cap if amount is None else amount
        if entry.amount > 0:
            model = self.apply_negative(
                EntryKind.REVERSE, unit, amount, first=entry.lot, allow_negative=True
            )
            assert model is not None
        else:
            restore = self.restore_plan(entry, amount)
            model = self.apply_positive(EntryKind.REVERSE, unit, amount, None, restore=restore)
        assert result.pk == model.pk
        assert result.reverses_id == pk
        entry.reversed += amount
        self.settle(unit, before, reversal=True)

    @rule(pk=reversible, data=st.data())
    def reverse(self, pk: int, data: st.DataObject) -> None:
        cap = self.cap(self.entries[pk])
        amount = data.draw(st.one_of(st.none(), st.integers(1, max(cap, 0) + 5)), label="amount")
        self.check_reverse(pk, amount)

    @rule(pk=reversible, parts=st.integers(min_value=2, max_value=4))
    def reverse_in_parts(self, pk: int, parts: int) -> None:
        """Several partial reversals of one entry, then one more than is left."""
        cap = self.cap(self.entries[pk])
        for _ in range(parts - 1):
            if self.cap(self.entries[pk]) > 1:
                self.check_reverse(pk, max(cap // parts, 1))
        self.check_reverse(pk, self.cap(self.entries[pk]) + 1)

    def multi_lot_spends(self) -> list[int]:
        return [
            entry.pk
            for entry in self.entries.values()
            if entry.amount < 0 and len(entry.lots) > 1 and self.cap(entry) > 1
        ]

    @precondition(lambda self: self.multi_lot_spends())
    @rule(data=st.data(), parts=st.integers(min_value=2, max_value=4))
    def give_back_in_parts(self, data: st.DataObject, parts: int) -> None:
        """A spend that took from several lots, cancelled in parts: each part gives back
        to the lots it took from, last taken first, never to the same lot twice."""
        pk = data.draw(st.sampled_from(self.multi_lot_spends()), label="spend")
        self.reverse_in_parts(pk, parts)

    def final_entries(self) -> list[int]:
        return [
            entry.pk
            for entry in self.entries.values()
            if entry.kind in (EntryKind.REVERSE, EntryKind.EXPIRE)
        ]

    @precondition(lambda self: self.final_entries())
    @rule(data=st.data())
    def reverse_final(self, data: st.DataObject) -> None:
        """Reversals and expiries are never reversible."""
        pk = data.draw(st.sampled_from(self.final_entries()), label="entry")
        db_entry = LedgerEntry.objects.get(pk=pk)
        assert ledger.reversible_amount(db_entry, now=self.now) == 0
        with pytest.raises(NotReversible):
            ledger.reverse(db_entry, reason="refund", now=self.now)
        self.expect_no_write()

    @precondition(lambda self: self.keyed)
    @rule(data=st.data(), same=st.booleans(), other_operation=st.booleans(), extra=amounts)
    def replay(self, data: st.DataObject, same: bool, other_operation: bool, extra: int) -> None:
        """A key used again: the same payload returns the first entry, another payload
        (amount or operation) is a conflict; neither writes anything."""
        keyed = data.draw(st.sampled_from(self.keyed), label="keyed")
        operation = keyed.operation
        if not same and other_operation:
            operation = "debit" if operation == "credit" else "credit"
        amount = keyed.amount if same or other_operation else keyed.amount + extra
        call = getattr(ledger, operation)
        kwargs = {"unit": keyed.unit, "reason": "replay", "idempotency_key": keyed.key}
        if same:
            entry = call(self.account, amount, now=self.now, **kwargs)
            assert entry.pk == keyed.entry_pk
        else:
            with pytest.raises(IdempotencyConflict):
                call(self.account, amount, now=self.now, **kwargs)
        self.expect_no_write()

    @rule(
        days=st.integers(min_value=0, max_value=7),
        sweep=st.sampled_from([True, False, False]),  # often leave due lots unswept
        batch_size=st.sampled_from([None, 1, 2, 3]),
    )
    def advance_time(self, days: int, sweep: bool, batch_size: int | None) -> None:
        self.now += dt.timedelta(days=days)
        if not sweep:
            return
        # What is due, from the database and from the model.
        due_rows = list(
            EarnLot.objects.filter(
                account=self.account, remaining__gt=0, expires_at__lte=self.now
            ).order_by("pk")
        )
        due = sorted(
            (lot for lot in self.lots.values() if lot.remaining and self.is_due(lot)),
            key=lambda lot: lot.pk,
        )
        assert [(lot.pk, lot.remaining) for lot in due_rows] == [
            (lot.pk, lot.remaining) for lot in due
        ]
        due_amounts: dict[str, int] = {}
        for lot in due:
            due_amounts[lot.unit] = due_amounts.get(lot.unit, 0) + lot.remaining
        before = dict(self.balances)

        result = ledger.expire_lots(now=self.now, batch_size=batch_size, program=self.program)

        assert result.lots == len(due)
        assert result.amounts == due_amounts
        written = self.new_entries()
        size = batch_size or len(due) or 1
        expected_groups = []
        for start in range(0, len(due), size):
            batch = due[start : start + size]
            for unit in dict.fromkeys(lot.unit for lot in batch):
                expected_groups.append((unit, [lot for lot in batch if lot.unit == unit]))
        assert result.entries == len(written) == len(expected_groups)
        for db_entry, (unit, lots) in zip(written, expected_groups, strict=True):
            self.record_expiry(db_entry, unit, lots)
        for unit in UNITS:
            assert self.balances[unit] == before[unit] - due_amounts.get(unit, 0)
            self.settle(unit, before[unit], reversal=False)

    @rule()
    def reconcile(self) -> None:
        """Invariant 11 for the account's own program (what the ``reconcile`` command
        checks): per unit, the totals of each entry kind add up to the sum of the
        balances; and ``ledger.balance`` reads the cached balance."""
        totals = ledger.program_totals(self.program)
        for unit in UNITS:
            expected = {kind: total for (u, kind), total in self.kind_totals.items() if u == unit}
            by_kind = {
                kind: total
                for kind, total in totals[unit].items()
                if kind not in ("ledger", "balances")
            }
            assert by_kind == expected
            assert totals[unit]["ledger"] == totals[unit]["balances"] == self.balances[unit]
            assert ledger.balance(self.account, unit=unit) == self.balances[unit]

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def ledger_matches_model(self) -> None:
        account = Account.objects.get(pk=self.account.pk)
        totals = {
            unit: (int(total), count)
            for unit, total, count in LedgerEntry.objects.filter(account=account)
            .order_by()
            .values_list("unit")
            .annotate(total=Sum("amount"), count=Count("pk"))
        }
        assert sum(count for _, count in totals.values()) == len(self.entries)
        lots = {
            pk: (unit, remaining, expired)
            for pk, unit, remaining, expired in EarnLot.objects.filter(account=account).values_list(
                "pk", "unit", "remaining", "expired"
            )
        }
        model_lots = {lot.pk: (lot.unit, lot.remaining, lot.expired) for lot in self.lots.values()}
        assert lots == model_lots
        for unit in UNITS:
            cached = account.get_balance(unit)
            assert cached == totals.get(unit, (0, 0))[0] == self.balances[unit], unit
            open_total = sum(remaining for u, remaining, _ in lots.values() if u == unit)
            assert open_total == max(cached, 0), unit
            assert cached >= 0 or self.negative_ok[unit], f"{unit} went negative without a reversal"
        assert ledger.recompute(account=account) == []


SETTINGS = settings(
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.django_db
def test_ledger_state_machine() -> None:
    run_state_machine_as_test(LedgerMachine, settings=SETTINGS)
