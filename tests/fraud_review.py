"""Referrals in fraud review, for the tests of the review workflow (the fraud admin and
the staff API): Jane's code, whose referred sign-ups score into review."""

from __future__ import annotations

from decimal import Decimal

from django.test import RequestFactory

from django_referral_rewards import testing
from django_referral_rewards.models import Referral, ReferralCode, RewardRule
from django_referral_rewards.services import codes, events
from django_referral_rewards.services import fraud as fraud_service


def request_from(ip: str):
    return RequestFactory().post("/signup/", REMOTE_ADDR=ip, HTTP_USER_AGENT="Mozilla/5.0 test")


def janes_code(program) -> ReferralCode:
    """Jane's code; her sign-up bonus (100 points, no hold) waits for any review."""
    RewardRule.objects.create(
        program=program,
        name="Referral bonus",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=Decimal(100),
        hold_days=0,
    )
    jane = testing.make_user("jane", email="jane.doe@gmail.com")
    found = codes.get_or_create_personal_code(jane, program=program)
    # Jane has been seen on this network: a customer signing up from it is suspicious.
    fraud_service.record_traces(found.owner.member_id, request=request_from("203.0.113.7"))
    return found


def sign_up(code, name: str, *, disposable: bool = True, ip: str | None = None) -> Referral:
    """A referred sign-up: at a disposable e-mail domain it scores 50 (review); from
    Jane's network 40 more (review, with evidence)."""
    domain = "mailinator.com" if disposable else "example.org"
    user = testing.make_user(name, email=f"{name}@{domain}")
    request = request_from(ip) if ip else None
    referral = events.customer_signed_up(user, code=code.code, request=request)
    assert referral is not None
    return referral
