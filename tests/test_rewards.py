"""Reward grants: held, released (ledger entry or voucher), voided, reversed; by rule
and by hand; the release sweep."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from django_referral_rewards import signals, testing
from django_referral_rewards.enums import FraudStatus, GrantStatus, ReferralStatus, Unit
from django_referral_rewards.exceptions import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidArgument,
    InvalidTransition,
)
from django_referral_rewards.models import (
    Account,
    Campaign,
    LedgerEntry,
    Referral,
    RewardGrant,
    RewardRule,
    Voucher,
)
from django_referral_rewards.services import codes, events, ledger, referrals, rewards, vouchers

from .conftest import days


def add_rule(program, **fields) -> RewardRule:
    defaults = {
        "name": "Referral bonus",
        "trigger": "signup",
        "beneficiary": "referrer",
        "kind": "points",
        "value": Decimal(500),
    }
    defaults.update(fields)
    return RewardRule.objects.create(program=program, **defaults)


def signup(program, referrer=None, *, now=None):
    referrer = referrer or testing.make_user()
    code = codes.get_or_create_personal_code(referrer, program=program)
    newcomer = testing.make_user()
    referral = events.customer_signed_up(newcomer, code=code.code, program=program, now=now)
    return referrer, newcomer, referral


def account_of(user, program) -> Account:
    return Account.objects.get(member__user=user, program=program)


@pytest.fixture
def captured():
    seen: dict[str, list] = {}
    receivers = {}
    for name in ("reward_granted", "reward_released", "reward_reversed"):
        seen[name] = []

        def receiver(sender, _name=name, **kwargs):
            seen[_name].append(kwargs)

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield seen
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


@pytest.mark.django_db
def test_held_points_are_shown_then_released_by_the_sweep(program, now):
    add_rule(program, hold_days=7)
    referrer, _newcomer, referral = signup(program, now=now)
    account = account_of(referrer, program)
    (grant,) = RewardGrant.objects.all()
    assert (grant.status, grant.release_at) == (GrantStatus.HELD, now + days(7))
    assert (account.points_balance, account.held_points) == (0, 500)
    assert grant.referral == referral and grant.trigger == "signup"

    assert rewards.release_due(now=now + days(6)).released == 0
    result = rewards.release_due(now=now + days(7))
    assert (result.released, result.batches) == (1, 1)
    account.refresh_from_db()
    grant.refresh_from_db()
    assert (account.points_balance, account.held_points) == (500, 0)
    assert grant.status == GrantStatus.RELEASED and grant.resolved_at == now + days(7)
    assert grant.entry.amount == 500 and grant.entry.reference == ("grant", str(grant.pk))
    # Running the sweep again has no second effect (invariant 12).
    assert rewards.release_due(now=now + days(8)).released == 0
    assert ledger.balance(account) == 500
    assert testing.ledger_is_consistent(account)


@pytest.mark.django_db
def test_release_sweep_works_in_batches(program, now):
    add_rule(program, hold_days=1)
    for _ in range(5):
        signup(program, now=now)
    result = rewards.release_due(now=now + days(1), batch_size=2)
    assert (result.released, result.batches) == (5, 3)
    assert not RewardGrant.objects.filter(status="held").exists()


@pytest.mark.django_db
def test_release_command(program, now, capsys):
    add_rule(program, hold_days=1)
    signup(program, now=now)
    call_command("rewards_release_grants", now=(now + days(2)).isoformat(), batch_size=10)
    assert "Released 1 reward(s) over 1 batch(es)." in capsys.readouterr().out
    assert RewardGrant.objects.get().status == GrantStatus.RELEASED


@pytest.mark.django_db
def test_grants_of_a_referral_in_review_are_not_released(program, now):
    add_rule(program, hold_days=1)
    _referrer, _newcomer, referral = signup(program, now=now)
    Referral.objects.filter(pk=referral.pk).update(fraud_status=FraudStatus.REVIEW)
    assert rewards.release_due(now=now + days(2)).released == 0
    assert RewardGrant.objects.get().status == GrantStatus.HELD


@pytest.mark.django_db
def test_credit_and_commission_rewards_use_their_ledger_units(program):
    add_rule(program, kind="credit", value=Decimal("5.00"))
    add_rule(program, kind="commission_fixed", value=Decimal("12.50"), beneficiary="referee")
    referrer, newcomer, _ = signup(program)
    assert ledger.balance(referrer, unit=Unit.CREDIT) == 500
    assert ledger.balance(newcomer, unit=Unit.COMMISSION) == 1250


@pytest.mark.django_db
def test_points_expire_per_the_program(program, now):
    program.points_expiry_days = 30
    program.save()
    add_rule(program)
    referrer, _, _ = signup(program, now=now)
    entry = LedgerEntry.objects.get(account=account_of(referrer, program))
    assert entry.expires_at is not None


@pytest.mark.django_db
def test_voucher_rewards_are_issued_on_release(program, now):
    add_rule(
        program,
        beneficiary="referee",
        kind="voucher_percent",
        value=Decimal(15),
        voucher_valid_days=30,
        description="15% off your first visit",
    )
    _, newcomer, _ = signup(program, now=now)
    grant = RewardGrant.objects.get()
    voucher = grant.voucher
    assert (voucher.kind, voucher.value, voucher.status) == ("percent", Decimal(15), "issued")
    assert voucher.account == account_of(newcomer, program)
    assert voucher.description == "15% off your first visit"
    assert len(voucher.code) == 16 and voucher.display_code.count("-") == 3
    # The voucher's expiry is counted from its release.
    assert voucher.expires_at is not None


@pytest.mark.django_db
def test_signals_fire_after_commit(program, captured, django_capture_on_commit_callbacks):
    add_rule(program)
    with django_capture_on_commit_callbacks(execute=True):
        signup(program)
    grant = RewardGrant.objects.get()
    assert [kw["grant"].pk for kw in captured["reward_granted"]] == [grant.pk]
    (released,) = captured["reward_released"]
    assert released["entry"].pk == grant.entry_id and released["voucher"] is None


@pytest.mark.django_db
def test_signals_never_fire_for_rolled_back_work(program, captured):
    from django.db import transaction

    add_rule(program)

    def signup_then_fail():
        with transaction.atomic():
            signup(program)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        signup_then_fail()
    assert captured["reward_granted"] == [] and not RewardGrant.objects.exists()


# --- void and reverse ----------------------------------------------------------------


@pytest.mark.django_db
def test_void_a_held_grant(program, now, captured, django_capture_on_commit_callbacks):
    add_rule(program, hold_days=3)
    referrer, _, _ = signup(program, now=now)
    grant = RewardGrant.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert rewards.void(grant, reason="fraud") is True
    assert rewards.void(grant, reason="again") is False
    grant.refresh_from_db()
    assert (grant.status, grant.revoke_reason) == (GrantStatus.VOIDED, "fraud")
    assert account_of(referrer, program).held_points == 0
    assert captured["reward_reversed"][0]["value"] == Decimal(500)
    with pytest.raises(InvalidTransition):
        rewards.release(grant)
    assert rewards.release_due(now=now + days(5)).released == 0


@pytest.mark.django_db
def test_partial_reverse_of_a_held_grant_releases_the_rest(program, now):
    add_rule(program, hold_days=3)
    referrer, _, _ = signup(program, now=now)
    grant = RewardGrant.objects.get()
    assert rewards.reverse(grant, reason="part", value=Decimal(200)) == Decimal(200)
    assert account_of(referrer, program).held_points == 300
    rewards.release(grant, now=now + days(3))
    account = account_of(referrer, program)
    assert (account.points_balance, account.held_points) == (300, 0)


@pytest.mark.django_db
def test_reverse_a_released_grant_in_parts_then_wholly(program):
    add_rule(program, kind="credit", value=Decimal("10.00"))
    referrer, _, _ = signup(program)
    grant = RewardGrant.objects.get()
    assert rewards.reverse(grant, reason="partial refund", value=Decimal("2.50")) == Decimal("2.50")
    assert ledger.balance(referrer, unit="credit") == 750
    grant.refresh_from_db()
    assert (grant.status, grant.reversed_value) == (GrantStatus.RELEASED, Decimal("2.50"))
    assert rewards.reverse(grant, reason="full refund") == Decimal("7.50")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVERSED
    assert ledger.balance(referrer, unit="credit") == 0
    assert rewards.reverse(grant, reason="again") == Decimal(0)
    with pytest.raises(InvalidAmount):
        rewards.reverse(
            RewardGrant.objects.create(
                program=program,
                account=grant.account,
                kind="points",
                value=5,
                release_at=grant.release_at,
                idempotency_key="x",
                reason="x",
            ),
            reason="negative",
            value=Decimal(-1),
        )


@pytest.mark.django_db
def test_clawback_of_spent_points_goes_negative(program):
    add_rule(program)
    referrer, _, _ = signup(program)
    account = account_of(referrer, program)
    ledger.debit(account, 400, reason="redeemed")
    rewards.reverse(RewardGrant.objects.get(), reason="refund")
    assert ledger.balance(account) == -400
    assert testing.ledger_is_consistent(account_of(referrer, program))


@pytest.mark.django_db
def test_reversing_a_voucher_grant_voids_an_unused_voucher_only(program):
    add_rule(program, beneficiary="referee", kind="voucher_fixed", value=Decimal("20.00"))
    _, newcomer, _ = signup(program)
    grant = RewardGrant.objects.get()
    vouchers.apply_voucher(grant.voucher.code, user=newcomer, order_id="A1", order_amount=50)
    assert rewards.reverse(grant, reason="refund") == Decimal(0)  # used: not taken back
    vouchers.release_voucher(grant.voucher.code, order_id="A1")
    assert rewards.reverse(grant, reason="refund") == Decimal("20.00")
    assert Voucher.objects.get().status == "void"


# --- by hand -------------------------------------------------------------------------


@pytest.mark.django_db
def test_grant_and_revoke_by_hand_record_staff_and_reason(program, django_user_model):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    account = testing.make_account(program=program)
    grant = rewards.grant_reward(
        account, kind="points", value=250, reason="Sorry for the delay", created_by=staff
    )
    assert (grant.status, grant.created_by, grant.reason) == (
        GrantStatus.RELEASED,
        staff,
        "Sorry for the delay",
    )
    assert grant.entry.created_by == staff
    assert ledger.balance(account) == 250
    assert grant.explanation == {"manual": True, "granted_by": staff.pk}

    revoked = rewards.revoke(grant, reason="Granted twice", revoked_by=staff)
    assert (revoked.status, revoked.revoked_by, revoked.revoke_reason) == (
        GrantStatus.REVERSED,
        staff,
        "Granted twice",
    )
    assert ledger.balance(account) == 0
    with pytest.raises(InvalidTransition):
        rewards.revoke(revoked, reason="again", revoked_by=staff)


@pytest.mark.django_db
def test_revoking_a_held_grant_voids_it(program):
    account = testing.make_account(program=program)
    grant = rewards.grant_reward(account, kind="points", value=10, reason="x", hold_days=5)
    assert (grant.status, account.__class__.objects.get(pk=account.pk).held_points) == (
        "held",
        10,
    )
    assert rewards.revoke(grant, reason="no").status == GrantStatus.VOIDED


@pytest.mark.django_db
def test_revoking_a_used_voucher_is_refused(program):
    user = testing.make_user()
    account = testing.make_account(testing.make_member(user), program=program)
    grant = rewards.grant_reward(account, kind="free_item", value=0, reason="Free wash")
    vouchers.apply_voucher(grant.voucher.code, user=user, order_id="W1", order_amount=30)
    with pytest.raises(InvalidTransition, match="used"):
        rewards.revoke(grant, reason="oops")


@pytest.mark.django_db
def test_manual_grant_keys_make_it_idempotent(program):
    account = testing.make_account(program=program)
    first = rewards.grant_reward(account, kind="points", value=5, reason="x", idempotency_key="k")
    again = rewards.grant_reward(account, kind="points", value=5, reason="x", idempotency_key="k")
    assert first.pk == again.pk and ledger.balance(account) == 5
    with pytest.raises(IdempotencyConflict):
        rewards.grant_reward(account, kind="points", value=6, reason="x", idempotency_key="k")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "commission_percent", "value": 5}, InvalidArgument),
        ({"kind": "bogus", "value": 5}, InvalidArgument),
        ({"kind": "points", "value": 5, "reason": " "}, InvalidArgument),
        ({"kind": "points", "value": 0}, InvalidAmount),
        ({"kind": "points", "value": "1.5"}, InvalidAmount),
        ({"kind": "points", "value": 1.5}, InvalidAmount),
        ({"kind": "voucher_percent", "value": 120}, InvalidAmount),
        ({"kind": "credit", "value": "0.001"}, InvalidAmount),
        ({"kind": "points", "value": 5, "hold_days": -1}, InvalidArgument),
    ],
)
def test_manual_grant_refuses_bad_input(program, kwargs, error):
    account = testing.make_account(program=program)
    kwargs.setdefault("reason", "because")
    with pytest.raises(error):
        rewards.grant_reward(account, **kwargs)
    assert not RewardGrant.objects.exists()


@pytest.mark.django_db
def test_revoke_needs_a_reason(program):
    account = testing.make_account(program=program)
    grant = rewards.grant_reward(account, kind="points", value=5, reason="x")
    with pytest.raises(InvalidArgument):
        rewards.revoke(grant, reason="")


@pytest.mark.django_db
def test_reject_referral_voids_its_held_grants(program, now, django_user_model):
    add_rule(program, hold_days=10)
    add_rule(program, beneficiary="referee", value=Decimal(100), hold_days=0)
    referrer, newcomer, referral = signup(program, now=now)
    staff = django_user_model.objects.create_user("staff")
    referrals.reject(referral, reason="same household", rejected_by=staff)
    statuses = dict(RewardGrant.objects.values_list("account__member__user", "status"))
    assert statuses == {referrer.pk: "voided", newcomer.pk: "released"}
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REJECTED
    # Who rejected it, when and why is kept (one decision, even after a refused retry).
    (decision,) = referral.fraud_decisions.all()
    assert (decision.action, decision.decided_by, decision.note) == (
        "rejected",
        staff,
        "same household",
    )
    assert decision.automatic is False
    with pytest.raises(InvalidTransition):
        referrals.reject(referral, reason="again")
    with pytest.raises(InvalidArgument):
        referrals.reject(referral, reason="")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs",
    [
        {"hold_days": 5_000_000},
        {"hold_days": "3"},
        {"kind": "voucher_fixed", "voucher_valid_days": 0},
        {"kind": "voucher_fixed", "voucher_valid_days": -5},
        {"kind": "voucher_fixed", "voucher_valid_days": 5_000_000},
    ],
)
def test_manual_grant_refuses_day_counts_that_cannot_be_dates(program, kwargs):
    account = testing.make_account(program=program)
    kwargs.setdefault("kind", "points")
    with pytest.raises(InvalidArgument, match="number of days"):
        rewards.grant_reward(account, value=5, reason="x", **kwargs)
    assert not RewardGrant.objects.exists()


@pytest.mark.django_db
def test_rules_with_impossible_day_counts_are_refused_and_never_acted_on(program):
    from django.core.exceptions import ValidationError

    rule = add_rule(program, hold_days=5_000_000)
    with pytest.raises(ValidationError):
        rule.full_clean()
    # Saved around validation (a bulk import): sign-ups still work, the rule is skipped.
    _, _, referral = signup(program)
    assert referral is not None and not RewardGrant.objects.exists()


@pytest.mark.django_db
def test_revoking_a_grant_whose_voucher_was_voided_directly(program):
    account = testing.make_account(program=program)
    grant = rewards.grant_reward(account, kind="voucher_fixed", value=5, reason="x")
    vouchers.void_voucher(grant.voucher)
    assert rewards.revoke(grant, reason="cleanup").status == GrantStatus.REVERSED


@pytest.mark.django_db
def test_refund_takes_back_an_uncapped_free_item_voucher(program):
    add_rule(program, trigger="first_order", kind="free_item", value=0, beneficiary="referee")
    _, newcomer, _ = signup(program)
    events.order_completed(newcomer, "A1", Decimal(10))
    refund = events.order_refunded(newcomer, "A1")
    assert len(refund.reversed) == 1
    assert Voucher.objects.get().status == "void"
    assert RewardGrant.objects.get().status == GrantStatus.REVERSED


@pytest.mark.django_db
def test_revenue_is_taken_back_only_from_orders_that_counted(program):
    _, newcomer, referral = signup(program)
    referrals.reject(referral, reason="fraud")
    events.order_completed(newcomer, "A1", Decimal(100))
    events.order_refunded(newcomer, "A1")
    referral.refresh_from_db()
    assert referral.referred_revenue == Decimal(0)


# --- members' own commission terms -------------------------------------------------------


def with_terms(program, terms: str, value, *, kind: str = "influencer") -> Account:
    """A member without a user (an influencer, a partner) with their own commission
    ``terms`` of ``value``."""
    member = testing.make_member(user=False, name="Ina Influencer", kind=kind)
    account = testing.make_account(member, program=program)
    account.commission_kind, account.commission_value = terms, Decimal(value)
    account.full_clean()
    account.save()
    return account


def refer(program, referrer: Account, code: str | None = None, *, now=None):
    code = code or codes.get_or_create_personal_code(referrer.member, program=program).code
    customer = testing.make_user()
    events.customer_signed_up(customer, code=code, program=program, now=now)
    return customer


def commission_of(account: Account) -> int:
    return ledger.balance(Account.objects.get(pk=account.pk), unit=Unit.COMMISSION)


@pytest.mark.django_db
def test_percent_terms_pay_on_the_first_order_after_the_hold(program, now):
    program.hold_days = 7
    program.save()
    influencer = with_terms(program, "commission_percent", 10)
    customer = refer(program, influencer, now=now)

    events.order_completed(customer, "A1", Decimal("80.00"), occurred_at=now)
    events.order_completed(customer, "A2", Decimal("50.00"), occurred_at=now + days(1))

    grant = RewardGrant.objects.get(account=influencer)  # the first order only
    assert (grant.source, grant.rule, grant.kind, grant.value, grant.trigger) == (
        "terms",
        None,
        "commission_percent",
        Decimal("8.00"),
        "first_order",
    )
    assert (grant.status, grant.release_at) == (GrantStatus.HELD, now + days(7))
    assert grant.order.order_id == "A1"
    assert grant.explanation["commission_terms"] == "commission_percent"
    assert grant.explanation["commission_value"] == "10.0000"
    assert grant.explanation["order_amount"] == "80.00"
    assert commission_of(influencer) == 0

    assert rewards.release_due(now=now + days(6)).released == 0
    assert commission_of(influencer) == 0
    assert rewards.release_due(now=now + days(7)).released == 1
    assert commission_of(influencer) == 800
    entry = RewardGrant.objects.get(pk=grant.pk).entry
    assert (entry.unit, entry.kind, entry.amount) == ("commission", "earn", 800)
    assert testing.ledger_is_consistent(Account.objects.get(pk=influencer.pk))


@pytest.mark.django_db
def test_fixed_terms_pay_per_converted_customer(program):
    partner = with_terms(program, "commission_fixed", "12.50", kind="partner")
    for n in range(3):
        customer = refer(program, partner)
        if n < 2:
            events.order_completed(customer, f"A{n}", Decimal("1.00"))
    assert commission_of(partner) == 2 * 1250
    assert RewardGrant.objects.filter(account=partner, source="terms").count() == 2


@pytest.mark.django_db
def test_own_terms_replace_commission_rules_but_not_other_rewards(program, now):
    program.hold_days = 0
    program.save()
    add_rule(program, trigger="first_order", kind="commission_percent", value=Decimal(5))
    add_rule(program, trigger="every_order", kind="commission_fixed", value=Decimal(2))
    add_rule(program, trigger="first_order", kind="points", value=Decimal(100))
    add_rule(
        program,
        trigger="signup",
        beneficiary="referee",
        kind="voucher_percent",
        value=Decimal(15),
    )
    campaign = Campaign.objects.create(
        program=program, name="Spring", slug="spring", starts_at=now - days(1)
    )
    # The campaign's rules replace the program's first-order rules on its code.
    for kind, value in (("commission_fixed", 30), ("points", 300)):
        add_rule(program, campaign=campaign, trigger="first_order", kind=kind, value=Decimal(value))
    influencer = with_terms(program, "commission_fixed", 10)
    spring = codes.create_code("INASPRING25", campaign=campaign, owner=influencer)
    plain = testing.make_account(program=program)  # no terms: the rules pay

    for referrer, code in ((influencer, None), (influencer, spring.code), (plain, None)):
        customer = refer(program, referrer, code)
        events.order_completed(customer, f"order-{customer.pk}", Decimal("100.00"))
        assert Voucher.objects.filter(account__member__user=customer).count() == 1

    mine = RewardGrant.objects.filter(account=influencer)
    assert sorted((g.source, g.kind, g.value) for g in mine) == [
        ("rule", "points", Decimal(100)),
        ("rule", "points", Decimal(300)),
        ("terms", "commission_fixed", Decimal("10.00")),
        ("terms", "commission_fixed", Decimal("10.00")),
    ]
    assert commission_of(influencer) == 2000
    assert ledger.balance(Account.objects.get(pk=influencer.pk)) == 400
    # The member without terms earns the program's commission rules.
    assert commission_of(plain) == 500 + 200
    assert not RewardGrant.objects.filter(account=plain, source="terms").exists()


@pytest.mark.django_db
def test_a_refund_takes_own_terms_commission_back_like_a_rule(program, now):
    program.hold_days = 7
    program.save()
    influencer = with_terms(program, "commission_percent", 10)
    held_customer = refer(program, influencer, now=now)
    released_customer = refer(program, influencer, now=now)
    events.order_completed(held_customer, "H1", Decimal("80.00"), occurred_at=now)
    events.order_completed(released_customer, "R1", Decimal("120.00"), occurred_at=now)
    rewards.release_due(now=now)  # nothing is due yet

    events.order_refunded(held_customer, "H1", occurred_at=now + days(1))
    held = RewardGrant.objects.get(order__order_id="H1")
    assert held.status == GrantStatus.VOIDED

    rewards.release_due(now=now + days(8))
    assert commission_of(influencer) == 1200
    events.order_refunded(released_customer, "R1", Decimal("60.00"), occurred_at=now + days(9))
    assert commission_of(influencer) == 600
    events.order_refunded(released_customer, "R1", occurred_at=now + days(10))
    assert commission_of(influencer) == 0
    released = RewardGrant.objects.get(order__order_id="R1")
    assert released.status == GrantStatus.REVERSED
    assert testing.ledger_is_consistent(Account.objects.get(pk=influencer.pk))


@pytest.mark.django_db
def test_terms_set_after_a_customer_was_referred_apply_to_their_first_order(program):
    referrer = testing.make_account(program=program)
    customer = refer(program, referrer)
    Account.objects.filter(pk=referrer.pk).update(
        commission_kind="commission_fixed", commission_value=Decimal(7)
    )
    events.order_completed(customer, "A1", Decimal("10.00"))
    assert commission_of(referrer) == 700


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "value", "field", "message"),
    [
        ("commission_percent", None, "commission_value", "Enter the commission value"),
        ("", Decimal(5), "commission_kind", "Choose the kind of commission"),
        ("commission_percent", Decimal("100.5"), "commission_value", "cannot exceed 100"),
        ("commission_fixed", Decimal("1.555"), "commission_value", "2 decimal places"),
        ("commission_fixed", Decimal(0), "commission_value", "more than zero"),
    ],
)
def test_account_clean_checks_the_terms(program, kind, value, field, message):
    from django.core.exceptions import ValidationError

    account = testing.make_account(program=program)
    account.commission_kind, account.commission_value = kind, value
    with pytest.raises(ValidationError) as info:
        account.clean()
    assert list(info.value.message_dict) == [field]
    assert message in info.value.message_dict[field][0]
    with pytest.raises(ValidationError):
        account.full_clean()


@pytest.mark.django_db
def test_account_clean_accepts_valid_or_absent_terms(program):
    account = testing.make_account(program=program)
    for kind, value in (
        ("", None),
        ("commission_percent", Decimal("12.5")),
        ("commission_fixed", Decimal("20.00")),
    ):
        account.commission_kind, account.commission_value = kind, value
        account.full_clean()
