"""Admin for reward rules, grants, vouchers and orders; granting and revoking by hand;
rejecting referrals. Every change goes through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.models import (
    Account,
    LedgerEntry,
    Order,
    Program,
    Referral,
    RewardGrant,
    RewardRule,
    Voucher,
)
from django_referral_rewards.services import codes, events, ledger, rewards, vouchers
from django_referral_rewards.services.accounts import get_or_create_account

pytestmark = pytest.mark.django_db


def changelist(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:referral_rewards_{obj._meta.model_name}_change", args=[obj.pk])


GRANT_ADD = "admin:referral_rewards_rewardgrant_add"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def grant(account, value=100, kind="points", **kwargs) -> RewardGrant:
    kwargs.setdefault("reason", "Test reward")
    return rewards.grant_reward(account, kind=kind, value=Decimal(value), **kwargs)


@pytest.fixture
def referral(program) -> Referral:
    """A referral with a released grant for the referrer and a held one for the
    referee, made by the sign-up event through two reward rules."""
    RewardRule.objects.create(
        program=program,
        name="Referrer bonus",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=Decimal(100),
        hold_days=0,
    )
    RewardRule.objects.create(
        program=program,
        name="Welcome points",
        trigger="signup",
        beneficiary="referee",
        kind="points",
        value=Decimal(50),
        hold_days=14,
    )
    referrer = testing.make_user("alice")
    code = codes.get_or_create_personal_code(referrer)
    found = events.customer_signed_up(testing.make_user("bob"), code=code.code)
    assert found is not None
    return found


def reason_action(client, model, action, objects, reason, follow=True):
    return client.post(
        changelist(model),
        {
            "action": action,
            "_selected_action": [obj.pk for obj in objects],
            "apply": "1",
            "reason": reason,
        },
        follow=follow,
    )


# --- pages render ------------------------------------------------------------------


def test_every_new_admin_page_renders_with_data(admin_client, referral, program):
    referrer, referee = referral.referrer, referral.referred
    assert referrer is not None
    customer = referee.member.user
    events.order_completed(customer, "ORD-1", Decimal("80.00"))
    events.order_refunded(customer, "ORD-1", Decimal("30.00"), refund_id="RF-77")
    voucher_grant = grant(referrer, 5, kind="voucher_fixed", description="Five off")
    voucher = Voucher.objects.get(grant=voucher_grant)
    rule = RewardRule.objects.get(name="Referrer bonus")
    released = RewardGrant.objects.get(rule=rule)
    order = Order.objects.get(order_id="ORD-1")

    pages = {
        changelist(RewardRule): ["Referrer bonus", "Welcome points", "100 points"],
        change(rule): ["Referrer bonus", "Grants of this rule"],
        changelist(RewardGrant): ["Referrer bonus", "Grant a reward", "5.00 USD"],
        # The policy's explanation, shown as a table rather than raw JSON.
        change(released): ["<th>rule name</th><td>Referrer bonus</td>", "signup"],
        change(voucher_grant): [voucher.display_code],
        changelist(Voucher): [voucher.display_code, "5.00 USD"],
        change(voucher): [voucher.display_code, "Five off"],
        changelist(Order): ["ORD-1"],
        change(order): ["ORD-1", "RF-77", "30.0000", "Rewards of this order"],
        change(referral): ["Expires at", "Referred revenue", "Welcome points", "ORD-1"],
        changelist(Referral): ["Pending", "alice"],
        change(referrer): ["Converted referrals", "grant a reward"],
        changelist(Account): ["grant_reward"],
        changelist(Program): ["First qualifying order"],
        reverse(GRANT_ADD): ["Grant a reward", 'name="reason"'],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for text in expected:
            assert text in page, (url, text)


def test_grants_are_read_only(admin_client, account):
    reward = grant(account)
    page = admin_client.get(change(reward)).content.decode()
    assert 'name="reason"' not in page  # no editable form
    delete = reverse("admin:referral_rewards_rewardgrant_delete", args=[reward.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    admin_client.post(change(reward), {"reason": "changed", "value": "999"})
    reward.refresh_from_db()
    assert (reward.reason, reward.value) == ("Test reward", Decimal(100))
    listing = admin_client.get(changelist(RewardGrant)).content.decode()
    assert "delete_selected" not in listing
    assert 'value="revoke"' in listing and 'value="release_now"' in listing


def test_voucher_and_order_admins_are_read_only(admin_client, account):
    voucher = Voucher.objects.get(grant=grant(account, 10, kind="voucher_percent"))
    events.order_completed(account.member.user, "ORD-9", Decimal("20.00"))
    assert admin_client.get(reverse("admin:referral_rewards_voucher_add")).status_code == 403
    assert admin_client.get(reverse("admin:referral_rewards_order_add")).status_code == 403
    admin_client.post(change(voucher), {"value": "90"})
    voucher.refresh_from_db()
    assert voucher.value == Decimal(10)


# --- reward rules ------------------------------------------------------------------


def test_rule_admin_validates_through_the_model(admin_client, program):
    url = reverse("admin:referral_rewards_rewardrule_add")
    data = {
        "name": "Fifth friend",
        "program": program.pk,
        "active": "on",
        "trigger": "milestone",
        "beneficiary": "referrer",
        "kind": "voucher_percent",
        "value": "150",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"nth", "value"}
    assert not RewardRule.objects.exists()
    response = admin_client.post(url, {**data, "nth": "5", "value": "15", "hold_days": "5000000"})
    assert "hold_days" in response.context["adminform"].form.errors  # not a date any more
    assert not RewardRule.objects.exists()
    response = admin_client.post(url, {**data, "nth": "5", "value": "15", "hold_days": "30"})
    assert response.status_code == 302
    rule = RewardRule.objects.get()
    assert (rule.trigger, rule.nth, rule.value) == ("milestone", 5, Decimal(15))


# --- granting by hand --------------------------------------------------------------


def grant_data(target, **overrides):
    data = {
        "account": target.pk,
        "kind": "points",
        "value": "250",
        "reason": "Goodwill: late repair",
        "description": "",
        "hold_days": "0",
        "voucher_valid_days": "",
        "token": "form-token-1",
    }
    data.update(overrides)
    return data


def test_grant_by_hand_records_reason_and_staff_and_credits_the_ledger(
    admin_client, admin_user, account
):
    response = admin_client.post(reverse(GRANT_ADD), grant_data(account), follow=True)
    reward = RewardGrant.objects.get()
    assert response.redirect_chain[-1][0] == change(reward)
    assert f"Granted 250 points to {account}." in messages_of(response)
    assert (reward.created_by, reward.reason, reward.status, reward.rule) == (
        admin_user,
        "Goodwill: late repair",
        "released",
        None,
    )
    assert ledger.balance(account) == 250
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.amount, entry.memo, entry.created_by) == (
        250,
        "Goodwill: late repair",
        admin_user,
    )
    assert LogEntry.objects.filter(object_id=str(reward.pk), action_flag=1).exists()
    # The same form posted twice grants once.
    admin_client.post(reverse(GRANT_ADD), grant_data(account), follow=True)
    assert RewardGrant.objects.count() == 1
    assert ledger.balance(account) == 250


def test_grant_by_hand_with_a_hold(admin_client, account):
    response = admin_client.post(
        reverse(GRANT_ADD), grant_data(account, value="40", hold_days="7"), follow=True
    )
    reward = RewardGrant.objects.get()
    assert reward.status == "held"
    assert any("held until" in m for m in messages_of(response))
    account.refresh_from_db()
    assert (ledger.balance(account), account.held_points) == (0, 40)


def test_grant_a_voucher_by_hand(admin_client, account):
    admin_client.post(
        reverse(GRANT_ADD),
        grant_data(
            account,
            kind="voucher_percent",
            value="15",
            description="15% off the next service",
            voucher_valid_days="30",
        ),
    )
    voucher = Voucher.objects.get(account=account)
    assert (voucher.kind, voucher.value, voucher.description) == (
        "percent",
        Decimal(15),
        "15% off the next service",
    )
    assert voucher.expires_at is not None


def test_grant_form_errors_change_nothing(admin_client, account):
    url = reverse(GRANT_ADD)
    cases = [
        ({"reason": "  "}, "reason"),
        ({"value": "1.5"}, "value"),  # points are whole
        ({"kind": "voucher_percent", "value": "150"}, "value"),
        ({"kind": "commission_percent"}, "kind"),  # needs an order: not by hand
        ({"value": "0"}, "value"),
        ({"hold_days": "-1"}, "hold_days"),
        ({"hold_days": "99999999"}, "hold_days"),
        ({"voucher_valid_days": "30"}, "voucher_valid_days"),  # points have no validity
        ({"account": "999999"}, "account"),
        # Refused by the service (USD has two decimal places): a form error, not a 500.
        ({"kind": "credit", "value": "5.125"}, "value"),
    ]
    for overrides, field in cases:
        response = admin_client.post(url, grant_data(account, **overrides))
        assert response.status_code == 200, overrides
        assert field in response.context["form"].errors, (overrides, response.context["form"])
    assert not RewardGrant.objects.exists()
    assert ledger.balance(account) == 0


def test_grant_page_preselects_the_account_and_autocompletes(admin_client, account):
    other = testing.make_account(testing.make_member(name="Zed Zebra"))
    response = admin_client.get(reverse(GRANT_ADD) + f"?account={account.pk}")
    assert response.context["form"]["account"].value() == str(account.pk)
    assert str(account) in response.content.decode()
    found = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "referral_rewards",
            "model_name": "rewardgrant",
            "field_name": "account",
            "term": "zebra",
        },
    ).json()
    assert [row["id"] for row in found["results"]] == [str(other.pk)]


def test_grant_to_several_accounts_from_the_account_admin(admin_client, admin_user, program):
    yen = testing.make_program(currency="JPY", currency_decimal_places=0)
    usd_account = testing.make_account(program=program)
    yen_account = testing.make_account(program=yen)
    selected = [usd_account.pk, yen_account.pk]
    form = admin_client.post(
        changelist(Account), {"action": "grant_reward", "_selected_action": selected}
    )
    assert form.status_code == 200
    assert "account" not in form.context["form"].fields
    page = form.content.decode()
    assert f'href="{changelist(Account)}"' in page and 'name="reason"' in page
    response = admin_client.post(
        changelist(Account),
        {
            "action": "grant_reward",
            "_selected_action": selected,
            "apply": "1",
            "kind": "credit",
            "value": "2.50",
            "reason": "Outage compensation",
            "hold_days": "0",
            "token": "bulk-1",
        },
        follow=True,
    )
    messages = messages_of(response)
    assert "Granted the reward to 1 account." in messages
    assert any(str(yen_account) in m and "decimal places" in m for m in messages)
    reward = RewardGrant.objects.get()
    assert (reward.account, reward.created_by, reward.reason) == (
        usd_account,
        admin_user,
        "Outage compensation",
    )
    assert ledger.balance(usd_account, unit="credit") == 250
    assert ledger.balance(yen_account, unit="credit") == 0


# --- releasing and revoking --------------------------------------------------------


def test_revoke_asks_for_a_reason_then_reverses_and_records_who(admin_client, admin_user, account):
    released = grant(account, 100)
    held = grant(account, 30, hold_days=5)
    account.refresh_from_db()
    assert (ledger.balance(account), account.held_points) == (100, 30)
    form = admin_client.post(
        changelist(RewardGrant),
        {"action": "revoke", "_selected_action": [released.pk, held.pk]},
    )
    assert form.status_code == 200
    assert "Revoke rewards" in form.content.decode()
    response = reason_action(
        admin_client, RewardGrant, "revoke", [released, held], "Duplicate account"
    )
    assert "Revoked 2 rewards." in messages_of(response)
    released.refresh_from_db()
    held.refresh_from_db()
    assert (released.status, released.revoked_by, released.revoke_reason) == (
        "reversed",
        admin_user,
        "Duplicate account",
    )
    assert (held.status, held.revoked_by, held.revoke_reason) == (
        "voided",
        admin_user,
        "Duplicate account",
    )
    account.refresh_from_db()
    assert (ledger.balance(account), account.held_points) == (0, 0)
    reversal = LedgerEntry.objects.get(account=account, kind="reverse")
    assert (reversal.amount, reversal.created_by) == (-100, admin_user)


def test_revoke_without_a_reason_is_a_form_error(admin_client, account):
    reward = grant(account, 100)
    response = reason_action(admin_client, RewardGrant, "revoke", [reward], "   ", follow=False)
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    reward.refresh_from_db()
    assert (reward.status, reward.revoke_reason) == ("released", "")
    assert ledger.balance(account) == 100


def test_revoke_failures_are_reported_and_the_others_still_revoked(admin_client, account):
    done = grant(account, 10)
    rewards.revoke(done, reason="earlier")
    used = grant(account, 5, kind="voucher_fixed")
    voucher = Voucher.objects.get(grant=used)
    vouchers.apply_voucher(
        voucher.code, user=account.member.user, order_id="A1", order_amount=Decimal(20)
    )
    fine = grant(account, 20)
    response = reason_action(admin_client, RewardGrant, "revoke", [done, used, fine], "Fraud")
    assert response.status_code == 200
    messages = messages_of(response)
    assert "Revoked 1 reward." in messages
    assert any(f"#{done.pk}" in m and "already reversed" in m for m in messages)
    assert any(f"#{used.pk}" in m and "voucher has been used" in m for m in messages)
    fine.refresh_from_db()
    used.refresh_from_db()
    done.refresh_from_db()
    assert (fine.status, used.status, done.revoke_reason) == ("reversed", "released", "earlier")
    assert ledger.balance(account) == 0  # 10 - 10 + 20 - 20


def test_release_now(admin_client, account):
    held = grant(account, 70, hold_days=30)
    voided = grant(account, 5, hold_days=30)
    rewards.revoke(voided, reason="x")
    response = admin_client.post(
        changelist(RewardGrant),
        {"action": "release_now", "_selected_action": [held.pk, voided.pk]},
        follow=True,
    )
    messages = messages_of(response)
    assert "Released 1 reward." in messages
    assert "Skipped 1 reward that is not held." in messages
    held.refresh_from_db()
    account.refresh_from_db()
    assert held.status == "released"
    assert (ledger.balance(account), account.held_points) == (70, 0)


def test_release_now_leaves_referrals_in_review_alone(admin_client, referral):
    held = RewardGrant.objects.get(status="held")
    Referral.objects.filter(pk=referral.pk).update(fraud_status="review")
    response = admin_client.post(
        changelist(RewardGrant),
        {"action": "release_now", "_selected_action": [held.pk]},
        follow=True,
    )
    assert any("in review" in m for m in messages_of(response))
    held.refresh_from_db()
    assert held.status == "held"


# --- permissions -------------------------------------------------------------------


@pytest.fixture
def staff(client, django_user_model):
    def login(*codenames):
        user = django_user_model.objects.create_user(
            f"staff{len(codenames)}", password="pw", is_staff=True
        )
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return login


def test_viewers_cannot_grant_release_or_revoke(staff, account):
    reward = grant(account, 100, hold_days=3)
    client = staff("view_rewardgrant", "view_account")
    assert client.get(changelist(RewardGrant)).status_code == 200
    page = client.get(changelist(RewardGrant)).content.decode()
    assert "Grant a reward" not in page and 'value="revoke"' not in page
    assert client.get(reverse(GRANT_ADD)).status_code == 403
    assert client.post(reverse(GRANT_ADD), grant_data(account)).status_code == 403
    for action in ("revoke", "release_now"):
        response = reason_action(client, RewardGrant, action, [reward], "no", follow=False)
        assert response.status_code in (200, 302)
    reward.refresh_from_db()
    assert reward.status == "held"
    # Nor grant from the account admin.
    assert "grant_reward" not in client.get(changelist(Account)).content.decode()
    client.post(
        changelist(Account),
        {
            "action": "grant_reward",
            "_selected_action": [account.pk],
            **grant_data(account, token="t2"),
            "apply": "1",
        },
    )
    assert RewardGrant.objects.count() == 1


def test_add_permission_is_enough_to_grant(staff, account):
    client = staff("add_rewardgrant")
    response = client.post(reverse(GRANT_ADD), grant_data(account), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")  # cannot view grants
    assert RewardGrant.objects.get().reason == "Goodwill: late repair"
    assert ledger.balance(account) == 250


def test_change_permission_allows_revoking(staff, account):
    reward = grant(account, 100)
    client = staff("view_rewardgrant", "change_rewardgrant")
    reason_action(client, RewardGrant, "revoke", [reward], "Chargeback")
    reward.refresh_from_db()
    assert (reward.status, reward.revoke_reason) == ("reversed", "Chargeback")
    # The change form stays read-only.
    assert 'name="reason"' not in client.get(change(reward)).content.decode()


# --- vouchers ----------------------------------------------------------------------


def test_voucher_search_ignores_dashes_and_case(admin_client, account):
    wanted = Voucher.objects.get(grant=grant(account, 5, kind="voucher_fixed"))
    other = Voucher.objects.get(grant=grant(account, 7, kind="voucher_fixed"))
    for term in (wanted.display_code.lower(), f" {wanted.display_code[:9].lower()} "):
        response = admin_client.get(changelist(Voucher), {"q": term})
        assert list(response.context["cl"].result_list) == [wanted], term
        assert other.display_code not in response.content.decode()
    by_name = admin_client.get(changelist(Voucher), {"q": account.member.name})
    assert set(by_name.context["cl"].result_list) == {wanted, other}


def test_void_unused_vouchers(admin_client, account):
    unused = Voucher.objects.get(grant=grant(account, 5, kind="voucher_fixed"))
    used = Voucher.objects.get(grant=grant(account, 6, kind="voucher_fixed"))
    vouchers.apply_voucher(
        used.code, user=account.member.user, order_id="B2", order_amount=Decimal(50)
    )
    response = admin_client.post(
        changelist(Voucher),
        {"action": "void_unused", "_selected_action": [unused.pk, used.pk]},
        follow=True,
    )
    messages = messages_of(response)
    assert "Voided 1 voucher." in messages
    assert any("1 voucher was not voided" in m for m in messages)
    unused.refresh_from_db()
    used.refresh_from_db()
    assert (unused.status, used.status) == ("void", "applied")


def test_viewers_cannot_void_vouchers(staff, account):
    voucher = Voucher.objects.get(grant=grant(account, 5, kind="voucher_fixed"))
    client = staff("view_voucher")
    client.post(changelist(Voucher), {"action": "void_unused", "_selected_action": [voucher.pk]})
    voucher.refresh_from_db()
    assert voucher.status == "issued"


# --- referrals ---------------------------------------------------------------------


def test_reject_referral_with_a_reason(admin_client, admin_user, referral):
    held = RewardGrant.objects.get(referral=referral, status="held")
    released = RewardGrant.objects.get(referral=referral, status="released")
    response = reason_action(admin_client, Referral, "reject", [referral], "", follow=False)
    assert "reason" in response.context["form"].errors
    referral.refresh_from_db()
    assert referral.status == "pending"

    response = reason_action(admin_client, Referral, "reject", [referral], "Same household")
    assert "Rejected 1 referral." in messages_of(response)
    referral.refresh_from_db()
    held.refresh_from_db()
    released.refresh_from_db()
    assert referral.status == "rejected"
    assert (held.status, held.revoked_by, held.revoke_reason) == (
        "voided",
        admin_user,
        "Same household",
    )
    assert released.status == "released"  # released rewards are revoked one by one
    # Rejecting it again is refused with a message, not an error page.
    response = reason_action(admin_client, Referral, "reject", [referral], "Again")
    assert response.status_code == 200
    assert any("cannot be rejected" in m for m in messages_of(response))


def test_referral_fields_are_read_only(admin_client, referral):
    customer = referral.referred.member.user
    events.order_completed(customer, "ORD-5", Decimal("42.00"))
    page = admin_client.get(change(referral)).content.decode()
    assert "ORD-5" in page and "42.0000" in page
    assert 'name="referred_revenue"' not in page and 'name="first_order_id"' not in page


# --- queries -----------------------------------------------------------------------


def test_grant_changelist_query_count_does_not_grow_with_rows(
    admin_client, admin_user, program, django_assert_max_num_queries
):
    rule = RewardRule.objects.create(
        program=program,
        name="Every order",
        trigger="every_order",
        beneficiary="referee",
        kind="points",
        value=Decimal(10),
    )
    for n in range(20):
        account = testing.make_account(program=program)
        reward = grant(account, n + 1, created_by=admin_user)
        order = Order.objects.create(
            program=program, account=account, order_id=f"Q{n}", amount=10, currency="USD"
        )
        RewardGrant.objects.filter(pk=reward.pk).update(rule=rule, order=order)
        rewards.revoke(reward, reason="test", revoked_by=admin_user)
    with django_assert_max_num_queries(10):
        response = admin_client.get(changelist(RewardGrant))
    assert len(response.context["cl"].result_list) == 20
    assert "Q19" in response.content.decode()


def test_account_admin_shows_the_new_counters(admin_client, referral):
    referrer = referral.referrer
    assert referrer is not None
    get_or_create_account(referrer.member)
    page = admin_client.get(changelist(Account)).content.decode()
    assert "converted referrals" in page.lower()
