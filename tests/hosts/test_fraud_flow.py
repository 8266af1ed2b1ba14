"""Fraud, as a host meets it: the stories that must work, told through the public events
(``services.events`` and the inbound signals), the way a host sends them.

* A customer who signs up with their own code, or with the referrer's e-mail written
  with dots and a ``+tag``, is refused and nobody is rewarded.
* Eleven sign-ups with one code from one IP address within an hour: the first ones pass,
  the later ones go to review; approving one releases its rewards, the deadline rejects
  the rest.
* A customer who pays with the referrer's card: the referral is rejected before it
  converts, and the commission rule pays nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import RequestFactory

from django_referral_rewards import signals, testing
from django_referral_rewards.conf import app_settings
from django_referral_rewards.enums import FraudAction, FraudStatus, GrantStatus, ReferralStatus
from django_referral_rewards.exceptions import OwnCode
from django_referral_rewards.models import (
    CodeUse,
    FraudDecision,
    FraudSignal,
    LedgerEntry,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardRule,
)
from django_referral_rewards.services import accounts, codes, events, ledger, rewards
from django_referral_rewards.services import fraud as fraud_service

rf = RequestFactory()


def signup_request(ip: str, device: str = "") -> object:
    """The host's sign-up POST, as its view receives it (no session needed)."""
    request = rf.post("/accounts/signup/", REMOTE_ADDR=ip, HTTP_USER_AGENT="Mozilla/5.0 (host)")
    if device:
        request.COOKIES[app_settings.DEVICE_COOKIE_NAME] = device
    return request


@pytest.fixture
def sent(db):
    """The outbound signals ``referral_rejected`` and ``fraud_flagged`` as received."""
    received: list[tuple[str, dict]] = []

    def on_rejected(**kwargs):
        received.append(("referral_rejected", kwargs))

    def on_flagged(**kwargs):
        received.append(("fraud_flagged", kwargs))

    signals.referral_rejected.connect(on_rejected)
    signals.fraud_flagged.connect(on_flagged)
    yield received
    signals.referral_rejected.disconnect(on_rejected)
    signals.fraud_flagged.disconnect(on_flagged)


def signup_rules(program, *, referrer: int | None, referee: int, hold_days: int = 0) -> None:
    """Points for signing up: for the referrer (unless ``None``) and the new customer."""
    if referrer is not None:
        RewardRule.objects.create(
            program=program,
            name="Referral bonus",
            trigger="signup",
            beneficiary="referrer",
            kind="points",
            value=referrer,
            hold_days=hold_days,
        )
    RewardRule.objects.create(
        program=program,
        name="Welcome bonus",
        trigger="signup",
        beneficiary="referee",
        kind="points",
        value=referee,
        hold_days=hold_days,
    )


# --- own code, and the referrer's e-mail in disguise -----------------------------------


@pytest.mark.django_db
def test_own_code_or_the_referrers_email_in_disguise_is_refused_and_nobody_rewarded(
    program, sent, django_capture_on_commit_callbacks
):
    signup_rules(program, referrer=500, referee=100)
    jane = testing.make_user("jane", email="jane.doe@gmail.com")
    personal = codes.get_or_create_personal_code(jane, program=program)
    # A code with a limit, so that "not used up" can be seen on it.
    limited = codes.create_code("JANEFRIENDS", program=program, owner=jane, max_uses=1)

    # Her own code, typed at a sign-up (an event and the inbound signal alike).
    with pytest.raises(OwnCode):
        events.customer_signed_up(jane, code=personal.code)
    with pytest.raises(OwnCode):
        signals.customer_signed_up.send(
            sender=None, user=jane, code=limited.code, request=None, program=None
        )

    # Her own address, written differently, on a new user of the host.
    twin = testing.make_user("jd", email="J.a.n.e.Doe+promo@googlemail.com")
    with django_capture_on_commit_callbacks(execute=True):
        replies = signals.customer_signed_up.send(
            sender=None, user=twin, code=limited.code, request=None, program=None
        )
        assert sent == []  # nothing is announced before the commit
    referral = replies[0][1]

    assert referral.status == ReferralStatus.REJECTED
    assert referral.fraud_status == FraudStatus.BLOCKED
    assert referral.fraud_score == 100
    assert list(FraudSignal.objects.filter(referral=referral).values_list("name", flat=True)) == [
        "same_email"
    ]
    decision = FraudDecision.objects.get(referral=referral)
    assert (decision.action, decision.automatic, decision.score) == (FraudAction.BLOCKED, True, 100)
    # Nobody is rewarded: no grant, no ledger entry for anyone.
    assert not RewardGrant.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert ledger.balance(jane) == 0 and ledger.balance(twin) == 0
    # The code is not used up.
    assert ReferralCode.objects.get(pk=limited.pk).times_used == 0
    assert not CodeUse.objects.exists()
    # Both announcements went out, after the commit.
    assert [name for name, _ in sent] == ["fraud_flagged", "referral_rejected"]
    flagged = sent[0][1]
    assert flagged["referral"] == referral and flagged["outcome"] == "block"
    assert [signal.name for signal in flagged["signals"]] == ["same_email"]
    assert sent[1][1]["referral"] == referral and "same_email" in sent[1][1]["reason"]

    # The same event again has no second effect; the customer cannot be referred again
    # with another code of the program.
    assert events.customer_signed_up(twin, code=limited.code) == referral
    assert Referral.objects.filter(referred__member__user=twin).count() == 1

    # A real friend can still use the code: its one use was not spent.
    friend = testing.make_user("tom", email="tom@example.com")
    real = events.customer_signed_up(friend, code=limited.code)
    assert (real.status, real.fraud_status) == (ReferralStatus.PENDING, FraudStatus.CLEAR)
    assert ReferralCode.objects.get(pk=limited.pk).times_used == 1
    assert ledger.balance(jane) == 500 and ledger.balance(friend) == 100


# --- velocity: eleven sign-ups from one address ----------------------------------------


@pytest.mark.django_db
def test_eleven_signups_from_one_ip_the_later_ones_are_reviewed_then_decided(
    program, now, sent, django_capture_on_commit_callbacks
):
    program.review_default_outcome = "reject"
    program.save()
    signup_rules(program, referrer=100, referee=10)
    staff = testing.make_user("reviewer", is_staff=True)
    referrer = testing.make_user("promoter", email="promoter@example.com")
    code = codes.get_or_create_personal_code(referrer, program=program)

    customers = [testing.make_user(f"signup{n}", email=f"s{n}@example.net") for n in range(11)]
    start = now - timedelta(hours=1)  # eleven sign-ups within the last hour
    with django_capture_on_commit_callbacks(execute=True):
        made = [
            events.customer_signed_up(
                user,
                code=code.code,
                request=signup_request("198.51.100.20"),
                now=start + timedelta(minutes=5 * n),
            )
            for n, user in enumerate(customers)
        ]

    # The default FRAUD_VELOCITY allows 5 referred sign-ups per IP address per hour.
    assert [r.fraud_status for r in made] == [FraudStatus.CLEAR] * 5 + [FraudStatus.REVIEW] * 6
    assert all(r.status == ReferralStatus.PENDING for r in made)  # the life cycle goes on
    first_reviewed = FraudSignal.objects.get(referral=made[5])
    assert first_reviewed.name == "velocity" and first_reviewed.score == 50
    assert "6 sign-ups from this IP address within 1 hour (more than 5)" in first_reviewed.reason
    assert [kwargs["referral"] for name, kwargs in sent if name == "fraud_flagged"] == made[5:]
    assert {made[n].review_deadline for n in range(5, 11)} == {
        start + timedelta(minutes=5 * n, days=program.review_days) for n in range(5, 11)
    }

    # The first five are rewarded at once; the others' rewards are held.
    referrer_account = accounts.get_or_create_account(referrer, program=program)
    referrer_account.refresh_from_db()
    assert (referrer_account.points_balance, referrer_account.held_points) == (500, 600)
    assert [ledger.balance(user) for user in customers] == [10] * 5 + [0] * 6
    # ... and never released before a decision, however late the release sweep runs.
    last_deadline = max(r.review_deadline for r in made if r.review_deadline)
    assert rewards.release_due(now=last_deadline + timedelta(days=30)).released == 0
    held = RewardGrant.objects.filter(referral__in=made[5:])
    assert held.count() == 12 and set(held.values_list("status", flat=True)) == {"held"}

    # Staff approve the sixth: its rewards are released.
    fraud_service.approve_referral(made[5], by=staff, note="A family, same router.")
    assert made[5].fraud_status == FraudStatus.APPROVED
    assert ledger.balance(referrer) == 600
    assert ledger.balance(customers[5]) == 10

    # The deadline rejects the rest (the program's default outcome) and voids their grants.
    result = fraud_service.resolve_due_reviews(now=last_deadline + timedelta(seconds=1))
    assert (result.approved, result.rejected) == (0, 5)
    for referral in made[6:]:
        referral.refresh_from_db()
        assert (referral.status, referral.fraud_status) == (
            ReferralStatus.REJECTED,
            FraudStatus.REJECTED,
        )
        deadline = FraudDecision.objects.filter(referral=referral).latest("pk")
        assert (deadline.action, deadline.automatic, deadline.decided_by) == (
            FraudAction.REJECTED,
            True,
            None,
        )
    assert set(
        RewardGrant.objects.filter(referral__in=made[6:]).values_list("status", flat=True)
    ) == {GrantStatus.VOIDED}
    assert fraud_service.resolve_due_reviews(now=last_deadline + timedelta(days=1)).rejected == 0

    # Six referrals' worth, and every ledger adds up.
    referrer_account.refresh_from_db()
    assert (referrer_account.points_balance, referrer_account.held_points) == (600, 0)
    assert [ledger.balance(user) for user in customers] == [10] * 6 + [0] * 5
    everyone = [referrer_account] + [
        accounts.get_or_create_account(user, program=program) for user in customers
    ]
    assert all(testing.ledger_is_consistent(account) for account in everyone)


# --- the order stage: the referrer's card ---------------------------------------------


@pytest.mark.django_db
def test_paying_with_the_referrers_card_rejects_the_referral_before_it_converts(
    program, now, sent, django_capture_on_commit_callbacks
):
    RewardRule.objects.create(
        program=program,
        name="10% of the first order",
        trigger="first_order",
        beneficiary="referrer",
        kind="commission_percent",
        value=Decimal("10"),
        hold_days=0,
    )
    signup_rules(program, referrer=None, referee=100, hold_days=14)
    jane = testing.make_user("jane", email="jane@example.com")
    code = codes.get_or_create_personal_code(jane, program=program)
    # Jane's own order, with her card.
    events.order_completed(
        jane, "J-1", Decimal("40.00"), payment_fingerprint="card:visa:4242", occurred_at=now
    )

    mallory = testing.make_user("mallory", email="mallory@example.org")
    honest = testing.make_user("tom", email="tom@example.org")
    signed = {
        user: events.customer_signed_up(user, code=code.code, now=now + timedelta(hours=n))
        for n, user in enumerate((mallory, honest), start=1)
    }
    assert {r.fraud_status for r in signed.values()} == {FraudStatus.CLEAR}

    # Mallory pays with Jane's card: blocked at the order, before it converts.
    with django_capture_on_commit_callbacks(execute=True):
        outcome = signals.order_completed.send(
            sender=None,
            user=mallory,
            order_id="M-1",
            amount=Decimal("200.00"),
            currency=None,
            program=None,
            occurred_at=now + timedelta(days=1),
            payment_fingerprint="card:visa:4242",
        )[0][1]
    assert outcome.referral is None and not outcome.converted and outcome.grants == []
    referral = Referral.objects.get(pk=signed[mallory].pk)
    assert (referral.status, referral.fraud_status) == (
        ReferralStatus.REJECTED,
        FraudStatus.BLOCKED,
    )
    assert referral.converted_at is None
    order_signal = FraudSignal.objects.get(referral=referral)
    assert (order_signal.stage, order_signal.name) == ("order", "same_payment")
    assert FraudDecision.objects.get(referral=referral).action == FraudAction.BLOCKED
    assert [name for name, _ in sent] == ["fraud_flagged", "referral_rejected"]
    # Her held welcome bonus is voided; Jane earns no commission, now or later.
    statuses = RewardGrant.objects.filter(referral=referral).values_list("status", flat=True)
    assert list(statuses) == [GrantStatus.VOIDED]
    events.order_completed(
        mallory,
        "M-2",
        Decimal("90.00"),
        payment_fingerprint="card:mc:5555",
        occurred_at=now + timedelta(days=2),
    )
    assert ledger.balance(jane, unit="commission") == 0

    # The honest customer, paying with their own card, converts and Jane earns 10%.
    outcome = events.order_completed(
        honest,
        "T-1",
        Decimal("80.00"),
        payment_fingerprint="card:visa:1881",
        occurred_at=now + timedelta(days=1),
    )
    assert outcome.converted
    assert ledger.balance(jane, unit="commission") == 800  # $8.00, in cents
    jane_account = accounts.get_or_create_account(jane, program=program)
    assert testing.ledger_is_consistent(jane_account)
