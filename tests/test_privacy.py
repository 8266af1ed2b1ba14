"""Privacy: the export of everything held about a member, erasure (balances and
program totals unchanged, no personal data left, idempotent), the retention purge
(batched, in-review signals kept) and the three commands. Runs with the swapped member
model too (``REFERRAL_REWARDS_SWAPPED=1``)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory, override_settings

from django_referral_rewards import testing
from django_referral_rewards.adapter import MemberAdapter
from django_referral_rewards.codes import CodeGenerator, check_character, is_valid_generated
from django_referral_rewards.conf import get_member_model
from django_referral_rewards.enums import FraudStatus, RedemptionStatus
from django_referral_rewards.exceptions import (
    CodeTaken,
    ConfigurationError,
    InvalidArgument,
    MemberNotFound,
)
from django_referral_rewards.models import (
    Account,
    FraudDecision,
    FraudSignal,
    LedgerEntry,
    Order,
    Payout,
    PayoutEvent,
    Program,
    Redemption,
    RedemptionEvent,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardOption,
    RewardRule,
    Trace,
    Visit,
    Voucher,
)
from django_referral_rewards.services import (
    accounts,
    attribution,
    codes,
    events,
    fraud,
    ledger,
    payouts,
    privacy,
    redemptions,
)

from .conftest import days

pytestmark = pytest.mark.django_db

VANITY = "django_referral_rewards.codes.VanityCodeGenerator"
SWAPPED = bool(getattr(settings, "SWAPPED", False))
#: How many queries an export takes, whatever the number of rows.
EXPORT_QUERIES = 19
HOST_ADAPTER = "tests.test_privacy.HostAdapter"


# --- a member with a full history -------------------------------------------------------


def request(ip: str, device: str = "", agent: str = "Mozilla/5.0 (X11; Linux)"):
    req = RequestFactory().get("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    if device:
        req.COOKIES["rr_device"] = device
    return req


@dataclasses.dataclass
class Story:
    program: Program
    juan: Any  # the user
    member: Any
    account: Account
    ana_account: Account
    ana_code: ReferralCode
    bob_account: Account
    carla_account: Account
    vanity: ReferralCode
    campaign_code: ReferralCode
    open_payout: Payout
    paid_payout: Payout
    redemption: Redemption
    staff: Any


def build_story(program: Program) -> Story:
    """Juan was referred by Ana (signing up from her network: a fraud signal), refers
    Bob and Carla with his vanity code (commission), orders (points, a voucher, his
    referral converts), redeems an item fulfilled with notes, and has a paid payout and
    a pending one."""
    program.points_per_unit = Decimal(1)
    program.hold_days = 0
    program.save()
    RewardRule.objects.create(
        program=program,
        name="10% of the first order",
        trigger="first_order",
        beneficiary="referrer",
        kind="commission_percent",
        value=Decimal(10),
    )
    RewardRule.objects.create(
        program=program,
        name="Welcome points",
        trigger="signup",
        beneficiary="referee",
        kind="points",
        value=Decimal(50),
    )
    RewardRule.objects.create(
        program=program,
        name="10% off your next order",
        trigger="first_order",
        beneficiary="referee",
        kind="voucher_percent",
        value=Decimal(10),
    )
    staff = testing.make_user("boss", is_staff=True)

    ana = testing.make_user("ana", first_name="Ana", last_name="López")
    with override_settings(REFERRAL_REWARDS_CODE_GENERATOR=VANITY):
        ana_code = codes.get_or_create_personal_code(ana, program=program)
    fraud.record_traces(accounts.resolve_member(ana), request=request("203.0.113.7"))

    juan = testing.make_user(
        "juan", first_name="Juan", last_name="Pérez", email="juan.perez@example.com"
    )
    member = accounts.resolve_member(juan)
    member.phone = "+34 600 111 222"
    member.metadata = {"crm": "CRM-778"}
    if SWAPPED:
        member.loyalty_number = "LN-4242"
    member.save()
    # Juan signs up with Ana's code from her network: the same_ip check notes it.
    juan_referral = events.customer_signed_up(
        juan,
        code=ana_code.code,
        request=request("203.0.113.7", device="juan-device-0123456789", agent="JuanBrowser"),
        program=program,
    )
    assert [s.name for s in juan_referral.fraud_signals.all()] == ["same_ip"]
    fraud.record_traces(member, request=request("198.51.100.4", device="juan-device-0123456789"))
    account = accounts.get_or_create_account(juan, program=program)
    with override_settings(REFERRAL_REWARDS_CODE_GENERATOR=VANITY):
        vanity = codes.get_or_create_personal_code(account)
    assert vanity.code.startswith("JUAN")
    campaign_code = codes.create_code("JUANVIP", owner=account, program=program)
    ReferralCode.objects.filter(pk=campaign_code.pk).update(metadata={"utm": "juan-instagram"})
    attribution.record_visit(request("192.0.2.50"), vanity)

    # Bob signs up from Juan's network (a signal whose evidence is Juan's IP hash).
    bob = testing.make_user("bob")
    events.customer_signed_up(bob, code=vanity.code, request=request("198.51.100.4"))
    carla = testing.make_user("carla")
    events.customer_signed_up(carla, code="JUANVIP")
    events.order_completed(bob, order_id="B-1", amount=Decimal("100.00"))
    events.order_completed(carla, order_id="C-1", amount=Decimal("100.00"))

    events.order_completed(
        juan, order_id="J-1", amount=Decimal("80.00"), payment_fingerprint="card-4242"
    )

    option = RewardOption.objects.create(
        program=program, name="Free car wash", points_cost=100, kind="item", requires_approval=True
    )
    redemption = redemptions.request_redemption(juan, option)
    redemptions.approve(redemption, by=staff, note="Juan asked by phone")
    redemptions.fulfil(redemption, by=staff, notes="Handed to Juan at Calle Mayor 1")

    paid = payouts.request_payout(
        juan,
        amount=Decimal("5.00"),
        method="bank_transfer",
        destination="ES91 2100 0418 4502 0005 1332",
    )
    payouts.approve_payout(paid, by=staff)
    payouts.mark_paid(paid, by=staff, reference="BANK-1", note="Paid to Juan Pérez")
    pending = payouts.request_payout(
        juan,
        amount=Decimal("15.00"),
        method="cheque",
        destination="Juan Pérez, Calle Mayor 1, Madrid",
    )
    Payout.objects.filter(pk=pending.pk).update(notes="Call Juan on +34 600 111 222")
    return Story(
        program=program,
        juan=juan,
        member=member,
        account=account,
        ana_account=accounts.get_or_create_account(ana, program=program),
        ana_code=ana_code,
        bob_account=accounts.get_or_create_account(bob, program=program),
        carla_account=accounts.get_or_create_account(carla, program=program),
        vanity=vanity,
        campaign_code=campaign_code,
        open_payout=pending,
        paid_payout=paid,
        redemption=redemption,
        staff=staff,
    )


@pytest.fixture
def story(program) -> Story:
    return build_story(program)


def balances() -> dict[int, tuple[int, int, int, int, int]]:
    return {
        row[0]: row[1:]
        for row in Account.objects.values_list(
            "pk",
            "points_balance",
            "held_points",
            "credit_balance",
            "commission_balance",
            "lifetime_points",
        )
    }


def books() -> dict[str, Any]:
    """Everything erasure must leave exactly as it was."""
    return {
        "balances": balances(),
        "totals": {p.slug: ledger.program_totals(p) for p in Program.objects.all()},
        "entries": list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount", "memo")),
        "grants": list(
            RewardGrant.objects.order_by("pk").values_list("pk", "value", "status", "kind")
        ),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "amount", "order_id")),
        "referrals": list(
            Referral.objects.order_by("pk").values_list(
                "pk", "status", "fraud_status", "fraud_score", "code_id", "referred_revenue"
            )
        ),
        "counters": list(
            Account.objects.order_by("pk").values_list(
                "pk", "conversions_count", "qualifying_spend", "tier_id"
            )
        ),
        "payouts": list(
            Payout.objects.order_by("pk").values_list(
                "pk", "amount", "status", "external_reference"
            )
        ),
        "redemptions": list(
            Redemption.objects.order_by("pk").values_list("pk", "points", "status")
        ),
        "vouchers": list(Voucher.objects.order_by("pk").values_list("pk", "code", "status")),
        "decisions": list(
            FraudDecision.objects.order_by("pk").values_list("pk", "action", "score")
        ),
    }


def json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


PERSONAL = [
    "Juan",
    "Pérez",
    "juan.perez@example.com",
    "600 111 222",
    "ES91",
    "Calle Mayor",
    "CRM-778",
    "juan-instagram",
]


# --- export ------------------------------------------------------------------------------


def test_export_holds_every_section_and_round_trips(story, django_assert_max_num_queries):
    with django_assert_max_num_queries(EXPORT_QUERIES + 1):  # + finding the user's member
        data = privacy.export_member(story.juan)
    assert json.loads(json.dumps(data)) == data  # plain JSON, no custom encoder
    assert data["format_version"] == 1
    assert data["exported_at"]
    record = data["member"]
    member_fields = {f.name for f in get_member_model()._meta.concrete_fields}
    assert set(record) == member_fields
    assert record["name"] == "Juan Pérez"
    assert record["email"] == "juan.perez@example.com"
    assert record["phone"] == "+34 600 111 222"
    assert record["user"] == story.juan.pk
    assert record["metadata"] == {"crm": "CRM-778"}
    if SWAPPED:
        assert record["loyalty_number"] == "LN-4242"

    assert sorted(t["kind"] for t in data["traces"]) == ["device", "ip", "ip"]
    assert {t["value"] for t in data["traces"]} == {privacy.HASH_NOT_EXPORTED}
    text = json_text(data)
    for value_hash in Trace.objects.values_list("value_hash", flat=True):
        assert value_hash not in text  # no keyed hash is given out

    (account,) = data["accounts"]
    story.account.refresh_from_db()
    assert account["program"] == story.program.slug
    assert account["balances"] == {
        "points": story.account.points_balance,
        "held_points": 0,
        "credit": "0.00",
        "commission": "0.00",
    }
    assert account["commission_terms"] == {"kind": "", "value": None}
    assert {c["code"] for c in account["codes"]} == {story.vanity.code, "JUANVIP"}
    vanity = next(c for c in account["codes"] if c["code"] == story.vanity.code)
    assert vanity["personal"] is True and vanity["uses"] == 1 and vanity["visits"] == 1
    assert [r["customer"] for r in account["referrals_made"]] == [
        f"Customer #{story.bob_account.pk}",
        f"Customer #{story.carla_account.pk}",
    ]
    assert {r["status"] for r in account["referrals_made"]} == {"converted"}
    assert "bob@example.com" not in text and "carla" not in text  # not other people's data

    referral = account["referral"]
    assert referral["referrer"] == f"Account #{story.ana_account.pk}"
    assert referral["code"] == f"Code of account #{story.ana_account.pk}"
    assert story.ana_code.code not in text and "López" not in text
    assert referral["status"] == "converted"
    assert referral["fraud_status"] == FraudStatus.CLEAR and referral["fraud_score"] == 40
    assert referral["signup_ip_address"] == privacy.HASH_NOT_EXPORTED
    assert [(s["name"], s["score"], s["evidence"]) for s in referral["fraud_signals"]] == [
        ("same_ip", 40, privacy.HASH_NOT_EXPORTED)
    ]
    assert [(d["action"], d["score"]) for d in referral["fraud_decisions"]] == [("noted", 40)]
    assert referral["fraud_decisions"][0]["signals"][0]["name"] == "same_ip"

    entries = LedgerEntry.objects.filter(account=story.account)
    assert len(account["ledger"]) == entries.count() > 0
    assert {e["unit"] for e in account["ledger"]} == {"points", "commission"}
    commission = [e for e in account["ledger"] if e["unit"] == "commission"]
    assert commission[0]["amount"] == "10.00"  # money in the currency, points whole
    assert len(account["grants"]) == RewardGrant.objects.filter(account=story.account).count()
    assert {g["order"] for g in account["grants"]} >= {"B-1", "C-1", "J-1"}
    (voucher,) = account["vouchers"]
    assert voucher["code"] == Voucher.objects.get(account=story.account).display_code
    (redemption,) = account["redemptions"]
    assert redemption["status"] == "fulfilled"
    assert redemption["notes"] == "Handed to Juan at Calle Mayor 1"
    assert [h["action"] for h in redemption["history"]][:2] == ["requested", "approved"]
    assert redemption["history"][0]["by_member"] is True
    assert redemption["history"][1]["by_member"] is False  # staff: not named
    assert "boss" not in text
    paid, pending = account["payouts"]
    assert paid["destination"] == "ES91 2100 0418 4502 0005 1332"
    assert paid["external_reference"] == "BANK-1" and paid["status"] == "paid"
    assert [h["action"] for h in paid["history"]] == ["requested", "approved", "paid"]
    assert pending["notes"] == "Call Juan on +34 600 111 222" and pending["status"] == "pending"
    (order,) = account["orders"]
    assert order["order_id"] == "J-1" and Decimal(order["amount"]) == Decimal("80")
    assert order["payment_fingerprint"] == privacy.HASH_NOT_EXPORTED
    assert order["refunds"] == []
    assert account["code_uses"][0]["code"] == f"Code of account #{story.ana_account.pk}"


def test_export_query_count_does_not_grow_with_rows(story, django_assert_max_num_queries):
    other = testing.make_program("second-shop", points_per_unit=Decimal(1))
    for n in range(15):
        events.order_completed(
            story.juan, order_id=f"X-{n}", amount=Decimal("10.00"), program=other
        )
        ledger.credit(story.account, 5, reason=f"Goodwill {n}")
        attribution.record_visit(request(f"192.0.2.{n}"), story.vanity)
    for n in range(5):
        codes.create_code(f"JUANX{n}", owner=story.account, program=story.program)
    events.order_refunded(story.juan, order_id="X-1", program=other)
    with django_assert_max_num_queries(EXPORT_QUERIES):
        data = privacy.export_member(story.member)
    first, second = data["accounts"]
    assert (first["program"], second["program"]) == tuple(
        sorted([story.program.slug, "second-shop"])
    )
    shop = second if second["program"] == "second-shop" else first
    assert len(shop["orders"]) == 15
    assert [r["amount"] for o in shop["orders"] for r in o["refunds"]] == ["10.0000"]


def test_export_of_a_member_without_accounts(db, django_assert_num_queries):
    member = testing.make_member(user=False, name="Partner Clinic")
    with django_assert_num_queries(2):
        data = privacy.export_member(member)
    assert data["accounts"] == [] and data["traces"] == []
    assert data["member"]["name"] == "Partner Clinic" and data["member"]["user"] is None


def test_export_of_a_user_without_member_raises(db):
    with pytest.raises(MemberNotFound):
        privacy.export_member(testing.make_user())


def test_plain_converts_every_value():
    class Thing:
        def __str__(self) -> str:
            return "thing"

    import datetime as dt
    import uuid

    value = {
        1: (Decimal("1.50"), dt.date(2026, 1, 2), {uuid.UUID(int=1)}),
        "t": dt.time(10, 30),
        "x": Thing(),
        "f": 1.5,
    }
    assert privacy.plain(value) == {
        "1": ["1.50", "2026-01-02", ["00000000-0000-0000-0000-000000000001"]],
        "t": "10:30:00",
        "x": "thing",
        "f": 1.5,
    }


# --- erasure -----------------------------------------------------------------------------


def test_export_then_erase_keeps_balances_and_program_totals(
    story, django_capture_on_commit_callbacks, caplog
):
    """The must-work case: a member with a full history is exported, then erased;
    every balance, ledger total and report is unchanged and no personal data is left."""
    exported = privacy.export_member(story.member)
    assert "Juan Pérez" in json_text(exported)
    before = books()
    assert ledger.recompute() == []
    traces_of_others = Trace.objects.exclude(member_id=story.member.pk).count()
    bob_referral = Referral.objects.get(referred=story.bob_account)
    bob_ip_hash = bob_referral.ip_hash
    assert FraudSignal.objects.get(referral=bob_referral).evidence == bob_ip_hash != ""

    with (
        caplog.at_level(logging.INFO, logger="django_referral_rewards.privacy"),
        django_capture_on_commit_callbacks(execute=True),
        override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER=HOST_ADAPTER),
    ):
        result = privacy.erase_member(story.member, erased_by=story.staff)

    # Nothing that counts has moved (invariants 10 and 11).
    assert books() == before
    assert ledger.recompute() == []
    for program in Program.objects.all():
        for unit, totals in ledger.program_totals(program).items():
            assert totals["ledger"] == totals["balances"], (program.slug, unit)

    # What was changed, counted.
    assert result.changed and result.member
    assert result.member_id == story.member.pk
    assert result.traces == 3
    assert result.referrals == 1
    assert result.signals == 2  # on Juan's referral, and Bob's holding Juan's IP hash
    assert result.orders == 1
    assert result.codes == 2 and result.codes_replaced == 2
    assert result.redemptions == 1
    assert result.payouts == 2
    assert result.history >= 5
    assert result.open_payouts == 1 and result.open_redemptions == 0
    assert result.accounts == 0  # no account metadata to clear
    assert f"Member {story.member.pk} erased by {story.staff.pk}" in caplog.text

    # The member is pseudonymised (and the instance passed in shows it).
    member = get_member_model()._default_manager.get(pk=story.member.pk)
    for current in (member, story.member):
        assert current.name == f"Erased member #{member.pk}"
        assert (current.email, current.phone, current.user_id) == ("", "", None)
        assert current.active is False and current.metadata == {}
    assert story.member.user is None
    story.juan.refresh_from_db()  # the host's user is the host's to delete
    assert MemberAdapter().get_member(story.juan, create=False) is None

    # No personal data left.
    assert not Trace.objects.filter(member_id=member.pk).exists()
    assert Trace.objects.count() == traces_of_others
    juan_referral = Referral.objects.get(referred=story.account)
    assert (juan_referral.ip_hash, juan_referral.device_hash, juan_referral.user_agent_hash) == (
        "",
        "",
        "",
    )
    assert set(
        FraudSignal.objects.filter(referral__in=[juan_referral, bob_referral]).values_list(
            "evidence", flat=True
        )
    ) == {""}
    assert Referral.objects.get(pk=bob_referral.pk).ip_hash == bob_ip_hash  # Bob's own data
    assert Order.objects.get(order_id="J-1").payment_fingerprint_hash == ""
    codes_now = {c.pk: c for c in ReferralCode.objects.filter(owner=story.account)}
    assert set(codes_now) == {story.vanity.pk, story.campaign_code.pk}  # same rows
    for code in codes_now.values():
        assert not code.active and is_valid_generated(code.code)
        assert "JUAN" not in code.code
    assert Referral.objects.get(referred=story.bob_account).code_id == story.vanity.pk
    redemption = Redemption.objects.get(pk=story.redemption.pk)
    assert (redemption.notes, redemption.status) == ("", RedemptionStatus.FULFILLED)
    assert set(
        RedemptionEvent.objects.filter(redemption=redemption).values_list("note", flat=True)
    ) == {""}
    for payout in Payout.objects.filter(account=story.account):
        assert (payout.destination, payout.notes, payout.requested_by_id) == ("", "", None)
    assert Payout.objects.get(pk=story.paid_payout.pk).external_reference == "BANK-1"
    assert not PayoutEvent.objects.filter(payout__account=story.account, actor=story.juan).exists()
    assert PayoutEvent.objects.filter(payout__account=story.account, actor=story.staff).exists()

    after = json_text(privacy.export_member(member))
    for text in [*PERSONAL, story.vanity.code, "LN-4242"]:
        assert text not in after, text
    assert f"Erased member #{member.pk}" in after


def test_erasing_twice_changes_nothing(story, django_capture_on_commit_callbacks, caplog):
    privacy.erase_member(story.juan)
    snapshot = books()
    member_row = get_member_model()._default_manager.filter(pk=story.member.pk).values().get()
    codes_before = list(ReferralCode.objects.filter(owner=story.account).values_list("code"))
    with (
        caplog.at_level(logging.INFO, logger="django_referral_rewards.privacy"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = privacy.erase_member(story.member)
    assert not again.changed
    assert dataclasses.replace(again, erased_at=None, member_id=None, open_payouts=0) == (
        privacy.ErasureResult(member_id=None, erased_at=None)  # type: ignore[arg-type]
    )
    assert again.open_payouts == 1
    assert books() == snapshot
    assert get_member_model()._default_manager.filter(pk=story.member.pk).values().get() == (
        member_row
    )
    assert list(ReferralCode.objects.filter(owner=story.account).values_list("code")) == (
        codes_before
    )
    assert f"Member {story.member.pk} erased by -: nothing" in caplog.text


def test_erasure_allows_open_redemptions_and_member_without_user(program):
    member = testing.make_member(user=False, name="Influencer Ines", email="ines@example.com")
    account = testing.make_account(member, program=program, points=500)
    option = RewardOption.objects.create(
        program=program, name="Gift", points_cost=100, kind="item", requires_approval=True
    )
    redemptions.request_redemption(account, option)
    Account.objects.filter(pk=account.pk).update(metadata={"instagram": "@ines"})
    before = balances()
    result = privacy.erase_member(member)
    assert result.open_redemptions == 1 and result.accounts == 1 and result.member
    assert result.history == 0  # no notes; no user whose steps to unlink
    assert Account.objects.get(pk=account.pk).metadata == {}
    assert balances() == before
    assert result.as_dict()["member_id"] == member.pk
    assert json.dumps(result.as_dict())


def test_erased_codes_prefer_the_generators_fallback_when_it_is_of_the_generated_shape(program):
    account = testing.make_account(program=program)
    code = codes.create_code("SPRINGSALE", owner=account, program=program)

    with override_settings(REFERRAL_REWARDS_CODE_GENERATOR="tests.test_privacy.FixedGenerator"):
        privacy.erase_member(account.member)
    code.refresh_from_db()
    assert code.code == FixedGenerator.CODE


def test_erasure_retries_a_taken_replacement_code_then_gives_up(program, monkeypatch):
    account = testing.make_account(program=program)
    taken = codes.create_code(program=program)  # a generated code
    code = codes.create_code("NAMEDCODE1", owner=account, program=program)
    candidates = iter([taken.code, taken.code, FixedGenerator.CODE])
    monkeypatch.setattr(privacy, "_fresh_code", lambda: next(candidates))
    privacy.erase_member(account.member)
    code.refresh_from_db()
    assert code.code == FixedGenerator.CODE

    other = testing.make_account(program=program)
    named = codes.create_code("ANOTHERNAME", owner=other, program=program)
    monkeypatch.setattr(privacy, "_fresh_code", lambda: taken.code)
    with pytest.raises(CodeTaken):
        privacy.erase_member(other.member)
    named.refresh_from_db()
    assert named.code == "ANOTHERNAME" and named.active  # rolled back as a whole
    assert other.member.__class__._default_manager.get(pk=other.member.pk).active


class FixedGenerator(CodeGenerator):
    """A generator whose fallback is a fixed code of the generated shape."""

    CODE = "ABCDEFGH" + check_character("ABCDEFGH")

    def fallback(self, *, account: Any = None, attempt: int = 0) -> str:
        return self.CODE


class NamedGenerator(FixedGenerator):
    """A generator whose fallback is not of the generated shape."""

    def fallback(self, *, account: Any = None, attempt: int = 0) -> str:
        return "HOUSECODE"


def test_a_fallback_not_of_the_generated_shape_is_not_used(program):
    account = testing.make_account(program=program)
    code = codes.create_code("VANITYNAME", owner=account, program=program)
    with override_settings(REFERRAL_REWARDS_CODE_GENERATOR="tests.test_privacy.NamedGenerator"):
        privacy.erase_member(account.member)
        code.refresh_from_db()
        assert is_valid_generated(code.code)
        # So a second erasure does not replace it again.
        assert privacy.erase_member(account.member).codes_replaced == 0


class HostAdapter(MemberAdapter):
    """A host's adapter: its member model may have personal fields of its own (the
    swapped model's ``loyalty_number``)."""

    def erase_member_fields(self, member: Any) -> dict[str, Any]:
        fields = super().erase_member_fields(member)
        if hasattr(member, "loyalty_number"):
            fields["loyalty_number"] = ""
        return fields


class RenamingAdapter(HostAdapter):
    def erase_member_fields(self, member: Any) -> dict[str, Any]:
        return {**super().erase_member_fields(member), "name": "Former customer"}


class BrokenAdapter(MemberAdapter):
    def erase_member_fields(self, member: Any) -> Any:
        return getattr(self, "answer", None)


def test_the_adapter_hook_decides_the_erased_fields(program):
    member = testing.make_member(name="Maria")
    if SWAPPED:
        member.loyalty_number = "LN-1"
        member.save()
    with override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER="tests.test_privacy.RenamingAdapter"):
        assert privacy.erase_member(member).member
    member.refresh_from_db()
    assert member.name == "Former customer" and member.user_id is None
    if SWAPPED:
        assert member.loyalty_number == ""


@pytest.mark.skipif(not SWAPPED, reason="needs the swapped member model")
def test_swapped_member_export_and_erasure(story):
    data = privacy.export_member(story.member)
    assert data["member"]["loyalty_number"] == "LN-4242"
    # The default hook knows only AbstractMember's fields...
    privacy.erase_member(story.member)
    story.member.refresh_from_db()
    assert story.member.loyalty_number == "LN-4242"
    # ...a host's own adapter erases its own.
    with override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER=HOST_ADAPTER):
        result = privacy.erase_member(story.member)
    assert result.member and not result.traces
    story.member.refresh_from_db()
    assert story.member.loyalty_number == ""


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "must return a dict"),
        ({"nickname": ""}, "'nickname'"),
        ({"id": 5}, "'id'"),
    ],
)
def test_a_wrong_adapter_hook_is_a_configuration_error(program, monkeypatch, answer, message):
    member = testing.make_member(name="Maria")
    monkeypatch.setattr(BrokenAdapter, "answer", answer, raising=False)
    with (
        override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER="tests.test_privacy.BrokenAdapter"),
        pytest.raises(ConfigurationError, match=message),
    ):
        privacy.erase_member(member)
    member.refresh_from_db()
    assert member.name == "Maria"


def test_erasing_a_user_without_member_raises(db):
    with pytest.raises(MemberNotFound):
        privacy.erase_member(testing.make_user())


# --- retention ---------------------------------------------------------------------------


@pytest.fixture
def aged(program, now):
    """Old (200 days) and recent (10 days) rows of everything the purge looks at."""
    old, recent = now - days(200), now - days(10)
    referrer = testing.make_account(program=program)
    code = codes.get_or_create_personal_code(referrer)
    for at in (old, old, old, recent):
        Visit.objects.create(code=code, created_at=at, ip_hash="v" * 64)
    member = referrer.member
    Trace.objects.create(member=member, kind="ip", value_hash="a" * 64, last_seen=old)
    Trace.objects.create(member=member, kind="device", value_hash="b" * 64, last_seen=old)
    Trace.objects.create(
        member=member, kind="ip", value_hash="c" * 64, first_seen=old, last_seen=recent
    )

    def referral(status: str, at) -> Referral:
        return Referral.objects.create(
            program=program,
            referrer=referrer,
            referred=testing.make_account(program=program),
            code=code,
            attached_at=at,
            fraud_status=status,
            ip_hash="i" * 64,
            device_hash="d" * 64,
            user_agent_hash="u" * 64,
        )

    rows = {
        "old": referral(FraudStatus.CLEAR, old),
        "old_review": referral(FraudStatus.REVIEW, old),
        "old_no_hashes": Referral.objects.create(
            program=program,
            referrer=referrer,
            referred=testing.make_account(program=program),
            attached_at=old,
        ),
        "recent": referral(FraudStatus.APPROVED, recent),
    }
    for key in ("old", "old_review", "recent"):
        at = old if key.startswith("old") else recent
        FraudSignal.objects.create(
            referral=rows[key], stage="signup", name="same_ip", score=40, reason="r", created_at=at
        )
    for n, at in enumerate((old, recent)):
        Order.objects.create(
            program=program,
            account=referrer,
            order_id=f"O-{n}",
            amount=Decimal(10),
            currency=program.currency,
            payment_fingerprint_hash="p" * 64,
            occurred_at=at,
        )
    return rows


def test_purge_removes_old_rows_in_batches_and_keeps_the_rest(aged, now):
    result = privacy.purge_expired(now=now, batch_size=2)
    assert result.cutoff == now - days(180)  # REFERRAL_REWARDS_RETENTION_DAYS
    assert (result.visits, result.traces, result.signals, result.referrals, result.orders) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert result.total == 8
    assert result.batches == 2 + 1 + 1 + 1 + 1  # three old visits take two batches of 2
    assert Visit.objects.count() == 1
    assert list(Trace.objects.values_list("value_hash", flat=True)) == ["c" * 64]
    kept = set(FraudSignal.objects.values_list("referral_id", flat=True))
    assert kept == {aged["old_review"].pk, aged["recent"].pk}  # in review: still needed
    hashes = dict(Referral.objects.values_list("pk", "ip_hash"))
    assert hashes[aged["old"].pk] == ""
    assert hashes[aged["old_review"].pk] == hashes[aged["recent"].pk] == "i" * 64
    old_referral = Referral.objects.get(pk=aged["old"].pk)
    assert (old_referral.device_hash, old_referral.user_agent_hash) == ("", "")
    assert dict(Order.objects.values_list("order_id", "payment_fingerprint_hash")) == {
        "O-0": "",
        "O-1": "p" * 64,
    }

    again = privacy.purge_expired(now=now, batch_size=2)
    assert again.total == 0 and again.batches == 0


def test_export_of_referrals_without_a_code(aged):
    referrer = aged["old"].referrer
    (account,) = privacy.export_member(referrer.member)["accounts"]
    made = {r["id"]: r for r in account["referrals_made"]}
    assert made[aged["old_no_hashes"].pk]["code"] is None
    assert made[aged["old"].pk]["code"] == aged["old"].code.code  # their own code
    assert privacy.plain({"account": referrer}) == {"account": referrer.pk}


def test_purge_days_and_settings(aged, now):
    with override_settings(REFERRAL_REWARDS_RETENTION_DAYS=365):
        assert privacy.purge_expired(now=now).total == 0
    result = privacy.purge_expired(now=now, days=5)
    assert (result.visits, result.traces, result.signals) == (4, 3, 2)
    assert result.batches == 5  # one batch of the default size per kind of row
    with pytest.raises(InvalidArgument):
        privacy.purge_expired(days=0)
    with pytest.raises(InvalidArgument):
        privacy.purge_expired(batch_size=0)


# --- commands ----------------------------------------------------------------------------


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_purge_command(aged, now):
    output = run("rewards_purge", "--batch-size", "2", "--now", now.isoformat())
    assert "deleted 3 visit(s), 2 trace(s) and 1 fraud signal(s)" in output
    assert "1 referral(s) and 1 order(s); deleted 0 kept API answer(s)" in output
    assert "0 settled webhook delivery(ies); 6 batch(es)" in output
    output = run("rewards_purge", "--days", "5", "--now", now.isoformat())
    assert "deleted 1 visit(s), 1 trace(s) and 1 fraud signal(s)" in output
    with pytest.raises(CommandError, match="days"):
        run("rewards_purge", "--days", "0")


def test_export_command(story, tmp_path):
    data = json.loads(run("rewards_export_member", str(story.member.pk)))
    assert data["member"]["name"] == "Juan Pérez"
    target = tmp_path / "juan.json"
    output = run("rewards_export_member", str(story.member.pk), "--output", str(target))
    assert str(target) in output
    assert json.loads(target.read_text(encoding="utf-8"))["member"]["email"] == (
        "juan.perez@example.com"
    )
    with pytest.raises(CommandError, match="Cannot write"):
        run("rewards_export_member", str(story.member.pk), "--output", str(tmp_path))
    with pytest.raises(CommandError, match="No member"):
        run("rewards_export_member", "999999")
    with pytest.raises(CommandError, match="No member"):
        run("rewards_export_member", "not-a-key")


def test_erase_command(story, monkeypatch):
    pk = str(story.member.pk)
    Member = get_member_model()
    with pytest.raises(CommandError, match="--yes"):
        run("rewards_erase_member", pk, "--no-input")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert "Erasure cancelled." in run("rewards_erase_member", pk)
    assert Member._default_manager.get(pk=pk).name == "Juan Pérez"

    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "yes")
    output = run("rewards_erase_member", pk)
    assert "Juan Pérez" in prompts[0]
    assert f"Erased member #{pk}: 3 trace(s) deleted" in output
    assert "Still open: 1 payout(s)" in output
    assert Member._default_manager.get(pk=pk).name == f"Erased member #{pk}"
    assert "already erased; nothing changed" in run("rewards_erase_member", pk, "--yes")
    with pytest.raises(CommandError, match="No member"):
        run("rewards_erase_member", "999999", "--yes")


def test_erase_command_reports_service_errors(program, monkeypatch):
    account = testing.make_account(program=program)
    codes.create_code("SOMENAME", owner=account, program=program)
    taken = codes.create_code(program=program)
    monkeypatch.setattr(privacy, "_fresh_code", lambda: taken.code)
    with pytest.raises(CommandError, match="free code"):
        run("rewards_erase_member", str(account.member_id), "--yes")


def test_erasure_renames_the_admin_log_entries_about_the_member(story):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    staff = testing.make_user("auditor", is_staff=True)
    named = str(story.member)
    for obj in (story.member, story.account):
        LogEntry.objects.create(
            user=staff,
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            object_id=str(obj.pk),
            object_repr=str(obj),
            action_flag=CHANGE,
            change_message="Adjusted the balance.",
        )
    assert LogEntry.objects.filter(object_repr__contains=named).count() == 2
    result = privacy.erase_member(story.member)
    assert result.admin_log == 2
    assert not LogEntry.objects.filter(object_repr__contains=named).exists()
    assert sorted(LogEntry.objects.values_list("object_repr", flat=True)) == sorted(
        [
            str(get_member_model()._default_manager.get(pk=story.member.pk)),
            str(type(story.account).objects.get(pk=story.account.pk)),
        ]
    )
    assert privacy.erase_member(story.member).admin_log == 0


# --- the leaderboard opt-in ---------------------------------------------------------------


def test_the_leaderboard_opt_in_is_exported_and_erased(program):
    """The leaderboard name is the member's own words (often their name): the export
    shows it and the erasure clears it with the opt-in, in every program."""
    juan = testing.make_member(testing.make_user("juan"), name="Juan Pérez")
    shop = testing.make_program()
    here = testing.make_account(juan, program=program)
    there = testing.make_account(juan, program=shop)
    Account.objects.filter(pk=here.pk).update(
        show_on_leaderboard=True, leaderboard_name="Juan from Calle Mayor"
    )
    Account.objects.filter(pk=there.pk).update(leaderboard_name="JP")  # a name, no opt-in
    ana = testing.make_account(program=program)
    Account.objects.filter(pk=ana.pk).update(show_on_leaderboard=True, leaderboard_name="Ana")

    exported = {row["id"]: row for row in privacy.export_member(juan)["accounts"]}
    assert exported[here.pk]["show_on_leaderboard"] is True
    assert exported[here.pk]["leaderboard_name"] == "Juan from Calle Mayor"
    assert exported[there.pk]["show_on_leaderboard"] is False
    assert exported[there.pk]["leaderboard_name"] == "JP"

    result = privacy.erase_member(juan)

    assert result.accounts == 2
    assert list(
        Account.objects.filter(member_id=juan.pk)
        .order_by("pk")
        .values_list("show_on_leaderboard", "leaderboard_name")
    ) == [(False, ""), (False, "")]
    assert Account.objects.filter(pk=ana.pk, show_on_leaderboard=True, leaderboard_name="Ana")
    assert "Calle Mayor" not in json_text(privacy.export_member(juan))
    assert privacy.erase_member(juan).accounts == 0  # nothing left to clear
