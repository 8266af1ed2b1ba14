"""order_completed and order_refunded: conversion, order rewards, idempotency, refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from django_referral_rewards import signals, testing
from django_referral_rewards.enums import GrantStatus, ReferralStatus, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidArgument,
    OrderNotFound,
)
from django_referral_rewards.models import (
    Account,
    Order,
    OrderRefund,
    Referral,
    RewardGrant,
    Voucher,
)
from django_referral_rewards.services import events, ledger, referrals, rewards, vouchers

from .conftest import days
from .test_rewards import account_of, add_rule, signup


@pytest.fixture
def commission(program):
    program.minimum_order_amount = Decimal("20.00")
    program.save()
    return add_rule(
        program,
        name="10% of the first order",
        trigger="first_order",
        kind="commission_percent",
        value=Decimal(10),
    )


@pytest.mark.django_db
def test_first_qualifying_order_converts_and_pays_commission(program, commission, now):
    referrer, newcomer, referral = signup(program, now=now)
    assert referral.status == ReferralStatus.PENDING

    small = events.order_completed(newcomer, "A1", Decimal("19.99"), occurred_at=now)
    assert (small.created, small.converted, small.grants) == (True, False, [])
    assert small.order.qualifying is False

    outcome = events.order_completed(newcomer, "A2", Decimal("80.00"), occurred_at=now)
    assert outcome.converted is True
    (grant,) = outcome.grants
    assert (grant.kind, grant.value, grant.order) == (
        "commission_percent",
        Decimal("8.00"),
        outcome.order,
    )
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 800
    referral.refresh_from_db()
    assert (referral.status, referral.first_order_id, referral.first_order_amount) == (
        ReferralStatus.CONVERTED,
        "A2",
        Decimal("80.00"),
    )
    assert referral.referred_revenue == Decimal("80.00")
    assert account_of(referrer, program).conversions_count == 1

    # A later order is not a first order: no commission, but revenue is counted.
    later = events.order_completed(newcomer, "A3", Decimal("30.00"), occurred_at=now)
    assert (later.converted, later.grants) == (False, [])
    referral.refresh_from_db()
    assert referral.referred_revenue == Decimal("110.00")


@pytest.mark.django_db
def test_every_order_rules(program, now):
    add_rule(program, trigger="every_order", kind="points", value=Decimal(10))
    referrer, newcomer, _ = signup(program, now=now)
    for n in range(3):
        events.order_completed(newcomer, f"B{n}", Decimal(50), occurred_at=now)
    assert ledger.balance(referrer) == 30


@pytest.mark.django_db
def test_same_order_twice_acts_once(program, commission, now):
    referrer, newcomer, _ = signup(program, now=now)
    first = events.order_completed(newcomer, "A1", Decimal(100), occurred_at=now)
    again = events.order_completed(newcomer, "A1", Decimal("100.00"), occurred_at=now)
    assert again.created is False
    assert again.order.pk == first.order.pk
    assert [g.pk for g in again.grants] == [g.pk for g in first.grants]
    assert again.converted is True
    assert Order.objects.count() == 1 and RewardGrant.objects.count() == 1
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 1000


@pytest.mark.django_db
def test_same_order_id_with_another_amount_or_customer_is_a_conflict(program, now):
    customer = testing.make_user()
    events.order_completed(customer, "A1", Decimal(100), occurred_at=now)
    with pytest.raises(IdempotencyConflict):
        events.order_completed(customer, "A1", Decimal(99), occurred_at=now)
    with pytest.raises(IdempotencyConflict):
        events.order_completed(testing.make_user(), "A1", Decimal(100), occurred_at=now)
    assert Order.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("", Decimal(1)), {}, InvalidArgument),
        (("x" * 101, Decimal(1)), {}, InvalidArgument),
        (("A", 1.5), {}, InvalidAmount),
        (("A", Decimal(-1)), {}, InvalidAmount),
        (("A", Decimal("1.001")), {}, InvalidAmount),
        (("A", "abc"), {}, InvalidAmount),
        (("A", Decimal("NaN")), {}, InvalidAmount),
        (("A", Decimal(1)), {"currency": "EUR"}, InvalidArgument),
    ],
)
def test_order_completed_refuses_bad_input(program, args, kwargs, error):
    with pytest.raises(error):
        events.order_completed(testing.make_user(), *args, **kwargs)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_integer_order_ids_and_matching_currency_are_accepted(program):
    outcome = events.order_completed(testing.make_user(), 42, 10, currency="usd")
    assert outcome.order.order_id == "42" and outcome.order.amount == Decimal(10)


@pytest.mark.django_db
def test_orders_of_customers_who_were_not_referred(program):
    outcome = events.order_completed(testing.make_user(), "A1", Decimal(10))
    assert (outcome.referral, outcome.converted, outcome.grants) == (None, False, [])


@pytest.mark.django_db
def test_an_order_after_the_attribution_window_expires_the_referral(program, commission, now):
    _, newcomer, referral = signup(program, now=now)
    late = now + days(program.attribution_window_days + 1)
    outcome = events.order_completed(newcomer, "A1", Decimal(100), occurred_at=late)
    assert (outcome.converted, outcome.grants) == (False, [])
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.EXPIRED


@pytest.mark.django_db
def test_milestones_count_the_referrers_conversions(program, now):
    for nth in (1, 5, 10):
        add_rule(program, name=f"{nth} referrals", trigger="milestone", nth=nth, value=nth * 100)
    referrer = testing.make_user()
    for n in range(10):
        _, newcomer, _ = signup(program, referrer, now=now)
        events.order_completed(newcomer, f"O{n}", Decimal(50), occurred_at=now)
    grants = RewardGrant.objects.filter(trigger="milestone").order_by("pk")
    assert [g.explanation["conversion_number"] for g in grants] == [1, 5, 10]
    assert ledger.balance(referrer) == 100 + 500 + 1000


@pytest.mark.django_db
def test_order_rewards_for_house_campaign_codes(program, now):
    from django_referral_rewards.services import codes

    add_rule(program, beneficiary="referee", trigger="first_order", value=Decimal(25))
    add_rule(program, trigger="first_order", value=Decimal(99))  # referrer: nobody
    codes.create_code("HOUSE1")
    newcomer = testing.make_user()
    events.customer_signed_up(newcomer, code="HOUSE1")
    outcome = events.order_completed(newcomer, "H1", Decimal(50), occurred_at=now)
    assert outcome.converted is True
    assert [g.account.member.user for g in outcome.grants] == [newcomer]


# --- refunds -------------------------------------------------------------------------


@pytest.fixture
def converted(program, commission, now):
    add_rule(program, trigger="first_order", beneficiary="referee", value=Decimal(200))
    referrer, newcomer, referral = signup(program, now=now)
    outcome = events.order_completed(newcomer, "A1", Decimal("100.00"), occurred_at=now)
    return referrer, newcomer, referral, outcome


@pytest.mark.django_db
def test_full_refund_reverses_rewards_and_unconverts(program, converted, now):
    referrer, newcomer, referral, _ = converted
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 1000
    assert ledger.balance(newcomer) == 200

    refund = events.order_refunded(newcomer, "A1")
    assert (refund.created, refund.amount, refund.unconverted) == (True, Decimal("100.00"), True)
    assert len(refund.reversed) == 2
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 0
    assert ledger.balance(newcomer) == 0
    assert set(RewardGrant.objects.values_list("status", flat=True)) == {GrantStatus.REVERSED}
    referral.refresh_from_db()
    assert (referral.status, referral.first_order_id, referral.referred_revenue) == (
        ReferralStatus.PENDING,
        "",
        Decimal(0),
    )
    assert account_of(referrer, program).conversions_count == 0
    # The refund replayed: nothing more.
    again = events.order_refunded(newcomer, "A1")
    assert (again.created, again.amount) == (False, Decimal(0))
    assert OrderRefund.objects.count() == 1

    # A new qualifying order converts the referral again and earns again.
    outcome = events.order_completed(newcomer, "A2", Decimal("50.00"), occurred_at=now)
    assert outcome.converted and len(outcome.grants) == 2
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 500


@pytest.mark.django_db
def test_partial_refunds_reverse_in_proportion(program, converted):
    referrer, newcomer, referral, _ = converted
    first = events.order_refunded(newcomer, "A1", Decimal("25.00"), refund_id="R1")
    assert first.unconverted is False
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 750
    assert ledger.balance(newcomer) == 150
    # The same refund id again is a replay; with another amount a conflict.
    assert events.order_refunded(newcomer, "A1", Decimal("25.00"), refund_id="R1").created is False
    with pytest.raises(IdempotencyConflict):
        events.order_refunded(newcomer, "A1", Decimal("30.00"), refund_id="R1")
    # More than what is left is refused and changes nothing.
    with pytest.raises(InvalidAmount):
        events.order_refunded(newcomer, "A1", Decimal("80.00"), refund_id="R2")
    # The rest: everything left is taken back, rounding never leaves a unit behind.
    events.order_refunded(newcomer, "A1", refund_id="R3")
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 0
    assert ledger.balance(newcomer) == 0
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PENDING
    order = Order.objects.get(order_id="A1")
    assert order.fully_refunded and order.net_amount == 0


@pytest.mark.django_db
def test_partial_refund_without_an_id_is_keyed_by_amount(program, converted):
    _, newcomer, _, _ = converted
    assert events.order_refunded(newcomer, "A1", Decimal("10")).created is True
    assert events.order_refunded(newcomer, "A1", Decimal("10.00")).created is False
    assert Order.objects.get().refunded_amount == Decimal("10.00")


@pytest.mark.django_db
def test_refund_of_held_rewards(program, now):
    program.hold_days = 14
    program.save()
    add_rule(program, trigger="first_order", value=Decimal(100))
    referrer, newcomer, _ = signup(program, now=now)
    events.order_completed(newcomer, "A1", Decimal("40.00"), occurred_at=now)
    account = account_of(referrer, program)
    assert account.held_points == 100

    events.order_refunded(newcomer, "A1", Decimal("10.00"))  # a quarter
    grant = RewardGrant.objects.get()
    assert (grant.status, grant.reversed_value) == (GrantStatus.HELD, Decimal(25))
    assert account_of(referrer, program).held_points == 75

    outcome = events.order_refunded(newcomer, "A1")  # the rest: the held grant is voided
    (voided,) = outcome.voided
    assert voided.status == GrantStatus.VOIDED  # the outcome's grant as it is now
    grant.refresh_from_db()
    assert grant.status == GrantStatus.VOIDED
    assert account_of(referrer, program).held_points == 0
    assert rewards.release_due(now=now + days(30)).released == 0
    assert ledger.balance(referrer) == 0


@pytest.mark.django_db
def test_full_refund_releases_vouchers_applied_to_the_order(program):
    customer = testing.make_user()
    account = testing.make_account(testing.make_member(customer), program=program)
    voucher = vouchers.issue_voucher(account, kind="fixed", value=Decimal(5))
    vouchers.apply_voucher(voucher.code, user=customer, order_id="A1", order_amount=Decimal(30))
    events.order_completed(customer, "A1", Decimal(25))
    events.order_refunded(customer, "A1", Decimal(5), refund_id="part")
    assert Voucher.objects.get().status == "applied"
    assert events.order_refunded(customer, "A1").vouchers_released == 1
    assert Voucher.objects.get().status == "issued"


@pytest.mark.django_db
def test_a_converted_referral_with_other_orders_stays_converted(program, converted, now):
    _, newcomer, referral, _ = converted
    events.order_completed(newcomer, "A2", Decimal("60.00"), occurred_at=now)
    assert events.order_refunded(newcomer, "A1").unconverted is False
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.CONVERTED


@pytest.mark.django_db
def test_refund_errors(program, converted):
    _, newcomer, _, _ = converted
    with pytest.raises(OrderNotFound):
        events.order_refunded(newcomer, "nope")
    with pytest.raises(IdempotencyConflict):
        events.order_refunded(testing.make_user(), "A1")
    with pytest.raises(InvalidAmount):
        events.order_refunded(newcomer, "A1", Decimal(0))
    with pytest.raises(InvalidArgument):
        events.order_refunded(newcomer, "A1", refund_id="")
    assert not OrderRefund.objects.exists()


# --- activation and expiry -----------------------------------------------------------


@pytest.mark.django_db
def test_activation_converts_when_the_program_says_so(program, now):
    program.conversion_event = "activation"
    program.save()
    add_rule(program, trigger="activation", beneficiary="referee", value=Decimal(50))
    add_rule(program, trigger="milestone", nth=1, value=Decimal(300))
    referrer, newcomer, referral = signup(program, now=now)
    events.order_completed(newcomer, "A1", Decimal(10), occurred_at=now)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PENDING  # orders do not convert here

    activated = events.customer_activated(newcomer, occurred_at=now + days(1))
    assert activated.pk == referral.pk
    referral.refresh_from_db()
    assert (referral.status, referral.activated_at) == (ReferralStatus.CONVERTED, now + days(1))
    assert ledger.balance(newcomer) == 50 and ledger.balance(referrer) == 300
    # Activation is recorded once.
    events.customer_activated(newcomer, occurred_at=now + days(2))
    referral.refresh_from_db()
    assert referral.activated_at == now + days(1)
    assert ledger.balance(newcomer) == 50 and ledger.balance(referrer) == 300


@pytest.mark.django_db
def test_activation_of_customers_who_were_not_referred_or_too_late(program, now):
    program.conversion_event = "activation"
    program.save()
    assert events.customer_activated(testing.make_user()) is None
    _, newcomer, referral = signup(program, now=now)
    late = now + days(program.attribution_window_days + 1)
    events.customer_activated(newcomer, occurred_at=late)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.EXPIRED


@pytest.mark.django_db
def test_activation_in_a_first_order_program_does_not_convert(program, now):
    _, newcomer, referral = signup(program, now=now)
    events.customer_activated(newcomer, occurred_at=now)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PENDING and referral.activated_at == now


@pytest.mark.django_db
def test_signup_conversion_programs_convert_at_once(program, now):
    program.conversion_event = "signup"
    program.save()
    add_rule(program, trigger="milestone", nth=1, value=Decimal(300))
    referrer, _, referral = signup(program, now=now)
    assert referral.status == ReferralStatus.CONVERTED
    assert ledger.balance(referrer) == 300


@pytest.mark.django_db
def test_expiry_sweep(program, now, capsys):
    _, _, old = signup(program, now=now - days(40))
    _, _, fresh = signup(program, now=now - days(10))
    result = referrals.expire_pending(now=now, batch_size=1)
    assert (result.expired, result.batches) == (1, 1)
    assert Referral.objects.get(pk=old.pk).status == ReferralStatus.EXPIRED
    assert Referral.objects.get(pk=fresh.pk).status == ReferralStatus.PENDING
    assert referrals.expire_pending(now=now).expired == 0
    call_command("rewards_expire_referrals", now=(now + days(30)).isoformat())
    assert "Expired 1 referral(s) over 1 batch(es)." in capsys.readouterr().out


@pytest.mark.django_db
def test_converted_signal_after_order(program, commission, now, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, referral, **kwargs):
        seen.append(referral.pk)

    signals.referral_converted.connect(receiver)
    try:
        _, newcomer, referral = signup(program, now=now)
        with django_capture_on_commit_callbacks(execute=True):
            events.order_completed(newcomer, "A1", Decimal(100), occurred_at=now)
    finally:
        signals.referral_converted.disconnect(receiver)
    assert seen == [referral.pk]


@pytest.mark.django_db
def test_order_completed_query_count(program, commission, now, django_assert_max_num_queries):
    _, newcomer, _ = signup(program, now=now)
    # Converting order with one commission rule released at once: record, lock, convert
    # and count, decide, grant, release to the ledger (savepoints included).
    with django_assert_max_num_queries(31):
        events.order_completed(newcomer, "Q1", Decimal(100), occurred_at=now)


# --- loyalty points on orders --------------------------------------------------------


@pytest.fixture
def loyalty(program):
    program.points_per_unit = Decimal("1.5")
    program.minimum_order_amount = Decimal("10.00")
    program.save()
    return program


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rounding", "amount", "points"),
    [
        ("down", Decimal("33.00"), 49),  # 49.5
        ("half_up", Decimal("33.00"), 50),
        ("up", Decimal("32.10"), 49),  # 48.15
        ("down", Decimal("9.99"), 0),  # below the minimum: no points
    ],
)
def test_orders_earn_points_per_currency_unit(loyalty, rounding, amount, points):
    loyalty.points_rounding = rounding
    loyalty.save()
    customer = testing.make_user()
    outcome = events.order_completed(customer, "P1", amount)
    assert outcome.points_earned == points
    assert ledger.balance(customer) == points
    if points:
        grant = outcome.points_grant
        assert (grant.source, grant.kind, grant.order) == ("purchase", "points", outcome.order)
        assert grant.explanation["points_per_unit"] == "1.5000"
        assert grant not in outcome.grants  # referral rewards only


@pytest.mark.django_db
def test_order_points_are_held_for_the_return_window_and_refunded(loyalty, now):
    loyalty.hold_days = 14
    loyalty.save()
    customer = testing.make_user()
    outcome = events.order_completed(customer, "P1", Decimal("100.00"), occurred_at=now)
    account = Account.objects.get(member__user=customer)
    assert (outcome.points_earned, account.points_balance, account.held_points) == (150, 0, 150)
    # A replay reports the same points and earns nothing more.
    again = events.order_completed(customer, "P1", Decimal("100.00"), occurred_at=now)
    assert (again.created, again.points_earned, again.points_grant.pk) == (
        False,
        150,
        outcome.points_grant.pk,
    )
    events.order_refunded(customer, "P1", Decimal("20.00"))  # a fifth
    assert Account.objects.get(pk=account.pk).held_points == 120
    rewards.release_due(now=now + days(14))
    assert ledger.balance(customer) == 120


@pytest.mark.django_db
def test_programs_without_a_rate_earn_no_points(program):
    outcome = events.order_completed(testing.make_user(), "P1", Decimal(100))
    assert (outcome.points_earned, outcome.points_grant) == (0, None)
