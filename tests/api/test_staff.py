"""The staff endpoints of the REST API (``/api/rewards/staff/...``): each endpoint's
answer and effect, its permission, illegal steps (409, nothing changed), bad input
(400 naming the field), idempotency keys and bounded query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from django_referral_rewards import testing
from django_referral_rewards.enums import FraudStatus
from django_referral_rewards.models import (
    FraudDecision,
    LedgerEntry,
    Payout,
    Program,
    Redemption,
    RedemptionEvent,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardOption,
    RewardRule,
    Tier,
)
from django_referral_rewards.services import codes, ledger, payouts, redemptions

from ..fraud_review import janes_code, sign_up
from .conftest import grant

pytestmark = pytest.mark.django_db

BASE = "/api/rewards/staff/"


def url(path: str) -> str:
    return BASE + path


def error_of(response) -> dict:
    body = response.json()
    assert "error" in body, body
    return body["error"]


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


# --- data -------------------------------------------------------------------------


@pytest.fixture
def member_account(program):
    member = testing.make_member(name="Ann Archer", email="ann@example.com")
    return testing.make_account(member, program=program, points=1000, commission=5000)


@pytest.fixture
def oil(program) -> RewardOption:
    return RewardOption.objects.create(
        program=program,
        name="Free oil change",
        points_cost=100,
        kind="item",
        requires_approval=True,
        stock=5,
    )


@pytest.fixture
def pending_redemption(member_account, oil) -> Redemption:
    return redemptions.request_redemption(member_account, oil)


@pytest.fixture
def pending_payout(member_account) -> Payout:
    return payouts.request_payout(
        member_account, amount=Decimal("20"), method="bank_transfer", destination="DE89"
    )


@pytest.fixture
def jane_code(program):
    return janes_code(program)


@pytest.fixture
def in_review(jane_code) -> Referral:
    referral = sign_up(jane_code, "bob", ip="203.0.113.7")
    assert referral.fraud_status == FraudStatus.REVIEW
    return referral


@pytest.fixture
def clear(jane_code) -> Referral:
    referral = sign_up(jane_code, "carl", disposable=False)
    assert referral.fraud_status == FraudStatus.CLEAR
    return referral


# --- who may call ---------------------------------------------------------------------

READS = [
    "programs/",
    "rules/",
    "codes/",
    "referrals/",
    "redemptions/",
    "payouts/",
    "analytics/",
]


@pytest.mark.parametrize("path", READS)
def test_anonymous_is_refused(api, path):
    response = api.get(url(path))
    assert response.status_code in (401, 403)
    assert error_of(response)["code"] in ("not_authenticated", "permission_denied")


@pytest.mark.parametrize("path", READS)
def test_a_member_who_is_not_staff_is_refused(member_api, path):
    response = member_api.get(url(path))
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize("path", READS)
def test_staff_without_the_permission_is_refused(staff_api, path):
    assert staff_api.get(url(path)).status_code == 403


def test_a_non_staff_user_with_the_permission_is_refused(member_api, member_user, program):
    grant(member_user, "view_program")
    assert member_api.get(url("programs/")).status_code == 403


def test_steps_need_their_own_permission(staff_api, staff_user, pending_redemption):
    grant(staff_user, "view_redemption")
    response = staff_api.post(url(f"redemptions/{pending_redemption.pk}/approve/"), {})
    assert response.status_code == 403
    assert fresh(pending_redemption).status == "pending"


# --- programs -------------------------------------------------------------------------


def test_programs_list_create_retrieve_update(staff_api, staff_user, program):
    grant(staff_user, "view_program", "add_program", "change_program")
    response = staff_api.get(url("programs/"))
    assert response.status_code == 200
    assert [row["slug"] for row in response.json()["results"]] == [program.slug]

    response = staff_api.post(
        url("programs/"),
        {"slug": "garage", "name": "Garage", "currency": "EUR", "payout_minimum": "10.00"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "garage"
    assert body["payout_minimum"] == "10.0000"
    assert Program.objects.get(slug="garage").currency == "EUR"

    response = staff_api.patch(url("programs/garage/"), {"hold_days": 14}, format="json")
    assert response.status_code == 200
    assert response.json()["hold_days"] == 14
    assert Program.objects.get(slug="garage").hold_days == 14
    assert staff_api.get(url("programs/garage/")).json()["name"] == "Garage"


def test_program_validation_names_the_field(staff_api, staff_user, program):
    grant(staff_user, "change_program")
    response = staff_api.patch(
        url(f"programs/{program.slug}/"),
        {"fraud_review_score": 200, "fraud_block_score": 100},
        format="json",
    )
    assert response.status_code == 400
    assert "fraud_review_score" in error_of(response)["fields"]
    assert fresh(program).fraud_review_score == 50

    grant(staff_user, "add_program")
    response = staff_api.post(url("programs/"), {"slug": program.slug, "name": "X"}, format="json")
    assert response.status_code == 400
    assert "slug" in error_of(response)["fields"]


def test_changing_a_program_needs_change_permission(staff_api, staff_user, program):
    grant(staff_user, "view_program")
    response = staff_api.patch(url(f"programs/{program.slug}/"), {"hold_days": 3}, format="json")
    assert response.status_code == 403
    assert fresh(program).hold_days == 0


# --- rules ----------------------------------------------------------------------------


def rule_body(program, **overrides):
    body = {
        "program": program.slug,
        "name": "Sign-up bonus",
        "trigger": "signup",
        "beneficiary": "referrer",
        "kind": "points",
        "value": "100",
    }
    body.update(overrides)
    return body


def test_rules_create_list_update_and_deactivate(staff_api, staff_user, program):
    grant(staff_user, "view_rewardrule", "add_rewardrule", "change_rewardrule")
    other = testing.make_program("other")
    RewardRule.objects.create(
        program=other,
        name="Other",
        trigger="signup",
        beneficiary="referee",
        kind="points",
        value=5,
    )
    response = staff_api.post(url("rules/"), rule_body(program), format="json")
    assert response.status_code == 201, response.json()
    rule_id = response.json()["id"]
    assert response.json()["value"] == "100.0000"

    listed = staff_api.get(url("rules/"), {"program": program.slug}).json()["results"]
    assert [row["id"] for row in listed] == [rule_id]

    response = staff_api.patch(url(f"rules/{rule_id}/"), {"value": "150"}, format="json")
    assert response.status_code == 200
    assert RewardRule.objects.get(pk=rule_id).value == 150

    response = staff_api.delete(url(f"rules/{rule_id}/"))
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert RewardRule.objects.get(pk=rule_id).active is False  # kept, not deleted


def test_rule_model_validation_names_the_field(staff_api, staff_user, program):
    grant(staff_user, "add_rewardrule")
    response = staff_api.post(url("rules/"), rule_body(program, trigger="milestone"), format="json")
    assert response.status_code == 400
    assert "nth" in error_of(response)["fields"]
    response = staff_api.post(
        url("rules/"), rule_body(program, kind="commission_percent"), format="json"
    )
    assert response.status_code == 400
    assert "kind" in error_of(response)["fields"]
    assert not RewardRule.objects.exists()


def test_rule_filter_validates_its_values(staff_api, staff_user):
    grant(staff_user, "view_rewardrule")
    response = staff_api.get(url("rules/"), {"trigger": "never"})
    assert response.status_code == 400
    assert "trigger" in error_of(response)["fields"]


# --- codes ----------------------------------------------------------------------------


def test_create_a_vanity_code_and_list_codes(staff_api, staff_user, program):
    grant(staff_user, "view_referralcode", "add_referralcode")
    response = staff_api.post(url("codes/"), {"code": "summer-25", "max_uses": 100}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["code"], body["kind"], body["max_uses"]) == ("SUMMER25", "campaign", 100)
    assert ReferralCode.objects.get(code="SUMMER25").program == program

    response = staff_api.post(url("codes/"), {"code": "SUMMER25"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "code_taken"

    listed = staff_api.get(url("codes/"), {"q": "summer", "kind": "campaign"}).json()
    assert [row["code"] for row in listed["results"]] == ["SUMMER25"]


def test_bad_code_names_the_field(staff_api, staff_user):
    grant(staff_user, "add_referralcode")
    response = staff_api.post(url("codes/"), {"code": "x!"}, format="json")
    assert response.status_code == 400
    assert "code" in error_of(response)["fields"]


def test_bulk_codes(staff_api, staff_user, program):
    grant(staff_user, "add_referralcode")
    response = staff_api.post(url("codes/bulk/"), {"count": 5, "max_uses": 1}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["count"] == 5
    assert len({row["code"] for row in body["codes"]}) == 5
    assert ReferralCode.objects.filter(kind="campaign", max_uses=1).count() == 5

    response = staff_api.post(url("codes/bulk/"), {"count": 1001}, format="json")
    assert response.status_code == 400
    assert "count" in error_of(response)["fields"]
    assert ReferralCode.objects.count() == 5


def test_deactivate_and_activate_a_code(staff_api, staff_user, program):
    grant(staff_user, "change_referralcode")
    code = codes.create_code("WINTER", program=program)
    response = staff_api.post(url("codes/winter/deactivate/"))
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert fresh(code).active is False
    response = staff_api.post(url("codes/WINTER/activate/"))
    assert response.json()["active"] is True
    assert fresh(code).active is True
    assert staff_api.post(url("codes/NOPE/activate/")).status_code == 404


# --- referrals ------------------------------------------------------------------------


def test_referrals_list_and_filter(staff_api, staff_user, in_review, clear):
    grant(staff_user, "view_referral")
    response = staff_api.get(url("referrals/"))
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {in_review.pk, clear.pk}
    queue = staff_api.get(url("referrals/"), {"fraud_status": "review"}).json()["results"]
    assert [row["id"] for row in queue] == [in_review.pk]
    row = queue[0]
    assert row["referrer"] == in_review.referrer_id
    assert row["fraud_score"] == 90
    detail = staff_api.get(url(f"referrals/{clear.pk}/")).json()
    assert detail["status"] == "pending"
    # Money as an amount and its currency; no first order yet.
    assert detail["first_order_amount"] is None
    assert detail["referred_revenue"] == {"amount": "0.00", "currency": "USD"}
    assert staff_api.get(url("referrals/"), {"status": "nope"}).status_code == 400


def test_approve_a_referral_in_review(staff_api, staff_user, in_review):
    grant(staff_user, "change_referral")
    response = staff_api.post(
        url(f"referrals/{in_review.pk}/approve/"), {"note": "Known family"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["fraud_status"] == "approved"
    decision = FraudDecision.objects.filter(referral=in_review, action="approved").get()
    assert decision.decided_by == staff_user


def test_approving_a_referral_not_in_review_is_409(staff_api, staff_user, clear):
    grant(staff_user, "change_referral")
    response = staff_api.post(url(f"referrals/{clear.pk}/approve/"), {}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_transition"
    assert fresh(clear).fraud_status == FraudStatus.CLEAR


def test_approve_twice_with_one_idempotency_key_acts_once(staff_api, staff_user, in_review):
    grant(staff_user, "change_referral")
    path = url(f"referrals/{in_review.pk}/approve/")
    first = staff_api.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = staff_api.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert FraudDecision.objects.filter(referral=in_review, action="approved").count() == 1


def test_reject_a_referral_needs_a_reason(staff_api, staff_user, in_review, clear):
    grant(staff_user, "change_referral")
    response = staff_api.post(url(f"referrals/{clear.pk}/reject/"), {}, format="json")
    assert response.status_code == 400
    assert "reason" in error_of(response)["fields"]

    response = staff_api.post(
        url(f"referrals/{clear.pk}/reject/"), {"reason": "Self-referral"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    response = staff_api.post(
        url(f"referrals/{in_review.pk}/reject/"), {"reason": "Same device"}, format="json"
    )
    assert response.json()["fraud_status"] == "rejected"
    assert not RewardGrant.objects.filter(referral=in_review, status="held").exists()


# --- members --------------------------------------------------------------------------


def test_member_referrals(staff_api, staff_user, jane_code, in_review, clear):
    grant(staff_user, "view_referral")
    jane = jane_code.owner.member_id
    response = staff_api.get(url(f"members/{jane}/referrals/"))
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {in_review.pk, clear.pk}
    other = in_review.referred.member_id
    assert staff_api.get(url(f"members/{other}/referrals/")).json()["results"] == []
    assert staff_api.get(url("members/999999/referrals/")).status_code == 404


def test_grant_and_revoke(staff_api, staff_user, member_account):
    grant(staff_user, "add_rewardgrant", "change_rewardgrant")
    member = member_account.member_id
    response = staff_api.post(
        url(f"members/{member}/grant/"),
        {"kind": "points", "value": "250", "reason": "Goodwill"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["member"]) == ("points", "released", member)
    assert body["created_by"] == staff_user.pk
    assert ledger.balance(fresh(member_account)) == 1250

    response = staff_api.post(
        url(f"members/{member}/revoke/"), {"grant": body["id"], "reason": "Mistake"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "reversed"
    assert ledger.balance(fresh(member_account)) == 1000

    again = staff_api.post(
        url(f"members/{member}/revoke/"), {"grant": body["id"], "reason": "Again"}, format="json"
    )
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_transition"


def test_grant_validation_names_the_field(staff_api, staff_user, member_account):
    grant(staff_user, "add_rewardgrant")
    member = member_account.member_id
    for body, field in [
        ({"kind": "points", "value": "1.5", "reason": "x"}, "value"),
        ({"kind": "commission_percent", "value": "5", "reason": "x"}, "kind"),
        ({"kind": "points", "value": "5"}, "reason"),
    ]:
        response = staff_api.post(url(f"members/{member}/grant/"), body, format="json")
        assert response.status_code == 400
        assert field in error_of(response)["fields"], (body, response.json())
    assert not RewardGrant.objects.exists()


def test_revoking_needs_change_rewardgrant(staff_api, staff_user, member_account):
    grant(staff_user, "add_rewardgrant")
    member = member_account.member_id
    created = staff_api.post(
        url(f"members/{member}/grant/"),
        {"kind": "points", "value": "5", "reason": "Goodwill"},
        format="json",
    ).json()
    response = staff_api.post(
        url(f"members/{member}/revoke/"), {"grant": created["id"], "reason": "x"}, format="json"
    )
    assert response.status_code == 403


def test_revoking_another_members_grant_is_404(staff_api, staff_user, member_account):
    grant(staff_user, "add_rewardgrant", "change_rewardgrant")
    created = staff_api.post(
        url(f"members/{member_account.member_id}/grant/"),
        {"kind": "points", "value": "5", "reason": "Goodwill"},
        format="json",
    ).json()
    someone = testing.make_account()
    response = staff_api.post(
        url(f"members/{someone.member_id}/revoke/"),
        {"grant": created["id"], "reason": "x"},
        format="json",
    )
    assert response.status_code == 404
    assert RewardGrant.objects.get(pk=created["id"]).status == "released"


# --- redemptions ----------------------------------------------------------------------


def test_redemptions_list_and_detail(staff_api, staff_user, pending_redemption):
    grant(staff_user, "view_redemption")
    response = staff_api.get(url("redemptions/"), {"status": "pending"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [pending_redemption.pk]
    assert (rows[0]["points"], rows[0]["option_name"]) == (100, "Free oil change")
    detail = staff_api.get(url(f"redemptions/{pending_redemption.pk}/")).json()
    assert detail["member_name"] == "Ann Archer"


def test_approve_assign_fulfil(staff_api, staff_user, pending_redemption, django_user_model):
    grant(staff_user, "change_redemption")
    fitter = django_user_model.objects.create_user("fitter", is_staff=True)
    pk = pending_redemption.pk
    response = staff_api.post(url(f"redemptions/{pk}/approve/"), {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"

    response = staff_api.post(url(f"redemptions/{pk}/assign/"), {"user": fitter.pk}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["assigned_to"] == fitter.pk

    response = staff_api.post(
        url(f"redemptions/{pk}/fulfil/"),
        {"notes": "Done", "applied_to": {"type": "repair", "id": "123"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "fulfilled"
    assert body["applied_to"] == {"type": "repair", "id": "123"}
    assert body["fulfilled_by"] == staff_user.pk


def test_approving_a_fulfilled_redemption_is_409(staff_api, staff_user, pending_redemption):
    grant(staff_user, "change_redemption")
    redemptions.approve(pending_redemption, by=staff_user)
    redemptions.fulfil(pending_redemption, by=staff_user)
    steps = RedemptionEvent.objects.count()
    response = staff_api.post(url(f"redemptions/{pending_redemption.pk}/approve/"), {})
    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_transition"
    assert fresh(pending_redemption).status == "fulfilled"
    assert RedemptionEvent.objects.count() == steps


def test_reject_a_redemption_refunds(staff_api, staff_user, member_account, pending_redemption):
    grant(staff_user, "change_redemption")
    response = staff_api.post(url(f"redemptions/{pending_redemption.pk}/reject/"), {})
    assert response.status_code == 400
    assert "reason" in error_of(response)["fields"]
    response = staff_api.post(
        url(f"redemptions/{pending_redemption.pk}/reject/"), {"reason": "Out of season"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert ledger.balance(fresh(member_account)) == 1000


def test_redemption_approve_idempotency(staff_api, staff_user, pending_redemption):
    grant(staff_user, "change_redemption")
    path = url(f"redemptions/{pending_redemption.pk}/approve/")
    first = staff_api.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="approve-1")
    second = staff_api.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="approve-1")
    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert (
        RedemptionEvent.objects.filter(redemption=pending_redemption, action="approved").count()
        == 1
    )


def test_technicians_see_and_fulfil_only_their_own(
    api, staff_user, pending_redemption, member_account, oil, django_user_model
):
    grant(staff_user, "change_redemption")
    tech = django_user_model.objects.create_user("tech", is_staff=True)
    grant(tech, "fulfil_redemption")
    other = redemptions.request_redemption(member_account, oil)
    for redemption in (pending_redemption, other):
        redemptions.approve(redemption, by=staff_user)
    redemptions.assign(pending_redemption, tech, by=staff_user)
    redemptions.assign(other, staff_user, by=staff_user)
    api.force_authenticate(tech)

    rows = api.get(url("redemptions/")).json()["results"]
    assert [row["id"] for row in rows] == [pending_redemption.pk]
    assert api.get(url(f"redemptions/{other.pk}/")).status_code == 404
    assert api.post(url(f"redemptions/{other.pk}/fulfil/"), {}).status_code == 404
    assert api.post(url(f"redemptions/{pending_redemption.pk}/approve/"), {}).status_code == 403
    response = api.post(url(f"redemptions/{pending_redemption.pk}/fulfil/"), {"notes": "ok"})
    assert response.status_code == 200, response.json()
    assert fresh(pending_redemption).status == "fulfilled"
    assert fresh(other).status == "approved"


def test_fulfil_validates_applied_to(staff_api, staff_user, pending_redemption):
    grant(staff_user, "change_redemption")
    redemptions.approve(pending_redemption, by=staff_user)
    response = staff_api.post(
        url(f"redemptions/{pending_redemption.pk}/fulfil/"),
        {"applied_to": {"type": "repair"}},
        format="json",
    )
    assert response.status_code == 400
    assert "applied_to" in error_of(response)["fields"]
    assert fresh(pending_redemption).status == "approved"


# --- payouts --------------------------------------------------------------------------


def test_payouts_approve_and_mark_paid(staff_api, staff_user, pending_payout):
    grant(staff_user, "view_payout", "change_payout")
    rows = staff_api.get(url("payouts/"), {"status": "pending"}).json()["results"]
    assert [(row["id"], row["amount"]) for row in rows] == [
        (pending_payout.pk, {"amount": "20.00", "currency": "USD"})
    ]
    pk = pending_payout.pk
    response = staff_api.post(url(f"payouts/{pk}/approve/"), {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert response.json()["approved_by"] == staff_user.pk
    response = staff_api.post(
        url(f"payouts/{pk}/mark-paid/"), {"external_reference": "BANK-42"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["external_reference"]) == ("paid", "BANK-42")
    assert staff_api.get(url(f"payouts/{pk}/")).json()["paid_by"] == staff_user.pk


def test_cancel_a_payout_returns_the_commission(
    staff_api, staff_user, member_account, pending_payout
):
    grant(staff_user, "change_payout")
    response = staff_api.post(
        url(f"payouts/{pending_payout.pk}/cancel/"), {"reason": "Wrong account"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert ledger.balance(fresh(member_account), unit="commission") == 5000


def test_cancelling_a_paid_payout_is_409(staff_api, staff_user, pending_payout):
    grant(staff_user, "change_payout")
    payouts.approve_payout(pending_payout, by=staff_user)
    payouts.mark_paid(pending_payout, by=staff_user, reference="X")
    entries = LedgerEntry.objects.count()
    response = staff_api.post(
        url(f"payouts/{pending_payout.pk}/cancel/"), {"reason": "late"}, format="json"
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_transition"
    assert fresh(pending_payout).status == "paid"
    assert LedgerEntry.objects.count() == entries


# --- analytics ------------------------------------------------------------------------


def test_analytics(staff_api, staff_user, program, jane_code, in_review, clear, member_account):
    grant(staff_user, "view_program")
    Tier.objects.create(program=program, name="Bronze", rank=0)
    response = staff_api.get(url("analytics/"), {"program": program.slug})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["program"] == program.slug
    assert body["referrals"]["total"] == 2
    assert body["referrals"]["pending"] == 2
    assert body["referrals"]["in_review"] == 1
    assert body["referrals"]["conversion_rate"] == "0.00"
    points = body["ledger"]["points"]
    assert points["outstanding"] == sum(a.points_balance for a in program.accounts.all())
    assert points["issued"] >= 1000
    assert body["ledger"]["commission"]["outstanding"] == "50.00"
    assert sum(row["accounts"] for row in body["tiers"]) == body["accounts"]
    assert body["top_referrers"] == []
    unknown = staff_api.get(url("analytics/"), {"program": "nope"})
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "program_not_found"


# --- query counts ---------------------------------------------------------------------


def test_list_query_counts_are_bounded(
    staff_api,
    staff_user,
    django_assert_max_num_queries,
    program,
    member_account,
    oil,
    jane_code,
):
    grant(
        staff_user,
        "view_program",
        "view_rewardrule",
        "view_referralcode",
        "view_referral",
        "view_redemption",
        "view_payout",
    )
    for n in range(5):
        sign_up(jane_code, f"cust{n}", disposable=False)
        redemptions.request_redemption(member_account, oil)
        payouts.request_payout(member_account, amount=Decimal("1"), method="cash")
        codes.create_code(f"BULK{n}X", program=program, owner=member_account)
        RewardRule.objects.create(
            program=program,
            name=f"R{n}",
            trigger="signup",
            beneficiary="referee",
            kind="points",
            value=1,
        )
    paths = [
        "programs/",
        "rules/",
        "codes/",
        "referrals/",
        "redemptions/",
        "payouts/",
        f"members/{jane_code.owner.member_id}/referrals/",
        "analytics/",
    ]
    for path in paths:
        with django_assert_max_num_queries(10):
            response = staff_api.get(url(path))
        assert response.status_code == 200, (path, response.json())
        if path != "programs/" and "results" in response.json():
            assert response.json()["count"] >= 5, path
