"""Who may call what, over EVERY URL of the API (so a new endpoint cannot ship without
being covered): anonymous clients reach only the public endpoints; members reach no
staff and no host endpoint; hosts reach only the host endpoints; staff without the
permission get 403. Object endpoints tried as another member are 404: see
tests/api/test_member.py (redemptions, payouts, codes) — here each member URL with an
object id is tried with an id that exists but is someone else's."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from django_referral_rewards import testing
from django_referral_rewards.models import Payout, Program, Redemption, RewardOption
from django_referral_rewards.services import codes, payouts, redemptions

from .conftest import HOST_KEY

PREFIX = "/api/rewards/"
#: Open to anyone, and why.
PUBLIC = {
    "schema": "the OpenAPI schema: public by design",
    "validate_code": "says only valid/invalid and the offer; rate-limited",
}
METHODS = ("get", "post", "put", "patch", "delete")


def routes() -> list[tuple[str, str, str]]:
    """``(name, route, method)`` of every API endpoint and method it answers."""
    found = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = pattern.callback.cls  # type: ignore[attr-defined]
                for method in METHODS:
                    if hasattr(view, method):
                        found.append((pattern.name, prefix + str(pattern.pattern), method))

    walk(get_resolver("django_referral_rewards.api.urls"), "")
    return found


ROUTES = routes()


def fill(route: str, **values: Any) -> str:
    """``route`` with its converters replaced by ``values`` (or harmless defaults)."""
    defaults = {"pk": 999_999, "member_id": 999_999, "code": "NOSUCHCODE", "slug": "default"}
    defaults.update(values)
    path = route
    for name, value in defaults.items():
        for converter in ("int", "str", "slug"):
            path = path.replace(f"<{converter}:{name}>", str(value))
    assert "<" not in path, f"fill() does not know a converter of {route}"
    return PREFIX + path


def call(client, method: str, url: str):
    return getattr(client, method)(url, {}, format="json")


def test_the_routes_are_found():
    names = {name for name, _, _ in ROUTES}
    assert {"member_redeem", "staff_payout_approve", "event_order_completed"} <= names
    assert set(PUBLIC) <= names
    assert len(ROUTES) > 50


@pytest.mark.parametrize(("name", "route", "method"), ROUTES)
def test_anonymous_clients_reach_only_public_endpoints(api, db, name, route, method):
    answer = call(api, method, fill(route))
    if name in PUBLIC:
        assert answer.status_code < 500
        return
    assert answer.status_code in (401, 403), (name, answer.status_code)
    assert answer.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("name", "route", "method"), [r for r in ROUTES if r[1].startswith(("staff/", "events/"))]
)
def test_members_reach_no_staff_or_host_endpoint(member_api, name, route, method):
    answer = call(member_api, method, fill(route))
    assert answer.status_code in (401, 403), (name, answer.status_code)


@pytest.mark.parametrize(
    ("name", "route", "method"), [r for r in ROUTES if r[1].startswith("staff/")]
)
def test_staff_without_the_permission_get_403(staff_api, name, route, method):
    answer = call(staff_api, method, fill(route))
    assert answer.status_code == 403, (name, answer.status_code)
    assert answer.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("name", "route", "method"), [r for r in ROUTES if r[1].startswith(("me/", "staff/"))]
)
def test_a_host_key_reaches_no_member_or_staff_endpoint(api, settings, db, name, route, method):
    settings.REFERRAL_REWARDS_API_HOST_KEYS = {"shop": HOST_KEY}
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {HOST_KEY}")
    answer = call(api, method, fill(route))
    assert answer.status_code in (401, 403), (name, answer.status_code)


@pytest.fixture
def someone_elses(db):
    """A code, a redemption and a payout of another member."""
    program = Program.objects.get_default()
    account = testing.make_account(program=program, points=500, commission=10_000)
    option = RewardOption.objects.create(program=program, name="Mug", points_cost=100, kind="item")
    code = codes.get_or_create_personal_code(account.member, program=program)
    redemption = redemptions.request_redemption(account, option)
    payout = payouts.request_payout(account, amount=program.from_minor(5_000), method="cash")
    return {"code": code.code, "redemption": redemption, "payout": payout}


OWNED = [r for r in ROUTES if r[1].startswith("me/") and "<" in r[1]]


@pytest.mark.parametrize(("name", "route", "method"), OWNED)
def test_another_members_objects_are_404(member_api, someone_elses, name, route, method):
    pk = None
    if route.startswith("me/redemptions/"):
        pk = someone_elses["redemption"].pk
    elif route.startswith("me/payouts/"):
        pk = someone_elses["payout"].pk
    elif route.startswith("me/rewards/"):
        pk = RewardOption.objects.get().pk  # an option is not owned: redeeming is allowed
    url = fill(route, pk=pk, code=someone_elses["code"])
    answer = call(member_api, method, url)
    if route.startswith("me/rewards/"):
        assert answer.status_code in (201, 409)  # the member's own redemption, or refused
        return
    assert answer.status_code == 404, (name, answer.status_code)
    assert answer.json()["error"]["code"] == "not_found"
    assert Redemption.objects.get().status == someone_elses["redemption"].status
    assert Payout.objects.get().status == someone_elses["payout"].status
