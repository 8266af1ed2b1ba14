"""The host event endpoints: host-key authentication (bearer and signature), each event's
effect, idempotency (per order and per Idempotency-Key) and input validation."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from django_referral_rewards import signing, testing
from django_referral_rewards.enums import GrantStatus, ReferralStatus, Unit
from django_referral_rewards.models import Order, Referral, RewardGrant, RewardRule
from django_referral_rewards.services import codes, ledger

from .conftest import HOST_KEY

pytestmark = pytest.mark.django_db

SIGNUP = reverse("referral_rewards_api:event_signup")
ACTIVATION = reverse("referral_rewards_api:event_activation")
ORDER = reverse("referral_rewards_api:event_order_completed")
REFUND = reverse("referral_rewards_api:event_order_refunded")


@pytest.fixture
def host_keys(settings):
    settings.REFERRAL_REWARDS_API_HOST_KEYS = {"shop": HOST_KEY}


@pytest.fixture
def referrer(db):
    return testing.make_user("referrer")


@pytest.fixture
def code(program, referrer):
    return codes.get_or_create_personal_code(referrer, program=program)


@pytest.fixture
def newcomer(db):
    return testing.make_user("newcomer")


@pytest.fixture
def loyalty(program):
    """One point per currency unit spent; a 10% commission for the referrer."""
    program.points_per_unit = Decimal(1)
    program.save()
    RewardRule.objects.create(
        program=program,
        name="10% of the first order",
        trigger="first_order",
        beneficiary="referrer",
        kind="commission_percent",
        value=Decimal(10),
    )
    return program


def signed_post(client: APIClient, url: str, body: dict, *, secret: str = HOST_KEY, **kw):
    raw = json.dumps(body).encode()
    header = signing.sign(secret, raw, **kw)
    return client.post(
        url, raw, content_type="application/json", HTTP_REFERRAL_REWARDS_SIGNATURE=header
    )


# --- authentication ---------------------------------------------------------------------


def test_bearer_key_accepted(host_api, newcomer, code):
    response = host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["referred"] is True


def test_signature_accepted(host_keys, newcomer, code):
    response = signed_post(APIClient(), SIGNUP, {"username": "newcomer", "code": code.code})
    assert response.status_code == 200, response.json()
    assert response.json()["referral"]["code"] == code.code


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": "Bearer not-the-key-0123456789abcdef0123456789"},
        {"HTTP_AUTHORIZATION": f"Bearer {HOST_KEY} extra"},
        {"HTTP_REFERRAL_REWARDS_SIGNATURE": "t=1,v1=00"},
        {"HTTP_REFERRAL_REWARDS_SIGNATURE": "garbage"},
    ],
    ids=["wrong-key", "malformed-bearer", "bad-signature", "malformed-signature"],
)
def test_wrong_credentials_are_401(host_keys, newcomer, headers):
    response = APIClient().post(SIGNUP, {"user": newcomer.pk}, format="json", **headers)
    assert response.status_code == 401
    codes = {"authentication_failed", "invalid_host_key", "invalid_signature"}
    assert response.json()["error"]["code"] in codes


def test_stale_or_foreign_signature_is_401(host_keys, newcomer):
    body = {"user": newcomer.pk}
    stale = signed_post(APIClient(), SIGNUP, body, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    other = signed_post(APIClient(), SIGNUP, body, secret="another-secret-0123456789abcdef0123")
    assert other.status_code == 401
    # A signature of another body does not cover this one.
    header = signing.sign(HOST_KEY, b'{"user": 0}')
    tampered = APIClient().post(
        SIGNUP, json.dumps(body), content_type="application/json",
        HTTP_REFERRAL_REWARDS_SIGNATURE=header,
    )  # fmt: skip
    assert tampered.status_code == 401
    assert not Referral.objects.exists()


def test_no_credentials_refused(host_keys, api, newcomer):
    response = api.post(SIGNUP, {"user": newcomer.pk}, format="json")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_signed_in_staff_is_refused(host_keys, newcomer, code):
    staff = testing.make_user("boss", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(staff)  # a session: events take a host key only
    response = client.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    assert response.status_code in (401, 403)
    assert not Referral.objects.exists()


# --- effects ----------------------------------------------------------------------------


def test_signup_attaches_a_referral(host_api, newcomer, code, referrer):
    response = host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    body = response.json()
    referral = Referral.objects.get(referred__member__user=newcomer)
    assert referral.referrer.member.user == referrer
    assert body["referral"]["id"] == referral.pk
    assert body["referral"]["status"] == ReferralStatus.PENDING
    assert body["referral"]["program"] == code.program.slug
    # Sending it again answers the same referral.
    again = host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    assert again.json()["referral"]["id"] == referral.pk
    assert Referral.objects.count() == 1


def test_signup_without_code_attaches_nothing(host_api, newcomer):
    response = host_api.post(SIGNUP, {"user": newcomer.pk}, format="json")
    assert response.status_code == 200
    assert response.json() == {"referred": False, "referral": None}


def test_signup_client_hints_are_the_customers_not_the_hosts(host_api, newcomer, code):
    body = {
        "user": newcomer.pk,
        "code": code.code,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "device_id": "d" * 32,
    }
    assert host_api.post(SIGNUP, body, format="json").status_code == 200
    referral = Referral.objects.get()
    assert referral.ip_hash and referral.device_hash and referral.user_agent_hash
    # Without hints, nothing about the host's own server is recorded as the customer's.
    other = testing.make_user("other")
    host_api.post(SIGNUP, {"user": other.pk, "code": code.code}, format="json")
    assert Referral.objects.get(referred__member__user=other).ip_hash == ""


def test_unknown_code_and_user(host_api, newcomer):
    response = host_api.post(SIGNUP, {"user": newcomer.pk, "code": "NOPE-NOPE"}, format="json")
    assert response.status_code == 404
    missing = host_api.post(SIGNUP, {"username": "ghost"}, format="json")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "user_not_found"
    missing = host_api.post(SIGNUP, {"user": 987654}, format="json")
    assert missing.json()["error"]["code"] == "user_not_found"


def test_unknown_program_is_404(host_api, newcomer):
    response = host_api.post(SIGNUP, {"user": newcomer.pk, "program": "nope"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "program_not_found"


def test_activation(host_api, program, newcomer, code):
    program.conversion_event = "activation"
    program.save()
    host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    response = host_api.post(ACTIVATION, {"username": "newcomer"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["referral"]["status"] == ReferralStatus.CONVERTED
    assert Referral.objects.get().status == ReferralStatus.CONVERTED
    # A customer who was not referred: no referral.
    loner = testing.make_user("loner")
    assert host_api.post(ACTIVATION, {"user": loner.pk}, format="json").json() == {"referral": None}


def test_order_credits_points_and_converts(host_api, loyalty, newcomer, code, referrer):
    host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    body = {"user": newcomer.pk, "order_id": "A-1", "amount": "80.00", "currency": "usd"}
    response = host_api.post(ORDER, body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["created"] is True and data["converted"] is True
    assert data["points_earned"] == 80
    assert data["order"]["amount"] == "80.00"
    (grant,) = data["grants"]
    assert (grant["kind"], grant["value"]) == ("commission_percent", "8.00")
    assert data["points_grant"]["value"] == "80"
    assert Referral.objects.get().status == ReferralStatus.CONVERTED
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 800


def test_same_order_twice_is_one_order(host_api, loyalty, newcomer):
    body = {"user": newcomer.pk, "order_id": "A-1", "amount": "50.00"}
    first = host_api.post(ORDER, body, format="json").json()
    again = host_api.post(ORDER, body, format="json").json()
    assert (first["created"], again["created"]) == (True, False)
    assert again["order"]["id"] == first["order"]["id"]
    assert Order.objects.count() == 1
    assert RewardGrant.objects.filter(account__member__user=newcomer).count() == 1


def test_same_order_other_amount_is_422(host_api, loyalty, newcomer):
    host_api.post(ORDER, {"user": newcomer.pk, "order_id": "A-1", "amount": "50"}, format="json")
    response = host_api.post(
        ORDER, {"user": newcomer.pk, "order_id": "A-1", "amount": "60"}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert Order.objects.get().amount == Decimal("50")


def test_refund_reverses(host_api, loyalty, newcomer, code, referrer):
    host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    order = {"user": newcomer.pk, "order_id": "A-1", "amount": "80.00"}
    host_api.post(ORDER, order, format="json")
    partial = host_api.post(
        REFUND, {"user": newcomer.pk, "order_id": "A-1", "amount": "20.00"}, format="json"
    )
    assert partial.status_code == 200, partial.json()
    assert partial.json()["amount"] == "20.00"
    assert partial.json()["order"]["refunded_amount"] == "20.00"
    full = host_api.post(REFUND, {"user": newcomer.pk, "order_id": "A-1"}, format="json").json()
    assert full["amount"] == "60.00"
    assert full["unconverted"] is True
    # Released at once (no hold days): the points and the commission are reversed.
    assert [g["status"] for g in full["reversed"]] == [GrantStatus.REVERSED] * 2
    assert Referral.objects.get().status == ReferralStatus.PENDING
    assert ledger.balance(referrer, unit=Unit.COMMISSION) == 0
    unknown = host_api.post(REFUND, {"user": newcomer.pk, "order_id": "ZZ"}, format="json")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "order_not_found"


def test_refund_of_held_rewards_voids_them(host_api, loyalty, newcomer, code):
    loyalty.hold_days = 14
    loyalty.save()
    host_api.post(SIGNUP, {"user": newcomer.pk, "code": code.code}, format="json")
    host_api.post(ORDER, {"user": newcomer.pk, "order_id": "A-1", "amount": "80"}, format="json")
    full = host_api.post(REFUND, {"user": newcomer.pk, "order_id": "A-1"}, format="json").json()
    assert full["voided"] and {g["status"] for g in full["voided"]} == {GrantStatus.VOIDED}
    assert not RewardGrant.objects.exclude(status=GrantStatus.VOIDED).exists()


def test_idempotency_key_replays(host_api, loyalty, newcomer):
    body = {"user": newcomer.pk, "order_id": "A-1", "amount": "50.00"}
    first = host_api.post(ORDER, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = host_api.post(ORDER, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()  # the stored answer: created is still true
    assert again.json()["created"] is True
    other = dict(body, order_id="A-2")
    conflict = host_api.post(ORDER, other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert conflict.status_code == 422
    assert Order.objects.count() == 1


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "abc"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "5.001"}, "amount"),  # more decimals than USD has
        ({"amount": "5.00001"}, "amount"),  # more than any amount may have
        ({"currency": "EUR"}, "currency"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "x" * 101}, "order_id"),
        ({"username": "newcomer"}, "username"),  # and user: both
        ({"user": "abc"}, "user"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
    ],
)
def test_bad_order_input_names_the_field(host_api, newcomer, change, field):
    body = {"user": newcomer.pk, "order_id": "A-1", "amount": "5.00", **change}
    response = host_api.post(ORDER, body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not Order.objects.exists()


def test_no_customer_is_400(host_api):
    response = host_api.post(ORDER, {"order_id": "A-1", "amount": "5"}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()["error"]["fields"]


def test_zero_refund_is_400(host_api, newcomer):
    response = host_api.post(
        REFUND, {"user": newcomer.pk, "order_id": "A-1", "amount": "0"}, format="json"
    )
    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]
