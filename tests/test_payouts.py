"""Commission payouts: the request (inputs, minimum, balance, reservation, idempotency),
the state machine (approve, mark paid, cancel, account credit), history, signals after
commit, the entries a payout covers, sending through a payout backend, refunds of
commission, query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from django_referral_rewards import signals, testing
from django_referral_rewards.enums import EntryKind, GrantStatus, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidArgument,
    InvalidTransition,
    MemberNotFound,
    PayoutBelowMinimum,
    PayoutError,
    PayoutSendFailed,
)
from django_referral_rewards.models import (
    Account,
    LedgerEntry,
    Payout,
    PayoutEvent,
    RewardGrant,
    RewardRule,
)
from django_referral_rewards.payout_backends import PayoutBackend
from django_referral_rewards.services import codes, events, ledger, payouts, rewards

from .conftest import days

# --- helpers ----------------------------------------------------------------------------


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def commission(account: Account) -> int:
    return ledger.balance(fresh(account), unit=Unit.COMMISSION)


def credit(account: Account) -> int:
    return ledger.balance(fresh(account), unit=Unit.CREDIT)


def earn(account: Account, minor: int, **kwargs: Any) -> LedgerEntry:
    return ledger.credit(account, minor, unit=Unit.COMMISSION, reason="Commission", **kwargs)


def staff(username: str | None = None, **fields: Any):
    fields.setdefault("is_staff", True)
    return testing.make_user(username, **fields)


def steps(payout: Payout) -> list[tuple[str, str, Any]]:
    return [(e.action, e.status, e.actor) for e in payouts.history(payout)]


def snapshot(payout: Payout) -> tuple:
    """Everything a refused step must leave as it was."""
    current = fresh(payout)
    return (
        current.status,
        current.approved_at,
        current.paid_at,
        current.cancelled_at,
        current.external_reference,
        current.return_entry_id,
        current.credit_entry_id,
        PayoutEvent.objects.filter(payout=payout).count(),
        LedgerEntry.objects.filter(account_id=payout.account_id).count(),
        commission(current.account),
        credit(current.account),
    )


@pytest.fixture
def earner(program):
    """A member with 50.00 of commission."""
    return testing.make_account(program=program, commission=5000)


@pytest.fixture
def boss(db):
    return staff("boss")


@pytest.fixture
def sent():
    """Every payout signal sent, as (signal name, kwargs)."""
    seen: list[tuple[str, dict]] = []
    receivers = {}
    for name in ("payout_requested", "payout_status_changed"):

        def receiver(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            seen.append((_name, {"sender": sender, **kwargs}))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield seen
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def in_status(status: str, account: Account, by, **kwargs: Any) -> Payout:
    """A payout of 20.00 by bank transfer in ``status``."""
    kwargs.setdefault("method", "bank_transfer")
    payout = payouts.request_payout(account, amount=Decimal("20.00"), **kwargs)
    if status in ("approved", "paid", "cancelled_approved"):
        payouts.approve_payout(payout, by=by)
    if status == "paid":
        payouts.mark_paid(payout, by=by, reference="BANK-1")
    if status in ("cancelled", "cancelled_approved"):
        payouts.cancel_payout(payout, by=by)
    return payout


# --- requesting -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_reserves_the_amount_at_once(program, earner, now):
    payout = payouts.request_payout(
        earner,
        amount=Decimal("20.00"),
        method="bank_transfer",
        destination="  DE89 3704 0044 0532 0130 00  ",
        now=now,
    )

    assert payout.status == "pending"
    assert (payout.program, payout.account, payout.amount, payout.currency) == (
        program,
        earner,
        Decimal("20.00"),
        "USD",
    )
    assert (payout.method, payout.destination) == ("bank_transfer", "DE89 3704 0044 0532 0130 00")
    assert payout.requested_at == now and payout.requested_by is None
    # The commission balance drops at once, on the caller's instance and in the database.
    assert earner.commission_balance == 3000
    assert commission(earner) == 3000
    assert payouts.available(fresh(earner)) == Decimal("30.00")
    entry = fresh(payout).reserve_entry
    assert (entry.unit, entry.kind, entry.amount, entry.balance_after) == (
        "commission",
        "payout",
        -2000,
        3000,
    )
    assert (entry.reference_type, entry.reference_id) == ("referral_rewards.payout", str(payout.pk))
    assert entry.memo == "Payout requested (bank transfer)"
    assert testing.ledger_is_consistent(fresh(earner))
    assert steps(payout) == [("requested", "pending", None)]


@pytest.mark.django_db
def test_a_user_or_a_member_may_stand_for_the_account(program):
    user = testing.make_user("vet")
    account = testing.make_account(testing.make_member(user), program=program, commission=3000)
    by_user = payouts.request_payout(user, amount=Decimal("10.00"), method="cash")
    assert by_user.account == account
    assert by_user.requested_by == user
    assert steps(by_user) == [("requested", "pending", user)]

    influencer = testing.make_member(user=False, name="Ina Influencer")
    other = testing.make_account(influencer, program=program, commission=1500)
    by_member = payouts.request_payout(
        influencer, amount=Decimal("15"), method="cheque", program=program.slug
    )
    assert (by_member.account, by_member.requested_by) == (other, None)
    assert commission(other) == 0
    # A staff user asking for the member is recorded as the requester.
    clerk = staff("clerk")
    for_member = payouts.request_payout(
        account, amount=Decimal("5.00"), method="cash", requested_by=clerk
    )
    assert for_member.requested_by == clerk
    assert commission(account) == 1500


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["paypal", "", None, "BANK_TRANSFER", 3])
def test_unknown_methods_are_refused(earner, method):
    with pytest.raises(InvalidArgument, match="Unknown payout method"):
        payouts.request_payout(earner, amount=Decimal("10.00"), method=method)
    assert not Payout.objects.exists()
    assert commission(earner) == 5000


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["bank_transfer", "cash", "cheque", "account_credit"])
def test_every_method_may_be_requested(earner, method):
    payout = payouts.request_payout(earner, amount=Decimal("10.00"), method=method)
    assert fresh(payout).method == method


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("destination", "message"),
    [(None, "must be text"), (12345, "must be text"), ("x" * 256, "longer than 255")],
)
def test_bad_destinations_are_refused(earner, destination, message):
    with pytest.raises(InvalidArgument, match=message):
        payouts.request_payout(
            earner, amount=Decimal("10.00"), method="bank_transfer", destination=destination
        )
    assert not Payout.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount",
    [0, Decimal("0.00"), -5, Decimal("-0.01"), 10.5, Decimal("10.001"), "ten", None, True],
)
def test_bad_amounts_are_refused_and_nothing_is_written(earner, amount):
    with pytest.raises(InvalidAmount):
        payouts.request_payout(earner, amount=amount, method="cash")
    assert not Payout.objects.exists()
    assert commission(earner) == 5000
    assert LedgerEntry.objects.filter(account=earner).count() == 1


@pytest.mark.django_db
def test_zero_is_refused_even_without_a_minimum(program, earner):
    assert program.payout_minimum == 0
    with pytest.raises(InvalidAmount, match="more than zero"):
        payouts.request_payout(earner, amount=Decimal(0), method="cash")


@pytest.mark.django_db
def test_amounts_below_the_program_minimum_are_refused(program, earner):
    program.payout_minimum = Decimal("25.00")
    program.save()
    with pytest.raises(PayoutBelowMinimum, match=r"The minimum payout is 25\.00 USD\.") as info:
        payouts.request_payout(earner, amount=Decimal("24.99"), method="cash")
    assert info.value.code == "payout_below_minimum"
    assert isinstance(info.value, PayoutError)
    assert not Payout.objects.exists()
    assert commission(earner) == 5000
    # The minimum itself is fine.
    assert payouts.request_payout(earner, amount=Decimal("25"), method="cash").amount == 25


@pytest.mark.django_db
def test_more_than_the_available_commission_is_refused_with_a_money_message(earner):
    with pytest.raises(
        InsufficientBalance,
        match=r"50\.00 USD of commission is available; 50\.01 USD was requested\.",
    ) as info:
        payouts.request_payout(earner, amount=Decimal("50.01"), method="cash")
    assert (info.value.context["balance"], info.value.context["requested"]) == (5000, 5001)
    assert not Payout.objects.exists() and not PayoutEvent.objects.exists()
    assert commission(earner) == 5000
    # All of it is fine, and then nothing is left.
    payouts.request_payout(earner, amount=Decimal("50.00"), method="cash")
    with pytest.raises(InsufficientBalance, match=r"0\.00 USD of commission is available"):
        payouts.request_payout(earner, amount=Decimal("0.01"), method="cash")


@pytest.mark.django_db
def test_points_and_credit_are_not_commission(program):
    account = testing.make_account(program=program, points=10_000, credit=10_000)
    with pytest.raises(InsufficientBalance):
        payouts.request_payout(account, amount=Decimal("1.00"), method="cash")


@pytest.mark.django_db
def test_a_negative_balance_after_a_clawback_refuses_requests(earner):
    earned = LedgerEntry.objects.get(account=earner)
    payouts.request_payout(earner, amount=Decimal("40.00"), method="cash")
    ledger.reverse(earned, reason="Refunded order")  # the 50.00 is clawed back
    assert commission(earner) == -4000
    assert payouts.available(fresh(earner)) == Decimal("0.00")
    with pytest.raises(InsufficientBalance, match=r"0\.00 USD of commission is available"):
        payouts.request_payout(earner, amount=Decimal("0.01"), method="cash")
    assert Payout.objects.count() == 1
    assert testing.ledger_is_consistent(fresh(earner))


@pytest.mark.django_db
def test_an_unsaved_account_is_refused(program):
    with pytest.raises(InvalidArgument, match="must be saved"):
        payouts.request_payout(Account(program=program), amount=Decimal("1.00"), method="cash")


@pytest.mark.django_db
@pytest.mark.parametrize("who", [None, "bob", 5, AnonymousUser()])
def test_someone_who_is_not_a_member_is_refused(program, who):
    with pytest.raises(MemberNotFound):
        payouts.request_payout(who, amount=Decimal("1.00"), method="cash")
    assert not Payout.objects.exists()


@pytest.mark.django_db
def test_amounts_follow_the_programs_currency():
    yen = testing.make_program(
        "yen", currency="JPY", currency_decimal_places=0, payout_minimum=Decimal(1000)
    )
    account = testing.make_account(program=yen, commission=5000)
    with pytest.raises(InvalidAmount, match="more than 0 decimal places"):
        payouts.request_payout(account, amount=Decimal("1500.5"), method="cash")
    with pytest.raises(PayoutBelowMinimum, match="The minimum payout is 1000 JPY"):
        payouts.request_payout(account, amount=Decimal(999), method="cash")
    with pytest.raises(InsufficientBalance, match="5000 JPY of commission is available"):
        payouts.request_payout(account, amount=Decimal(5001), method="cash")
    payout = payouts.request_payout(account, amount=Decimal(1500), method="cash")
    assert (payout.currency, fresh(payout).reserve_entry.amount) == ("JPY", -1500)
    assert payouts.available(fresh(account)) == Decimal(3500)
    assert payouts.money(yen, Decimal(3500)) == "3500 JPY"


@pytest.mark.django_db
def test_who_asked_must_be_a_user(earner, django_user_model):
    for who in (earner.member, "bob", django_user_model(username="unsaved")):
        with pytest.raises(InvalidArgument, match="requested_by must be a saved user"):
            payouts.request_payout(earner, amount=Decimal("1.00"), method="cash", requested_by=who)
    assert not Payout.objects.exists()


# --- idempotency ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_replayed_key_returns_the_first_payout(earner):
    first = payouts.request_payout(
        earner, amount=Decimal("20.00"), method="cash", idempotency_key="req-1"
    )
    again = payouts.request_payout(
        earner, amount=Decimal("20"), method="cash", idempotency_key="req-1"
    )
    assert again.pk == first.pk
    assert Payout.objects.count() == 1 and PayoutEvent.objects.count() == 1
    assert commission(earner) == 3000
    assert testing.ledger_is_consistent(fresh(earner))


@pytest.mark.django_db
def test_a_key_reused_for_another_payout_is_a_conflict(program, earner):
    payouts.request_payout(earner, amount=Decimal("20.00"), method="cash", idempotency_key="k")
    other = testing.make_account(program=program, commission=5000)
    for account, amount, method in (
        (earner, Decimal("21.00"), "cash"),
        (earner, Decimal("20.00"), "cheque"),
        (other, Decimal("20.00"), "cash"),
    ):
        with pytest.raises(IdempotencyConflict, match="already used for payout"):
            payouts.request_payout(account, amount=amount, method=method, idempotency_key="k")
    assert Payout.objects.count() == 1
    assert (commission(earner), commission(other)) == (3000, 5000)


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 201, 42])
def test_bad_idempotency_keys_are_refused(earner, key):
    with pytest.raises(InvalidArgument, match="idempotency key"):
        payouts.request_payout(earner, amount=Decimal("1.00"), method="cash", idempotency_key=key)
    assert not Payout.objects.exists()


# --- approving and paying ---------------------------------------------------------------


@pytest.mark.django_db
def test_approve_needs_an_active_staff_user(earner, django_user_model):
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    before = snapshot(payout)
    for who in (
        None,
        testing.make_user("customer"),
        staff("retired", is_active=False),
        django_user_model(username="unsaved", is_staff=True),
    ):
        with pytest.raises(InvalidArgument, match="Only an active staff user can approve"):
            payouts.approve_payout(payout, by=who)
        assert snapshot(payout) == before
    with pytest.raises(InvalidArgument, match="Only an active staff user can mark paid"):
        payouts.mark_paid(payout, by=None)


@pytest.mark.django_db
def test_approve_then_mark_paid_with_the_payment_reference(earner, boss, now):
    payout = payouts.request_payout(
        earner, amount=Decimal("20.00"), method="bank_transfer", now=now
    )
    cashier = staff("cashier")

    assert payouts.approve_payout(payout, by=boss, note="ok", now=now) is payout
    assert (payout.status, payout.approved_by, payout.approved_at) == ("approved", boss, now)
    later = now + days(1)
    payouts.mark_paid(payout, by=cashier, reference="  SEPA-2026-0042 ", now=later)

    stored = fresh(payout)
    assert stored.status == payout.status == "paid"
    assert (stored.paid_by, stored.paid_at, stored.external_reference) == (
        cashier,
        later,
        "SEPA-2026-0042",
    )
    assert stored.approved_by == boss
    # Approving and paying move no money on the ledger: the request already took it.
    assert commission(earner) == 3000 and credit(earner) == 0
    assert LedgerEntry.objects.filter(account=earner).count() == 2
    assert stored.credit_entry is None
    assert [(e.action, e.note) for e in payouts.history(payout)] == [
        ("requested", ""),
        ("approved", "ok"),
        ("paid", ""),
    ]


@pytest.mark.django_db
def test_a_reference_too_long_is_refused(earner, boss):
    payout = in_status("approved", earner, boss)
    with pytest.raises(InvalidArgument, match="longer than 200"):
        payouts.mark_paid(payout, by=boss, reference="x" * 201)
    assert fresh(payout).status == "approved"


@pytest.mark.django_db
def test_account_credit_is_paid_on_approval_into_the_credit_balance(earner, boss, now):
    payout = payouts.request_payout(
        earner, amount=Decimal("20.00"), method="account_credit", now=now
    )
    payouts.approve_payout(payout, by=boss, now=now)

    stored = fresh(payout)
    assert stored.status == "paid"
    assert (stored.approved_by, stored.paid_by, stored.paid_at) == (boss, boss, now)
    transfer = stored.credit_entry
    assert (transfer.unit, transfer.kind, transfer.amount, transfer.balance_after) == (
        "credit",
        "transfer",
        2000,
        2000,
    )
    assert (transfer.reference_type, transfer.reference_id) == (
        "referral_rewards.payout",
        str(payout.pk),
    )
    assert (commission(earner), credit(earner)) == (3000, 2000)
    assert ledger.balance(earner, unit="credit") == 2000
    assert testing.ledger_is_consistent(fresh(earner))
    assert [(e.action, e.status, e.note) for e in payouts.history(payout)] == [
        ("requested", "pending", ""),
        ("approved", "approved", ""),
        ("paid", "paid", "20.00 USD credited to the account."),
    ]


@pytest.mark.django_db
def test_account_credit_approval_is_one_transaction(earner, boss, monkeypatch):
    """If the credit cannot be written, the approval is undone with it."""
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="account_credit")
    before = snapshot(payout)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(payouts.ledger, "credit", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        payouts.approve_payout(payout, by=boss)
    assert snapshot(payout) == before
    assert fresh(payout).approved_by is None


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "approved"])
def test_cancel_returns_the_amount(earner, boss, status, now):
    payout = in_status(status, earner, boss)
    assert commission(earner) == 3000

    later = now + days(1)
    payouts.cancel_payout(payout, by=boss, reason="  Wrong IBAN ", now=later)

    stored = fresh(payout)
    assert (stored.status, stored.cancelled_at, stored.reason) == ("cancelled", later, "Wrong IBAN")
    back = stored.return_entry
    assert (back.unit, back.kind, back.amount, back.reverses_id, back.balance_after) == (
        "commission",
        "reverse",
        2000,
        stored.reserve_entry_id,
        5000,
    )
    assert back.memo == "Payout cancelled (Wrong IBAN)"
    assert commission(earner) == 5000
    assert testing.ledger_is_consistent(fresh(earner))
    assert steps(payout)[-1] == ("cancelled", "cancelled", boss)
    # The returned amount can be asked for again.
    payouts.request_payout(earner, amount=Decimal("50.00"), method="cash")


@pytest.mark.django_db
def test_a_cancel_by_the_member_records_no_actor(earner):
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    payouts.cancel_payout(payout)
    assert steps(payout)[-1] == ("cancelled", "cancelled", None)
    assert fresh(payout).return_entry.memo == "Payout cancelled"


@pytest.mark.django_db
def test_who_cancels_must_be_a_user(earner):
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    before = snapshot(payout)
    for who in (earner.member, "bob"):
        with pytest.raises(InvalidArgument, match="by must be a saved user"):
            payouts.cancel_payout(payout, by=who)
    assert snapshot(payout) == before


@pytest.mark.django_db
def test_a_cancel_repays_a_clawback_debt_first(earner):
    earned = LedgerEntry.objects.get(account=earner)
    payout = payouts.request_payout(earner, amount=Decimal("30.00"), method="cash")
    ledger.reverse(earned, reason="Refunded order")
    assert commission(earner) == -3000
    payouts.cancel_payout(payout)
    assert commission(earner) == 0
    assert testing.ledger_is_consistent(fresh(earner))
    with pytest.raises(InsufficientBalance):
        payouts.request_payout(earner, amount=Decimal("0.01"), method="cash")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "step"),
    [
        ("pending", "mark_paid"),
        ("approved", "approve"),
        ("paid", "approve"),
        ("paid", "mark_paid"),
        ("paid", "cancel"),
        ("cancelled", "approve"),
        ("cancelled", "mark_paid"),
        ("cancelled", "cancel"),
        ("cancelled_approved", "mark_paid"),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(earner, boss, status, step):
    payout = in_status(status, earner, boss)
    before = snapshot(payout)
    do = {
        "approve": lambda p: payouts.approve_payout(p, by=boss),
        "mark_paid": lambda p: payouts.mark_paid(p, by=boss, reference="again"),
        "cancel": lambda p: payouts.cancel_payout(p, by=boss),
    }[step]
    with pytest.raises(InvalidTransition) as info:
        do(fresh(payout))
    assert f"Payout #{payout.pk} is" in str(info.value)
    assert snapshot(payout) == before


@pytest.mark.django_db
def test_a_paid_payout_cannot_be_cancelled(earner, boss):
    payout = in_status("paid", earner, boss)
    before = snapshot(payout)
    with pytest.raises(InvalidTransition, match="is paid; it cannot be cancelled"):
        payouts.cancel_payout(payout, by=boss)
    assert snapshot(payout) == before
    assert payout.status == "paid"
    assert commission(earner) == 3000


@pytest.mark.django_db
def test_a_deleted_payout_cannot_move(earner, boss):
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    with pytest.raises(InvalidArgument, match="saved payout"):
        payouts.approve_payout(Payout(), by=boss)
    with pytest.raises(InvalidArgument, match="saved payout"):
        payouts.cancel_payout("1")
    assert fresh(payout).status == "pending"


@pytest.mark.django_db
def test_history_lists_every_step_in_order_with_who_took_it(program, boss):
    user = testing.make_user("member")
    testing.make_account(testing.make_member(user), program=program, commission=5000)
    first = payouts.request_payout(user, amount=Decimal("20.00"), method="bank_transfer")
    cashier = staff("cashier")
    payouts.approve_payout(first, by=boss)
    payouts.mark_paid(first, by=cashier, reference="R1")
    second = payouts.request_payout(user, amount=Decimal("10.00"), method="cash")
    payouts.approve_payout(second, by=boss)
    payouts.cancel_payout(second, by=cashier, reason="Asked twice")

    assert steps(first) == [
        ("requested", "pending", user),
        ("approved", "approved", boss),
        ("paid", "paid", cashier),
    ]
    assert [(a, s) for a, s, _ in steps(second)] == [
        ("requested", "pending"),
        ("approved", "approved"),
        ("cancelled", "cancelled"),
    ]
    assert payouts.history(second)[-1].note == "Asked twice"


# --- signals ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_signals_are_sent_after_commit_with_their_arguments(
    earner, boss, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    assert sent == []  # nothing until the transaction commits
    for callback in callbacks:
        callback()
    assert sent == [("payout_requested", {"sender": Payout, "payout": payout, "account": earner})]
    assert sent[0][1]["account"].commission_balance == 3000

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payouts.approve_payout(payout, by=boss)
    with django_capture_on_commit_callbacks(execute=True):
        payouts.mark_paid(payout, by=boss, reference="R")
    changes = [(k["old_status"], k["new_status"], k["actor"]) for _, k in sent]
    assert changes == [("pending", "approved", boss), ("approved", "paid", boss)]
    assert {name for name, _ in sent} == {"payout_status_changed"}
    assert all(k["sender"] is Payout and k["payout"].pk == payout.pk for _, k in sent)


@pytest.mark.django_db
def test_account_credit_approval_announces_both_steps(
    earner, boss, sent, django_capture_on_commit_callbacks
):
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="account_credit")
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payouts.approve_payout(payout, by=boss)
    assert [(k["old_status"], k["new_status"]) for _, k in sent] == [
        ("pending", "approved"),
        ("approved", "paid"),
    ]
    assert sent[-1][1]["payout"].status == "paid"


@pytest.mark.django_db
def test_cancel_announces_the_change(earner, sent, django_capture_on_commit_callbacks):
    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    member = testing.make_user("member")
    with django_capture_on_commit_callbacks(execute=True):
        payouts.cancel_payout(payout, by=member)
    assert sent[-1] == (
        "payout_status_changed",
        {
            "sender": Payout,
            "payout": payout,
            "old_status": "pending",
            "new_status": "cancelled",
            "actor": member,
        },
    )


def then_fail(step, *args: Any, **kwargs: Any) -> None:
    """Run ``step`` in the host's transaction, which then fails and rolls back."""
    with transaction.atomic():
        step(*args, **kwargs)
        raise RuntimeError("the host's view failed")


@pytest.mark.django_db
def test_no_signal_for_rolled_back_work(earner, boss, sent, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        then_fail(payouts.request_payout, earner, amount=Decimal("20.00"), method="cash")
    assert callbacks == [] and sent == []
    assert not Payout.objects.exists() and not PayoutEvent.objects.exists()
    assert commission(earner) == 5000

    payout = payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")
    sent.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        then_fail(payouts.approve_payout, payout, by=boss)
    assert callbacks == [] and sent == []
    assert fresh(payout).status == "pending"


# --- what a payout covers ---------------------------------------------------------------


@pytest.mark.django_db
def test_covered_entries_are_the_earn_entries_oldest_first(program):
    account = testing.make_account(program=program)
    first, second, third = (earn(account, minor) for minor in (1000, 1500, 3000))

    a = payouts.request_payout(account, amount=Decimal("20.00"), method="cash")
    b = payouts.request_payout(account, amount=Decimal("20.00"), method="cash")
    c = payouts.request_payout(account, amount=Decimal("15.00"), method="cash")

    assert payouts.covered_entries(a) == [first, second]
    assert payouts.covered_entries(b) == [second, third]
    assert payouts.covered_entries(c) == [third]
    assert commission(account) == 0


@pytest.mark.django_db
def test_a_cancelled_payouts_commission_is_covered_again_by_the_next(program):
    account = testing.make_account(program=program)
    first, second = earn(account, 1000), earn(account, 1000)
    cancelled = payouts.request_payout(account, amount=Decimal("15.00"), method="cash")
    payouts.cancel_payout(cancelled)
    again = payouts.request_payout(account, amount=Decimal("10.00"), method="cash")
    assert payouts.covered_entries(cancelled) == [first, second]
    assert payouts.covered_entries(again) == [first]


# --- sending through a payout backend ---------------------------------------------------


class Died(BaseException):
    """Stands in for the worker process dying while the provider is called (not an
    ``Exception``: nothing in the service may catch it)."""


class FakeProvider(PayoutBackend):
    """Pays by "calling a provider"; checks it is never called inside a transaction.
    ``failures`` makes the next calls raise; ``crash`` makes the next one die."""

    automatic = True
    calls: list[dict[str, Any]] = []
    failures = 0
    crash = False

    def submit(self, payout: Payout) -> str:
        from django.db import connection

        FakeProvider.calls.append(
            {
                "pk": payout.pk,
                "key": payout.submission_key,
                "in_atomic_block": transaction.get_connection().in_atomic_block,
                "stored_status": Payout.objects.get(pk=payout.pk).status,
                "status": payout.status,
                "in_transaction": not connection.get_autocommit(),
            }
        )
        assert not transaction.get_connection().in_atomic_block
        if FakeProvider.crash:
            FakeProvider.crash = False
            raise Died("the worker died")
        if FakeProvider.failures:
            FakeProvider.failures -= 1
            raise ConnectionError("provider unreachable")
        return f"ACME-{payout.pk}-{len(FakeProvider.calls)}"


@pytest.fixture
def provider(settings):
    FakeProvider.calls = []
    FakeProvider.failures = 0
    FakeProvider.crash = False
    settings.REFERRAL_REWARDS_PAYOUT_BACKEND = "tests.test_payouts.FakeProvider"
    return FakeProvider


@pytest.mark.django_db(transaction=True)
def test_send_pays_through_the_backend_outside_any_transaction(earner, boss, provider, sent):
    payout = in_status("approved", earner, boss)
    sent.clear()

    assert payouts.send_payout(payout, by=boss) is payout

    (call,) = provider.calls
    assert call == {
        "pk": payout.pk,
        "key": f"referral-rewards-payout-{payout.pk}",
        "in_atomic_block": False,
        "stored_status": "processing",  # committed before the backend is called
        "status": "processing",
        "in_transaction": False,
    }
    stored = fresh(payout)
    assert (stored.status, stored.external_reference, stored.attempts) == (
        "paid",
        f"ACME-{payout.pk}-1",
        1,
    )
    assert stored.submitted_at is not None and stored.last_error == ""
    assert stored.paid_by == boss and stored.paid_at is not None
    assert payout.status == "paid"
    assert [a for a, _, _ in steps(payout)] == ["requested", "approved", "submitted", "paid"]
    assert [(k["old_status"], k["new_status"]) for _, k in sent] == [
        ("approved", "processing"),
        ("processing", "paid"),
    ]
    assert commission(earner) == 3000


@pytest.mark.django_db(transaction=True)
def test_a_failed_send_is_approved_again_and_may_be_retried(earner, boss, provider, sent):
    payout = in_status("approved", earner, boss)
    provider.failures = 1
    sent.clear()

    with pytest.raises(PayoutSendFailed, match="could not be sent") as info:
        payouts.send_payout(payout, by=boss)

    assert isinstance(info.value, PayoutError)
    assert "ConnectionError: provider unreachable" in str(info.value)
    stored = fresh(payout)
    assert (stored.status, stored.attempts, stored.external_reference) == ("approved", 1, "")
    assert stored.last_error == "ConnectionError: provider unreachable"
    assert payout.status == "approved" and payout.last_error == stored.last_error
    assert [(a, s) for a, s, _ in steps(payout)][-2:] == [
        ("submitted", "processing"),
        ("failed", "approved"),
    ]
    assert payouts.history(payout)[-1].note == "ConnectionError: provider unreachable"
    assert [(k["old_status"], k["new_status"]) for _, k in sent] == [
        ("approved", "processing"),
        ("processing", "approved"),
    ]
    assert commission(earner) == 3000  # the amount stays reserved

    payouts.send_payout(payout, by=boss)

    stored = fresh(payout)
    assert (stored.status, stored.attempts, stored.last_error) == ("paid", 2, "")
    assert stored.external_reference == f"ACME-{payout.pk}-2"
    assert [c["key"] for c in provider.calls] == [payout.submission_key] * 2
    assert testing.ledger_is_consistent(fresh(earner))


@pytest.mark.django_db(transaction=True)
def test_send_inside_a_transaction_is_refused(earner, boss, provider):
    payout = in_status("approved", earner, boss)
    with transaction.atomic(), pytest.raises(PayoutError, match="outside a database transaction"):
        payouts.send_payout(payout, by=boss)
    assert provider.calls == []
    assert fresh(payout).status == "approved" and fresh(payout).attempts == 0


@pytest.mark.django_db(transaction=True)
def test_the_manual_backend_sends_nothing(earner, boss):
    payout = in_status("approved", earner, boss)
    with pytest.raises(PayoutError, match="mark it paid"):
        payouts.send_payout(payout, by=boss)
    assert fresh(payout).status == "approved" and fresh(payout).attempts == 0


@pytest.mark.django_db(transaction=True)
def test_a_send_interrupted_by_a_crash_is_resumed(earner, boss, provider):
    payout = in_status("approved", earner, boss)
    provider.crash = True
    with pytest.raises(Died):
        payouts.send_payout(payout, by=boss)
    assert fresh(payout).status == "processing"
    # Without resume, a payout being sent is not sent again.
    with pytest.raises(InvalidTransition, match="is being sent; it cannot be sent"):
        payouts.send_payout(fresh(payout), by=boss)
    # Nor cancelled, approved or paid by hand meanwhile... except by marking it paid.
    with pytest.raises(InvalidTransition):
        payouts.cancel_payout(payout, by=boss)

    # A live attempt (a slow provider) is not sent again: the crashed one may be, later.
    with pytest.raises(PayoutError, match="it can be sent again from"):
        payouts.send_payout(payout, by=boss, resume=True)
    later = fresh(payout).submitted_at + payouts.RESUME_AFTER
    payouts.send_payout(payout, by=boss, resume=True, now=later)

    stored = fresh(payout)
    assert (stored.status, stored.attempts) == ("paid", 2)
    assert [c["key"] for c in provider.calls] == [payout.submission_key] * 2
    assert [a for a, _, _ in steps(payout)] == [
        "requested",
        "approved",
        "submitted",
        "submitted",
        "paid",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_payout_left_being_sent_may_be_marked_paid_by_hand(earner, boss, provider):
    """Staff who find the payment at the provider record it instead of sending again."""
    payout = in_status("approved", earner, boss)
    provider.crash = True
    with pytest.raises(Died):
        payouts.send_payout(payout, by=boss)
    payouts.mark_paid(fresh(payout), by=boss, reference="ACME-found-by-hand")
    stored = fresh(payout)
    assert (stored.status, stored.external_reference, stored.attempts) == (
        "paid",
        "ACME-found-by-hand",
        1,
    )
    with pytest.raises(InvalidTransition):
        payouts.send_payout(stored, by=boss, resume=True)
    assert len(provider.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_who_sends_must_be_a_user(earner, boss, provider):
    payout = in_status("approved", earner, boss)
    with pytest.raises(InvalidArgument, match="by must be a saved user"):
        payouts.send_payout(payout, by=earner.member)
    assert provider.calls == [] and fresh(payout).status == "approved"
    payouts.send_payout(payout)  # by the system (a task)
    assert (fresh(payout).status, fresh(payout).paid_by) == ("paid", None)


@pytest.mark.django_db(transaction=True)
def test_only_approved_payouts_are_sent(earner, boss, provider):
    pending = in_status("pending", earner, boss)
    with pytest.raises(InvalidTransition, match="is waiting for approval; it cannot be sent"):
        payouts.send_payout(pending, by=boss)
    paid = in_status("paid", earner, boss)
    with pytest.raises(InvalidTransition):
        payouts.send_payout(paid, by=boss, resume=True)
    assert provider.calls == []
    assert (fresh(pending).attempts, fresh(paid).attempts) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_account_credit_payouts_are_never_sent(earner, boss, provider):
    payout = in_status("approved", earner, boss, method="account_credit")
    assert fresh(payout).status == "paid"
    with pytest.raises(PayoutError, match="paid when approved"):
        payouts.send_payout(payout, by=boss)
    assert provider.calls == []
    assert credit(earner) == 2000


# --- refunds of commission ----------------------------------------------------------------


@pytest.fixture
def referred(program):
    """A referrer on 10% commission (held 14 days) and a customer who bought for 200."""
    program.hold_days = 14
    program.conversion_event = "first_order"
    program.save()
    RewardRule.objects.create(
        program=program,
        name="10% of the first order",
        trigger="first_order",
        beneficiary="referrer",
        kind="commission_percent",
        value=Decimal(10),
    )
    referrer = testing.make_user("referrer")
    code = codes.get_or_create_personal_code(referrer, program=program)
    customer = testing.make_user("customer")
    events.customer_signed_up(customer, code=code.code, program=program)
    return referrer, customer


@pytest.mark.django_db
def test_a_refund_inside_the_hold_period_voids_the_commission(referred, now):
    referrer, customer = referred
    events.order_completed(customer, "A1", Decimal("200.00"), occurred_at=now)
    grant = RewardGrant.objects.get(kind="commission_percent")
    assert (grant.status, grant.value) == (GrantStatus.HELD, Decimal("20.00"))
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 0

    events.order_refunded(customer, "A1", occurred_at=now + days(3))
    rewards.release_due(now=now + days(15))

    assert fresh(grant).status == GrantStatus.VOIDED
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 0
    account = Account.objects.get(member__user=referrer)
    assert not LedgerEntry.objects.filter(account=account).exists()
    with pytest.raises(InsufficientBalance):
        payouts.request_payout(referrer, amount=Decimal("1.00"), method="cash")


@pytest.mark.django_db
def test_a_refund_after_release_reverses_the_commission_even_below_zero(referred, now, boss):
    referrer, customer = referred
    events.order_completed(customer, "A1", Decimal("200.00"), occurred_at=now)
    rewards.release_due(now=now + days(15))
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 2000
    payout = payouts.request_payout(referrer, amount=Decimal("15.00"), method="bank_transfer")
    payouts.approve_payout(payout, by=boss)
    payouts.mark_paid(payout, by=boss, reference="B1")

    events.order_refunded(customer, "A1", occurred_at=now + days(20))

    grant = RewardGrant.objects.get(kind="commission_percent")
    assert grant.status == GrantStatus.REVERSED
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 500 - 2000
    account = Account.objects.get(member__user=referrer)
    clawback = LedgerEntry.objects.get(account=account, kind=EntryKind.REVERSE)
    assert (clawback.amount, clawback.reverses_id) == (-2000, grant.entry_id)
    assert testing.ledger_is_consistent(account)
    with pytest.raises(InsufficientBalance, match=r"0\.00 USD of commission is available"):
        payouts.request_payout(referrer, amount=Decimal("0.01"), method="cash")
    # New commission repays the debt before it can be paid out.
    earn(account, 2000)
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 500
    assert payouts.available(fresh(account)) == Decimal("5.00")


@pytest.mark.django_db
def test_a_partial_refund_after_release_reverses_in_proportion(referred, now):
    referrer, customer = referred
    events.order_completed(customer, "A1", Decimal("200.00"), occurred_at=now)
    rewards.release_due(now=now + days(15))
    events.order_refunded(customer, "A1", Decimal("50.00"), occurred_at=now + days(16))
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 1500
    payout = payouts.request_payout(referrer, amount=Decimal("15.00"), method="cash")
    assert payout.amount == Decimal("15.00")


# --- query counts -----------------------------------------------------------------------


@pytest.mark.django_db
def test_request_payout_query_count(earner, django_assert_max_num_queries):
    """Whatever the number of lots it consumes: the program, the account lock, the
    payout, the ledger's debit (lock, lots, entry, balance), the link and the event
    (and two savepoints)."""
    for _ in range(5):
        earn(earner, 100)
    with django_assert_max_num_queries(14):
        payout = payouts.request_payout(earner, amount=Decimal("55.00"), method="cash")
    assert len(payouts.covered_entries(payout)) == 6


@pytest.mark.django_db
def test_approve_query_count(earner, boss, django_assert_max_num_queries):
    payout = fresh(payouts.request_payout(earner, amount=Decimal("20.00"), method="cash"))
    credit_payout = fresh(
        payouts.request_payout(earner, amount=Decimal("20.00"), method="account_credit")
    )
    # Load, compare-and-set, event (and a savepoint).
    with django_assert_max_num_queries(5):
        payouts.approve_payout(payout, by=boss)
    # ... then paid (compare-and-set), the credit (lock, key, entry, lot, balance;
    # savepoint), the link and the event.
    with django_assert_max_num_queries(15):
        payouts.approve_payout(credit_payout, by=boss)
    assert fresh(credit_payout).status == "paid"


@pytest.mark.django_db
def test_the_bank_batch_export_is_one_query(program, boss, django_assert_num_queries):
    from django_referral_rewards.resources import export_payouts

    for n in range(4):
        user = testing.make_user(f"member{n}", first_name=f"Member {n}")
        account = testing.make_account(
            testing.make_member(user, name=""), program=program, commission=5000
        )
        payouts.approve_payout(
            payouts.request_payout(account, amount=Decimal("12.50"), method="bank_transfer"),
            by=boss,
        )
    with django_assert_num_queries(1):
        text = export_payouts(Payout.objects.filter(status="approved").order_by("pk"))
    lines = text.strip().splitlines()
    assert lines[0].split(",")[:6] == ["id", "program", "payee", "email", "method", "destination"]
    assert len(lines) == 5
    assert all(",12.50,USD,approved," in line for line in lines[1:])
    # A member without a name is paid under their user's name and e-mail.
    assert lines[1].split(",")[2:4] == ["Member 0", "member0@example.com"]


# --- review fixes -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_member_cannot_cancel_an_approved_payout(earner, boss):
    """Once approved it may be in a bank batch: only staff (or the system) cancel it."""
    member_user = testing.make_user("member")
    payout = in_status("approved", earner, boss)
    before = snapshot(payout)
    with pytest.raises(InvalidTransition, match="is approved; it cannot be cancelled"):
        payouts.cancel_payout(payout, by=member_user)
    assert snapshot(payout) == before
    pending = payouts.request_payout(earner, amount=Decimal("10.00"), method="cash")
    payouts.cancel_payout(pending, by=member_user)
    assert fresh(pending).status == "cancelled"
    payouts.cancel_payout(payout, by=boss)
    assert fresh(payout).status == "cancelled"


@pytest.mark.django_db
def test_a_replay_is_answered_even_after_the_minimum_was_raised(program, earner):
    first = payouts.request_payout(
        earner, amount=Decimal("20.00"), method="cash", idempotency_key="k-min"
    )
    program.payout_minimum = Decimal("50.00")
    program.save()
    again = payouts.request_payout(
        earner, amount=Decimal("20.00"), method="cash", idempotency_key="k-min"
    )
    assert again.pk == first.pk
    with pytest.raises(PayoutBelowMinimum):
        payouts.request_payout(earner, amount=Decimal("20.00"), method="cash")


@pytest.mark.django_db
def test_a_bad_amount_writes_no_account_for_a_new_member(program):
    user = testing.make_user("newcomer")
    with pytest.raises(InvalidAmount):
        payouts.request_payout(user, amount=Decimal("-1"), method="cash")
    assert not Account.objects.filter(member__user=user).exists()


@pytest.mark.django_db
def test_payouts_read_in_the_currencys_places(earner):
    payout = payouts.request_payout(earner, amount=Decimal("20"), method="cash")
    assert str(fresh(payout)).startswith("20.00 USD → ")


class RacingProvider(FakeProvider):
    """While "calling the provider", a second worker tries to resume the same payout."""

    second: list[BaseException] = []

    def submit(self, payout: Payout) -> str:
        stale = Payout.objects.get(pk=payout.pk)
        stale.attempts -= 1  # as read by a worker that started before this attempt
        stale.status = "approved"
        try:
            payouts.send_payout(stale, resume=True)
        except PayoutError as exc:
            RacingProvider.second.append(exc)
        return super().submit(payout)


@pytest.mark.django_db(transaction=True)
def test_two_workers_resuming_one_payout_call_the_provider_once(earner, boss, settings):
    FakeProvider.calls = []
    FakeProvider.failures = 0
    FakeProvider.crash = False
    RacingProvider.second = []
    settings.REFERRAL_REWARDS_PAYOUT_BACKEND = "tests.test_payouts.RacingProvider"
    payout = in_status("approved", earner, boss)
    payouts.send_payout(payout, by=boss)
    assert len(FakeProvider.calls) == 1
    assert len(RacingProvider.second) == 1
    assert f"Payout #{payout.pk} is being sent (an attempt began at" in str(
        RacingProvider.second[0]
    )
    stored = fresh(payout)
    assert (stored.status, stored.attempts) == ("paid", 1)


@pytest.mark.django_db
def test_staff_acting_as_the_member_cannot_cancel_an_approved_payout(earner, boss):
    """The portal cancels as the member even when the member is staff: an approval that
    landed after the page was read wins (the status is part of the compare-and-set)."""
    payout = in_status("approved", earner, boss)
    before = snapshot(payout)
    with pytest.raises(InvalidTransition, match="is approved; it cannot be cancelled"):
        payouts.cancel_payout(payout, by=boss, as_member=True)
    with pytest.raises(InvalidTransition, match="is approved; it cannot be cancelled"):
        payouts.cancel_payout(payout, by=None, as_member=True)
    assert snapshot(payout) == before
    pending = payouts.request_payout(earner, amount=Decimal("10.00"), method="cash")
    payouts.cancel_payout(pending, by=boss, as_member=True)
    assert fresh(pending).status == "cancelled"
