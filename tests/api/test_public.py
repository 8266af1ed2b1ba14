"""GET codes/validate/: the API's twin of the non-DRF code check."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.models import RewardRule
from django_referral_rewards.services import codes

pytestmark = pytest.mark.django_db

URL = reverse("referral_rewards_api:validate_code")


@pytest.fixture
def code(program):
    RewardRule.objects.create(
        program=program,
        name="Welcome",
        trigger="signup",
        beneficiary="referee",
        kind="points",
        value=Decimal(100),
    )
    return codes.get_or_create_personal_code(testing.make_user("owner"), program=program)


def test_valid_code_answers_the_offer(api, client, code):
    response = api.get(URL, {"code": code.code.lower()})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert (body["code"], body["program"]) == (code.code, code.program.slug)
    (item,) = body["offer"]
    assert (item["trigger"], item["kind"], item["value"]) == ("signup", "points", "100")
    assert "no-store" in response["Cache-Control"]
    # The same answer as the non-DRF view.
    plain = client.get(reverse("referral_rewards:validate_code"), {"code": code.code.lower()})
    assert plain.json() == body


@pytest.mark.parametrize("typed", ["NOPE-NOPE", "x" * 200])
def test_invalid_code(api, code, typed):
    response = api.get(URL, {"code": typed})
    assert response.status_code == 200
    assert response.json() == {"valid": False}


def test_unknown_program_is_invalid(api, code):
    assert api.get(URL, {"code": code.code, "program": "nope"}).json() == {"valid": False}


def test_missing_code_is_400(api, db):
    response = api.get(URL)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_rate_limited(api, code, settings):
    settings.REFERRAL_REWARDS_RATE_LIMITS = {"validate_code": "2/m"}
    for _ in range(2):
        assert api.get(URL, {"code": code.code}).status_code == 200
    response = api.get(URL, {"code": code.code})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"
