"""The ledger service: credit, debit, adjust, reverse, balance, expiry, recompute."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from django_referral_rewards import signals, testing
from django_referral_rewards.enums import EntryKind, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidArgument,
    InvalidUnit,
    LedgerImmutable,
    NotReversible,
)
from django_referral_rewards.models import Account, EarnLot, LedgerEntry
from django_referral_rewards.services import ledger
from tests.conftest import days

pytestmark = pytest.mark.django_db


def entries(account: Account) -> list[tuple[str, int]]:
    return list(account.entries.order_by("pk").values_list("kind", "amount"))


def lots(account: Account) -> list[tuple[int, int, int]]:
    return list(account.lots.order_by("pk").values_list("amount", "remaining", "expired"))


def refreshed(account: Account) -> Account:
    return Account.objects.get(pk=account.pk)


class Recorder:
    def __init__(self, signal):
        self.calls: list[dict] = []
        signal.connect(self, weak=False)
        self.signal = signal

    def __call__(self, **kwargs):
        self.calls.append(kwargs)


@pytest.fixture
def recorders():
    made = {
        name: Recorder(getattr(signals, name))
        for name in ("points_credited", "points_debited", "points_expired")
    }
    yield made
    for rec in made.values():
        rec.signal.disconnect(rec)


# --- credit ------------------------------------------------


def test_credit_writes_entry_lot_and_cached_balance(account, now):
    entry = ledger.credit(account, 500, reason="Referral bonus", expires_at=now + days(30))
    assert (entry.kind, entry.unit, entry.amount, entry.balance_after) == (
        "earn",
        "points",
        500,
        500,
    )
    assert account.points_balance == 500  # the caller's instance is kept in step
    fresh = refreshed(account)
    assert (fresh.points_balance, fresh.lifetime_points) == (500, 500)
    lot = EarnLot.objects.get(entry=entry)
    assert (lot.amount, lot.remaining, lot.expires_at) == (500, 500, now + days(30))
    assert testing.ledger_is_consistent(account)


@pytest.mark.parametrize("unit", [Unit.CREDIT, Unit.COMMISSION])
def test_money_units_have_their_own_balance(account, unit):
    ledger.credit(account, 1250, unit=unit, reason="Commission")
    assert ledger.balance(account, unit=unit) == 1250
    assert ledger.balance(account) == 0
    assert refreshed(account).lifetime_points == 0


@pytest.mark.parametrize("amount", [0, -5, 1.5, Decimal("2"), True, "10", None, 10**16])
def test_credit_refuses_bad_amounts_and_writes_nothing(account, amount):
    with pytest.raises(InvalidAmount):
        ledger.credit(account, amount, reason="x")
    assert entries(account) == []


def test_bad_unit_reason_key_and_reference_are_refused(account):
    with pytest.raises(InvalidUnit, match="stars"):
        ledger.credit(account, 1, unit="stars", reason="x")
    with pytest.raises(InvalidArgument, match="reason"):
        ledger.credit(account, 1, reason="   ")
    with pytest.raises(InvalidArgument, match="idempotency key"):
        ledger.credit(account, 1, reason="x", idempotency_key="k" * 201)
    with pytest.raises(InvalidArgument, match="reference"):
        ledger.credit(account, 1, reason="x", reference="order-1")
    with pytest.raises(InvalidArgument, match="Reference"):
        ledger.credit(account, 1, reason="x", reference=("", "1"))
    with pytest.raises(InvalidArgument, match="saved"):
        ledger.credit(Account(), 1, reason="x")
    assert entries(account) == []


def test_reference_accepts_model_instances_and_pairs(account, program):
    by_model = ledger.credit(account, 1, reason="x", reference=program)
    by_pair = ledger.credit(account, 1, reason="x", reference=("shop.order", 123))
    assert by_model.reference == ("referral_rewards.program", str(program.pk))
    assert by_pair.reference == ("shop.order", "123")
    assert ledger.credit(account, 1, reason="x").reference is None


def test_credit_records_staff_user(account):
    staff = testing.make_user(is_staff=True)
    assert ledger.credit(account, 5, reason="x", created_by=staff).created_by == staff


# --- idempotency ------------------------------------------------


def test_same_key_returns_first_entry_once(account):
    first = ledger.credit(account, 100, reason="Order 7", idempotency_key="order:7")
    again = ledger.credit(account, 100, reason="Order 7 (retried)", idempotency_key="order:7")
    assert again.pk == first.pk
    assert entries(account) == [("earn", 100)]
    assert refreshed(account).points_balance == 100


def test_same_key_other_payload_is_a_conflict(account):
    ledger.credit(account, 100, reason="x", idempotency_key="order:8")
    with pytest.raises(IdempotencyConflict, match="order:8"):
        ledger.credit(account, 101, reason="x", idempotency_key="order:8")
    with pytest.raises(IdempotencyConflict):
        ledger.credit(account, 100, unit=Unit.CREDIT, reason="x", idempotency_key="order:8")
    with pytest.raises(IdempotencyConflict):
        ledger.debit(account, 100, reason="x", idempotency_key="order:8")
    assert entries(account) == [("earn", 100)]


def test_keys_are_per_account(program):
    a, b = testing.make_account(program=program), testing.make_account(program=program)
    ledger.credit(a, 10, reason="x", idempotency_key="k")
    ledger.credit(b, 10, reason="x", idempotency_key="k")
    assert (ledger.balance(a), ledger.balance(b)) == (10, 10)


def test_debit_replay_returns_first_even_when_balance_is_now_zero(account):
    ledger.credit(account, 50, reason="x")
    first = ledger.debit(account, 50, reason="Redeem", idempotency_key="redeem:1")
    assert ledger.debit(account, 50, reason="Redeem", idempotency_key="redeem:1").pk == first.pk
    assert refreshed(account).points_balance == 0


def test_unique_constraint_is_the_backstop(account):
    """Even a writer that skips the service's check cannot store a key twice."""
    ledger.credit(account, 5, reason="x", idempotency_key="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    account=account,
                    unit="points",
                    kind="earn",
                    amount=5,
                    balance_after=10,
                    memo="x",
                    idempotency_key="dup",
                )
            ]
        )


def test_integrity_error_backstop_returns_the_winner(account, monkeypatch):
    """If the unique constraint fires (two writers not serialised by the row lock), the
    loser's work is rolled back and it returns the winner's entry."""
    winner = ledger.credit(account, 5, reason="x", idempotency_key="race")
    monkeypatch.setattr(ledger, "_replay", _replay_blind_once(ledger._replay))
    again = ledger.credit(account, 5, reason="x", idempotency_key="race")
    assert again.pk == winner.pk
    assert entries(account) == [("earn", 5)]


def _replay_blind_once(real):
    state = {"blind": True}

    def replay(*args, **kwargs):
        if state["blind"]:
            state["blind"] = False
            return None  # as if the other writer had not committed yet
        return real(*args, **kwargs)

    return replay


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        (lambda acc, key: ledger.debit(acc, 5, reason="x", idempotency_key=key), "spend"),
        (lambda acc, key: ledger.adjust(acc, -5, reason="x", idempotency_key=key), "adjust"),
    ],
)
def test_integrity_error_backstop_for_debits_and_adjustments(account, monkeypatch, operation, kind):
    ledger.credit(account, 50, reason="x")
    winner = operation(account, "race")
    monkeypatch.setattr(ledger, "_replay", _replay_blind_once(ledger._replay))
    assert operation(account, "race").pk == winner.pk
    assert account.entries.filter(kind=kind).count() == 1


def test_integrity_errors_without_a_key_propagate(account, monkeypatch):
    def boom(*args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(ledger, "_post", boom)
    with pytest.raises(IntegrityError):
        ledger.credit(account, 5, reason="x")


# --- debit and FIFO -----------------------------------------------------------------------


def test_debit_consumes_soonest_expiring_lots_first(account, now):
    never = ledger.credit(account, 100, reason="never expires")
    late = ledger.credit(account, 100, reason="late", expires_at=now + days(60))
    soon = ledger.credit(account, 100, reason="soon", expires_at=now + days(10))
    spend = ledger.debit(account, 150, reason="Redeem", now=now)
    assert spend.amount == -150 and spend.balance_after == 150
    remaining = {e.pk: EarnLot.objects.get(entry=e).remaining for e in (never, late, soon)}
    assert remaining == {soon.pk: 0, late.pk: 50, never.pk: 100}
    assert spend.lots == [[soon.lot.pk, 100], [late.lot.pk, 50]]


def test_debit_never_goes_below_zero_and_writes_nothing(account):
    ledger.credit(account, 30, reason="x")
    with pytest.raises(InsufficientBalance) as info:
        ledger.debit(account, 31, reason="Redeem")
    assert (info.value.balance, info.value.requested) == (30, 31)
    assert info.value.code == "insufficient_balance"
    assert entries(account) == [("earn", 30)]
    assert lots(account) == [(30, 30, 0)]
    assert refreshed(account).points_balance == 30


def test_points_past_their_date_are_not_spendable_before_the_sweep(account, now):
    ledger.credit(account, 100, reason="old", expires_at=now - days(1))
    ledger.credit(account, 40, reason="new")
    with pytest.raises(InsufficientBalance) as info:
        ledger.debit(account, 100, reason="Redeem", now=now)
    assert info.value.balance == 40
    assert entries(account) == [("earn", 100), ("earn", 40)]  # nothing written


def test_a_spend_expires_due_lots_on_the_way(
    account, now, recorders, django_capture_on_commit_callbacks
):
    old = ledger.credit(account, 100, reason="old", expires_at=now - days(1))
    ledger.credit(account, 40, reason="new")
    with django_capture_on_commit_callbacks(execute=True):
        spend = ledger.debit(account, 30, reason="Redeem", now=now)
    assert entries(account) == [("earn", 100), ("earn", 40), ("expire", -100), ("spend", -30)]
    assert spend.balance_after == 10
    assert EarnLot.objects.get(entry=old).expired == 100
    assert [c["amount"] for c in recorders["points_expired"].calls] == [100]
    assert [c["amount"] for c in recorders["points_debited"].calls] == [30]
    assert testing.ledger_is_consistent(account)


def test_a_long_fifo_walk_reads_lots_in_chunks(account, now, monkeypatch):
    monkeypatch.setattr(ledger, "LOT_CHUNK", 3)
    for i in range(4):
        ledger.credit(account, 1, reason="due", expires_at=now - days(1 + i))
    for i in range(5):
        ledger.credit(account, 10, reason="ok", expires_at=now + days(1 + i))
    spend = ledger.debit(account, 35, reason="Redeem", now=now)
    assert len(spend.lots) == 4
    assert refreshed(account).points_balance == 15
    assert testing.ledger_is_consistent(account)


# --- adjust ------------------------------------------------


def test_adjust_both_ways_records_staff_and_reason(account):
    staff = testing.make_user(is_staff=True)
    up = ledger.adjust(account, 70, reason="Goodwill", created_by=staff)
    down = ledger.adjust(account, -20, reason="Correction", created_by=staff)
    assert [(e.kind, e.amount, e.memo, e.created_by) for e in (up, down)] == [
        ("adjust", 70, "Goodwill", staff),
        ("adjust", -20, "Correction", staff),
    ]
    with pytest.raises(InsufficientBalance):
        ledger.adjust(account, -51, reason="Too much")
    with pytest.raises(InvalidAmount):
        ledger.adjust(account, 0, reason="Nothing")
    assert refreshed(account).points_balance == 50


def test_adjust_replay(account):
    one = ledger.adjust(account, 5, reason="x", idempotency_key="adj")
    assert ledger.adjust(account, 5, reason="x", idempotency_key="adj").pk == one.pk
    with pytest.raises(IdempotencyConflict):
        ledger.adjust(account, -5, reason="x", idempotency_key="adj")


# --- reverse ------------------------------------------------


def test_clawback_may_go_negative_and_later_credits_repay_the_debt(account):
    earn = ledger.credit(account, 100, reason="Order 1")
    ledger.debit(account, 80, reason="Redeem")
    back = ledger.reverse(earn, reason="Order 1 refunded")
    assert (back.kind, back.amount, back.balance_after, back.reverses) == (
        "reverse",
        -100,
        -80,
        earn,
    )
    assert refreshed(account).lifetime_points == 0
    with pytest.raises(InsufficientBalance):  # no spending while in debt
        ledger.debit(account, 1, reason="Redeem")
    repay = ledger.credit(account, 100, reason="Order 2")
    assert repay.lot.remaining == 20  # 80 of it repaid the debt
    assert testing.ledger_is_consistent(account)


def test_clawback_takes_from_its_own_lot_first(account, now):
    soon = ledger.credit(account, 50, reason="soon", expires_at=now + days(5))
    later = ledger.credit(account, 50, reason="later", expires_at=now + days(50))
    ledger.reverse(later, reason="refund", amount=20, now=now)
    assert (
        EarnLot.objects.get(entry=soon).remaining,
        EarnLot.objects.get(entry=later).remaining,
    ) == (50, 30)


def test_partial_reversals_are_capped_by_what_is_left(account):
    earn = ledger.credit(account, 100, reason="x")
    ledger.reverse(earn, reason="part", amount=60)
    assert ledger.reversible_amount(earn) == 40
    with pytest.raises(InvalidAmount, match="At most 40"):
        ledger.reverse(earn, reason="too much", amount=41)
    ledger.reverse(earn, reason="rest")
    with pytest.raises(NotReversible, match="Nothing"):
        ledger.reverse(earn, reason="again")
    assert refreshed(account).points_balance == 0


def test_expired_points_are_not_clawed_back_twice(account, now):
    earn = ledger.credit(account, 100, reason="x", expires_at=now + days(10))
    ledger.debit(account, 30, reason="Redeem", now=now)
    ledger.expire_lots(now=now + days(11))
    assert refreshed(account).points_balance == 0
    # 70 expired; only the 30 that were spent can still be clawed back.
    assert ledger.reversible_amount(earn, now=now + days(12)) == 30
    back = ledger.reverse(earn, reason="refund", now=now + days(12))
    assert back.amount == -30
    assert refreshed(account).points_balance == -30


def test_reversing_a_spend_gives_back_to_the_same_lots(account, now):
    soon = ledger.credit(account, 50, reason="soon", expires_at=now + days(5))
    later = ledger.credit(account, 50, reason="later", expires_at=now + days(50))
    spend = ledger.debit(account, 80, reason="Redeem", now=now)
    ledger.reverse(spend, reason="Rejected", amount=20, now=now)  # last consumed first
    assert (
        EarnLot.objects.get(entry=soon).remaining,
        EarnLot.objects.get(entry=later).remaining,
    ) == (0, 40)
    ledger.reverse(spend, reason="Rejected (rest)", now=now)
    assert (
        EarnLot.objects.get(entry=soon).remaining,
        EarnLot.objects.get(entry=later).remaining,
    ) == (50, 50)
    assert not account.lots.exclude(entry__in=[soon, later]).exists()  # no new, longer-lived lot
    assert refreshed(account).points_balance == 100


def test_restored_points_past_their_date_expire_at_the_next_sweep(account, now):
    earn = ledger.credit(account, 50, reason="x", expires_at=now + days(5))
    spend = ledger.debit(account, 50, reason="Redeem", now=now)
    ledger.reverse(spend, reason="Cancelled late", now=now + days(6))
    assert ledger.expire_lots(now=now + days(6)).amounts == {"points": 50}
    assert EarnLot.objects.get(entry=earn).expired == 50


def test_three_partial_reversals_of_a_spend(account, now):
    a = ledger.credit(account, 10, reason="a", expires_at=now + days(1))
    b = ledger.credit(account, 10, reason="b", expires_at=now + days(2))
    c = ledger.credit(account, 10, reason="c", expires_at=now + days(3))
    spend = ledger.debit(account, 30, reason="Redeem", now=now)
    for part in (12, 12, 6):
        ledger.reverse(spend, reason="part", amount=part, now=now)
    assert [EarnLot.objects.get(entry=e).remaining for e in (a, b, c)] == [10, 10, 10]
    assert ledger.reversible_amount(spend) == 0


def test_clawback_of_an_earn_whose_lot_is_past_its_date(account, now):
    earn = ledger.credit(account, 100, reason="x", expires_at=now - days(1), now=now - days(10))
    ledger.credit(account, 50, reason="y")
    # Not swept yet: the 100 are past their date, so nothing of them can be clawed back.
    assert ledger.reversible_amount(earn, now=now) == 0
    spend = ledger.debit(account, 20, reason="Redeem", now=now)  # expires the 100 inline
    assert spend.balance_after == 30
    assert ledger.reversible_amount(earn, now=now) == 0
    earn2 = ledger.credit(account, 40, reason="z", expires_at=now + days(1), now=now)
    ledger.debit(account, 30, reason="Redeem", now=now)  # FIFO: z first, 10 of z left
    back = ledger.reverse(earn2, reason="refund", now=now + days(2))
    # The 10 left of z are past their date: expired on the way, never clawed back.
    assert (back.amount, back.balance_after) == (-30, 0)
    assert account.entries.filter(kind="expire").count() == 2
    assert testing.ledger_is_consistent(account)


def test_reversing_a_spend_while_in_debt_repays_first(account):
    earn = ledger.credit(account, 100, reason="x")
    spend = ledger.debit(account, 60, reason="Redeem")
    ledger.reverse(earn, reason="refund")  # balance -60
    ledger.reverse(spend, reason="cancel")  # +60 repays the debt
    assert refreshed(account).points_balance == 0
    assert testing.ledger_is_consistent(account)


def test_reversals_and_expiries_cannot_be_reversed(account, now):
    earn = ledger.credit(account, 10, reason="x", expires_at=now - days(1))
    ledger.expire_lots(now=now)
    expiry = account.entries.get(kind=EntryKind.EXPIRE)
    with pytest.raises(NotReversible):
        ledger.reverse(expiry, reason="undo")
    assert ledger.reversible_amount(expiry) == 0
    earn2 = ledger.credit(account, 10, reason="y")
    back = ledger.reverse(earn2, reason="z")
    with pytest.raises(NotReversible, match="cannot be reversed"):
        ledger.reverse(back, reason="undo the undo")
    assert ledger.reversible_amount(earn) == 0


def test_reverse_replay_and_conflict(account):
    earn = ledger.credit(account, 100, reason="x")
    first = ledger.reverse(earn, reason="refund", amount=40, idempotency_key="refund:1")
    assert (
        ledger.reverse(earn, reason="refund", amount=40, idempotency_key="refund:1").pk == first.pk
    )
    assert ledger.reverse(earn, reason="refund", idempotency_key="refund:1").pk == first.pk
    with pytest.raises(IdempotencyConflict):
        ledger.reverse(earn, reason="refund", amount=41, idempotency_key="refund:1")
    assert refreshed(account).points_balance == 60


def test_reverse_keeps_the_callers_account_in_step(account):
    earn = ledger.credit(account, 100, reason="x")
    entry = LedgerEntry.objects.select_related("account").get(pk=earn.pk)
    ledger.reverse(entry, reason="refund", amount=10)
    assert entry.account.points_balance == 90


# --- balance ------------------------------------------------


def test_balance_by_account_member_user_and_program(program, django_assert_num_queries):
    user = testing.make_user()
    member = testing.make_member(user=user)
    account = testing.make_account(member, program=program, points=42, credit=300)
    other = testing.make_program("shop-b")
    testing.make_account(member, program=other, points=7)
    with django_assert_num_queries(1):
        assert ledger.balance(account) == 42
    with django_assert_num_queries(1):
        assert ledger.balance(user) == 42
    with django_assert_num_queries(1):
        assert ledger.balance(user, program="shop-b") == 7
    with django_assert_num_queries(1):
        assert ledger.balance(member, program=other) == 7
    with django_assert_num_queries(1):
        assert ledger.balance(user, unit=Unit.CREDIT) == 300


def test_balance_of_nobody_is_zero(program):
    from django.contrib.auth.models import AnonymousUser

    assert ledger.balance(AnonymousUser()) == 0
    assert ledger.balance(testing.make_user()) == 0
    assert ledger.balance(None) == 0


# --- query counts ------------------------------------------------


def test_credit_and_debit_use_a_small_fixed_number_of_queries(
    account, django_assert_max_num_queries
):
    ledger.credit(account, 1, reason="warm up")
    # savepoint, lock, key lookup, entry, lot, account update, release
    with django_assert_max_num_queries(7):
        ledger.credit(account, 100, reason="x", idempotency_key="q1")
    for _ in range(20):
        ledger.credit(account, 1, reason="more lots")
    # savepoint, lock, key lookup, lots, full-lots update, partial update, entry, account, release
    with django_assert_max_num_queries(9):
        ledger.debit(account, 110, reason="y", idempotency_key="q2")


# --- signals ------------------------------------------------


def test_signals_fire_after_commit_only(account, recorders, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        entry = ledger.credit(account, 10, reason="x")
    assert recorders["points_credited"].calls == []  # not before commit
    for callback in callbacks:
        callback()
    (call,) = recorders["points_credited"].calls
    assert call["entry"] == entry and call["amount"] == 10 and call["balance"] == 10
    assert call["sender"] is LedgerEntry


def test_no_signal_for_rolled_back_work(account, recorders, django_capture_on_commit_callbacks):
    with (  # noqa: PT012 - the failure must follow the credit
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ledger.credit(account, 10, reason="x")
        raise RuntimeError("host failed later in the same transaction")
    assert recorders["points_credited"].calls == []
    assert entries(account) == []


def test_money_units_send_no_points_signals(account, recorders, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ledger.credit(account, 10, unit=Unit.CREDIT, reason="x")
    assert recorders["points_credited"].calls == []


# --- immutability and constraints ------------------------------------------------


def test_ledger_entries_cannot_be_changed_or_deleted(account):
    entry = ledger.credit(account, 10, reason="x")
    entry.amount = 1000
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1000)
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.all().delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 10


@pytest.mark.parametrize(
    ("kind", "amount"), [("earn", -5), ("spend", 5), ("expire", 5), ("payout", 5), ("adjust", 0)]
)
def test_database_refuses_wrong_signs(account, kind, amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    account=account,
                    unit="points",
                    kind=kind,
                    amount=amount,
                    balance_after=0,
                    memo="x",
                )
            ]
        )


# --- expiry sweep ------------------------------------------------


def test_sweep_expires_what_is_left_once(
    account, now, recorders, django_capture_on_commit_callbacks
):
    first = ledger.credit(account, 100, reason="a", expires_at=now + days(1))
    ledger.credit(account, 50, reason="b", expires_at=now + days(1))
    ledger.credit(account, 25, reason="never")
    ledger.debit(account, 120, reason="Redeem", now=now)
    with django_capture_on_commit_callbacks(execute=True):
        result = ledger.expire_lots(now=now + days(2))
    assert (result.lots, result.entries, result.amounts) == (1, 1, {"points": 30})
    expiry = account.entries.get(kind="expire")
    assert expiry.amount == -30 and expiry.balance_after == 25
    assert EarnLot.objects.get(entry=first).remaining == 0
    assert [c["amount"] for c in recorders["points_expired"].calls] == [30]
    assert ledger.expire_lots(now=now + days(2)).lots == 0  # a rerun is a no-op
    assert testing.ledger_is_consistent(account)


def test_sweep_query_count_grows_with_batches_not_rows(program, now, django_assert_max_num_queries):
    accounts = [testing.make_account(program=program) for _ in range(12)]
    for acc in accounts:
        for i in range(3):
            ledger.credit(acc, 10, reason="x", expires_at=now - days(1 + i), now=now - days(30))
    with django_assert_max_num_queries(10):  # one batch, 36 lots in 12 accounts
        result = ledger.expire_lots(now=now, batch_size=1000)
    assert (result.batches, result.lots, result.entries) == (1, 36, 12)
    assert all(ledger.balance(acc) == 0 for acc in accounts)


def test_sweep_batches_and_program_filter(program, now):
    other = testing.make_program("other")
    mine = testing.make_account(program=program)
    theirs = testing.make_account(program=other)
    for _ in range(5):
        ledger.credit(mine, 1, reason="x", expires_at=now - days(1))
        ledger.credit(theirs, 1, reason="x", expires_at=now - days(1))
    result = ledger.expire_lots(now=now, batch_size=2, program="other")
    assert (result.batches, result.lots) == (3, 5)
    assert (ledger.balance(mine), ledger.balance(theirs)) == (5, 0)


def test_sweep_covers_every_unit(account, now):
    ledger.credit(account, 300, unit=Unit.CREDIT, reason="x", expires_at=now - days(1))
    ledger.credit(account, 3, reason="x", expires_at=now - days(1))
    assert ledger.expire_lots(now=now).amounts == {"credit": 300, "points": 3}


# --- recompute and totals ---------------------------------------------------------


def test_recompute_reports_and_fixes_a_wrong_cached_balance(account, program):
    ledger.credit(account, 100, reason="x")
    ledger.credit(account, 500, unit=Unit.CREDIT, reason="x")
    Account.objects.filter(pk=account.pk).update(points_balance=999)
    found = ledger.recompute(program=program)
    assert [(d.unit, d.what, d.cached, d.expected) for d in found] == [
        ("points", "balance", 999, 100)
    ]
    assert ledger.recompute(account=account, fix=True) == found
    assert refreshed(account).points_balance == 100
    assert ledger.recompute() == []


def test_recompute_reports_lots_that_do_not_add_up(account):
    entry = ledger.credit(account, 100, reason="x")
    EarnLot.objects.filter(entry=entry).update(remaining=40)
    (d,) = ledger.recompute(account=account)
    assert (d.what, d.cached, d.expected) == ("lots", 40, 100)


def test_recompute_checks_and_fixes_held_points(account, program):
    from django_referral_rewards.services import rewards

    rewards.grant_reward(account, kind="points", value=70, reason="held", hold_days=3)
    assert ledger.recompute(account=account) == []
    Account.objects.filter(pk=account.pk).update(held_points=5)
    (d,) = ledger.recompute(account=account, fix=True)
    assert (d.unit, d.what, d.cached, d.expected) == ("points", "held", 5, 70)
    assert refreshed(account).held_points == 70
    assert ledger.recompute() == []


def test_recompute_walks_accounts_in_batches(program):
    for _ in range(5):
        testing.make_account(program=program, points=3)
    assert ledger.recompute(batch_size=2) == []


def test_program_totals_balance_by_kind(account, program, now):
    earn = ledger.credit(account, 100, reason="x", expires_at=now + days(1))
    ledger.debit(account, 30, reason="y", now=now)
    ledger.reverse(earn, reason="z", amount=10, now=now)
    ledger.expire_lots(now=now + days(2))
    totals = ledger.program_totals(program)["points"]
    assert totals == {
        "earn": 100,
        "spend": -30,
        "reverse": -10,
        "expire": -60,
        "ledger": 0,
        "balances": 0,
    }
    assert ledger.program_totals(program)["credit"] == {"ledger": 0, "balances": 0}


def test_a_failing_receiver_is_logged_and_does_not_stop_the_others(
    account, recorders, django_capture_on_commit_callbacks, caplog
):
    def broken(**kwargs):
        raise ValueError("host bug")

    signals.points_credited.connect(broken, weak=False, dispatch_uid="broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ledger.credit(account, 10, reason="x")
    finally:
        signals.points_credited.disconnect(dispatch_uid="broken")
    assert len(recorders["points_credited"].calls) == 1
    assert "raised" in caplog.text and "host bug" in caplog.text
    assert ledger.balance(account) == 10
