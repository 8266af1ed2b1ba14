"""A member's activity history (``services.activity``) and the member admin's pages:
the activity page and its CSV, the personal-data download and the erasure action."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

from django_referral_rewards import testing
from django_referral_rewards.admin.members import MemberAdminMixin
from django_referral_rewards.conf import get_member_model
from django_referral_rewards.models import (
    FraudDecision,
    LedgerEntry,
    Member,
    Payout,
    PayoutEvent,
    Program,
    Redemption,
    RedemptionEvent,
    RewardOption,
    RewardRule,
    Voucher,
)
from django_referral_rewards.services import (
    codes,
    events,
    fraud,
    ledger,
    payouts,
    redemptions,
    rewards,
    vouchers,
)
from django_referral_rewards.services.activity import Activity, ActivityKind, member_activity

pytestmark = pytest.mark.django_db

SWAPPED = get_member_model() is not Member
default_admin_only = pytest.mark.skipif(
    SWAPPED, reason="the package registers its member admin only for its own Member model"
)

HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return T0 + hours * HOUR


# --- a member with a full history --------------------------------------------------------


class History:
    """Ann refers Bob (who converts) and Carl (flagged, approved by Sam); Sam adjusts her
    points, grants and revokes a reward, approves her redemption and payout, grants her
    a voucher she uses, and edits her member record. One thing an hour from T0."""

    def __init__(self, program: Program) -> None:
        RewardRule.objects.create(
            program=program,
            name="Referral bonus",
            trigger="signup",
            beneficiary="referrer",
            kind="points",
            value=Decimal(100),
            hold_days=0,
        )
        self.program = program
        self.sam = testing.make_user("sam", is_staff=True, first_name="Sam", last_name="Staff")
        self.ann_user = testing.make_user("ann", email="ann@example.com")
        self.code = codes.get_or_create_personal_code(self.ann_user, program=program)
        self.account = self.code.owner
        self.member = self.account.member
        get_member_model()._default_manager.filter(pk=self.member.pk).update(
            name="Ann Archer", email="ann@example.com", phone="+1 555 0100"
        )
        self.member.refresh_from_db()

        self.bob = testing.make_user("bob", email="bob@example.org")
        self.bob_referral = events.customer_signed_up(self.bob, code=self.code.code, now=at(0))
        events.order_completed(self.bob, "B-1", Decimal("80.00"), occurred_at=at(1))
        self.adjustment = ledger.adjust(
            self.account, 50, reason="Goodwill", created_by=self.sam, now=at(2)
        )
        self.manual = rewards.grant_reward(
            self.account, kind="points", value=30, reason="Sorry", created_by=self.sam, now=at(3)
        )
        rewards.revoke(self.manual, reason="Granted twice", revoked_by=self.sam, now=at(4))
        option = RewardOption.objects.create(
            program=program,
            name="Free car wash",
            points_cost=100,
            kind="item",
            requires_approval=True,
        )
        self.redemption = redemptions.request_redemption(
            self.account, option, requested_by=self.ann_user, now=at(5)
        )
        redemptions.approve(self.redemption, by=self.sam, now=at(6))
        ledger.credit(self.account, 5000, unit="commission", reason="Sales", now=at(7))
        self.payout = payouts.request_payout(
            self.account,
            amount=Decimal("20"),
            method="bank_transfer",
            destination="DE89 3704",
            requested_by=self.ann_user,
            now=at(7.5),
        )
        payouts.approve_payout(self.payout, by=self.sam, now=at(8))
        voucher_grant = rewards.grant_reward(
            self.account,
            kind="voucher_fixed",
            value=5,
            reason="Birthday",
            created_by=self.sam,
            now=at(9),
        )
        self.voucher = Voucher.objects.get(grant=voucher_grant)
        vouchers.apply_voucher(
            self.voucher.code,
            user=self.ann_user,
            order_id="A-1",
            order_amount=Decimal("40"),
            now=at(10),
        )
        self.carl = testing.make_user("carl", email="carl@mailinator.com")
        self.carl_referral = events.customer_signed_up(self.carl, code=self.code.code, now=at(11))
        assert self.carl_referral is not None and self.carl_referral.fraud_status == "review"
        fraud.approve_referral(self.carl_referral, by=self.sam, note="Known family", now=at(12))
        LogEntry.objects.log_actions(
            user_id=self.sam.pk,
            queryset=[self.member],
            action_flag=CHANGE,
            change_message="Changed phone.",
            single_object=True,
        )
        LogEntry.objects.filter(object_id=str(self.member.pk)).update(action_time=at(13))

    def find(self, activities: list[Activity], kind: str, text: str) -> Activity:
        found = [a for a in activities if a.kind == kind and text in a.summary]
        assert len(found) == 1, (kind, text, [a.summary for a in activities])
        return found[0]


@pytest.fixture
def history(program) -> History:
    return History(program)


# --- the service ---------------------------------------------------------------------------


def test_every_source_appears_with_its_actor_time_and_amount(history):
    h = history
    activities = member_activity(h.member)
    assert {a.kind for a in activities} == set(ActivityKind.values)
    assert all(a.account == h.account and a.program == h.program for a in activities[1:])

    adjusted = h.find(activities, "ledger", "Adjusted by staff (Points): Goodwill")
    assert (adjusted.at, adjusted.actor, adjusted.amount) == (at(2), h.sam, "+50 points")
    assert adjusted.object == h.adjustment
    earned = [a for a in activities if a.summary == "Earned (Points): Referral bonus"]
    # Bob's bonus at once; Carl's when Sam approved his referral.
    assert [(a.at, a.actor, a.amount) for a in earned] == [
        (at(12), None, "+100 points"),
        (at(0), None, "+100 points"),
    ]
    commission = h.find(activities, "ledger", "Earned (Commission): Sales")
    assert commission.amount == "+50.00 USD"
    reversed_entry = h.find(activities, "ledger", "Reversed (Points)")
    assert (reversed_entry.actor, reversed_entry.amount) == (h.sam, "-30 points")

    granted = h.find(activities, "reward", "Reward granted by hand: Points: Sorry")
    assert (granted.at, granted.actor, granted.amount, granted.object) == (
        at(3),
        h.sam,
        "30 points",
        h.manual,
    )
    revoked = h.find(activities, "reward", "Reward reversed: Points: Granted twice")
    assert (revoked.at, revoked.actor) == (at(4), h.sam)
    rule_grants = [a for a in activities if a.summary == "Reward granted: Points: Referral bonus"]
    assert [(a.at, a.actor) for a in rule_grants] == [(at(11), None), (at(0), None)]
    released = [a for a in activities if a.summary.startswith("Reward released: Points")]
    # Sam's own grant was released too, but its reversal is the time it resolved at.
    assert [(a.at, a.actor) for a in released] == [(at(12), None), (at(0), None)]

    requested = h.find(activities, "redemption", "Free car wash: Requested")
    assert (requested.at, requested.actor, requested.amount) == (at(5), h.ann_user, "100 points")
    approved = h.find(activities, "redemption", "Free car wash: Approved")
    assert (approved.at, approved.actor) == (at(6), h.sam)
    assert isinstance(approved.object, RedemptionEvent)

    asked = h.find(activities, "payout", "by bank transfer: Requested")
    assert (asked.at, asked.actor, asked.amount) == (at(7.5), h.ann_user, "20.00 USD")
    paid_ok = h.find(activities, "payout", "by bank transfer: Approved")
    assert (paid_ok.at, paid_ok.actor) == (at(8), h.sam)
    assert isinstance(paid_ok.object, PayoutEvent)

    applied = h.find(activities, "voucher", "applied to order A-1")
    assert (applied.at, applied.actor, applied.amount) == (at(10), None, "5.00 USD")
    assert h.voucher.code[-4:] in applied.summary and h.voucher.code not in applied.summary

    flagged = h.find(activities, "fraud", "Sent to review")
    assert (flagged.at, flagged.actor) == (at(11), None)
    assert "referral of carl" in flagged.summary and "score 50" in flagged.summary
    decided = h.find(activities, "fraud", "Approved")
    assert (decided.at, decided.actor) == (at(12), h.sam)
    assert decided.summary.endswith(": Known family")
    assert isinstance(decided.object, FraudDecision)

    referred = h.find(activities, "referral", "Referred bob")
    assert (referred.at, referred.object) == (at(0), h.bob_referral)
    assert h.code.code in referred.summary
    converted = h.find(activities, "referral", "Referred customer bob converted")
    assert (converted.at, converted.amount) == (at(1), "80.00 USD")

    edited = h.find(activities, "admin", "Changed phone.")
    assert (edited.at, edited.actor, edited.account, edited.program) == (at(13), h.sam, None, None)
    assert edited.kind_label == "Admin changes"


def test_newest_first_with_a_stable_order_at_the_same_moment(history):
    activities = member_activity(history.member)
    times = [a.at for a in activities]
    assert times == sorted(times, reverse=True)
    assert activities[0].kind == "admin"
    # At Bob's sign-up: the rule's grant, its release and entry, then the referral itself.
    sign_up = [(a.kind, a.summary.split(":")[0]) for a in activities if a.at == at(0)]
    assert sign_up == [
        ("reward", "Reward released"),
        ("ledger", "Earned (Points)"),
        ("reward", "Reward granted"),
        ("referral", f"Referred bob (code {history.code.code})"),
    ]
    assert member_activity(history.member) == activities  # the same every time


def test_the_referred_side_sees_its_own_referral(history):
    bob = history.bob_referral.referred
    activities = member_activity(bob.member)
    joined = history.find(activities, "referral", "Signed up with the code")
    assert "of Ann Archer" in joined.summary and joined.account == bob
    assert history.find(activities, "referral", "Converted as a referred customer").at == at(1)
    carl = member_activity(history.carl_referral.referred.member, kinds=["fraud"])
    assert [a.summary.split(": ")[1].split(" (")[0] for a in carl] == ["Approved", "Sent to review"]


def test_campaign_codes_have_no_referrer(program):
    campaign_code = codes.create_code("SPRING", program=program)
    dora = testing.make_user("dora")
    events.customer_signed_up(dora, code=campaign_code.code)
    member = get_member_model()._default_manager.get(user=dora)
    [joined] = member_activity(member, kinds=["referral"])
    assert joined.summary == "Signed up with the campaign code SPRING"


def test_a_conversion_without_an_order_has_no_amount(db):
    shop = testing.make_program("isp", conversion_event="signup")
    ann = testing.make_user("ann")
    code = codes.get_or_create_personal_code(ann, program=shop)
    events.customer_signed_up(testing.make_user("eve"), code=code.code, program=shop)
    activities = member_activity(code.owner.member, kinds=["referral"])
    assert [(a.summary, a.amount) for a in activities] == [
        ("Referred customer eve converted", None),
        (f"Referred eve (code {code.code})", None),
    ]


def test_limit_and_since(history):
    everything = member_activity(history.member)
    assert len(everything) > 20
    assert member_activity(history.member, limit=3) == everything[:3]
    assert member_activity(history.member, limit=0) == []
    since = member_activity(history.member, since=at(7.5))
    assert since == [a for a in everything if a.at >= at(7.5)]
    kinds = {"admin", "fraud", "voucher", "reward", "payout", "ledger", "referral"}
    assert {a.kind for a in since} == kinds


def test_filter_by_program_and_kind(history):
    elsewhere = testing.make_program("elsewhere")
    other = testing.make_account(history.member, program=elsewhere)
    entry = ledger.credit(other, 7, reason="Welcome", now=at(20))
    only_there = member_activity(history.member, program=elsewhere)
    assert [(a.object, a.program, a.account) for a in only_there] == [(entry, elsewhere, other)]
    assert member_activity(history.member, program="elsewhere") == only_there
    assert member_activity(history.member, program=elsewhere.pk) == only_there
    assert member_activity(history.member, program="nowhere") == []
    payouts_only = member_activity(history.member, kinds=["payout"])
    assert {a.kind for a in payouts_only} == {"payout"} and len(payouts_only) == 2
    assert member_activity(history.member, kinds=[]) == []


def test_a_member_without_accounts_has_only_admin_changes(db):
    member = testing.make_member(name="Nobody")
    assert member_activity(member) == []
    LogEntry.objects.log_actions(
        user_id=testing.make_user(is_staff=True).pk,
        queryset=[member],
        action_flag=CHANGE,
        change_message="Changed name.",
        single_object=True,
    )
    [changed] = member_activity(member)
    assert (changed.kind, changed.summary) == ("admin", "Nobody: Changed name.")


def test_reward_values_in_their_units_and_voided_rewards(account):
    staff_user = testing.make_user(is_staff=True)
    percent = rewards.grant_reward(account, kind="voucher_percent", value=15, reason="Spring")
    free = rewards.grant_reward(account, kind="free_item", value=0, reason="Car wash")
    credit = rewards.grant_reward(account, kind="credit", value="2.5", reason="Sorry")
    held = rewards.grant_reward(account, kind="points", value=9, reason="Later", hold_days=5)
    rewards.revoke(held, reason="Mistake", revoked_by=staff_user)
    granted = {
        a.object: a.amount
        for a in member_activity(account.member, kinds=["reward"])
        if a.summary.startswith("Reward granted")
    }
    assert granted == {percent: "15%", free: "whole order", credit: "2.50 USD", held: "9 points"}
    [voided] = [a for a in member_activity(account.member) if a.summary.startswith("Reward voided")]
    assert (voided.summary, voided.actor) == ("Reward voided: Points: Mistake", staff_user)


def test_admin_changes_of_accounts_and_without_the_admin_app(history, monkeypatch):
    LogEntry.objects.log_actions(
        user_id=history.sam.pk,
        queryset=[history.account],
        action_flag=CHANGE,
        change_message="Changed commission terms.",
        single_object=True,
    )
    changed = history.find(member_activity(history.member), "admin", "Changed commission")
    assert (changed.account, changed.program, changed.actor) == (
        history.account,
        history.program,
        history.sam,
    )
    # With a program filter, the member's own changes (no program) are left out.
    by_program = member_activity(history.member, program=history.program, kinds=["admin"])
    assert [a.summary.split(": ")[1] for a in by_program] == ["Changed commission terms."]

    from django_referral_rewards.services import activity

    monkeypatch.setattr(activity.apps, "is_installed", lambda name: False)
    assert not [a for a in member_activity(history.member) if a.kind == "admin"]


def _count_queries(member) -> int:
    with CaptureQueriesContext(connection) as queries:
        activities = member_activity(member)
        for activity in activities:  # everything shown is loaded already
            str(activity.actor), str(activity.account), str(activity.program)
    return len(queries)


def test_the_number_of_queries_is_fixed(history, django_assert_max_num_queries):
    before = _count_queries(history.member)
    with django_assert_max_num_queries(12):
        member_activity(history.member)
    # Much more history: the same queries.
    for n in range(5):
        ledger.adjust(history.account, 1, reason=f"More {n}", created_by=history.sam)
        rewards.grant_reward(history.account, kind="points", value=1, reason=f"R{n}")
        events.customer_signed_up(testing.make_user(f"more{n}"), code=history.code.code)
    redemption = Redemption.objects.get(pk=history.redemption.pk)
    redemptions.fulfil(redemption, by=history.sam, notes="Done")
    payouts.mark_paid(Payout.objects.get(pk=history.payout.pk), by=history.sam, reference="R")
    assert _count_queries(history.member) == before


# --- the admin's activity page -------------------------------------------------------------


def member_url(name: str, member: Any) -> str:
    opts = member._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[member.pk])


@pytest.fixture
def staff(client):
    def login(*codenames, is_staff=True):
        user = testing.make_user(is_staff=is_staff)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return login


@default_admin_only
def test_activity_page_shows_the_history(admin_client, history, django_assert_max_num_queries):
    url = member_url("activity", history.member)
    with django_assert_max_num_queries(30):
        response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Activity of Ann Archer",
        "Adjusted by staff (Points): Goodwill",
        "Sam Staff",
        "Reward granted by hand",
        "Free car wash: Approved",
        "by bank transfer: Requested",
        "applied to order A-1",
        "Sent to review",
        "Changed phone.",
        "+50 points",
        reverse("admin:referral_rewards_ledgerentry_change", args=[history.adjustment.pk]),
        reverse("admin:referral_rewards_redemption_change", args=[history.redemption.pk]),
        reverse("admin:referral_rewards_payout_change", args=[history.payout.pk]),
        reverse("admin:referral_rewards_referral_change", args=[history.carl_referral.pk]),
        member_url("change", history.member),
        "Download CSV",
    ):
        assert text in page, text
    assert len(response.context["rows"]) == len(member_activity(history.member))


@default_admin_only
def test_activity_page_filters(admin_client, history):
    url = member_url("activity", history.member)
    payouts_only = admin_client.get(url, {"kind": "payout"})
    assert {row["activity"].kind for row in payouts_only.context["rows"]} == {"payout"}
    assert 'value="payout" selected' in payouts_only.content.decode()
    elsewhere = testing.make_program("elsewhere")
    ledger.credit(testing.make_account(history.member, program=elsewhere), 7, reason="Hello")
    there = admin_client.get(url, {"program": str(elsewhere.pk)})
    assert [row["activity"].summary for row in there.context["rows"]] == ["Earned (Points): Hello"]
    # Unknown values are ignored rather than failing.
    everything = admin_client.get(url, {"program": "999999", "kind": "nonsense"})
    assert len(everything.context["rows"]) == len(member_activity(history.member))


@default_admin_only
def test_activity_csv(admin_client, history):
    ledger.adjust(history.account, 5, reason="=HYPERLINK(1)", created_by=history.sam, now=at(30))
    response = admin_client.get(member_url("activity", history.member), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="member-{history.member.pk}-activity.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(member_activity(history.member))
    assert rows[0]["summary"] == "Adjusted by staff (Points): =HYPERLINK(1)"
    assert rows[0]["amount"] == "'+5 points"  # a spreadsheet would run "+5 ..." as a formula
    assert rows[0]["by"] == "Sam Staff"
    assert (
        rows[0]["record"] == f"referral_rewards.LedgerEntry #{LedgerEntry.objects.latest('pk').pk}"
    )
    payouts_only = admin_client.get(
        member_url("activity", history.member), {"format": "csv", "kind": "payout"}
    )
    assert len(list(csv.DictReader(io.StringIO(payouts_only.content.decode())))) == 2


@default_admin_only
def test_activity_page_permissions(client, staff, history):
    url = member_url("activity", history.member)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    customer = staff("view_member", is_staff=False)  # not staff: the admin's login page
    response = customer.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert staff("view_account").get(url).status_code == 403
    viewer = staff("view_member")
    assert viewer.get(url).status_code == 200
    assert viewer.get(member_url("activity", Member(pk=999999))).status_code == 404
    # Links only to what the user may view.
    assert "/admin/referral_rewards/ledgerentry/" not in viewer.get(url).content.decode()


@default_admin_only
def test_member_page_links_to_activity_and_personal_data(staff, admin_client, history):
    page = admin_client.get(member_url("change", history.member)).content.decode()
    assert member_url("activity", history.member) in page
    assert member_url("personal_data", history.member) in page
    assert 'value="erase_personal_data"' in page
    viewer_page = staff("view_member").get(member_url("change", history.member))
    viewer_page = viewer_page.content.decode()
    assert member_url("activity", history.member) in viewer_page
    assert 'value="erase_personal_data"' not in viewer_page


# --- personal data: download and erasure ---------------------------------------------------


@default_admin_only
def test_personal_data_download(admin_client, admin_user, staff, history):
    from django_referral_rewards.services import privacy

    url = member_url("personal_data", history.member)
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert (
        f'attachment; filename="member-{history.member.pk}-personal-data.json"'
        == response["Content-Disposition"]
    )
    data = json.loads(response.content)
    assert isinstance(data, dict)
    expected = json.loads(json.dumps(privacy.export_member(history.member), default=str))
    assert set(data) == set(expected)
    assert "ann@example.com" in response.content.decode()
    assert "\n  " in response.content.decode()  # indented for people
    log = LogEntry.objects.filter(object_id=str(history.member.pk)).latest("pk")
    assert (log.user, log.get_change_message()) == (
        admin_user,
        "Downloaded the personal data (JSON).",
    )
    assert admin_client.get(member_url("personal_data", Member(pk=999999))).status_code == 404
    assert staff("view_account").get(url).status_code == 403


@default_admin_only
def test_erase_personal_data_action(admin_client, admin_user, history):
    member = history.member
    changelist = reverse("admin:referral_rewards_member_changelist")
    balance = ledger.balance(history.account)
    form = admin_client.post(
        changelist, {"action": "erase_personal_data", "_selected_action": [member.pk]}
    )
    assert form.status_code == 200
    page = form.content.decode()
    assert "Erase personal data" in page and 'name="confirm"' in page and "Ann Archer" in page

    unconfirmed = admin_client.post(
        changelist,
        {"action": "erase_personal_data", "_selected_action": [member.pk], "apply": "1"},
    )
    assert "confirm" in unconfirmed.context["form"].errors
    member.refresh_from_db()
    assert member.name == "Ann Archer"

    done = admin_client.post(
        changelist,
        {
            "action": "erase_personal_data",
            "_selected_action": [member.pk],
            "apply": "1",
            "confirm": "on",
        },
        follow=True,
    )
    said = [str(m) for m in done.context["messages"]]
    assert "Erased the personal data of 1 member." in said
    # Her approved payout and redemption are still open: staff are told.
    assert f"#{member.pk} Ann Archer: 1 payout and 1 redemption still open" in " ".join(said)
    member.refresh_from_db()
    assert member.name != "Ann Archer" and member.email != "ann@example.com"
    history.account.refresh_from_db()
    assert ledger.balance(history.account) == balance  # balances stay
    log = LogEntry.objects.filter(object_id=str(member.pk)).latest("pk")
    assert (log.user, log.get_change_message()) == (admin_user, "Erased the personal data.")
    assert "Ann" not in log.object_repr
    erased = history.find(member_activity(member), "admin", "Erased the personal data.")
    assert erased.actor == admin_user
    again = admin_client.post(
        changelist,
        {
            "action": "erase_personal_data",
            "_selected_action": [member.pk],
            "apply": "1",
            "confirm": "on",
        },
        follow=True,
    )
    assert any("nothing left to erase" in str(m) for m in again.context["messages"])


@default_admin_only
def test_erasing_needs_the_delete_permission(staff, history):
    changer = staff("view_member", "change_member")
    changelist = reverse("admin:referral_rewards_member_changelist")
    assert 'value="erase_personal_data"' not in changer.get(changelist).content.decode()
    changer.post(
        changelist,
        {
            "action": "erase_personal_data",
            "_selected_action": [history.member.pk],
            "apply": "1",
            "confirm": "on",
        },
    )
    history.member.refresh_from_db()
    assert history.member.name == "Ann Archer"
    deleter = staff("view_member", "delete_member")
    assert 'value="erase_personal_data"' in deleter.get(changelist).content.decode()


# --- the mixin on a host's own member admin (the swapped member model too) -----------------


host_site = admin.AdminSite(name="host_admin")


@admin.register(get_member_model(), site=host_site)
class HostMemberAdmin(MemberAdminMixin, admin.ModelAdmin):
    search_fields = ["name"]

    def has_view_permission(self, request, obj=None):
        # Object-level permissions: nobody sees the members kept secret.
        hidden = obj is not None and obj.name.startswith("Secret")
        return not hidden and super().has_view_permission(request, obj)


urlpatterns = [path("host-admin/", host_site.urls)]


@pytest.mark.urls(__name__)
def test_the_mixin_works_on_a_host_member_admin(client, history):
    boss = testing.make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    opts = get_member_model()._meta
    info = f"host_admin:{opts.app_label}_{opts.model_name}"
    change_page = client.get(reverse(f"{info}_change", args=[history.member.pk]))
    assert change_page.status_code == 200
    activity_url = reverse(f"{info}_activity", args=[history.member.pk])
    assert activity_url in change_page.content.decode()
    page = client.get(activity_url)
    assert page.status_code == 200
    assert "Adjusted by staff (Points): Goodwill" in page.content.decode()
    # Nothing but members is registered here: no links to other records.
    assert all(
        row["url"] is None for row in page.context["rows"] if row["activity"].kind != "admin"
    )
    csv_rows = client.get(activity_url, {"format": "csv"}).content.decode().splitlines()
    assert len(csv_rows) == len(member_activity(history.member)) + 1
    secret = testing.make_member(name="Secret Sue")
    assert client.get(reverse(f"{info}_activity", args=[secret.pk])).status_code == 403
    assert client.get(reverse(f"{info}_personal_data", args=[secret.pk])).status_code == 403
