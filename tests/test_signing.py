"""Request signatures (signing.py), shared by webhooks and host events."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.test import override_settings

from django_referral_rewards import signing
from django_referral_rewards.exceptions import SignatureInvalid

SECRET = "s" * 32
BODY = b'{"event": "points_credited"}'


def test_a_signature_is_the_documented_hmac():
    header = signing.sign(SECRET, BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signing.verify(SECRET, header, BODY, now=1_700_000_010) == SECRET


def test_the_signer_among_several_secrets_is_found():
    header = signing.sign("n" * 32, BODY, timestamp=100)
    assert signing.verify(["o" * 32, "n" * 32], header, BODY, now=100) == "n" * 32


def test_a_rotating_sender_may_give_two_macs():
    old = signing.compute("o" * 32, 100, BODY)
    new = signing.compute("n" * 32, 100, BODY)
    assert signing.verify("n" * 32, f"t=100,v1={old},v1={new}", BODY, now=100) == "n" * 32


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=100", "v1=abc", "t=soon,v1=abc", "t=100,v1="],
)
def test_malformed_headers_are_refused(header):
    with pytest.raises(SignatureInvalid):
        signing.verify(SECRET, header, BODY, now=100)


def test_another_body_or_secret_is_refused():
    header = signing.sign(SECRET, BODY, timestamp=100)
    with pytest.raises(SignatureInvalid):
        signing.verify(SECRET, header, BODY + b" ", now=100)
    with pytest.raises(SignatureInvalid):
        signing.verify("x" * 32, header, BODY, now=100)


@override_settings(REFERRAL_REWARDS_SIGNATURE_TOLERANCE=60)
def test_old_and_future_timestamps_are_refused():
    header = signing.sign(SECRET, BODY, timestamp=1000)
    assert signing.verify(SECRET, header, BODY, now=1060)
    for now in (1061, 939):
        with pytest.raises(SignatureInvalid):
            signing.verify(SECRET, header, BODY, now=now)
    assert signing.verify(SECRET, header, BODY, now=2000, tolerance=1000)


def test_the_clock_is_the_default():
    assert signing.verify(SECRET, signing.sign(SECRET, BODY), BODY)
