"""Admin: read-only ledger, read-only balances, the adjust-balance action."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.conf import get_member_model
from django_referral_rewards.models import Account, EarnLot, LedgerEntry, Member
from django_referral_rewards.services import ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)
    client.user = admin
    return client


def changelist(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_changelist")


def test_changelists_render(staff_client, account):
    entry = ledger.credit(
        account, 100, unit="credit", reason="Opening", reference=("shop.order", 1)
    )
    for model in (Account, LedgerEntry, EarnLot):
        response = staff_client.get(changelist(model))
        assert response.status_code == 200, model
    page = staff_client.get(changelist(Account)).content.decode()
    assert "1.00 USD" in page  # credit shown as money in the program currency
    assert "shop.order #1" in staff_client.get(changelist(LedgerEntry)).content.decode()
    detail = reverse("admin:referral_rewards_ledgerentry_change", args=[entry.pk])
    assert staff_client.get(detail).status_code == 200
    account_page = reverse("admin:referral_rewards_account_change", args=[account.pk])
    assert staff_client.get(account_page).status_code == 200
    assert staff_client.get(reverse("admin:referral_rewards_program_changelist")).status_code == 200


def test_member_admin_only_for_the_default_member_model(staff_client, account):
    url = reverse("admin:index")
    page = staff_client.get(url).content.decode()
    registered = "/admin/referral_rewards/member/" in page
    assert registered == (get_member_model() is Member)


def test_ledger_cannot_be_added_changed_or_deleted_in_admin(staff_client, account):
    entry = ledger.credit(account, 100, reason="x")
    assert staff_client.get(reverse("admin:referral_rewards_ledgerentry_add")).status_code == 403
    delete = reverse("admin:referral_rewards_ledgerentry_delete", args=[entry.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:referral_rewards_ledgerentry_change", args=[entry.pk])
    staff_client.post(change, {"amount": 5})
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 100
    page = staff_client.get(changelist(LedgerEntry)).content.decode()
    assert "delete_selected" not in page


def test_balances_are_read_only_on_the_account_form(staff_client, account):
    ledger.credit(account, 100, reason="x")
    url = reverse("admin:referral_rewards_account_change", args=[account.pk])
    staff_client.post(url, {"points_balance": 1_000_000, "metadata": "{}"})
    assert Account.objects.get(pk=account.pk).points_balance == 100


def test_adjust_balance_action_goes_through_the_ledger(staff_client, program):
    a = testing.make_account(program=program, points=10)
    b = testing.make_account(program=program, points=100)
    url = changelist(Account)
    form = staff_client.post(url, {"action": "adjust_balance", "_selected_action": [a.pk, b.pk]})
    assert form.status_code == 200
    page = form.content.decode()
    assert f'href="{url}"' in page  # the breadcrumbs lead back to the accounts
    assert 'name="reason"' in page and 'class="module aligned"' in page
    token = form.context["form"]["token"].value()
    data = {
        "action": "adjust_balance",
        "_selected_action": [a.pk, b.pk],
        "apply": "1",
        "unit": "points",
        "amount": "-50",
        "reason": "Duplicate order",
        "token": token,
    }
    response = staff_client.post(url, data, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("balance is 10" in m for m in messages)  # a refused, with the reason shown
    assert "Adjusted 1 account." in messages
    entry = LedgerEntry.objects.get(account=b, kind="adjust")
    assert (entry.amount, entry.memo, entry.created_by) == (
        -50,
        "Duplicate order",
        staff_client.user,
    )
    assert (ledger.balance(a), ledger.balance(b)) == (10, 50)
    # The same form submitted twice acts once.
    staff_client.post(url, data, follow=True)
    assert ledger.balance(b) == 50


def test_adjust_balance_form_errors_are_shown(staff_client, account):
    url = changelist(Account)
    response = staff_client.post(
        url,
        {
            "action": "adjust_balance",
            "_selected_action": [account.pk],
            "apply": "1",
            "unit": "points",
            "amount": "-5",
            "reason": "",
            "expires_at": "2030-01-01 00:00",
            "token": "t",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"reason", "expires_at"}
    response = staff_client.post(
        url,
        {
            "action": "adjust_balance",
            "_selected_action": [account.pk],
            "apply": "1",
            "unit": "points",
            "amount": "0",
            "reason": "x",
            "token": "t",
        },
    )
    assert "amount" in response.context["form"].errors
    assert not LedgerEntry.objects.filter(account=account).exists()


def test_staff_without_change_permission_cannot_adjust(client, django_user_model, account):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_account"))
    client.force_login(viewer)
    response = client.post(
        changelist(Account),
        {
            "action": "adjust_balance",
            "_selected_action": [account.pk],
            "apply": "1",
            "unit": "points",
            "amount": "5",
            "reason": "x",
            "token": "t",
        },
    )
    assert response.status_code in (200, 302)
    assert ledger.balance(account) == 0
