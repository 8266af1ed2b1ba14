"""Fraud reviews under real concurrency (invariants 6, 9 and 12): a staff decision
racing the deadline sweep, another reviewer or the customer's order is taken once; no
reward of a reviewed referral is both released and voided, none is released before the
decision, and the ledger agrees with itself."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.conf import app_settings
from django_referral_rewards.enums import FraudStatus, GrantStatus
from django_referral_rewards.exceptions import InvalidTransition
from django_referral_rewards.hashing import keyed_hash
from django_referral_rewards.models import (
    Account,
    FraudDecision,
    Referral,
    RewardGrant,
    RewardRule,
)
from django_referral_rewards.services import codes, events, ledger
from django_referral_rewards.services import fraud as fraud_service

from .concurrency import run_workers, split
from .test_ledger_concurrency import assert_consistent

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def device_request(device: str):
    from django.test import RequestFactory

    request = RequestFactory().post("/signup/", REMOTE_ADDR="198.51.100.1")
    request.COOKIES[app_settings.DEVICE_COOKIE_NAME] = device
    return request


def referrals_in_review(program, count: int, *, attached_at=None) -> list[Referral]:
    """``count`` customers of one referrer who signed up on the referrer's device."""
    RewardRule.objects.create(
        program=program,
        name="Bonus",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=Decimal(10),
    )
    RewardRule.objects.create(
        program=program,
        name="Commission",
        trigger="first_order",
        beneficiary="referrer",
        kind="commission_fixed",
        value=Decimal(5),
    )
    referrer = testing.make_user()
    code = codes.get_or_create_personal_code(referrer, program=program)
    device = "d" * 32
    seen = fraud_service.RequestHashes(device=keyed_hash(device, purpose="device"))
    fraud_service.record_traces(code.owner.member_id, hashes=seen)
    found = []
    for _ in range(count):
        referral = events.customer_signed_up(
            testing.make_user(), code=code.code, request=device_request(device), now=attached_at
        )
        assert referral.fraud_status == FraudStatus.REVIEW
        found.append(referral)
    return found


def assert_settled(referral: Referral) -> None:
    """Exactly one closing decision; grants all released (approved) or voided (rejected)."""
    referral.refresh_from_db()
    closing = FraudDecision.objects.filter(referral=referral, action__in=["approved", "rejected"])
    assert closing.count() == 1
    grants = set(RewardGrant.objects.filter(referral=referral).values_list("status", flat=True))
    if referral.fraud_status == FraudStatus.APPROVED:
        assert grants <= {GrantStatus.RELEASED}
    else:
        assert referral.fraud_status == FraudStatus.REJECTED
        assert grants <= {GrantStatus.VOIDED}


@pytest.fixture
def staff(db):
    return testing.make_user("reviewer", is_staff=True)


def test_staff_and_the_deadline_sweep_decide_once(program, staff):
    program.review_default_outcome = "reject"
    program.save()
    now = timezone.now()
    referrals = referrals_in_review(program, 4, attached_at=now - timedelta(days=8))

    def work(i: int):
        if i < 2:
            return fraud_service.resolve_due_reviews(now=now, batch_size=2)
        for referral in referrals:
            with contextlib.suppress(InvalidTransition):
                fraud_service.approve_referral(Referral.objects.get(pk=referral.pk), by=staff)
        return None

    results, _errors = split(run_workers(3, work))
    swept = [r for r in results if r is not None]
    approved_by_staff = FraudDecision.objects.filter(action="approved", automatic=False).count()
    assert sum(r.rejected for r in swept) + approved_by_staff == 4
    for referral in referrals:
        assert_settled(referral)
    for account in Account.objects.all():
        assert_consistent(account)


def test_two_reviewers_decide_once(program, staff):
    (referral,) = referrals_in_review(program, 1)
    other = testing.make_user("second", is_staff=True)

    def work(i: int):
        fresh = Referral.objects.get(pk=referral.pk)
        if i == 0:
            return fraud_service.approve_referral(fresh, by=staff)
        return fraud_service.reject_referral(fresh, by=other, reason="Ring.")

    results, errors = split(run_workers(2, work), InvalidTransition)
    assert (len(results), len(errors)) == (1, 1)
    assert_settled(referral)
    for account in Account.objects.all():
        assert_consistent(account)


def test_a_decision_racing_the_customers_first_order(program, staff):
    (referral,) = referrals_in_review(program, 1)
    customer = referral.referred.member.user

    def work(i: int):
        if i == 0:
            return fraud_service.approve_referral(Referral.objects.get(pk=referral.pk), by=staff)
        return events.order_completed(customer, "FIRST", Decimal("40.00"))

    split(run_workers(2, work))
    referral.refresh_from_db()
    assert (referral.status, referral.fraud_status) == ("converted", "approved")
    # Whichever came first, every reward of the referral ends up released: the order's
    # commission waited for the decision or came after it.
    statuses = list(RewardGrant.objects.filter(referral=referral).values_list("status", flat=True))
    assert sorted(statuses) == [GrantStatus.RELEASED, GrantStatus.RELEASED]
    assert ledger.balance(Account.objects.get(pk=referral.referrer_id), unit="commission") == 500
    for account in Account.objects.all():
        assert_consistent(account)
