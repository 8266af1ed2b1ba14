"""Redemptions: the catalog checks, the request (points, stock, limits, idempotency),
the state machine (approve, reject, cancel, assign, fulfil), refunds, vouchers and
credit, the assigner and its e-mail, signals after commit, history, query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import transaction

from django_referral_rewards import signals, testing
from django_referral_rewards.enums import EntryKind, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidArgument,
    InvalidTransition,
    MinimumBalanceRequired,
    OptionUnavailable,
    OutOfStock,
    RedemptionLimitReached,
    TierRequired,
)
from django_referral_rewards.models import (
    Account,
    EarnLot,
    LedgerEntry,
    Redemption,
    RedemptionEvent,
    RewardOption,
    Tier,
    Voucher,
)
from django_referral_rewards.services import ledger, redemptions

from .conftest import days

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------


def make_option(program, **fields: Any) -> RewardOption:
    fields.setdefault("name", "Free car wash")
    fields.setdefault("points_cost", 100)
    fields.setdefault("kind", "item")
    return RewardOption.objects.create(program=program, **fields)


def voucher_option(program, **fields: Any) -> RewardOption:
    fields.setdefault("name", "10% off")
    fields.setdefault("voucher_kind", "percent")
    fields.setdefault("value", Decimal(10))
    return make_option(program, kind="voucher", **fields)


def credit_option(program, **fields: Any) -> RewardOption:
    fields.setdefault("name", "$5 credit")
    fields.setdefault("value", Decimal("5.00"))
    return make_option(program, kind="credit", **fields)


def staff(username: str | None = None, *, groups=(), **fields: Any):
    fields.setdefault("is_staff", True)
    user = testing.make_user(username, **fields)
    for group in groups:
        user.groups.add(group)
    return user


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def balance(account: Account, unit: str = Unit.POINTS) -> int:
    return ledger.balance(fresh(account), unit=unit)


def actions(redemption) -> list[tuple[str, str]]:
    return [(e.action, e.status) for e in redemptions.history(redemption)]


@pytest.fixture
def rich(program):
    """A member with 1000 points."""
    return testing.make_account(program=program, points=1000)


@pytest.fixture
def technicians(db):
    return Group.objects.create(name="Technicians")


@pytest.fixture
def sent():
    """Every redemption signal sent, as (signal name, kwargs)."""
    seen: list[tuple[str, dict]] = []
    receivers = {}
    for name in ("redemption_requested", "redemption_status_changed"):

        def receiver(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            seen.append((_name, {"sender": sender, **kwargs}))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield seen
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def pending(program, account, **fields: Any) -> Redemption:
    option = make_option(program, requires_approval=True, **fields)
    return redemptions.request_redemption(account, option)


def in_status(status: str, program, account) -> Redemption:
    """A redemption of an item option in ``status``."""
    redemption = pending(program, account)
    if status == "approved":
        redemptions.approve(redemption)
    elif status == "fulfilled":
        redemptions.approve(redemption)
        redemptions.fulfil(redemption, by=None)
    elif status == "rejected":
        redemptions.reject(redemption, reason="No")
    elif status == "cancelled":
        redemptions.cancel(redemption)
    assert fresh(redemption).status == status
    return redemption


# --- requesting ---------------------------------------------------------------------------


def test_an_item_without_approval_is_approved_at_once_and_the_points_taken(program, rich):
    option = make_option(program, points_cost=300, stock=5)
    redemption = redemptions.request_redemption(rich, option)

    assert redemption.status == "approved"
    assert (redemption.points, redemption.program, redemption.account) == (300, program, rich)
    assert redemption.processed_at is not None and redemption.processed_by is None
    spend = redemption.spend_entry
    assert (spend.kind, spend.unit, spend.amount, spend.balance_after) == (
        "spend",
        "points",
        -300,
        700,
    )
    assert spend.reference == ("referral_rewards.rewardoption", str(option.pk))
    assert rich.points_balance == 700  # the caller's instance follows
    assert balance(rich) == 700
    assert fresh(option).stock == 4
    assert actions(redemption) == [("requested", "pending"), ("approved", "approved")]
    assert fresh(redemption).status == "approved"
    assert testing.ledger_is_consistent(rich)


def test_a_user_redeems_in_the_options_program_and_is_recorded_as_requester(program):
    other = testing.make_program()
    user = testing.make_user()
    testing.make_account(testing.make_member(user), program=other, points=500)
    option = make_option(other, points_cost=200)

    redemption = redemptions.request_redemption(user, option)

    assert redemption.account.program == other
    assert redemption.account.member.user == user
    assert redemption.spend_entry.created_by == user
    assert redemptions.history(redemption)[0].actor == user
    assert ledger.balance(user, program=other) == 300


@pytest.mark.parametrize(
    ("requires_approval", "threshold", "cost", "status"),
    [
        (False, None, 100, "approved"),
        (True, None, 100, "pending"),
        (False, 100, 100, "approved"),  # at the threshold: no approval
        (False, 100, 101, "pending"),  # above it
        (True, 500, 100, "pending"),
    ],
)
def test_approval_threshold_and_option_flag(
    program, rich, requires_approval, threshold, cost, status
):
    program.redemption_approval_threshold = threshold
    program.save()
    option = make_option(program, points_cost=cost, requires_approval=requires_approval)
    redemption = redemptions.request_redemption(rich, option)
    assert redemption.status == status
    assert balance(rich) == 1000 - cost  # taken at the request either way
    if status == "pending":
        assert actions(redemption) == [("requested", "pending")]
        assert redemption.processed_at is None


def test_voucher_option_issues_a_voucher_and_is_fulfilled(program, rich, now):
    option = voucher_option(program, voucher_valid_days=30)
    redemption = redemptions.request_redemption(rich, option, now=now)

    assert redemption.status == "fulfilled"
    voucher = redemption.voucher
    assert voucher is not None
    assert Voucher.objects.get(pk=voucher.pk).account == rich
    assert (voucher.kind, voucher.value, voucher.description) == ("percent", Decimal(10), "10% off")
    assert voucher.expires_at == now + days(30)
    assert redemption.fulfilled_at == now
    assert actions(redemption) == [
        ("requested", "pending"),
        ("approved", "approved"),
        ("fulfilled", "fulfilled"),
    ]
    assert voucher.display_code in redemptions.history(redemption)[-1].note


def test_credit_option_credits_the_account(program, rich):
    option = credit_option(program, value=Decimal("7.50"))
    redemption = redemptions.request_redemption(rich, option)

    assert redemption.status == "fulfilled"
    entry = redemption.credit_entry
    assert (entry.unit, entry.kind, entry.amount) == ("credit", "earn", 750)
    assert entry.reference == ("referral_rewards.redemption", str(redemption.pk))
    assert balance(rich, Unit.CREDIT) == 750
    assert balance(rich) == 900
    assert testing.ledger_is_consistent(rich)


def test_approving_a_pending_voucher_gives_it_then(program, rich):
    option = voucher_option(program, requires_approval=True)
    manager = staff()
    redemption = redemptions.request_redemption(rich, option)
    assert redemption.voucher is None and not Voucher.objects.exists()

    returned = redemptions.approve(redemption, by=manager, note="ok")

    assert returned is redemption
    assert redemption.status == "fulfilled"
    assert (redemption.processed_by, redemption.fulfilled_by) == (manager, manager)
    assert Voucher.objects.get() == redemption.voucher
    steps = [(e.action, e.actor, e.note) for e in redemptions.history(redemption)]
    assert steps == [
        ("requested", None, ""),
        ("approved", manager, "ok"),
        ("fulfilled", manager, f"Voucher {redemption.voucher.display_code} issued."),
    ]


def test_approving_a_pending_credit_gives_it_then(program, rich):
    option = credit_option(program, requires_approval=True)
    redemption = redemptions.request_redemption(rich, option)
    assert balance(rich, Unit.CREDIT) == 0
    redemptions.approve(redemption)
    assert redemption.status == "fulfilled"
    assert balance(rich, Unit.CREDIT) == 500


# --- refusals ---------------------------------------------------------------------------


def assert_nothing_written(account, option, stock=None):
    assert not Redemption.objects.filter(account=account).exists()
    assert not LedgerEntry.objects.filter(account=account, kind=EntryKind.SPEND).exists()
    assert fresh(option).stock == stock


@pytest.mark.parametrize(
    "fields",
    [
        {"active": False},
        {"starts_at": "future"},
        {"ends_at": "past"},
    ],
)
def test_unavailable_options_are_refused(program, rich, now, fields):
    fields = {
        key: (now + days(1) if value == "future" else now - days(1) if value == "past" else value)
        for key, value in fields.items()
    }
    option = make_option(program, **fields)
    with pytest.raises(OptionUnavailable):
        redemptions.available(option, rich, now=now)
    with pytest.raises(OptionUnavailable) as caught:
        redemptions.request_redemption(rich, option, now=now)
    assert caught.value.message
    assert_nothing_written(rich, option)
    assert balance(rich) == 1000


def test_window_boundaries(program, rich, now):
    option = make_option(program, starts_at=now, ends_at=now + days(1))
    assert redemptions.available(option, rich, now=now) is None
    with pytest.raises(OptionUnavailable):
        redemptions.available(option, rich, now=now + days(1))
    with pytest.raises(OptionUnavailable):
        redemptions.available(option, rich, now=now - dt.timedelta(seconds=1))


def test_an_option_of_another_program_is_refused_for_an_account(program, rich):
    option = make_option(testing.make_program())
    with pytest.raises(OptionUnavailable, match="another program"):
        redemptions.request_redemption(rich, option)
    assert_nothing_written(rich, option)


def test_out_of_stock(program, rich):
    option = make_option(program, stock=1)
    redemptions.request_redemption(rich, option)
    assert fresh(option).stock == 0
    with pytest.raises(OutOfStock):
        redemptions.available(fresh(option), rich)
    # The caller's stale instance still says 1: the request re-reads it.
    with pytest.raises(OutOfStock):
        redemptions.request_redemption(rich, option)
    assert Redemption.objects.count() == 1
    assert balance(rich) == 900


def test_unlimited_stock_is_left_alone(program, rich):
    option = make_option(program)
    redemptions.request_redemption(rich, option)
    assert fresh(option).stock is None


@pytest.fixture
def tiers(program):
    return {
        name: Tier.objects.create(program=program, name=name, rank=rank)
        for name, rank in (("Bronze", 1), ("Silver", 2), ("Gold", 3))
    }


@pytest.mark.parametrize(
    ("tier", "allowed"), [(None, False), ("Bronze", False), ("Silver", True), ("Gold", True)]
)
def test_minimum_tier(program, rich, tiers, tier, allowed):
    Account.objects.filter(pk=rich.pk).update(tier=tiers[tier] if tier else None)
    account = fresh(rich)
    option = make_option(program, minimum_tier=tiers["Silver"])
    if allowed:
        assert redemptions.available(option, account) is None
        assert redemptions.request_redemption(account, option).status == "approved"
    else:
        with pytest.raises(TierRequired, match="Silver"):
            redemptions.available(option, account)
        with pytest.raises(TierRequired):
            redemptions.request_redemption(account, option)
        assert_nothing_written(account, option)


def test_per_member_limit_counts_open_and_fulfilled_but_not_refunded(program, rich):
    option = make_option(program, per_member_limit=2, requires_approval=True)
    first = redemptions.request_redemption(rich, option)
    second = redemptions.request_redemption(rich, option)
    with pytest.raises(RedemptionLimitReached):
        redemptions.request_redemption(rich, option)
    redemptions.approve(second)
    redemptions.fulfil(second, by=None)
    with pytest.raises(RedemptionLimitReached):
        redemptions.available(option, rich)
    redemptions.reject(first, reason="Out of season")
    assert redemptions.available(option, rich) is None
    redemptions.request_redemption(rich, option)
    # Another member has their own count.
    other = testing.make_account(program=program, points=500)
    redemptions.request_redemption(other, option)
    assert Redemption.objects.filter(account=rich).count() == 3


def test_minimum_balance_after_redemption(program):
    program.minimum_balance_after_redemption = 50
    program.save()
    option = make_option(program, points_cost=100)
    short = testing.make_account(program=program, points=149)
    with pytest.raises(MinimumBalanceRequired, match="50"):
        redemptions.available(option, short)
    with pytest.raises(MinimumBalanceRequired):
        redemptions.request_redemption(short, option)
    assert_nothing_written(short, option)
    assert balance(short) == 149
    enough = testing.make_account(program=program, points=150)
    redemptions.request_redemption(enough, option)
    assert balance(enough) == 50


def test_points_past_their_date_do_not_count_towards_the_minimum(program, now):
    """The cached balance still holds a lot past its date (not swept yet); the spend
    expires it, and what is left is below the minimum: refused, nothing written."""
    program.minimum_balance_after_redemption = 50
    program.save()
    account = testing.make_account(program=program, points=140)
    ledger.credit(account, 40, reason="promo", expires_at=now - days(1), now=now - days(10))
    option = make_option(program, points_cost=100)
    assert redemptions.available(option, fresh(account), now=now) is None  # 180 cached
    with pytest.raises(MinimumBalanceRequired):
        redemptions.request_redemption(account, option, now=now)
    assert balance(account) == 180
    assert not LedgerEntry.objects.filter(account=account, kind=EntryKind.EXPIRE).exists()


def test_insufficient_balance(program):
    account = testing.make_account(program=program, points=99)
    option = make_option(program, points_cost=100, stock=3)
    with pytest.raises(InsufficientBalance) as caught:
        redemptions.available(option, account)
    assert (caught.value.balance, caught.value.requested) == (99, 100)
    with pytest.raises(InsufficientBalance):
        redemptions.request_redemption(account, option)
    assert_nothing_written(account, option, stock=3)
    assert balance(account) == 99


def test_a_negative_balance_after_a_clawback_refuses_every_redemption(program):
    account = testing.make_account(program=program)
    earn = ledger.credit(account, 100, reason="order A1")
    ledger.debit(account, 80, reason="spent")
    ledger.reverse(earn, reason="order A1 refunded")  # clawback: 20 - 100
    assert balance(account) == -80
    option = make_option(program, points_cost=1)
    with pytest.raises(InsufficientBalance):
        redemptions.available(option, fresh(account))
    with pytest.raises(InsufficientBalance):
        redemptions.request_redemption(account, option)
    assert balance(account) == -80
    assert not Redemption.objects.exists()


def test_available_passes_for_an_affordable_option(program, rich):
    assert redemptions.available(make_option(program, points_cost=1000), rich) is None


# --- idempotency ------------------------------------------------------------------------


def test_the_same_key_returns_the_first_redemption_without_a_second_effect(
    program, rich, sent, django_capture_on_commit_callbacks
):
    option = voucher_option(program, stock=5)
    with django_capture_on_commit_callbacks(execute=True):
        first = redemptions.request_redemption(rich, option, idempotency_key="order-7")
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = redemptions.request_redemption(rich, option, idempotency_key="order-7")
    assert again.pk == first.pk
    assert sent == []
    assert Redemption.objects.count() == 1
    assert Voucher.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.SPEND).count() == 1
    assert balance(rich) == 900
    assert fresh(option).stock == 4
    assert first.spend_entry.idempotency_key == "redemption-key:order-7:spend"


def test_the_same_key_for_another_option_or_account_is_a_conflict(program, rich):
    option = make_option(program)
    first = redemptions.request_redemption(rich, option, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict):
        redemptions.request_redemption(rich, make_option(program), idempotency_key="k1")
    other = testing.make_account(program=program, points=500)
    with pytest.raises(IdempotencyConflict):
        redemptions.request_redemption(other, option, idempotency_key="k1")
    assert list(Redemption.objects.all()) == [first]
    assert balance(other) == 500


def test_a_long_key_still_derives_a_valid_ledger_key(program, rich):
    key = "x" * 200
    redemption = redemptions.request_redemption(rich, make_option(program), idempotency_key=key)
    assert len(redemption.spend_entry.idempotency_key) <= 200
    assert (
        redemptions.request_redemption(rich, redemption.option, idempotency_key=key) == redemption
    )


@pytest.mark.parametrize("key", ["", "x" * 201, 7])
def test_bad_keys_are_refused(program, rich, key):
    with pytest.raises(InvalidArgument):
        redemptions.request_redemption(rich, make_option(program), idempotency_key=key)


# --- transitions ------------------------------------------------------------------------


def test_fulfil_an_item_with_notes_and_a_host_reference(program, rich):
    technician = staff()
    redemption = redemptions.request_redemption(rich, make_option(program))
    redemptions.fulfil(
        redemption, by=technician, notes="Washed and waxed", applied_to=("repair", 123)
    )
    stored = fresh(redemption)
    assert stored.status == "fulfilled"
    assert (stored.fulfilled_by, stored.notes) == (technician, "Washed and waxed")
    assert (stored.applied_to_type, stored.applied_to_id) == ("repair", "123")
    assert stored.applied_to == "repair #123"
    assert stored.fulfilled_at is not None
    assert redemptions.history(redemption)[-1].note == "Washed and waxed"


def test_fulfil_applied_to_a_model_instance(program, rich):
    redemption = redemptions.request_redemption(rich, make_option(program))
    invoice = testing.make_program()  # any saved model instance stands for a host object
    redemptions.fulfil(redemption, by=None, applied_to=invoice)
    assert (redemption.applied_to_type, redemption.applied_to_id) == (
        "referral_rewards.program",
        str(invoice.pk),
    )
    assert fresh(redemption).applied_to_id == str(invoice.pk)


@pytest.mark.parametrize(
    "applied_to",
    [("x" * 101, 1), ("repair", "1" * 101), ("", 1), ("repair", ""), "repair-1", (1, 2, 3)],
)
def test_fulfil_rejects_bad_references(program, rich, applied_to):
    redemption = redemptions.request_redemption(rich, make_option(program))
    with pytest.raises(InvalidArgument):
        redemptions.fulfil(redemption, by=None, applied_to=applied_to)
    assert fresh(redemption).status == "approved"


def test_reject_refunds_points_to_their_lots_and_returns_stock(program, now):
    account = testing.make_account(program=program)
    soon = ledger.credit(account, 100, reason="promo", expires_at=now + days(10), now=now)
    ledger.credit(account, 100, reason="order", now=now)
    option = make_option(program, points_cost=150, stock=2, requires_approval=True)
    redemption = redemptions.request_redemption(account, option, now=now)
    soon_lot = EarnLot.objects.get(entry=soon)
    assert soon_lot.remaining == 0  # the soonest expiring lot was spent first
    assert fresh(option).stock == 1
    manager = staff()

    redemptions.reject(redemption, by=manager, reason="Not in stock at this shop", now=now)

    assert redemption.status == "rejected"
    assert (redemption.processed_by, redemption.reason) == (manager, "Not in stock at this shop")
    refund = redemption.refund_entry
    assert (refund.kind, refund.amount, refund.reverses) == ("reverse", 150, redemption.spend_entry)
    assert refund.created_by == manager
    assert balance(account) == 200
    soon_lot.refresh_from_db()
    assert (soon_lot.remaining, soon_lot.expires_at) == (100, now + days(10))
    assert fresh(option).stock == 2
    assert fresh(redemption).refund_entry == refund
    assert actions(redemption)[-1] == ("rejected", "rejected")
    assert redemptions.history(redemption)[-1].note == "Not in stock at this shop"
    assert testing.ledger_is_consistent(account)


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reject_needs_a_reason(program, rich, reason):
    redemption = pending(program, rich)
    with pytest.raises(InvalidArgument):
        redemptions.reject(redemption, reason=reason)
    assert fresh(redemption).status == "pending"
    assert balance(rich) == 900


@pytest.mark.parametrize("start", ["pending", "approved"])
def test_cancel_refunds_an_open_redemption(program, rich, start):
    redemption = in_status(start, program, rich)
    option = redemption.option
    RewardOption.objects.filter(pk=option.pk).update(stock=0)
    redemptions.cancel(redemption, reason="Changed my mind")
    assert redemption.status == "cancelled"
    assert redemption.reason == "Changed my mind"
    assert redemption.refund_entry.amount == 100
    assert balance(rich) == 1000
    assert fresh(option).stock == 1
    assert actions(redemption)[-1] == ("cancelled", "cancelled")


ILLEGAL = [
    ("approve", "approved"),
    ("approve", "fulfilled"),
    ("approve", "rejected"),
    ("approve", "cancelled"),
    ("reject", "approved"),
    ("reject", "fulfilled"),
    ("reject", "rejected"),
    ("reject", "cancelled"),
    ("cancel", "fulfilled"),
    ("cancel", "rejected"),
    ("cancel", "cancelled"),
    ("fulfil", "pending"),
    ("fulfil", "fulfilled"),
    ("fulfil", "rejected"),
    ("fulfil", "cancelled"),
    ("assign", "fulfilled"),
    ("assign", "rejected"),
    ("assign", "cancelled"),
]

STEPS = {
    "approve": lambda r, u: redemptions.approve(r, by=u),
    "reject": lambda r, u: redemptions.reject(r, by=u, reason="No"),
    "cancel": lambda r, u: redemptions.cancel(r, by=u),
    "fulfil": lambda r, u: redemptions.fulfil(r, by=u),
    "assign": lambda r, u: redemptions.assign(r, u, by=u),
}

WORDS = {
    "approve": "approved",
    "reject": "rejected",
    "cancel": "cancelled",
    "fulfil": "fulfilled",
    "assign": "assigned",
}


@pytest.mark.parametrize(("step", "status"), ILLEGAL)
def test_illegal_transitions_raise_and_change_nothing(program, rich, step, status):
    redemption = in_status(status, program, rich)
    user = staff()
    before = (
        fresh(redemption).__dict__.copy(),
        RedemptionEvent.objects.count(),
        LedgerEntry.objects.count(),
        fresh(redemption.option).stock,
        balance(rich),
    )
    before[0].pop("_state")
    with pytest.raises(InvalidTransition) as caught:
        STEPS[step](redemption, user)
    label = {"approved": "approved", "pending": "waiting for approval"}.get(status, status)
    assert label in caught.value.message
    assert WORDS[step] in caught.value.message
    after_row = fresh(redemption).__dict__.copy()
    after_row.pop("_state")
    assert (
        after_row,
        RedemptionEvent.objects.count(),
        LedgerEntry.objects.count(),
        fresh(redemption.option).stock,
        balance(rich),
    ) == before


LEGAL = [
    ("approve", "pending", "approved"),
    ("reject", "pending", "rejected"),
    ("cancel", "pending", "cancelled"),
    ("cancel", "approved", "cancelled"),
    ("fulfil", "approved", "fulfilled"),
    ("assign", "pending", "pending"),
    ("assign", "approved", "approved"),
]


@pytest.mark.parametrize(("step", "status", "after"), LEGAL)
def test_legal_transitions(program, rich, step, status, after):
    redemption = in_status(status, program, rich)
    user = staff()
    events_before = RedemptionEvent.objects.filter(redemption=redemption).count()
    returned = STEPS[step](redemption, user)
    assert returned is redemption
    assert redemption.status == after == fresh(redemption).status
    last = redemptions.history(redemption)[-1]
    assert (last.action, last.status, last.actor) == (WORDS[step], after, user)
    assert RedemptionEvent.objects.filter(redemption=redemption).count() == events_before + 1


def test_a_stale_instance_is_judged_by_the_database(program, rich):
    redemption = pending(program, rich)
    stale = Redemption.objects.get(pk=redemption.pk)
    redemptions.reject(redemption, reason="No")
    with pytest.raises(InvalidTransition, match="rejected"):
        redemptions.approve(stale)
    assert stale.status == "pending"  # unchanged on failure
    assert balance(rich) == 1000


# --- assignment -------------------------------------------------------------------------


def open_item(program, account, user=None) -> Redemption:
    redemption = pending(program, account)
    if user is not None:
        redemptions.assign(redemption, user)
    return redemption


def test_least_loaded_active_staff_in_the_group_is_chosen(program, rich, technicians, settings):
    settings.REFERRAL_REWARDS_FULFILMENT_GROUP = "Technicians"
    busy = staff(groups=[technicians])
    calm = staff(groups=[technicians])
    also_calm = staff(groups=[technicians])
    staff(groups=[technicians], is_active=False)  # no load, but inactive
    testing.make_user(is_staff=False).groups.add(technicians)  # no load, not staff
    staff()  # no load, not in the group
    for user in (busy, busy, calm, also_calm):
        open_item(program, rich, user)
    # Closed work does not count.
    done = open_item(program, rich, calm)
    redemptions.approve(done)
    redemptions.fulfil(done, by=calm)
    redemptions.cancel(open_item(program, rich, also_calm))

    redemption = redemptions.assign(open_item(program, rich))

    assert redemption.assigned_to == calm  # tie with also_calm: lowest pk
    assert redemption.assigned_at is not None


def test_the_programs_group_overrides_the_setting(program, rich, technicians, settings):
    settings.REFERRAL_REWARDS_FULFILMENT_GROUP = "Front desk"
    desk = staff(groups=[Group.objects.create(name="Front desk")])
    tech = staff(groups=[technicians])
    assert redemptions.assign(open_item(program, rich)).assigned_to == desk
    program.fulfilment_group = "Technicians"
    program.save()
    assert redemptions.assign(open_item(program, rich)).assigned_to == tech


def test_nobody_to_choose_is_a_clear_error(program, rich, settings):
    settings.REFERRAL_REWARDS_FULFILMENT_GROUP = ""
    redemption = open_item(program, rich)
    with pytest.raises(InvalidArgument, match="fulfilment group"):
        redemptions.assign(redemption)
    assert fresh(redemption).assigned_to is None


@pytest.mark.parametrize("fields", [{"is_staff": False}, {"is_active": False}])
def test_only_active_staff_can_be_assigned(program, rich, fields):
    redemption = open_item(program, rich)
    user = testing.make_user(**{"is_staff": True, **fields})
    with pytest.raises(InvalidArgument, match="active staff"):
        redemptions.assign(redemption, user)
    assert fresh(redemption).assigned_to is None
    assert actions(redemption) == [("requested", "pending")]


def test_reassigning_is_logged_and_the_same_user_again_is_a_no_op(program, rich):
    first = staff("ana", first_name="Ana", last_name="Reyes")
    second = staff("ben")
    manager = staff("boss")
    redemption = open_item(program, rich)
    redemptions.assign(redemption, first, by=manager)
    redemptions.assign(redemption, second, by=manager)
    redemptions.assign(redemption, second, by=manager)
    assigned = [e for e in redemptions.history(redemption) if e.action == "assigned"]
    assert [(e.note, e.actor) for e in assigned] == [
        ("Assigned to Ana Reyes.", manager),
        ("Assigned to ben.", manager),
    ]
    assert fresh(redemption).assigned_to == second


def test_approved_items_are_assigned_automatically(program, rich, technicians, settings):
    settings.REFERRAL_REWARDS_FULFILMENT_GROUP = "Technicians"
    tech = staff(groups=[technicians])
    auto = redemptions.request_redemption(rich, make_option(program))
    assert auto.status == "approved" and auto.assigned_to == tech
    assert actions(auto)[-1] == ("assigned", "approved")
    waiting = pending(program, rich)
    assert waiting.assigned_to is None  # not before approval
    redemptions.approve(waiting)
    assert fresh(waiting).assigned_to == tech
    # Vouchers and credit need nobody.
    assert redemptions.request_redemption(rich, voucher_option(program)).assigned_to is None


def test_approved_items_stay_unassigned_when_nobody_is_chosen(program, rich, settings):
    settings.REFERRAL_REWARDS_FULFILMENT_GROUP = ""
    redemption = redemptions.request_redemption(rich, make_option(program))
    assert (redemption.status, redemption.assigned_to) == ("approved", None)
    assert [a for a, _ in actions(redemption)] == ["requested", "approved"]


def test_the_assigned_user_is_emailed_after_commit(
    program, rich, django_capture_on_commit_callbacks
):
    tech = staff("tina", email="tina@example.com")
    redemption = open_item(program, rich)
    with django_capture_on_commit_callbacks(execute=True):
        redemptions.assign(redemption, tech)
        assert mail.outbox == []  # not before the commit
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["tina@example.com"]
    assert "Free car wash" in message.subject
    assert f"#{redemption.pk}" in message.body


def test_no_email_for_an_assignment_rolled_back(program, rich, django_capture_on_commit_callbacks):
    tech = staff()
    redemption = open_item(program, rich)

    def failing_view() -> None:
        with transaction.atomic():
            redemptions.assign(redemption, tech)
            raise RuntimeError("the view failed after assigning")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_view()
    assert mail.outbox == []
    assert fresh(redemption).assigned_to is None


# --- signals ---------------------------------------------------------------------------


def test_signals_after_commit_for_a_voucher(
    program, rich, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        redemption = redemptions.request_redemption(rich, voucher_option(program))
        assert sent == []
    assert sent == [
        ("redemption_requested", {"sender": Redemption, "redemption": redemption, "account": rich}),
        (
            "redemption_status_changed",
            {
                "sender": Redemption,
                "redemption": redemption,
                "old_status": "pending",
                "new_status": "approved",
                "actor": None,
            },
        ),
        (
            "redemption_status_changed",
            {
                "sender": Redemption,
                "redemption": redemption,
                "old_status": "approved",
                "new_status": "fulfilled",
                "actor": None,
            },
        ),
    ]


def test_signals_after_commit_for_staff_steps(
    program, rich, sent, django_capture_on_commit_callbacks
):
    manager = staff()
    redemption = pending(program, rich)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        redemptions.approve(redemption, by=manager)
        redemptions.fulfil(redemption, by=manager)
        assert sent == []
    assert [(kw["old_status"], kw["new_status"], kw["actor"]) for _, kw in sent] == [
        ("pending", "approved", manager),
        ("approved", "fulfilled", manager),
    ]
    other = pending(program, rich)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        redemptions.reject(other, by=manager, reason="No")
        redemptions.cancel(pending(program, rich))
    changes = [(kw["old_status"], kw["new_status"]) for name, kw in sent if "changed" in name]
    assert changes == [("pending", "rejected"), ("pending", "cancelled")]


def test_no_signals_for_a_refused_or_rolled_back_request(
    program, rich, sent, django_capture_on_commit_callbacks
):
    def rolled_back() -> None:
        with transaction.atomic():
            redemptions.request_redemption(rich, make_option(program))
            raise RuntimeError("the view failed after redeeming")

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(OptionUnavailable):
            redemptions.request_redemption(rich, make_option(program, active=False))
        with pytest.raises(RuntimeError):
            rolled_back()
    assert sent == []
    assert balance(rich) == 1000


# --- history and the catalog -------------------------------------------------------------


def test_history_in_order(program, rich, now):
    manager, tech = staff(), staff()
    redemption = pending(program, rich)
    redemptions.assign(redemption, tech, by=manager, now=now + days(1))
    redemptions.approve(redemption, by=manager, note="fine", now=now + days(2))
    redemptions.fulfil(redemption, by=tech, notes="done", now=now + days(3))
    events = redemptions.history(redemption)
    assert [(e.action, e.status, e.actor, e.note) for e in events] == [
        ("requested", "pending", None, ""),
        ("assigned", "pending", manager, f"Assigned to {tech.username}."),
        ("approved", "approved", manager, "fine"),
        ("fulfilled", "fulfilled", tech, "done"),
    ]


def test_options_for_in_a_fixed_number_of_queries(
    program, rich, tiers, now, django_assert_max_num_queries
):
    Account.objects.filter(pk=rich.pk).update(tier=tiers["Bronze"])
    account = fresh(rich)
    cheap = make_option(program, name="cheap", points_cost=100, position=1)
    dear = make_option(program, name="dear", points_cost=5000, position=2)
    gold = make_option(program, name="gold", minimum_tier=tiers["Gold"], position=3)
    limited = make_option(program, name="limited", per_member_limit=1, position=4)
    empty = make_option(program, name="empty", stock=0, position=5)
    soon = make_option(program, name="soon", starts_at=now + days(1), position=6)
    make_option(program, name="off", active=False)
    make_option(program, name="over", ends_at=now - days(1))
    make_option(testing.make_program(), name="elsewhere")
    redemptions.request_redemption(account, limited, now=now)

    with django_assert_max_num_queries(3):
        choices = redemptions.options_for(account, now=now)

    assert [c.option for c in choices] == [cheap, dear, gold, limited, empty, soon]
    assert [(c.allowed, type(c.error)) for c in choices] == [
        (True, type(None)),
        (False, InsufficientBalance),
        (False, TierRequired),
        (False, RedemptionLimitReached),
        (False, OutOfStock),
        (False, OptionUnavailable),
    ]
    with pytest.raises(AttributeError):
        choices[0].allowed = False  # type: ignore[misc]  # frozen


def test_options_for_does_not_grow_with_the_catalog(program, rich, django_assert_max_num_queries):
    for i in range(20):
        make_option(program, name=f"o{i}", per_member_limit=3, minimum_tier=None)
    with django_assert_max_num_queries(2):
        choices = redemptions.options_for(rich)
    assert len(choices) == 20 and all(c.allowed for c in choices)


# --- query counts -----------------------------------------------------------------------


def test_the_request_path_uses_a_small_fixed_number_of_queries(
    program, tiers, django_assert_max_num_queries
):
    account = testing.make_account(program=program, points=1000)
    Account.objects.filter(pk=account.pk).update(tier=tiers["Gold"])
    option = voucher_option(program, stock=10, per_member_limit=5, minimum_tier=tiers["Silver"])
    with django_assert_max_num_queries(22):
        redemption = redemptions.request_redemption(account, option, idempotency_key="q1")
    assert redemption.status == "fulfilled"


def test_a_staff_step_uses_a_small_fixed_number_of_queries(
    program, rich, django_assert_max_num_queries
):
    redemption = pending(program, rich, stock=3)
    with django_assert_max_num_queries(15):
        redemptions.reject(redemption, reason="No")
