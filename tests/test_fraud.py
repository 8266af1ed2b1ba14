"""The fraud checks, the decisions they lead to, and the review queue."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.signals import user_logged_in
from django.core.management import call_command
from django.test import RequestFactory, override_settings

from django_referral_rewards import fraud, signals, testing
from django_referral_rewards.conf import app_settings
from django_referral_rewards.enums import FraudAction, FraudStatus, GrantStatus, ReferralStatus
from django_referral_rewards.exceptions import (
    ConfigurationError,
    InvalidArgument,
    InvalidTransition,
    OwnCode,
)
from django_referral_rewards.fraud import checks, normalize
from django_referral_rewards.hashing import keyed_hash
from django_referral_rewards.models import (
    Account,
    CodeUse,
    FraudDecision,
    FraudSignal,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardRule,
    Trace,
)
from django_referral_rewards.services import codes, events, ledger, referrals, rewards
from django_referral_rewards.services import fraud as fraud_service
from django_referral_rewards.services.accounts import get_or_create_account
from tests.conftest import days

rf = RequestFactory()


def request_from(ip="203.0.113.7", device="", agent="Mozilla/5.0 test"):
    request = rf.post("/signup/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    if device:
        request.COOKIES[app_settings.DEVICE_COOKIE_NAME] = device
    return request


def add_rule(program, **fields) -> RewardRule:
    defaults = {
        "name": "Referral bonus",
        "trigger": "signup",
        "beneficiary": "referrer",
        "kind": "points",
        "value": Decimal(100),
    }
    defaults.update(fields)
    return RewardRule.objects.create(program=program, **defaults)


@pytest.fixture
def referrer(db):
    return testing.make_user("jane", email="jane.doe@gmail.com")


@pytest.fixture
def code(referrer, program):
    return codes.get_or_create_personal_code(referrer, program=program)


@pytest.fixture
def staff(db):
    return testing.make_user("reviewer", is_staff=True)


@pytest.fixture
def flagged(db):
    seen: list[dict] = []

    def receiver(**kwargs):
        seen.append(kwargs)

    signals.fraud_flagged.connect(receiver, weak=False)
    yield seen
    signals.fraud_flagged.disconnect(receiver)


def in_review(program, code, *, now=None, device="d" * 32):
    """A referral sent to review: the customer signs up on the referrer's device."""
    owner = code.owner
    fraud_service.record_traces(
        owner.member_id, hashes=fraud_service.request_hashes(request_from(device=device))
    )
    customer = testing.make_user()
    referral = events.customer_signed_up(
        customer, code=code.code, request=request_from(ip="198.51.100.1", device=device), now=now
    )
    assert referral.fraud_status == FraudStatus.REVIEW
    return customer, referral


# --- normalising ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "normal"),
    [
        ("Jane.Doe+promo@GoogleMail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@gmail.com", "janedoe@gmail.com"),
        ("Jane.Doe+x@outlook.com", "jane.doe@outlook.com"),
        ("Jane.Doe+x@example.com", "jane.doe+x@example.com"),
        ("+only@gmail.com", ""),
        ("no-at-sign", ""),
        ("@gmail.com", ""),
        (None, ""),
    ],
)
def test_normalize_email(address, normal):
    assert normalize.normalize_email(address) == normal


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("+1 (555) 010-9999", "555 010 9999", True),
        ("+44 7700 900123", "07700 900123", True),
        ("555 010 9999", "555 010 9998", False),
        ("12345", "12345", False),  # too short to compare
    ],
)
def test_normalize_phone(first, second, same):
    a, b = normalize.normalize_phone(first), normalize.normalize_phone(second)
    assert (bool(a) and a == b) is same


def test_disposable_domains_bundled_extra_and_file(tmp_path):
    assert normalize.is_disposable("x@mailinator.com")
    assert normalize.is_disposable("x@eu.mailinator.com")  # a sub-domain of one
    assert not normalize.is_disposable("x@example.com")
    assert not normalize.is_disposable("not an address")
    with override_settings(REFERRAL_REWARDS_DISPOSABLE_EMAIL_DOMAINS=["Throwaway.Test"]):
        assert normalize.is_disposable("x@throwaway.test")
    listing = tmp_path / "domains.txt"
    listing.write_text("# ours\nonly-this.test  # comment\n\n", encoding="utf-8")
    with override_settings(REFERRAL_REWARDS_DISPOSABLE_EMAIL_DOMAINS_FILE=str(listing)):
        assert normalize.is_disposable("x@only-this.test")
        assert not normalize.is_disposable("x@mailinator.com")
    with (
        override_settings(REFERRAL_REWARDS_DISPOSABLE_EMAIL_DOMAINS_FILE=str(tmp_path / "no")),
        pytest.raises(ConfigurationError, match="Cannot read"),
    ):
        normalize.is_disposable("x@mailinator.com")
    assert normalize.is_disposable("x@mailinator.com")  # the cache follows the settings


# --- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FRAUD_CHECKS", "tests.test_fraud.no_signals", "list of import strings"),
        ("FRAUD_CHECKS", ["tests.test_fraud.missing"], "cannot import"),
        ("FRAUD_CHECKS", ["tests.test_fraud.NOT_CALLABLE"], "not callable"),
        ("FRAUD_SCORES", {"velocity": -1}, "whole numbers"),
        ("FRAUD_SCORES", {"velocity": True}, "whole numbers"),
        ("FRAUD_VELOCITY", {"ip": 0}, "FRAUD_VELOCITY"),
        ("FRAUD_VELOCITY", {"bursts": 3}, "FRAUD_VELOCITY"),
        ("FRAUD_VELOCITY", {"window": None}, "FRAUD_VELOCITY"),
        ("RETENTION_DAYS", 0, "RETENTION_DAYS"),
        ("DISPOSABLE_EMAIL_DOMAINS", "mailinator.com", "must be a list"),
    ],
)
def test_bad_fraud_settings_raise_a_clear_error(name, value, message):
    read = (
        app_settings.fraud_checks if name == "FRAUD_CHECKS" else lambda: getattr(app_settings, name)
    )
    with (
        override_settings(**{f"REFERRAL_REWARDS_{name}": value}),
        pytest.raises(ConfigurationError, match=message),
    ):
        read()


NOT_CALLABLE = 42


def no_signals(context):
    return []


def banned_domain(context):
    if context.at_signup and context.customer_email.endswith("@banned.test"):
        yield fraud.Signal("banned_domain", 100, "Sign-ups from banned.test are not rewarded.")


def test_fraud_settings_defaults():
    assert list(checks.DEFAULT_CHECKS) == app_settings.FRAUD_CHECKS
    assert app_settings.FRAUD_SCORES == checks.DEFAULT_SCORES
    assert app_settings.FRAUD_VELOCITY == {"window": 3600, "code": 20, "ip": 5, "referrer": 20}
    assert app_settings.RETENTION_DAYS == 180
    assert app_settings.TRACE_LOGINS is True
    with override_settings(REFERRAL_REWARDS_FRAUD_VELOCITY={"code": None}):
        assert app_settings.FRAUD_VELOCITY["code"] is None


# --- the decisions at sign-up ----------------------------------------------------------


@pytest.mark.django_db
def test_a_clean_signup_writes_no_fraud_rows(program, code):
    add_rule(program)
    referral = events.customer_signed_up(
        testing.make_user(), code=code.code, request=request_from()
    )
    assert (referral.fraud_status, referral.fraud_score) == (FraudStatus.CLEAR, 0)
    assert referral.ip_hash == keyed_hash("203.0.113.7", purpose="ip")
    assert referral.user_agent_hash and referral.device_hash == ""
    assert not FraudSignal.objects.exists() and not FraudDecision.objects.exists()
    assert ledger.balance(code.owner) == 100


@pytest.mark.django_db
def test_the_referrers_email_with_dots_and_a_tag_is_blocked_and_nobody_rewarded(
    program, code, flagged, django_capture_on_commit_callbacks
):
    add_rule(program)
    add_rule(program, beneficiary="referee", name="Welcome")
    rejected = []

    def on_rejected(**kwargs):
        rejected.append(kwargs)

    signals.referral_rejected.connect(on_rejected)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            referral = events.customer_signed_up(
                testing.make_user("alias", email="JaneDoe+free@googlemail.com"), code=code.code
            )
    finally:
        signals.referral_rejected.disconnect(on_rejected)
    assert referral.status == ReferralStatus.REJECTED
    assert (referral.fraud_status, referral.fraud_score) == (FraudStatus.BLOCKED, 100)
    assert not RewardGrant.objects.exists()
    assert not CodeUse.objects.exists()  # a blocked sign-up does not use the code up
    signal = FraudSignal.objects.get()
    assert (signal.name, signal.score, signal.stage) == ("same_email", 100, "signup")
    assert signal.evidence == keyed_hash("janedoe@gmail.com", purpose="email")
    assert "janedoe" not in signal.reason.lower()  # reasons carry no personal data
    decision = FraudDecision.objects.get()
    assert (decision.action, decision.automatic, decision.decided_by) == ("blocked", True, None)
    assert decision.signals == [
        {
            "name": "same_email",
            "score": 100,
            "reason": "The customer's e-mail address is the referrer's, written differently.",
        }
    ]
    assert [(f["outcome"], f["score"]) for f in flagged] == [("block", 100)]
    assert rejected[0]["referral"] == referral and "same_email" in rejected[0]["reason"]
    # Referred once per program: the blocked customer cannot try another code.
    other = codes.get_or_create_personal_code(testing.make_user(), program=program)
    with pytest.raises(Exception, match="already"):
        events.customer_signed_up(referral.referred.member.user, code=other.code)


@pytest.mark.django_db
def test_signing_up_with_ones_own_code_is_refused(program, code, referrer):
    with pytest.raises(OwnCode):
        events.customer_signed_up(referrer, code=code.code)
    member_only = testing.make_member(user=False)
    own = codes.get_or_create_personal_code(member_only, program=program)
    with pytest.raises(OwnCode):
        referrals.attach(member_only, code=own.code)
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_same_phone_is_blocked(program, code):
    code.owner.member.__class__.objects.filter(pk=code.owner.member_id).update(
        phone="+1 (555) 010-9999"
    )
    customer = testing.make_user()
    member = get_or_create_account(customer, program=program).member
    member.phone = "555.010.9999"
    member.save()
    referral = events.customer_signed_up(customer, code=code.code)
    assert referral.fraud_status == FraudStatus.BLOCKED
    assert list(referral.fraud_signals.values_list("name", flat=True)) == ["same_phone"]


@pytest.mark.django_db
def test_an_existing_customer_is_blocked(program, code):
    customer = testing.make_user()
    events.order_completed(customer, "BEFORE-1", Decimal("20.00"))
    referral = events.customer_signed_up(customer, code=code.code)
    assert referral.fraud_status == FraudStatus.BLOCKED
    assert referral.fraud_signals.get().name == "existing_customer"


@pytest.mark.django_db
def test_same_device_as_the_referrer_goes_to_review_and_holds_rewards(
    program, code, flagged, django_capture_on_commit_callbacks
):
    add_rule(program)
    with django_capture_on_commit_callbacks(execute=True):
        _customer, referral = in_review(program, code)
    assert referral.status == ReferralStatus.PENDING
    assert referral.fraud_score == 80
    assert referral.review_deadline == referral.attached_at + days(program.review_days)
    grant = RewardGrant.objects.get()
    assert grant.status == GrantStatus.HELD  # no hold period, but the review holds it
    assert ledger.balance(code.owner) == 0
    assert [f["outcome"] for f in flagged] == ["review"]
    assert FraudDecision.objects.get().action == FraudAction.FLAGGED
    with pytest.raises(InvalidTransition, match="fraud review"):
        rewards.release(grant)
    assert rewards.release_due(now=referral.attached_at + days(1)).released == 0


@pytest.mark.django_db
def test_same_network_alone_is_noted_but_allowed(program, code):
    add_rule(program)
    fraud_service.record_traces(
        code.owner.member_id, hashes=fraud_service.request_hashes(request_from(ip="192.0.2.9"))
    )
    referral = events.customer_signed_up(
        testing.make_user(), code=code.code, request=request_from(ip="192.0.2.9")
    )
    assert (referral.fraud_status, referral.fraud_score) == (FraudStatus.CLEAR, 40)
    assert FraudDecision.objects.get().action == FraudAction.NOTED
    assert ledger.balance(code.owner) == 100  # rewarded as usual


@pytest.mark.django_db
def test_disposable_email_goes_to_review(program, code):
    referral = events.customer_signed_up(
        testing.make_user("temp", email="temp@mailinator.com"), code=code.code
    )
    assert referral.fraud_status == FraudStatus.REVIEW
    assert referral.fraud_signals.get().reason == (
        "The customer's e-mail address is at a disposable domain (mailinator.com)."
    )


@pytest.mark.django_db
def test_velocity_per_ip_code_and_referrer(program, code, now):
    with override_settings(REFERRAL_REWARDS_FRAUD_VELOCITY={"ip": 2, "code": 3, "referrer": 3}):
        outcomes = [
            events.customer_signed_up(
                testing.make_user(), code=code.code, request=request_from(), now=now
            )
            for _ in range(4)
        ]
    assert [r.fraud_status for r in outcomes] == ["clear", "clear", "review", "review"]
    reasons = [r.fraud_signals.get().reason for r in outcomes[2:]]
    assert reasons[0] == "3 sign-ups from this IP address within 1 hour (more than 2)."
    assert reasons[1] == (
        "4 sign-ups with this code within 1 hour (more than 3); 4 sign-ups from this IP "
        "address within 1 hour (more than 2); 4 sign-ups for this referrer within 1 hour "
        "(more than 3)."
    )
    # Outside the window the counts start again.
    later = events.customer_signed_up(
        testing.make_user(), code=code.code, request=request_from(), now=now + days(1)
    )
    assert later.fraud_status == FraudStatus.CLEAR


@pytest.mark.django_db
@override_settings(REFERRAL_REWARDS_FRAUD_CHECKS=[])
def test_no_checks_configured_means_no_screening(program, code):
    referral = events.customer_signed_up(
        testing.make_user("alias", email="jane.doe+x@gmail.com"), code=code.code
    )
    assert referral.fraud_status == FraudStatus.CLEAR


@pytest.mark.django_db
def test_a_custom_check_and_score_overrides(program, code):
    with override_settings(
        REFERRAL_REWARDS_FRAUD_CHECKS=["tests.test_fraud.banned_domain"],
        REFERRAL_REWARDS_FRAUD_SCORES={"banned_domain": 60},
    ):
        referral = events.customer_signed_up(
            testing.make_user("b", email="b@banned.test"), code=code.code
        )
    assert (referral.fraud_status, referral.fraud_score) == (FraudStatus.REVIEW, 60)
    with override_settings(REFERRAL_REWARDS_FRAUD_SCORES={"disposable_email": 0}):
        quiet = events.customer_signed_up(
            testing.make_user("t", email="t@mailinator.com"), code=code.code
        )
    assert (quiet.fraud_status, quiet.fraud_score) == (FraudStatus.CLEAR, 0)
    assert quiet.fraud_signals.get().score == 0  # recorded, without weight


@pytest.mark.django_db
def test_program_thresholds_decide(program, code):
    program.fraud_review_score = 90
    program.fraud_block_score = 200
    program.save()
    fraud_service.record_traces(
        code.owner.member_id, hashes=fraud_service.request_hashes(request_from(device="e" * 32))
    )
    # Same device (80) and same network (40): blocked at the default 100, here reviewed.
    referral = events.customer_signed_up(
        testing.make_user(), code=code.code, request=request_from(device="e" * 32)
    )
    assert (referral.fraud_status, referral.fraud_score) == (FraudStatus.REVIEW, 120)


def test_program_clean_refuses_a_review_score_above_the_block_score(db, program):
    from django.core.exceptions import ValidationError

    program.fraud_review_score, program.fraud_block_score = 120, 100
    with pytest.raises(ValidationError, match="review score"):
        program.full_clean()


@pytest.mark.django_db
def test_signup_with_checks_and_a_request_uses_a_fixed_number_of_queries(
    program, code, django_assert_max_num_queries
):
    add_rule(program)
    events.customer_signed_up(testing.make_user(), code=code.code, request=request_from())
    customer = testing.make_user()
    # code lookup, member + account, referral check, the checks (already a customer,
    # the referrer's traces, velocity: one query each), the code use, the referral, the
    # customer's traces (one upsert), rules and the released grant — savepoints included.
    with django_assert_max_num_queries(42):
        events.customer_signed_up(customer, code=code.code, request=request_from())


# --- traces ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_signup_without_a_code_still_records_traces(program):
    customer = testing.make_user()
    events.customer_signed_up(customer, request=request_from(device="f" * 32))
    kinds = set(Trace.objects.values_list("kind", "value_hash"))
    assert kinds == {
        ("ip", keyed_hash("203.0.113.7", purpose="ip")),
        ("device", keyed_hash("f" * 32, purpose="device")),
    }


@pytest.mark.django_db
def test_traces_are_upserted(program, now):
    member = testing.make_member()
    hashes = fraud_service.request_hashes(request_from())
    assert fraud_service.record_traces(member, hashes=hashes, now=now) == 1
    assert fraud_service.record_traces(member, hashes=hashes, now=now + days(3)) == 1
    trace = Trace.objects.get()
    assert (trace.first_seen, trace.last_seen) == (now, now + days(3))
    assert fraud_service.record_traces(member) == 0  # nothing known: nothing written


@pytest.mark.django_db
def test_a_login_records_the_members_traces(program, code, referrer):
    user_logged_in.send(sender=type(referrer), request=request_from(ip="192.0.2.1"), user=referrer)
    assert Trace.objects.filter(member__user=referrer, kind="ip").count() == 1
    stranger = testing.make_user()
    user_logged_in.send(sender=type(stranger), request=request_from(), user=stranger)
    assert not Account.objects.filter(member__user=stranger).exists()  # no member created
    with override_settings(REFERRAL_REWARDS_TRACE_LOGINS=False):
        user_logged_in.send(
            sender=type(referrer), request=request_from(ip="192.0.2.2"), user=referrer
        )
    assert Trace.objects.count() == 1


# --- the order stage -------------------------------------------------------------------


@pytest.mark.django_db
def test_paying_with_the_referrers_payment_method_blocks_before_conversion(
    program, code, referrer, flagged, django_capture_on_commit_callbacks
):
    add_rule(program, trigger="first_order", kind="commission_percent", value=Decimal(10))
    events.order_completed(referrer, "R-1", Decimal("50.00"), payment_fingerprint="card-42")
    customer = testing.make_user()
    referral = events.customer_signed_up(customer, code=code.code)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = events.order_completed(
            customer, "C-1", Decimal("80.00"), payment_fingerprint="card-42"
        )
    referral.refresh_from_db()
    assert (referral.status, referral.fraud_status) == ("rejected", "blocked")
    assert outcome.referral is None and not outcome.converted and outcome.grants == []
    assert not RewardGrant.objects.filter(referral=referral).exists()
    assert ledger.balance(code.owner, unit="commission") == 0
    assert referral.fraud_signals.get().stage == "order"
    assert [f["outcome"] for f in flagged] == ["block"]


@pytest.mark.django_db
def test_an_order_can_send_a_referral_to_review(program, code, referrer):
    add_rule(program, trigger="first_order", kind="commission_fixed", value=Decimal(5))
    events.order_completed(referrer, "R-1", Decimal("50.00"), payment_fingerprint="card-42")
    customer = testing.make_user()
    events.customer_signed_up(customer, code=code.code)
    with override_settings(REFERRAL_REWARDS_FRAUD_SCORES={"same_payment": 60}):
        outcome = events.order_completed(
            customer, "C-1", Decimal("80.00"), payment_fingerprint="card-42"
        )
        # A second order with the same fingerprint adds nothing new.
        events.order_completed(customer, "C-2", Decimal("80.00"), payment_fingerprint="card-42")
    referral = Referral.objects.get(pk=outcome.referral.pk)
    assert (referral.status, referral.fraud_status, referral.fraud_score) == (
        "converted",
        "review",
        60,
    )
    assert outcome.grants[0].status == GrantStatus.HELD
    assert referral.fraud_signals.count() == 1


@pytest.mark.django_db
def test_orders_without_a_fingerprint_cost_no_screening_query(
    program, code, django_assert_max_num_queries
):
    customer = testing.make_user()
    events.customer_signed_up(customer, code=code.code)
    events.order_completed(customer, "C-0", Decimal("1.00"))  # warm the account
    with django_assert_max_num_queries(16):
        events.order_completed(customer, "C-1", Decimal("80.00"))


@pytest.mark.django_db
def test_a_decided_referral_is_not_screened_again(program, code, referrer, staff):
    events.order_completed(referrer, "R-1", Decimal("50.00"), payment_fingerprint="card-42")
    customer, referral = in_review(program, code)
    fraud_service.approve_referral(referral, by=staff)
    events.order_completed(customer, "C-1", Decimal("80.00"), payment_fingerprint="card-42")
    referral.refresh_from_db()
    assert (referral.status, referral.fraud_status) == ("converted", "approved")


# --- the review queue ------------------------------------------------------------------


@pytest.mark.django_db
def test_approving_releases_the_held_rewards(program, code, staff, now):
    add_rule(program)
    add_rule(program, beneficiary="referee", name="Welcome", kind="credit", value=Decimal(5))
    add_rule(program, name="Later", hold_days=30)
    customer, referral = in_review(program, code, now=now)
    result = fraud_service.approve_referral(referral, by=staff, note="Same household.", now=now)
    assert result.fraud_status == FraudStatus.APPROVED and result.review_deadline is None
    assert ledger.balance(code.owner) == 100  # the later grant keeps its own hold
    assert ledger.balance(customer, unit="credit") == 500
    assert RewardGrant.objects.filter(status="held").count() == 1
    decision = FraudDecision.objects.filter(action="approved").get()
    assert (decision.decided_by, decision.automatic, decision.note) == (
        staff,
        False,
        "Same household.",
    )
    assert decision.signals == [
        {
            "name": "same_device",
            "score": 80,
            "reason": "The customer signed up on a device the referrer uses.",
        }
    ]
    assert rewards.release_due(now=now + days(31)).released == 1
    with pytest.raises(InvalidTransition, match="not in review"):
        fraud_service.approve_referral(referral, by=staff)


@pytest.mark.django_db
def test_rejecting_voids_and_uncounts(program, code, staff, now):
    program.conversion_event = "signup"
    program.save()
    add_rule(program)
    _customer, referral = in_review(program, code, now=now)
    assert Account.objects.get(pk=code.owner_id).conversions_count == 1
    with pytest.raises(InvalidArgument, match="reason"):
        fraud_service.reject_referral(referral, by=staff, reason="  ")
    fraud_service.reject_referral(referral, by=staff, reason="Self-referral ring.")
    referral.refresh_from_db()
    assert (referral.status, referral.fraud_status) == ("rejected", "rejected")
    assert RewardGrant.objects.get().status == GrantStatus.VOIDED
    assert Account.objects.get(pk=code.owner_id).conversions_count == 0
    assert FraudDecision.objects.filter(action="rejected", decided_by=staff).exists()


@pytest.mark.django_db
def test_only_active_staff_decide(program, code):
    _customer, referral = in_review(program, code)
    for user in (None, testing.make_user(), testing.make_user(is_staff=True, is_active=False)):
        with pytest.raises(InvalidArgument, match="active staff"):
            fraud_service.approve_referral(referral, by=user)
        with pytest.raises(InvalidArgument, match="active staff"):
            fraud_service.reject_referral(referral, by=user, reason="no")
    assert Referral.objects.get(pk=referral.pk).fraud_status == FraudStatus.REVIEW


@pytest.mark.django_db
def test_a_referral_that_expired_in_review_is_rejected_with_its_rewards_voided(
    program, code, staff, now
):
    add_rule(program)
    _customer, referral = in_review(program, code, now=now)
    Referral.objects.filter(pk=referral.pk).update(status=ReferralStatus.EXPIRED)
    fraud_service.reject_referral(referral, by=staff, reason="Too late anyway.")
    referral.refresh_from_db()
    assert (referral.status, referral.fraud_status) == ("expired", "rejected")
    assert RewardGrant.objects.get().status == GrantStatus.VOIDED


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["approve", "reject"])
def test_the_deadline_applies_the_programs_default_outcome(program, code, now, outcome, capsys):
    program.review_default_outcome = outcome
    program.save()
    add_rule(program)
    _customer, due = in_review(program, code, now=now - days(8))
    _customer, not_yet = in_review(program, code, now=now, device="g" * 32)
    call_command("rewards_resolve_reviews", now=now.isoformat(), batch_size=1)
    approved, rejected = (1, 0) if outcome == "approve" else (0, 1)
    assert f"Approved {approved} and rejected {rejected} referral(s)" in capsys.readouterr().out
    due.refresh_from_db()
    assert due.fraud_status == ("approved" if outcome == "approve" else "rejected")
    assert Referral.objects.get(pk=not_yet.pk).fraud_status == FraudStatus.REVIEW
    decision = due.fraud_decisions.order_by("pk").last()
    assert (decision.automatic, decision.decided_by) == (True, None)
    grant = RewardGrant.objects.get(referral=due)
    assert grant.status == (GrantStatus.RELEASED if outcome == "approve" else GrantStatus.VOIDED)
    again = fraud_service.resolve_due_reviews(now=now)
    assert (again.approved, again.rejected) == (0, 0)


@pytest.mark.django_db
def test_the_sweep_skips_a_review_decided_meanwhile(program, code, now, staff, monkeypatch):
    in_review(program, code, now=now - days(8))
    real = fraud_service._decide

    def staff_first(referral, **kwargs):
        real(referral, outcome="approve", by=staff, note="", automatic=False, now=now)
        return real(referral, **kwargs)

    monkeypatch.setattr(fraud_service, "_decide", staff_first)
    result = fraud_service.resolve_due_reviews(now=now)
    assert (result.approved, result.rejected, result.batches) == (0, 0, 1)
    assert FraudDecision.objects.filter(action="approved").count() == 1


@pytest.mark.django_db
def test_assess_reports_outcomes(program, code):
    context = fraud.FraudContext(
        stage="signup",
        program=program,
        customer=get_or_create_account(testing.make_user("x", email="x@mailinator.com")),
        now=code.created,
        code=code,
        referrer_id=code.owner_id,
    )
    assessment = fraud.assess(context, base_score=60)
    assert (assessment.score, assessment.outcome, assessment.flagged) == (110, "block", True)
    assert context.referrer == code.owner  # loaded on demand
    assert fraud.outcome_for(0, program) == fraud.ALLOW
    assert ReferralCode.objects.count() == 1


# --- system checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FRAUD_CHECKS", ["tests.test_fraud.missing"]),
        ("FRAUD_SCORES", {"velocity": -5}),
        ("FRAUD_VELOCITY", {"ip": 0}),
        ("RETENTION_DAYS", "forever"),
        ("DISPOSABLE_EMAIL_DOMAINS_FILE", "/nonexistent/domains.txt"),
    ],
)
def test_a_bad_fraud_setting_is_a_system_check_error(name, value):
    from django.core.checks import run_checks

    with override_settings(**{f"REFERRAL_REWARDS_{name}": value}):
        errors = [m for m in run_checks() if m.id == "referral_rewards.E006"]
    assert len(errors) == 1
    assert errors[0].hint == "See the fraud checks topic."
    assert not [m for m in run_checks() if m.id == "referral_rewards.E006"]


@pytest.mark.django_db
def test_fraud_decisions_are_append_only(program, code):
    from django_referral_rewards.exceptions import DecisionImmutable

    events.customer_signed_up(testing.make_user("t", email="t@mailinator.com"), code=code.code)
    decision = FraudDecision.objects.get()
    decision.note = "rewritten"
    with pytest.raises(DecisionImmutable):
        decision.save()
    with pytest.raises(DecisionImmutable):
        decision.delete()
    assert FraudDecision.objects.get().note == ""
