"""Rate limits (``ratelimit.py``), the public code check (``views/codes.py``), the
limited share link, the rate-limit system checks, and the entropy figures in the docs."""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.checks import run_checks
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse

from django_referral_rewards import codes as code_format
from django_referral_rewards import ratelimit, testing
from django_referral_rewards.conf import DEFAULT_RATE_LIMITS, app_settings, get_member_model
from django_referral_rewards.enums import RewardKind
from django_referral_rewards.exceptions import ConfigurationError, RateLimited
from django_referral_rewards.models import Campaign, Program, RewardRule, Visit
from django_referral_rewards.ratelimit import (
    Rate,
    check_request,
    client_identity,
    hit,
    parse_rate,
    rate_limited,
    too_many_requests,
)
from django_referral_rewards.services import codes, vouchers
from django_referral_rewards.views.codes import describe_reward, describe_rule

from .conftest import days

DOCS = Path(__file__).resolve().parent.parent / "docs"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
#: A timestamp on a window boundary of every window used below (60 s, 10 s).
T0 = 1_000_020
VALIDATE_URL = "/codes/validate/"


@pytest.fixture(autouse=True)
def rl_cache():
    """A fresh local-memory cache for the counters of each test (and a separate default
    cache), so tests never see each other's counts."""
    name = uuid.uuid4().hex
    with override_settings(
        CACHES={
            "default": {"BACKEND": LOCMEM, "LOCATION": f"default-{name}"},
            "ratelimit": {"BACKEND": LOCMEM, "LOCATION": f"ratelimit-{name}"},
        },
        REFERRAL_REWARDS_RATE_LIMIT_CACHE="ratelimit",
    ):
        yield caches["ratelimit"]
        caches["ratelimit"].clear()
        caches["default"].clear()


class Clock:
    """Stands in for the ``time`` module inside ``ratelimit``: each reading advances."""

    def __init__(self, start: float, step: float = 0.0) -> None:
        self.now = start
        self.step = step

    def time(self) -> float:
        value = self.now
        self.now += self.step
        return value


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(T0)
    monkeypatch.setattr(ratelimit, "time", clock)
    return clock


def request(ip="203.0.113.9", user=None, accept=""):
    extra = {"REMOTE_ADDR": ip}
    if accept:
        extra["HTTP_ACCEPT"] = accept
    req = RequestFactory().get("/", **extra)
    if user is not None:
        req.user = user
    return req


def row_counts() -> dict[str, int]:
    """Rows of every model of the app (and the member model and users, wherever they
    live)."""
    models = set(apps.get_app_config("referral_rewards").get_models())
    models |= {get_member_model(), get_user_model()}
    return {model._meta.label: model._default_manager.count() for model in models}


# --- parse_rate and settings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20/m", (20, 60)),
        ("100/10m", (100, 600)),
        ("5/s", (5, 1)),
        ("3/h", (3, 3600)),
        ("1000/d", (1000, 86400)),
        ("10/minute", (10, 60)),
        ("2/Hours", (2, 3600)),
        (" 7 / 30 sec ", (7, 30)),
        ("1/2days", (1, 172800)),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected
    assert parse_rate(text) == Rate(*expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a rate"),
        ("20", "is not a rate"),
        ("m/20", "is not a rate"),
        ("20/w", "is not a rate"),
        ("twenty/m", "is not a rate"),
        ("-1/m", "is not a rate"),
        ("2.5/m", "is not a rate"),
        ("0/m", "at least 1"),
        ("5/0m", "at least 1"),
        (20, "is a string"),
        (None, "is a string"),
    ],
)
def test_parse_rate_refuses_malformed_rates_clearly(text, message):
    with pytest.raises(ConfigurationError, match=message) as info:
        parse_rate(text)
    assert info.value.code == "configuration"


def test_rate_limits_merge_over_the_defaults():
    assert app_settings.RATE_LIMITS == DEFAULT_RATE_LIMITS
    with override_settings(
        REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "5/m", "landing": None, "signup": "3/h"}
    ):
        limits = app_settings.RATE_LIMITS
    assert limits == {
        "validate_code": "5/m",
        "landing": None,
        "redeem": "10/m",
        "payout": "5/m",
        "signup": "3/h",
    }
    with override_settings(REFERRAL_REWARDS_RATE_LIMITS={"landing": ""}):
        assert app_settings.RATE_LIMITS["landing"] is None
        assert ratelimit.rate_for("landing") is None
    assert ratelimit.rate_for("validate_code") == (20, 60)


def test_rate_limits_setting_errors_name_the_setting_and_scope():
    with (
        override_settings(REFERRAL_REWARDS_RATE_LIMITS={"redeem": "10 per minute"}),
        pytest.raises(ConfigurationError, match=r"RATE_LIMITS\['redeem'\].*not a rate"),
    ):
        app_settings.RATE_LIMITS  # noqa: B018
    with (
        override_settings(REFERRAL_REWARDS_RATE_LIMITS=["20/m"]),
        pytest.raises(ConfigurationError, match="must be a dict"),
    ):
        app_settings.RATE_LIMITS  # noqa: B018


def test_an_unknown_scope_is_an_error_not_an_open_door():
    with pytest.raises(ConfigurationError, match=r"'sigup'.*RATE_LIMITS"):
        check_request(request(), "sigup")


def test_an_unknown_cache_alias_is_a_clear_error():
    with (
        override_settings(REFERRAL_REWARDS_RATE_LIMIT_CACHE="nope"),
        pytest.raises(ConfigurationError, match="RATE_LIMIT_CACHE = 'nope'"),
    ):
        hit("s", "ip:1", "1/m", now=T0)


# --- the limiter ---------------------------------------------------------------------------


def test_the_limit_is_counted_and_refusal_says_when_to_come_back():
    verdicts = [hit("s", "ip:a", "3/m", now=T0 + n) for n in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, True]
    assert [v.remaining for v in verdicts] == [2, 1, 0]
    assert {(v.limit, v.retry_after, v.scope) for v in verdicts} == {(3, 0, "s")}

    refused = hit("s", "ip:a", "3/m", now=T0 + 10)
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 3, 0)
    # The window ends in 50 s; then its 3 requests fade out over the next window, and
    # one more fits once a third of them has (20 s later).
    assert refused.retry_after == 70
    late = hit("s", "ip:a", "3/m", now=T0 + 79)
    assert (late.allowed, late.retry_after) == (False, 1)
    assert hit("s", "ip:a", "3/m", now=T0 + 80).allowed


def test_refused_requests_are_not_counted():
    for n in range(3):
        assert hit("s", "ip:a", "3/m", now=T0 + n).allowed
    for n in range(50):  # hammering does not push the next allowed request further away
        assert hit("s", "ip:a", "3/m", now=T0 + 10 + n).retry_after == 70 - n
    assert hit("s", "ip:a", "3/m", now=T0 + 80).allowed


def test_a_window_boundary_does_not_double_the_limit():
    for _ in range(3):
        assert hit("s", "ip:a", "3/m", now=T0 + 59).allowed
    # A plain fixed window would allow three more at T0 + 60.
    assert not hit("s", "ip:a", "3/m", now=T0 + 60).allowed
    assert not hit("s", "ip:a", "3/m", now=T0 + 61).allowed


def test_counts_roll_over_with_the_windows():
    for n in range(3):
        assert hit("s", "ip:a", "3/m", now=T0 + n).allowed
    assert not hit("s", "ip:a", "3/m", now=T0 + 30).allowed
    fresh = hit("s", "ip:a", "3/m", now=T0 + 120)  # the full window is two windows ago
    assert (fresh.allowed, fresh.remaining) == (True, 2)


def test_retry_after_while_the_previous_window_fades():
    for _ in range(4):
        assert hit("s", "ip:a", "4/10s", now=T0 + 9).allowed
    # At T0 + 12 the previous window still weighs 4 * 8/10 = 3.2; the current one has
    # room, so the wait is until 4 * w/10 + 1 <= 4, i.e. w <= 7.5: 0.5 s, rounded up.
    refused = hit("s", "ip:a", "4/10s", now=T0 + 12)
    assert (refused.allowed, refused.retry_after) == (False, 1)
    assert hit("s", "ip:a", "4/10s", now=T0 + 12.5).allowed


def test_scopes_identities_and_rates_are_counted_apart():
    assert hit("a", "ip:1", "1/m", now=T0).allowed
    assert not hit("a", "ip:1", "1/m", now=T0).allowed
    assert hit("b", "ip:1", "1/m", now=T0).allowed  # another scope
    assert hit("a", "ip:2", "1/m", now=T0).allowed  # another identity
    assert hit("a", "ip:1", "1/h", now=T0).allowed  # another window starts afresh
    # The same window with a higher limit goes on from the same count.
    raised = hit("a", "ip:1", Rate(2, 60), now=T0)
    assert (raised.allowed, raised.remaining) == (True, 0)
    assert not hit("a", "ip:1", (2, 60), now=T0).allowed


def test_no_rate_means_no_limit():
    for _ in range(5):
        verdict = hit("s", "ip:a", None, now=T0)
        assert verdict == ratelimit.Verdict(True, None, None, 0, "s")
    assert hit("s", "ip:a", "", now=T0).allowed
    ratelimit.release("s", "ip:a", None, now=T0)  # nothing to give back
    with pytest.raises(ConfigurationError, match="at least 1"):
        hit("s", "ip:a", (0, 60), now=T0)


def test_datetimes_are_accepted_as_now(now):
    assert hit("s", "ip:a", "1/m", now=now).allowed
    assert not hit("s", "ip:a", "1/m", now=now).allowed


def test_cache_keys_hold_no_raw_identity(rl_cache):
    hit("s", "ip:203.0.113.9", "5/m", now=T0)
    hit("s", "user:4242", "5/m", now=T0)
    keys = list(rl_cache._cache)
    assert len(keys) == 2
    assert not any("203.0.113.9" in key or "4242" in key for key in keys)


class FlakyCache:
    """A cache whose keys vanish between ``add`` and ``incr`` ``vanish`` times."""

    def __init__(self, vanish: int) -> None:
        self.vanish = vanish
        self.data: dict[str, int] = {}

    def add(self, key, value, timeout):
        if key in self.data:
            return False
        self.data[key] = value
        return True

    def incr(self, key):
        if self.vanish:
            self.vanish -= 1
            self.data.setdefault(key, 7)  # add() keeps seeing it...
            raise ValueError(key)  # ...but it expires before incr()
        self.data[key] += 1
        return self.data[key]

    def set(self, key, value, timeout):
        self.data[key] = value


@pytest.mark.parametrize(("vanish", "expected"), [(0, 8), (1, 8), (2, 8), (3, 1)])
def test_a_counter_expiring_between_add_and_incr_is_tolerated(vanish, expected):
    cache = FlakyCache(vanish)
    cache.data["k"] = 7
    assert ratelimit._increment(cache, "k", 60) == expected
    assert cache.data["k"] == expected


def test_a_fresh_counter_starts_at_one():
    cache = FlakyCache(0)
    assert ratelimit._increment(cache, "k", 60) == 1
    assert ratelimit._increment(cache, "k", 60) == 2


# --- per IP and per user ---------------------------------------------------------------------


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "3/m"})
def test_two_ips_are_limited_independently():
    for _ in range(3):
        assert check_request(request("198.51.100.1"), "validate_code", now=T0).allowed
    assert not check_request(request("198.51.100.1"), "validate_code", now=T0).allowed
    assert check_request(request("198.51.100.2"), "validate_code", now=T0).allowed


@pytest.mark.django_db
@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "3/m"})
def test_a_user_switching_ips_is_still_limited():
    user = testing.make_user()
    ips = [f"198.51.100.{n}" for n in range(1, 6)]
    verdicts = [check_request(request(ip, user), "validate_code", now=T0) for ip in ips[:4]]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[3].retry_after > 0
    # The refused request was not counted against its IP address either.
    anonymous = check_request(request(ips[3]), "validate_code", now=T0)
    assert (anonymous.allowed, anonymous.remaining) == (True, 2)


@pytest.mark.django_db
@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "3/m"})
def test_users_behind_one_address_share_its_limit():
    first, second = testing.make_user(), testing.make_user()
    assert check_request(request(user=first), "validate_code", now=T0).remaining == 2
    assert check_request(request(user=second), "validate_code", now=T0).remaining == 1
    assert check_request(request(user=first), "validate_code", now=T0).remaining == 0
    assert not check_request(request(user=second), "validate_code", now=T0).allowed


@pytest.mark.parametrize(
    ("ip", "identity"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("", ""),
        ("unknown", "unknown"),
    ],
)
def test_client_identity(ip, identity):
    assert client_identity(ip) == identity


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "2/m"})
def test_an_ipv6_client_cannot_escape_by_changing_its_interface_id():
    for suffix in ("1", "2"):
        assert check_request(request(f"2001:db8::{suffix}"), "validate_code", now=T0).allowed
    assert not check_request(request("2001:db8::3"), "validate_code", now=T0).allowed
    assert check_request(request("2001:db8:0:1::1"), "validate_code", now=T0).allowed


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "1/m"})
def test_enforce_raises_rate_limited_with_the_wait():
    assert ratelimit.enforce(request(), "validate_code", now=T0).allowed
    with pytest.raises(RateLimited) as info:
        ratelimit.enforce(request(), "validate_code", now=T0 + 15)
    assert info.value.code == "rate_limited"
    assert info.value.retry_after == 45 + 60
    assert info.value.context == {"retry_after": 105, "scope": "validate_code"}


def test_rate_limited_exception_defaults():
    exc = RateLimited(retry_after=0)
    assert exc.retry_after == 1
    assert exc.message == "Too many requests; try again in 1 second."
    assert RateLimited(retry_after=30).message == "Too many requests; try again in 30 seconds."
    assert RateLimited("Slow down.", retry_after=9).message == "Slow down."


def test_error_messages_are_in_the_active_language():
    from django.utils import translation

    from django_referral_rewards.exceptions import CodeExpired

    with translation.override("fr"):
        assert RateLimited(retry_after=30).message == (
            "Trop de requêtes\xa0; réessayez dans 30 secondes."
        )
        assert CodeExpired().message == "Ce code a expiré."
    assert CodeExpired().message == "This code has expired."


# --- the 429 response --------------------------------------------------------------------------


def test_429_is_json_for_clients_that_prefer_it():
    response = too_many_requests(request(accept="application/json"), 42)
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {
            "code": "rate_limited",
            "message": "Too many requests. Please try again in 42 seconds.",
            "retry_after": 42,
        }
    }
    assert "no-store" in response["Cache-Control"]
    assert "Accept" in response["Vary"]


@pytest.mark.parametrize("accept", ["", "*/*", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"])
def test_429_is_an_html_page_for_browsers(accept):
    response = too_many_requests(request(accept=accept), 1)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "<title>Too many requests</title>" in body
    assert "Please try again in 1 second." in body
    assert "no-store" in response["Cache-Control"]


def test_429_json_can_be_forced_and_retry_after_is_at_least_one():
    response = too_many_requests(request(accept="text/html"), 0, json=True)
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert not response.has_header("Vary")
    html = too_many_requests(request(accept="application/json"), 3, json=False)
    assert html["Content-Type"].startswith("text/html")


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": "1/m"})
def test_the_decorator_answers_429_before_calling_the_view(clock):
    calls = []

    @rate_limited("validate_code")
    def view(request):
        calls.append(request)
        return HttpResponse("ok")

    assert view(request()).status_code == 200
    refused = view(request(accept="application/json"))
    assert refused.status_code == 429
    # With a limit of 1, the request counts until its window has entirely faded.
    assert refused["Retry-After"] == "120"
    assert len(calls) == 1
    assert view.__name__ == "view"


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"redeem": "1/m"})
def test_the_decorator_counts_only_the_methods_it_is_given(clock):
    """Looking at a form (GET) does not use up the allowance of sending it (POST)."""

    @rate_limited("redeem", methods=("post",))
    def view(request):
        return HttpResponse("ok")

    def post():
        return view(RequestFactory().post("/", REMOTE_ADDR="203.0.113.9"))

    assert [view(request()).status_code for _ in range(5)] == [200] * 5
    assert post().status_code == 200
    assert post().status_code == 429
    assert view(request()).status_code == 200  # reading stays allowed


def test_the_decorator_turns_rate_limited_raised_by_the_view_into_429(clock):
    @rate_limited("validate_code", json=True)
    def view(request):
        raise RateLimited(retry_after=17)

    response = view(request())
    assert (response.status_code, response["Retry-After"]) == (429, "17")
    assert json.loads(response.content)["error"]["code"] == "rate_limited"


# --- the public code check -------------------------------------------------------------------


@pytest.fixture
def referrer(db):
    return testing.make_user()


@pytest.fixture
def code(referrer, program):
    return codes.get_or_create_personal_code(referrer, program=program)


def add_rule(program, **fields) -> RewardRule:
    defaults = {
        "name": "Internal name",
        "trigger": "signup",
        "beneficiary": "referee",
        "kind": "points",
        "value": Decimal(100),
    }
    defaults.update(fields)
    return RewardRule.objects.create(program=program, **defaults)


def get_json(client, params, **extra):
    response = client.get(VALIDATE_URL, params, **extra)
    return response.status_code, json.loads(response.content)


def test_the_url_is_named():
    assert reverse("referral_rewards:validate_code") == VALIDATE_URL


def test_a_valid_code_shows_its_offer(client, code, program, django_assert_max_num_queries):
    add_rule(program, value=Decimal(100), description="Welcome bonus")
    add_rule(program, beneficiary="referrer", value=Decimal(500))  # not the customer's
    add_rule(program, trigger="first_order", kind="voucher_percent", value=Decimal("10.00"))
    add_rule(program, trigger="activation", kind="credit", value=Decimal("5"))
    add_rule(program, trigger="every_order", value=Decimal(1))  # not a sign-up offer
    add_rule(program, active=False, value=Decimal(9999))
    typed = f"{code.code[:4].lower()}-{code.code[4:].lower()}"
    with django_assert_max_num_queries(2):
        status, body = get_json(client, {"code": typed})
    assert status == 200
    assert body == {
        "valid": True,
        "code": code.code,
        "program": program.slug,
        "offer": [
            {
                "trigger": "signup",
                "kind": "points",
                "value": "100",
                "currency": None,
                "summary": "100 points when you sign up",
                "description": "Welcome bonus",
            },
            {
                "trigger": "activation",
                "kind": "credit",
                "value": "5.00",
                "currency": "USD",
                "summary": "5.00 USD of account credit when your account is activated",
                "description": "",
            },
            {
                "trigger": "first_order",
                "kind": "voucher_percent",
                "value": "10",
                "currency": None,
                "summary": "A 10% discount voucher on your first order",
                "description": "",
            },
        ],
    }


def test_campaign_rules_replace_the_programs_of_the_same_trigger(client, program):
    summer = Campaign.objects.create(program=program, name="Summer", slug="summer")
    other = Campaign.objects.create(program=program, name="Other", slug="other")
    add_rule(program, value=Decimal(100))  # replaced by the campaign's sign-up rule
    add_rule(program, trigger="activation", value=Decimal(50))  # replaced (referrer rule)
    add_rule(program, trigger="first_order", value=Decimal(25))  # kept
    add_rule(program, campaign=summer, kind="credit", value=Decimal("7.50"))
    add_rule(program, campaign=summer, trigger="activation", beneficiary="referrer")
    add_rule(program, campaign=other, value=Decimal(1))  # another campaign's
    add_rule(program, campaign=summer, trigger="first_order", value=Decimal(0))  # policy skips
    house = codes.create_code("SUMMER25", campaign=summer)
    status, body = get_json(client, {"code": "summer25"})
    assert (status, body["code"], body["program"]) == (200, house.code, program.slug)
    assert [item["summary"] for item in body["offer"]] == [
        "7.50 USD of account credit when you sign up",
    ]


def test_a_program_without_customer_rewards_has_an_empty_offer(client, code):
    assert get_json(client, {"code": code.code}) == (
        200,
        {"valid": True, "code": code.code, "program": code.program.slug, "offer": []},
    )


def test_invalid_codes_all_look_the_same(client, program, code, referrer, now):
    expired = codes.create_code("OLDCODE", program=program, expires_at=now - days(1))
    inactive = codes.create_code("OFFCODE", program=program, active=False)
    exhausted = codes.create_code("USEDUP", program=program, max_uses=1)
    codes.use_code(exhausted.code, user=testing.make_user())
    mistyped = code.code[:-1] + ("0" if code.code[-1] != "0" else "1")
    answers = {
        typed: get_json(client, {"code": typed})
        for typed in ("NOSUCHCODE", mistyped, expired.code, inactive.code, exhausted.code, "x" * 65)
    }
    for typed, answer in answers.items():
        assert answer == (200, {"valid": False}), typed
    client.force_login(referrer)  # one's own code is not valid for oneself
    assert get_json(client, {"code": code.code}) == (200, {"valid": False})
    client.force_login(testing.make_user())
    assert get_json(client, {"code": code.code})[1]["valid"] is True


def test_the_program_parameter_narrows_the_check(client, code, program):
    other = testing.make_program()
    assert get_json(client, {"code": code.code, "program": program.slug})[1]["valid"] is True
    assert get_json(client, {"code": code.code, "program": other.slug}) == (200, {"valid": False})
    assert get_json(client, {"code": code.code, "program": "no-such"}) == (200, {"valid": False})


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"code": ""}, {"code": "  "}])
def test_a_missing_code_is_a_400(client, params):
    status, body = get_json(client, params)
    assert status == 400
    assert body["error"]["code"] == "invalid"
    assert "?code=" in body["error"]["message"]


@pytest.mark.django_db
def test_the_check_is_read_only_and_uncached(client, code):
    before = row_counts()
    response = client.get(VALIDATE_URL, {"code": code.code})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert client.post(VALIDATE_URL, {"code": code.code}).status_code == 405
    assert row_counts() == before


@pytest.mark.django_db
def test_100_wrong_codes_from_one_ip_in_a_minute(client, clock, django_assert_num_queries):
    """The must-work case: the limit stops a guessing run with 429 and nothing is
    written."""
    Program.objects.get_default()
    clock.step = 0.5  # 100 requests over 50 seconds
    limit = parse_rate(app_settings.RATE_LIMITS["validate_code"]).limit
    guesses = [code_format.random_code() for _ in range(100)]  # well-formed: they reach the DB
    before = row_counts()
    answers = []
    for n, guess in enumerate(guesses):
        if n < limit:
            answers.append(client.get(VALIDATE_URL, {"code": guess}, REMOTE_ADDR="192.0.2.7"))
            continue
        with django_assert_num_queries(0):  # refused before anything is looked up
            answers.append(client.get(VALIDATE_URL, {"code": guess}, REMOTE_ADDR="192.0.2.7"))
    assert row_counts() == before
    assert [r.status_code for r in answers] == [200] * limit + [429] * (100 - limit)
    assert all(json.loads(r.content) == {"valid": False} for r in answers[:limit])
    for response in answers[limit:]:
        assert int(response["Retry-After"]) >= 1
        assert json.loads(response.content)["error"]["code"] == "rate_limited"
    # Another address is not affected.
    other = client.get(VALIDATE_URL, {"code": guesses[0]}, REMOTE_ADDR="192.0.2.8")
    assert other.status_code == 200


@pytest.mark.django_db
@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"validate_code": None})
def test_the_check_can_be_left_unlimited(client, clock):
    for _ in range(30):
        assert client.get(VALIDATE_URL, {"code": "NOPE"}).status_code == 200


# --- the share link ----------------------------------------------------------------------------


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"landing": "2/m"})
def test_the_share_link_is_limited_and_records_nothing_when_refused(client, code, clock):
    for _ in range(2):
        assert client.get(f"/r/{code.code}/").status_code == 302
    assert Visit.objects.count() == 2
    before = row_counts()
    refused = client.get(f"/r/{code.code}/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "90"  # 60 s, then half the window to fade out
    assert refused["Content-Type"].startswith("text/html")
    assert "Too many requests" in refused.content.decode()
    assert "rr_ref" not in refused.cookies
    as_json = client.get(f"/r/{code.code}/", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 429
    assert json.loads(as_json.content)["error"]["retry_after"] == 90
    assert row_counts() == before


# --- system checks ----------------------------------------------------------------------------


def ids() -> list[str]:
    return [message.id for message in run_checks() if message.id.startswith("referral_rewards")]


@pytest.mark.django_db
def test_checks_report_a_malformed_rate():
    with override_settings(REFERRAL_REWARDS_RATE_LIMITS={"landing": "60 a minute"}):
        (error,) = [m for m in run_checks() if m.id == "referral_rewards.E004"]
    assert "RATE_LIMITS['landing']" in error.msg
    assert "referral_rewards.E004" not in ids()


@pytest.mark.django_db
def test_checks_report_an_unknown_cache_alias():
    with override_settings(REFERRAL_REWARDS_RATE_LIMIT_CACHE="limits"):
        (error,) = [m for m in run_checks() if m.id == "referral_rewards.E005"]
    assert "'limits'" in error.msg
    assert "'default'" in error.hint


DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("backend", "debug", "limits", "expected"),
    [
        (DUMMY, False, {}, {"referral_rewards.W002"}),
        (DUMMY, True, {}, {"referral_rewards.W002"}),
        ({"BACKEND": LOCMEM}, False, {}, {"referral_rewards.W003"}),
        ({"BACKEND": LOCMEM}, True, {}, set()),
        (REDIS, False, {}, set()),
        (DUMMY, False, dict.fromkeys(DEFAULT_RATE_LIMITS), set()),
    ],
)
def test_checks_warn_about_caches_that_do_not_limit(backend, debug, limits, expected):
    with override_settings(
        CACHES={"default": {"BACKEND": LOCMEM}, "ratelimit": backend},
        DEBUG=debug,
        REFERRAL_REWARDS_RATE_LIMITS=limits,
    ):
        found = set(ids()) & {"referral_rewards.W002", "referral_rewards.W003"}
    assert found == expected


# --- guessing codes: the figures in the docs ------------------------------------------------


def superscript(exponent: int) -> str:
    return str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


TIMES = "\N{MULTIPLICATION SIGN}"


def scientific(value: float) -> str:
    """``2.4 x 10⁻¹⁴`` (with a multiplication sign), as the docs write it."""
    exponent = math.floor(math.log10(value))
    return f"{value / 10**exponent:.1f} {TIMES} 10{superscript(exponent)}"


def test_the_documented_guessing_figures_follow_the_code():
    generated = code_format.random_code()
    assert len(generated) == code_format.RANDOM_LENGTH + 1
    assert set(generated) <= set(code_format.ALPHABET)
    bits = code_format.RANDOM_LENGTH * math.log2(len(code_format.ALPHABET))
    assert bits >= 40
    voucher_bits = vouchers.VOUCHER_LENGTH * math.log2(len(code_format.ALPHABET))
    assert len(vouchers.new_code()) == vouchers.VOUCHER_LENGTH
    assert voucher_bits >= 80

    validate = parse_rate(DEFAULT_RATE_LIMITS["validate_code"])
    landing = parse_rate(DEFAULT_RATE_LIMITS["landing"])
    per_day = validate.limit * 86400 // validate.window
    landing_per_day = landing.limit * 86400 // landing.window

    rst = (DOCS / "topics" / "codes-and-attribution.rst").read_text(encoding="utf-8")
    section = rst.split("Guessing codes\n--------------", 1)[1]
    expected = [
        f"{int(bits)} bits",
        f"{2 ** int(bits):,}",
        DEFAULT_RATE_LIMITS["validate_code"],
        f"{per_day:,}",
        f"{landing_per_day:,}",
        f"{int(voucher_bits)} bits",
        scientific(2**voucher_bits),
    ]
    for issued in (10**5, 10**6):
        found = per_day * issued / 2**bits
        expected += [f"{found:.2g}", f"{round(1 / found, -1 if found < 0.01 else 0):.0f} days"]
        landing_found = landing_per_day * issued / 2**bits
        expected += [f"{landing_found:.2g}"]
    expected.append(scientific(per_day * 10**6 / 2**voucher_bits))
    missing = [figure for figure in expected if figure not in section]
    assert missing == []


def test_scientific_formatting():
    assert scientific(2.38e-14) == f"2.4 {TIMES} 10⁻¹⁴"
    assert scientific(1.2089e24) == f"1.2 {TIMES} 10²⁴"


# --- describing rewards -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "description", "text"),
    [
        ("points", "1", "", "1 point"),
        ("points", "250", "", "250 points"),
        ("credit", "5", "", "5.00 USD of account credit"),
        ("voucher_percent", "12.50", "", "a 12.5% discount voucher"),
        ("voucher_fixed", "10", "", "a 10.00 USD discount voucher"),
        ("free_item", "0", "", "a voucher for a free item or service"),
        ("free_item", "0", "a coffee", "a voucher for a coffee"),
        ("free_period", "0", "", "a voucher for a free billing period"),
        ("free_period", "30", "one month of service", "a voucher for one month of service"),
        ("commission_percent", "5", "", "a commission of 5% of the order"),
        ("commission_fixed", "20", "", "a commission of 20.00 USD"),
    ],
)
def test_describe_reward(program, kind, value, description, text):
    assert kind in RewardKind.values
    rule = RewardRule(program=program, kind=kind, value=Decimal(value), description=description)
    assert describe_reward(rule, program) == text


def test_describe_rule_capitalises_and_names_the_event(program):
    rule = RewardRule(program=program, kind="free_item", value=Decimal(0), trigger="first_order")
    text = describe_rule(rule, program)
    assert text == "A voucher for a free item or service on your first order"


@override_settings(REFERRAL_REWARDS_RATE_LIMITS={"landing": "2/m"})
def test_ref_parameter_shares_the_landing_limit_and_is_ignored_over_it(client, code, clock):
    for _ in range(2):
        assert client.get("/signup/", {"ref": code.code}).status_code == 200
    assert Visit.objects.count() == 2
    before = row_counts()
    # Over the limit the page is still served, but the code is neither checked nor kept.
    over = client.get("/signup/", {"ref": code.code}, REMOTE_ADDR="127.0.0.1")
    assert over.status_code == 200 and over.content == b"signup page"
    assert row_counts() == before
    # The share link now counts against the same limit.
    assert client.get(f"/r/{code.code}/").status_code == 429
