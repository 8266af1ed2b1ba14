"""Error answers (api/errors.py): one JSON shape with a stable code for every error."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import serializers

from django_referral_rewards import exceptions as rr
from django_referral_rewards.api.errors import exception_handler, status_for


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (rr.InvalidAmount(), 400, "invalid_amount"),
        (rr.CodeExpired(), 400, "code_expired"),
        (rr.ProgramNotFound(), 404, "program_not_found"),
        (rr.VoucherNotFound(), 404, "voucher_not_found"),
        (rr.InsufficientBalance(balance=4, requested=9), 409, "insufficient_balance"),
        (rr.OutOfStock(), 409, "out_of_stock"),
        (rr.PayoutBelowMinimum(), 409, "payout_below_minimum"),
        (rr.InvalidTransition(), 409, "invalid_transition"),
        (rr.IdempotencyConflict(), 422, "idempotency_conflict"),
        (rr.SignatureInvalid(), 401, "invalid_signature"),
        (rr.ReferralRewardsError(), 400, "error"),
    ],
)
def test_package_errors_keep_their_code_and_get_a_status(exc, status, code):
    answer = exception_handler(exc, {})
    assert answer.status_code == status_for(exc) == status
    assert answer.data == {"error": {"code": code, "message": exc.message, "fields": {}}}


def test_a_rate_limit_says_when_to_retry():
    answer = exception_handler(rr.RateLimited(retry_after=7), {})
    assert answer.status_code == 429
    assert answer["Retry-After"] == "7"
    assert "7 seconds" in answer.data["error"]["message"]


def test_a_configuration_error_is_a_server_error_with_a_body():
    answer = exception_handler(rr.ConfigurationError("REFERRAL_REWARDS_X is wrong"), {})
    assert answer.status_code == 500
    assert answer.data["error"]["code"] == "configuration"


def test_validation_errors_say_which_field():
    class Child(serializers.Serializer):
        day = serializers.DateField()

    class Body(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=5, decimal_places=2)
        child = Child()

    body = Body(data={"amount": "abc", "child": {"day": "tomorrow"}})
    assert not body.is_valid()
    answer = exception_handler(drf.ValidationError(body.errors), {})
    assert answer.status_code == 400
    error = answer.data["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["amount"] == [
        {"code": "invalid", "message": "A valid number is required."}
    ]
    (nested,) = error["fields"]["child"]
    assert nested["code"] == "invalid" and nested["message"].startswith("day: ")


def test_errors_of_the_whole_request_are_non_field_errors():
    answer = exception_handler(drf.ValidationError("Give user or username."), {})
    assert answer.data["error"]["fields"] == {
        "non_field_errors": [{"code": "invalid", "message": "Give user or username."}]
    }


def test_django_errors_become_json_too():
    assert exception_handler(Http404("x"), {}).data["error"]["code"] == "not_found"
    assert exception_handler(PermissionDenied(), {}).status_code == 403
    by_field = exception_handler(DjangoValidationError({"slug": ["Taken."]}), {})
    assert by_field.data["error"]["fields"]["slug"][0]["message"] == "Taken."
    whole = exception_handler(DjangoValidationError("Bad."), {})
    assert whole.data["error"]["fields"]["non_field_errors"][0]["message"] == "Bad."


def test_drf_errors_keep_their_codes_and_headers():
    unauthenticated = drf.NotAuthenticated()
    unauthenticated.auth_header = "Bearer"
    answer = exception_handler(unauthenticated, {})
    assert (answer.status_code, answer["WWW-Authenticate"]) == (401, "Bearer")
    assert answer.data["error"]["code"] == "not_authenticated"
    throttled = exception_handler(drf.Throttled(wait=3), {})
    assert (throttled.status_code, throttled["Retry-After"]) == (429, "3")
    assert exception_handler(drf.MethodNotAllowed("PUT"), {}).data["error"]["code"] == (
        "method_not_allowed"
    )


def test_other_exceptions_are_left_to_django():
    assert exception_handler(RuntimeError("boom"), {}) is None


def test_an_unknown_url_method_and_body_through_the_client(member_api):
    assert member_api.put("/test-api/credit/", {}, format="json").json()["error"]["code"] == (
        "method_not_allowed"
    )
    broken = member_api.post("/test-api/credit/", "{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "parse_error"


def test_anonymous_clients_are_told_to_authenticate(api):
    answer = api.post("/test-api/credit/", {"amount": 1}, format="json")
    assert answer.status_code in (401, 403)
    assert answer.json()["error"]["code"] == "not_authenticated"
