"""Attribution: share links and ``?ref=`` record visits and remember the code."""

from __future__ import annotations

import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from django_referral_rewards import testing
from django_referral_rewards.adapter import RequestAdapter
from django_referral_rewards.hashing import keyed_hash
from django_referral_rewards.models import Visit
from django_referral_rewards.services import attribution, codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def code(program):
    return codes.get_or_create_personal_code(testing.make_user())


def remembered(client) -> str | None:
    """What a request carrying ``client``'s cookies would remember."""
    request = RequestFactory().get("/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    request.session = client.session
    return attribution.remembered_code(request)


def test_share_link_records_a_hashed_visit_and_redirects(client, code):
    response = client.get(
        f"/r/{code.code.lower()}/",
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="Mozilla/5.0 test",
        HTTP_REFERER="https://wa.me/some/chat",
    )
    assert response.status_code == 302 and response["Location"] == "/"
    visit = Visit.objects.get()
    assert visit.code == code
    assert visit.ip_hash == keyed_hash("203.0.113.9", purpose="ip")
    assert "203.0.113.9" not in str(Visit.objects.values().get())  # never stored raw
    assert visit.user_agent_hash == keyed_hash("Mozilla/5.0 test", purpose="user_agent")
    assert (visit.landing_path, visit.referrer_host) == (f"/r/{code.code.lower()}/", "wa.me")
    assert remembered(client) == code.code
    assert len(client.cookies["rr_device"].value) == 32
    assert client.cookies["rr_ref"]["httponly"]


def test_the_device_cookie_is_set_once_per_response(code):
    # The landing view and the middleware both apply cookies; the id must not be
    # generated twice (the second overwriting the first).
    from django.http import HttpResponse
    from django.test import RequestFactory

    from django_referral_rewards.services import attribution

    request = RequestFactory().get("/")
    response = attribution.apply_cookies(request, HttpResponse())
    first = response.cookies["rr_device"].value
    assert attribution.apply_cookies(request, response).cookies["rr_device"].value == first


def test_the_device_cookie_is_hashed_into_later_visits(client, code):
    client.get(f"/r/{code.code}/")
    device = client.cookies["rr_device"].value
    client.get(f"/r/{code.code}/")
    assert Visit.objects.order_by("pk").last().device_hash == keyed_hash(device, purpose="device")


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/signup/?plan=pro", "/signup/?plan=pro"),
        ("https://evil.example.com/", "/"),
        ("//evil.example.com/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_redirects_are_never_open(client, code, next_url, expected):
    response = client.get(f"/r/{code.code}/", {"next": next_url})
    assert response["Location"] == expected


def test_landing_url_setting_accepts_a_url_name(client, code):
    with override_settings(REFERRAL_REWARDS_LANDING_URL="signup"):
        assert client.get(f"/r/{code.code}/")["Location"] == "/signup/"


def test_unusable_codes_redirect_without_recording(client, code):
    codes.set_active([code], active=False)
    response = client.get(f"/r/{code.code}/")
    assert response.status_code == 302
    assert not Visit.objects.exists()
    assert remembered(client) is None
    assert client.get("/r/NOSUCHCODE/").status_code == 302


def test_only_safe_methods(client, code):
    assert client.post(f"/r/{code.code}/").status_code == 405
    assert not Visit.objects.exists()


def test_ref_parameter_on_any_url(client, code):
    response = client.get("/signup/", {"ref": code.code})
    assert response.status_code == 200
    assert Visit.objects.get().landing_path == "/signup/"
    assert remembered(client) == code.code
    client.get("/signup/", {"ref": "garbage"})
    assert Visit.objects.count() == 1
    assert remembered(client) == code.code  # a bad code does not replace a good one


def test_cookie_alone_remembers_the_code(client, code):
    client.get(f"/r/{code.code}/")
    request = RequestFactory().get("/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    assert attribution.remembered_code(request) == code.code  # no session at all


def test_attribution_window(client, code, monkeypatch, program):
    program.attribution_window_days = 7
    program.save()
    client.get(f"/r/{code.code}/")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 8 * 86400)
    assert remembered(client) is None
    monkeypatch.setattr(time, "time", lambda: real() + 6 * 86400)
    assert remembered(client) == code.code


def test_tampered_or_malformed_cookies_are_ignored(code):
    request = RequestFactory().get("/")
    request.COOKIES = {"rr_ref": f"{code.code}|{int(time.time())}"}  # unsigned
    assert attribution.remembered_code(request) is None
    request.session = {attribution.SESSION_KEY: "no-separator"}
    assert attribution.remembered_code(request) is None
    request.session = {attribution.SESSION_KEY: "|123"}
    assert attribution.remembered_code(request) is None
    request.session = {attribution.SESSION_KEY: "GONE1|not-a-time"}
    assert attribution.remembered_code(request) is None


def test_forget_removes_session_and_cookie(code):
    request = RequestFactory().get("/")
    request.session = {}
    request.COOKIES = {}
    attribution.record_visit(request, code)
    assert attribution.remembered_code(request) == code.code
    attribution.forget_code(request)
    assert attribution.SESSION_KEY not in request.session
    response = attribution.apply_cookies(request, HttpResponse())
    assert response.cookies["rr_ref"]["max-age"] == 0


def test_a_custom_request_adapter_reads_the_proxy_header(client, code):
    with override_settings(REFERRAL_REWARDS_REQUEST_ADAPTER="tests.test_attribution.ProxyAdapter"):
        client.get(f"/r/{code.code}/", HTTP_X_REAL_IP="198.51.100.7")
    assert Visit.objects.get().ip_hash == keyed_hash("198.51.100.7", purpose="ip")


def test_hash_key_setting_changes_hashes():
    default = keyed_hash("1.2.3.4", purpose="ip")
    with override_settings(REFERRAL_REWARDS_HASH_KEY="another-key"):
        assert keyed_hash("1.2.3.4", purpose="ip") != default
    assert keyed_hash("", purpose="ip") == ""


class ProxyAdapter(RequestAdapter):
    def get_client_ip(self, request):
        return request.META.get("HTTP_X_REAL_IP", "")
