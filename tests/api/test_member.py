"""The member endpoints (``me/...``): every endpoint's answer, object access (another
member's id is a 404), anonymous callers, bad input naming the field, refusals that
write nothing, idempotency keys on redeem (one redemption, one debit, the same answer
replayed; another body refused), rate limits and bounded query counts."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.enums import EntryKind, RedemptionStatus, ReferralStatus, Unit
from django_referral_rewards.models import (
    Account,
    IdempotencyRecord,
    LedgerEntry,
    Payout,
    Program,
    Redemption,
    Referral,
    ReferralCode,
    RewardOption,
    Visit,
)
from django_referral_rewards.services import codes, payouts, redemptions

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"referral_rewards_api:{name}", kwargs=kwargs or None)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


@pytest.fixture
def me(member_user, program) -> Account:
    """The signed-in member's account in the default program: 500 points, 150.00 of
    commission (paid out from 20.00)."""
    program.payout_minimum = Decimal("20.00")
    program.save()
    member = testing.make_member(member_user, name="Maria Member")
    return testing.make_account(member, program=program, points=500, commission=15000)


@pytest.fixture
def them(program) -> Account:
    """Another member's account (the one ``other_api`` is signed in as)."""
    user = testing.make_user("them")
    return testing.make_account(testing.make_member(user), program=program, points=500)


def make_option(program: Program, **fields: Any) -> RewardOption:
    fields.setdefault("name", "Free car wash")
    fields.setdefault("points_cost", 100)
    fields.setdefault("kind", "item")
    return RewardOption.objects.create(program=program, **fields)


def money(amount: str, program: Program) -> dict[str, str]:
    return {"amount": amount, "currency": program.currency}


def customer(program: Program, name: str = "", email: str = "") -> Account:
    return testing.make_account(testing.make_member(False, name=name, email=email), program=program)


# --- anonymous callers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "kwargs"),
    [
        ("get", "member_accounts", {}),
        ("get", "member_balance", {}),
        ("get", "member_codes", {}),
        ("post", "member_codes", {}),
        ("get", "member_code", {"code": "ABC"}),
        ("get", "member_referrals", {}),
        ("get", "member_referral_stats", {}),
        ("get", "member_leaderboard", {}),
        ("get", "member_rewards", {}),
        ("post", "member_redeem", {"pk": 1}),
        ("get", "member_redemptions", {}),
        ("get", "member_redemption", {"pk": 1}),
        ("post", "member_redemption_cancel", {"pk": 1}),
        ("get", "member_vouchers", {}),
        ("get", "member_payouts", {}),
        ("post", "member_payouts", {}),
        ("get", "member_payout", {"pk": 1}),
        ("post", "member_payout_cancel", {"pk": 1}),
        ("get", "member_ledger", {}),
    ],
)
def test_anonymous_callers_are_refused(api, method, name, kwargs):
    response = getattr(api, method)(url(name, **kwargs), format="json")
    assert response.status_code in (401, 403)
    assert error_of(response)["code"] in ("not_authenticated", "permission_denied")
    assert not Redemption.objects.exists() and not Payout.objects.exists()


# --- accounts and balances ----------------------------------------------------------------


def test_my_accounts(member_api, me, program):
    shop = testing.make_program("corner-shop", name="Corner Shop")
    testing.make_account(me.member, program=shop, points=7)
    response = member_api.get(url("member_accounts"))
    assert response.status_code == 200
    body = response.json()
    assert [a["program"]["slug"] for a in body] == sorted(
        [program.slug, "corner-shop"], key=lambda slug: Program.objects.get(slug=slug).name
    )
    mine = next(a for a in body if a["program"]["slug"] == program.slug)
    assert mine == {
        "id": me.pk,
        "program": {"slug": program.slug, "name": program.name, "currency": program.currency},
        "tier": None,
        "tier_since": None,
        "balances": {
            "points": 500,
            "held_points": 0,
            "credit": money("0.00", program),
            "commission": money("150.00", program),
        },
        "lifetime_points": mine["lifetime_points"],
        "conversions": 0,
        "show_on_leaderboard": False,
        "leaderboard_name": "",
        "created": mine["created"],
    }
    assert isinstance(mine["balances"]["points"], int)


def test_a_new_member_gets_an_account_in_the_default_program(member_api, program):
    body = member_api.get(url("member_accounts")).json()
    assert [a["program"]["slug"] for a in body] == [program.slug]
    assert body[0]["balances"]["points"] == 0


def test_my_balance(member_api, me, program):
    response = member_api.get(url("member_balance"))
    assert response.status_code == 200
    assert response.json() == {
        "program": program.slug,
        "points": 500,
        "held_points": 0,
        "credit": money("0.00", program),
        "commission": money("150.00", program),
        "commission_available": money("150.00", program),
        "payout_minimum": money("20.00", program),
    }


def test_the_balance_of_another_program(member_api, me):
    shop = testing.make_program("corner-shop")
    testing.make_account(me.member, program=shop, points=7)
    body = member_api.get(url("member_balance"), {"program": "corner-shop"}).json()
    assert body["program"] == "corner-shop" and body["points"] == 7


def test_an_unknown_program_is_a_404(member_api, me):
    response = member_api.get(url("member_balance"), {"program": "nope"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "program_not_found"


# --- codes --------------------------------------------------------------------------------


def test_creating_my_code_is_201_then_200_with_the_same_code(member_api, me):
    first = member_api.post(url("member_codes"), format="json")
    assert first.status_code == 201
    again = member_api.post(url("member_codes"), format="json")
    assert again.status_code == 200
    assert first.json()["code"] == again.json()["code"]
    assert ReferralCode.objects.filter(personal_for=me).count() == 1


def test_my_codes_have_share_links_qr_and_card_urls(member_api, me, program):
    code = codes.get_or_create_personal_code(me)
    expired = codes.create_code(
        "SPRING24", program=program, owner=me, expires_at=timezone.now() - dt.timedelta(days=1)
    )
    codes.get_or_create_personal_code(testing.make_account(program=program))  # not mine
    response = member_api.get(url("member_codes"))
    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body] == [code.code, expired.code]
    personal = body[0]
    assert personal["kind"] == "personal" and personal["usable"] is True
    assert personal["unusable_reason"] is None
    assert personal["share_url"] == f"http://testserver/r/{code.code}/"
    assert personal["qr_svg_url"].endswith(f"/portal/codes/{code.code}/qr.svg")
    assert personal["qr_png_url"].endswith(f"/portal/codes/{code.code}/qr.png")
    assert isinstance(personal["card_urls"], dict)
    assert body[1]["usable"] is False
    assert body[1]["unusable_reason"]["code"] == "code_expired"


def test_one_of_my_codes_as_typed(member_api, me):
    code = codes.get_or_create_personal_code(me)
    typed = code.code.lower()
    response = member_api.get(url("member_code", code=typed))
    assert response.status_code == 200
    assert response.json()["code"] == code.code


def test_another_members_code_is_a_404(member_api, me, them):
    theirs = codes.get_or_create_personal_code(them)
    response = member_api.get(url("member_code", code=theirs.code))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert member_api.get(url("member_code", code="NOSUCHCODE")).status_code == 404


# --- referrals, stats, leaderboard --------------------------------------------------------


def test_my_referrals_show_customers_by_first_name_and_initial_only(member_api, me, program):
    now = timezone.now()
    juan = customer(program, "Juan Pérez", "juan@example.com")
    quiet = customer(program, "", "quiet@example.com")
    Referral.objects.create(program=program, referrer=me, referred=juan, attached_at=now)
    Referral.objects.create(
        program=program,
        referrer=me,
        referred=quiet,
        attached_at=now - dt.timedelta(days=1),
        status=ReferralStatus.CONVERTED,
    )
    Referral.objects.create(program=program, referrer=None, referred=customer(program, "X Y"))
    response = member_api.get(url("member_referrals"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(r["customer"], r["status"]) for r in body["results"]] == [
        ("Juan P.", "pending"),
        (f"Customer #{quiet.pk}", "converted"),
    ]
    assert "example.com" not in response.content.decode()


def test_my_referral_stats(member_api, me, program):
    code = codes.get_or_create_personal_code(me)
    Visit.objects.create(code=code)
    Referral.objects.create(
        program=program, referrer=me, referred=customer(program), status=ReferralStatus.CONVERTED
    )
    Referral.objects.create(program=program, referrer=me, referred=customer(program))
    response = member_api.get(url("member_referral_stats"))
    assert response.status_code == 200
    assert response.json() == {
        "visits": 1,
        "signups": 2,
        "pending": 1,
        "converted": 1,
        "rejected": 0,
        "expired": 0,
        "in_review": 0,
        "conversion_rate": 50,
        "earned_points": 0,
        "earned_credit": money("0.00", program),
        "earned_commission": money("0.00", program),
        "held_points": 0,
        "held_credit": money("0.00", program),
        "held_commission": money("0.00", program),
    }


def test_the_leaderboard_names_only_who_opted_in(member_api, me, them, program):
    Account.objects.filter(pk=me.pk).update(conversions_count=3)
    Account.objects.filter(pk=them.pk).update(
        conversions_count=5, show_on_leaderboard=True, leaderboard_name="Top Seller"
    )
    response = member_api.get(url("member_leaderboard"))
    assert response.status_code == 200
    assert response.json() == {
        "program": program.slug,
        "period": "all",
        "rows": [
            {"rank": 1, "name": "Top Seller", "conversions": 5, "is_you": False},
            {"rank": 2, "name": None, "conversions": 3, "is_you": True},
        ],
        "show_on_leaderboard": False,
        "leaderboard_name": "",
    }


def test_an_unknown_leaderboard_period_is_a_400_naming_the_field(member_api, me):
    response = member_api.get(url("member_leaderboard"), {"period": "year"})
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["period"]


# --- the catalog and redeeming ------------------------------------------------------------


def test_the_catalog_says_what_can_be_redeemed_and_why_not(member_api, me, program):
    wash = make_option(program, name="Car wash", points_cost=100, position=1)
    make_option(program, name="Big TV", points_cost=9000, position=2)
    make_option(testing.make_program(), name="Other shop", points_cost=1)
    response = member_api.get(url("member_rewards"))
    assert response.status_code == 200
    body = response.json()
    assert [(c["option"]["name"], c["allowed"]) for c in body] == [
        ("Car wash", True),
        ("Big TV", False),
    ]
    assert body[0]["option"]["id"] == wash.pk and body[0]["option"]["points_cost"] == 100
    assert body[0]["refusal"] is None
    assert body[1]["refusal"] == {
        "code": "insufficient_balance",
        "message": "You have 500 points; this reward costs 9000.",
    }


def test_redeeming_answers_201_with_the_redemption(member_api, me, program):
    option = make_option(program, points_cost=120)
    response = member_api.post(url("member_redeem", pk=option.pk), format="json")
    assert response.status_code == 201
    body = response.json()
    redemption = Redemption.objects.get()
    assert body["id"] == redemption.pk
    assert body["option"] == {"id": option.pk, "name": option.name, "kind": "item"}
    assert body["points"] == 120 and body["status"] == redemption.status
    assert body["history"][0]["action"] == "requested"
    assert body["history"][0]["by"] == "you"
    assert Account.objects.get(pk=me.pk).points_balance == 380


def test_redeeming_without_enough_points_is_409_and_writes_nothing(member_api, me, program):
    option = make_option(program, points_cost=9000)
    entries = LedgerEntry.objects.count()
    response = member_api.post(url("member_redeem", pk=option.pk), format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "insufficient_balance"
    assert not Redemption.objects.exists()
    assert LedgerEntry.objects.count() == entries
    assert Account.objects.get(pk=me.pk).points_balance == 500


def test_the_same_redeem_with_one_idempotency_key_redeems_once(member_api, me, program):
    option = make_option(program, points_cost=100)
    target = url("member_redeem", pk=option.pk)
    first = member_api.post(target, {}, format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")
    second = member_api.post(target, {}, format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 1
    spends = LedgerEntry.objects.filter(account=me, kind=EntryKind.SPEND)
    assert spends.count() == 1
    assert Account.objects.get(pk=me.pk).points_balance == 400
    assert testing.ledger_is_consistent(Account.objects.get(pk=me.pk))


def test_the_same_key_with_another_body_is_refused(member_api, me, program):
    option = make_option(program, points_cost=100)
    other = make_option(program, points_cost=50)
    key = {"HTTP_IDEMPOTENCY_KEY": "redeem-2"}
    member_api.post(url("member_redeem", pk=option.pk), {}, format="json", **key)
    refused = member_api.post(
        url("member_redeem", pk=option.pk), {"program": program.slug}, format="json", **key
    )
    assert refused.status_code == 422
    assert error_of(refused)["code"] == "idempotency_conflict"
    elsewhere = member_api.post(url("member_redeem", pk=other.pk), {}, format="json", **key)
    assert elsewhere.status_code == 422
    assert Redemption.objects.count() == 1
    assert Account.objects.get(pk=me.pk).points_balance == 400


@pytest.mark.parametrize("which", ["other program", "inactive", "missing"])
def test_options_of_another_program_or_inactive_are_not_found(member_api, me, program, which):
    if which == "other program":
        option = make_option(testing.make_program(), points_cost=1)
    elif which == "inactive":
        option = make_option(program, active=False)
    else:
        option = make_option(program)
        option.pk += 1000
    response = member_api.post(url("member_redeem", pk=option.pk), format="json")
    assert response.status_code == 404
    assert not Redemption.objects.exists()


def test_redeeming_is_rate_limited(member_api, me, program):
    option = make_option(program, points_cost=10)
    with override_settings(REFERRAL_REWARDS_RATE_LIMITS={"redeem": "1/m"}):
        assert member_api.post(url("member_redeem", pk=option.pk)).status_code == 201
        refused = member_api.post(url("member_redeem", pk=option.pk))
    assert refused.status_code == 429 and refused["Retry-After"]
    assert error_of(refused)["code"] == "rate_limited"
    assert Redemption.objects.count() == 1


# --- redemptions and vouchers -------------------------------------------------------------


def test_my_redemptions_filtered_by_status(member_api, me, program):
    option = make_option(program, points_cost=10)
    kept = redemptions.request_redemption(me, option)
    gone = redemptions.request_redemption(me, option)
    redemptions.cancel(gone)
    body = member_api.get(url("member_redemptions")).json()
    assert [r["id"] for r in body["results"]] == [gone.pk, kept.pk]
    body = member_api.get(url("member_redemptions"), {"status": "cancelled"}).json()
    assert [r["id"] for r in body["results"]] == [gone.pk]
    assert body["results"][0]["can_cancel"] is False
    bad = member_api.get(url("member_redemptions"), {"status": "lost"})
    assert bad.status_code == 400 and list(error_of(bad)["fields"]) == ["status"]


def test_one_redemption_with_its_history_and_cancelling_it(member_api, me, program):
    option = make_option(program, points_cost=100, requires_approval=True)
    redemption = redemptions.request_redemption(me, option)
    body = member_api.get(url("member_redemption", pk=redemption.pk)).json()
    assert body["status"] == RedemptionStatus.PENDING and body["can_cancel"] is True
    assert [step["action"] for step in body["history"]] == ["requested"]
    response = member_api.post(
        url("member_redemption_cancel", pk=redemption.pk), {"reason": "changed my mind"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled" and body["reason"] == "changed my mind"
    assert [step["action"] for step in body["history"]] == ["requested", "cancelled"]
    assert Account.objects.get(pk=me.pk).points_balance == 500
    again = member_api.post(url("member_redemption_cancel", pk=redemption.pk))
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_transition"


def test_a_too_long_cancel_reason_is_a_400_naming_the_field(member_api, me, program):
    redemption = redemptions.request_redemption(me, make_option(program, requires_approval=True))
    response = member_api.post(
        url("member_redemption_cancel", pk=redemption.pk), {"reason": "x" * 300}
    )
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["reason"]
    assert Redemption.objects.get().status == RedemptionStatus.PENDING


def test_another_members_redemption_is_a_404(other_api, member_api, me, program):
    redemption = redemptions.request_redemption(me, make_option(program, requires_approval=True))
    assert other_api.get(url("member_redemption", pk=redemption.pk)).status_code == 404
    cancel = other_api.post(url("member_redemption_cancel", pk=redemption.pk))
    assert cancel.status_code == 404
    assert Redemption.objects.get().status == RedemptionStatus.PENDING
    assert member_api.get(url("member_redemption", pk=redemption.pk + 99)).status_code == 404


def test_my_vouchers(member_api, me, program):
    option = make_option(
        program, kind="voucher", voucher_kind="percent", value=Decimal(10), points_cost=50
    )
    redemption = redemptions.request_redemption(me, option)
    response = member_api.get(url("member_vouchers"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    voucher = body["results"][0]
    redemption.refresh_from_db()
    assert voucher["code"] == redemption.voucher.code
    assert voucher["kind"] == "percent" and voucher["status"] == "issued"
    assert Decimal(voucher["value"]) == Decimal(10)


# --- payouts ------------------------------------------------------------------------------


def test_asking_for_a_payout(member_api, me, program):
    response = member_api.post(
        url("member_payouts"),
        {"amount": "25.50", "method": "bank_transfer", "destination": "DE89 3704"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    payout = Payout.objects.get()
    assert body["id"] == payout.pk
    assert body["amount"] == money("25.50", program)
    assert body["method"] == "bank_transfer" and body["status"] == "pending"
    assert body["can_cancel"] is True
    assert [step["action"] for step in body["history"]] == ["requested"]
    assert Account.objects.get(pk=me.pk).commission_balance == 15000 - 2550


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "abc", "method": "cash"}, "amount"),
        ({"amount": 25.5, "method": "cash"}, "amount"),
        ({"amount": "0", "method": "cash"}, "amount"),
        ({"amount": "1.234", "method": "cash"}, "amount"),
        ({"amount": "25", "method": "gold"}, "method"),
        ({"amount": "25", "method": "cheque"}, "destination"),
        ({"method": "cash"}, "amount"),
    ],
)
def test_bad_payout_requests_are_400_naming_the_field(member_api, me, data, field):
    response = member_api.post(url("member_payouts"), data, format="json")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [field]
    assert not Payout.objects.exists()


@pytest.mark.parametrize(
    ("amount", "code"), [("10.00", "payout_below_minimum"), ("500.00", "insufficient_balance")]
)
def test_refused_payouts_are_409_and_write_nothing(member_api, me, amount, code):
    response = member_api.post(
        url("member_payouts"), {"amount": amount, "method": "cash"}, format="json"
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == code
    assert not Payout.objects.exists()
    assert Account.objects.get(pk=me.pk).commission_balance == 15000


def test_payout_requests_are_rate_limited(member_api, me):
    data = {"amount": "20", "method": "cash"}
    with override_settings(REFERRAL_REWARDS_RATE_LIMITS={"payout": "1/m"}):
        assert member_api.post(url("member_payouts"), data, format="json").status_code == 201
        refused = member_api.post(url("member_payouts"), data, format="json")
    assert refused.status_code == 429
    assert Payout.objects.count() == 1


def test_my_payouts_one_payout_and_cancelling_it(member_api, me, program):
    first = payouts.request_payout(me, amount=Decimal("20.00"), method="cash")
    second = payouts.request_payout(me, amount=Decimal("30.00"), method="cash")
    body = member_api.get(url("member_payouts")).json()
    assert [p["id"] for p in body["results"]] == [second.pk, first.pk]
    assert body["results"][0]["amount"] == money("30.00", program)
    detail = member_api.get(url("member_payout", pk=first.pk)).json()
    assert detail["id"] == first.pk and detail["status"] == "pending"
    response = member_api.post(url("member_payout_cancel", pk=first.pk), {"reason": "oops"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Account.objects.get(pk=me.pk).commission_balance == 15000 - 3000


def test_an_approved_payout_cannot_be_cancelled_by_the_member(member_api, me):
    payout = payouts.request_payout(me, amount=Decimal("20.00"), method="cash")
    payouts.approve_payout(payout, by=testing.make_user("boss", is_staff=True))
    response = member_api.post(url("member_payout_cancel", pk=payout.pk))
    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_transition"


def test_another_members_payout_is_a_404(other_api, me):
    payout = payouts.request_payout(me, amount=Decimal("20.00"), method="cash")
    assert other_api.get(url("member_payout", pk=payout.pk)).status_code == 404
    assert other_api.post(url("member_payout_cancel", pk=payout.pk)).status_code == 404
    assert Payout.objects.get().status == "pending"


# --- the ledger ---------------------------------------------------------------------------


def test_my_ledger_by_unit(member_api, me, program):
    body = member_api.get(url("member_ledger")).json()
    assert body["count"] == 2
    points = member_api.get(url("member_ledger"), {"unit": "points"}).json()["results"]
    assert len(points) == 1
    assert points[0]["unit"] == Unit.POINTS and points[0]["kind"] == "earn"
    assert points[0]["points"] == 500 and points[0]["points_after"] == 500
    assert points[0]["money"] is None
    commission = member_api.get(url("member_ledger"), {"unit": "commission"}).json()["results"]
    assert commission[0]["money"] == money("150.00", program)
    assert commission[0]["money_after"] == money("150.00", program)
    assert commission[0]["points"] is None


def test_an_unknown_ledger_unit_is_a_400_naming_the_field(member_api, me):
    response = member_api.get(url("member_ledger"), {"unit": "gold"})
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["unit"]


def test_the_ledger_is_mine_only(member_api, me, them):
    body = member_api.get(url("member_ledger")).json()
    assert body["count"] == 2  # them's opening balance is not listed


# --- query counts -------------------------------------------------------------------------


def _fill(account: Account, program: Program, n: int) -> None:
    """``n`` of everything a list shows."""
    option = make_option(program, points_cost=1, name=f"Option {next(_keys)}")
    voucher_option = make_option(
        program, kind="voucher", voucher_kind="percent", value=Decimal(5), points_cost=1
    )
    for i in range(n):
        redemptions.request_redemption(account, option)
        redemptions.request_redemption(account, voucher_option)
        payouts.request_payout(account, amount=Decimal("20.00"), method="cash")
        Referral.objects.create(
            program=program, referrer=account, referred=customer(program, f"Cust {i} Omer")
        )
        codes.create_code(f"CAMP{next(_keys)}X", program=program, owner=account)


LISTS = [
    "member_accounts",
    "member_codes",
    "member_referrals",
    "member_rewards",
    "member_redemptions",
    "member_vouchers",
    "member_payouts",
    "member_ledger",
]


@pytest.mark.parametrize("name", LISTS)
def test_list_queries_do_not_grow_with_the_rows(
    member_api, me, program, name, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _fill(me, program, 1)
    with CaptureQueriesContext(connection) as one:
        assert member_api.get(url(name)).status_code == 200
    _fill(me, program, 4)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = member_api.get(url(name))
    assert response.status_code == 200
    assert len(one.captured_queries) <= 10


def test_an_idempotency_record_is_kept_per_key(member_api, me, program):
    option = make_option(program, points_cost=10)
    member_api.post(url("member_redeem", pk=option.pk), HTTP_IDEMPOTENCY_KEY="k-1")
    assert IdempotencyRecord.objects.filter(key="k-1", status_code=201).count() == 1
