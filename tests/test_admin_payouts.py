"""Admin for commission payouts (actions through the service, the bank batch, the
request page), the account's commission terms and links, partners and professional
referrals with their balances report."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.models import (
    Account,
    LedgerEntry,
    Partner,
    Payout,
    PayoutEvent,
    ProfessionalReferral,
    Program,
)
from django_referral_rewards.payout_backends import PayoutBackend
from django_referral_rewards.services import ledger, payouts, professional

pytestmark = pytest.mark.django_db

PAYOUT_ADD = "admin:referral_rewards_payout_add"
PAYOUT_EXPORT = "admin:referral_rewards_payout_export"
BALANCES = "admin:referral_rewards_partner_balances"


# --- helpers ----------------------------------------------------------------------------


def changelist(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:referral_rewards_{obj._meta.model_name}_change", args=[obj.pk])


def add(model) -> str:
    return reverse(f"admin:referral_rewards_{model._meta.model_name}_add")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def act(client, action, objects, follow=True, **data):
    """Post an admin action on the payout changelist (``apply`` posts its form)."""
    return client.post(
        changelist(Payout),
        {"action": action, "_selected_action": [obj.pk for obj in objects], **data},
        follow=follow,
    )


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def commission(account: Account) -> int:
    return ledger.balance(fresh(account), unit="commission")


def ask(account: Account, amount: str = "20", method: str = "bank_transfer", **kwargs) -> Payout:
    kwargs.setdefault("destination", "DE89 3704 0044 0532 0130 00")
    return payouts.request_payout(account, amount=Decimal(amount), method=method, **kwargs)


def read_csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


class AcmeBackend(PayoutBackend):
    """An automatic backend: pays, or fails while ``failures`` is positive."""

    automatic = True
    failures = 0

    def submit(self, payout: Payout) -> str:
        if AcmeBackend.failures:
            AcmeBackend.failures -= 1
            raise ConnectionError("provider unreachable")
        return f"ACME-{payout.pk}"


@pytest.fixture
def automatic(settings):
    AcmeBackend.failures = 0
    settings.REFERRAL_REWARDS_PAYOUT_BACKEND = "tests.test_admin_payouts.AcmeBackend"
    return AcmeBackend


@pytest.fixture
def shop(program) -> Program:
    Program.objects.filter(pk=program.pk).update(payout_minimum=Decimal("10"))
    program.refresh_from_db()
    return program


@pytest.fixture
def earner(shop) -> Account:
    """Ann, with 50.00 USD of commission."""
    member = testing.make_member(name="Ann Archer", email="ann@example.com")
    return testing.make_account(member, program=shop, commission=5000)


@pytest.fixture
def pending(earner) -> Payout:
    return ask(earner)


@pytest.fixture
def staff(client, django_user_model):
    def login(*codenames):
        user = django_user_model.objects.create_user(
            "staff-" + "-".join(codenames), password="pw", is_staff=True
        )
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return login


@pytest.fixture
def clinics() -> dict[str, Partner]:
    """Dr Vet sent us 3 and received 2 (they owe us 1); Oncology received 1 from us."""
    vet = Partner.objects.create(name="Dr Vet", kind="clinic", specialty="Dermatology")
    onco = Partner.objects.create(name="Onco Care", kind="specialist", specialty="Oncology")
    gone = Partner.objects.create(name="Old Clinic", active=False)
    day = dt.date(2025, 1, 10)
    for n in range(3):
        professional.record_referral(
            vet, direction="received", date=day + dt.timedelta(days=30 * n), reference=f"R{n}"
        )
    for n in range(2):
        professional.record_referral(
            vet, direction="sent", date=day + dt.timedelta(days=30 * n + 1), reference=f"S{n}"
        )
    professional.record_referral(onco, direction="sent", date=day, reference="P-77")
    professional.record_referral(gone, direction="received", date=day)
    return {"vet": vet, "onco": onco, "gone": gone}


# --- pages render -----------------------------------------------------------------------


def test_every_page_renders_with_data(admin_client, admin_user, earner, pending, clinics):
    approved = payouts.approve_payout(ask(earner, "10", "cash"), by=admin_user)
    paid = payouts.mark_paid(
        payouts.approve_payout(ask(earner, "10"), by=admin_user), by=admin_user, reference="B-7"
    )
    credited = payouts.approve_payout(ask(earner, "10", "account_credit"), by=admin_user)
    referral = ProfessionalReferral.objects.filter(partner=clinics["vet"]).first()
    pages = {
        changelist(Payout): [
            "Ann Archer",
            "20.00 USD",
            "Waiting for approval",
            "B-7",
            f'href="{reverse(PAYOUT_EXPORT)}',
            "Request a payout for a member",
        ],
        change(pending): ["20.00 USD", "Requested", "History", "+50.00 USD, Earned"],
        change(approved): ["Cash", "Approved"],
        change(paid): ["B-7", "Paid"],
        change(credited): ["Account credit", "+10.00 USD, Transferred"],
        reverse(PAYOUT_ADD): ["Request a payout for a member", 'name="amount"'],
        reverse(PAYOUT_EXPORT): ["Export", "payoutresource_destination"],
        changelist(Partner): ["Dr Vet", "They owe us 1 referral", "Balances report"],
        change(clinics["vet"]): ["They owe us 1 referral", "referrals with this partner"],
        add(Partner): ['name="specialty"', "referrals-TOTAL_FORMS"],
        changelist(ProfessionalReferral): ["P-77", "Onco Care"],
        change(referral): ['name="reference"', "Recorded by"],
        add(ProfessionalReferral): ['name="direction"'],
        reverse(BALANCES): ["Partner balances", "Dr Vet", "All time"],
        change(earner): ["commission entries", "request a payout", 'name="commission_kind"'],
        add(Account): ['name="commission_value"'],
        change(earner.program): ['name="payout_minimum"', "Commissions and payouts"],
        add(Program): ['name="payout_minimum"'],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for text in expected:
            assert text in page, (url, text)


# --- payouts: read-only, search, filters ------------------------------------------------


def test_payouts_are_read_only_but_for_the_notes(admin_client, admin_user, pending):
    page = admin_client.get(change(pending)).content.decode()
    assert 'name="notes"' in page
    for field in ("destination", "status", "amount", "method", "external_reference"):
        assert f'name="{field}"' not in page, field
    payouts.approve_payout(pending, by=admin_user)  # meanwhile, someone approves it
    data = {
        "notes": "Called Ann to confirm the IBAN",
        "destination": "elsewhere",
        "status": "paid",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    response = admin_client.post(change(pending), data)
    assert response.status_code == 302
    saved = fresh(pending)
    assert saved.notes == "Called Ann to confirm the IBAN"
    assert (saved.status, saved.destination) == ("approved", "DE89 3704 0044 0532 0130 00")
    assert saved.approved_by == admin_user
    delete = reverse("admin:referral_rewards_payout_delete", args=[pending.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    listing = admin_client.get(changelist(Payout)).content.decode()
    assert "delete_selected" not in listing and 'value="send"' not in listing
    for action in ("approve", "mark_paid", "cancel", "export_batch"):
        assert f'value="{action}"' in listing, action


def test_payout_search_and_filters(admin_client, admin_user, shop, earner, pending):
    other = testing.make_account(
        testing.make_member(name="Carl Cole", email="carl@example.org"),
        program=shop,
        commission=3000,
    )
    cash = ask(other, "15", "cash", destination="At the counter")
    payouts.mark_paid(payouts.approve_payout(cash, by=admin_user), by=admin_user, reference="R-99")
    elsewhere = testing.make_program()
    abroad = ask(testing.make_account(program=elsewhere, commission=900), "9", destination="")

    def results(**params):
        response = admin_client.get(changelist(Payout), params)
        assert response.status_code == 200, params
        return set(response.context["cl"].result_list)

    assert results(q="Ann Arch") == {pending}
    assert results(q="carl@example.org") == {cash}
    assert results(q="R-99") == {cash}
    assert results(q="3704") == {pending}
    assert results(status__exact="paid") == {cash}
    assert results(method__exact="cash") == {cash}
    assert results(program__id__exact=elsewhere.pk) == {abroad}
    assert results(account__id__exact=earner.pk) == {pending}


# --- actions ----------------------------------------------------------------------------


def test_approve_reports_each_payout(admin_client, admin_user, earner, pending):
    as_credit = ask(earner, "10", "account_credit")
    done = payouts.approve_payout(ask(earner, "10"), by=admin_user)
    response = act(admin_client, "approve", [pending, as_credit, done])
    messages = messages_of(response)
    assert "Approved 1 payout: pay it, then mark it paid." in messages
    assert "Approved and paid 1 payout as account credit." in messages
    assert any(m.startswith(f"#{done.pk} 10.00 USD") and "approved" in m for m in messages)
    assert (fresh(pending).status, fresh(pending).approved_by) == ("approved", admin_user)
    assert fresh(as_credit).status == "paid"
    assert ledger.balance(fresh(earner), unit="credit") == 1000
    assert LogEntry.objects.filter(object_id=str(pending.pk)).exists()
    assert PayoutEvent.objects.filter(payout=done, action="approved").count() == 1


def test_approving_many_says_so_in_the_plural(admin_client, earner):
    first, second = ask(earner, "10"), ask(earner, "10", "cheque")
    credits = [ask(earner, "10", "account_credit") for _ in range(2)]
    messages = messages_of(act(admin_client, "approve", [first, second, *credits]))
    assert "Approved 2 payouts: pay them, then mark them paid." in messages
    assert "Approved and paid 2 payouts as account credit." in messages


def test_mark_paid_asks_for_the_reference(admin_client, admin_user, earner, pending):
    payouts.approve_payout(pending, by=admin_user)
    form = act(admin_client, "mark_paid", [pending], follow=False)
    assert form.status_code == 200
    page = form.content.decode()
    assert "Mark payouts paid" in page and 'name="reference"' in page and 'name="note"' in page
    assert f"#{pending.pk} 20.00 USD" in page
    response = act(
        admin_client, "mark_paid", [pending], follow=False, apply="1", reference="R" * 201
    )
    assert "reference" in response.context["form"].errors
    assert fresh(pending).status == "approved"
    response = act(
        admin_client,
        "mark_paid",
        [pending],
        apply="1",
        reference="BATCH-2025-03",
        note="March bank batch",
    )
    assert "Marked 1 payout paid." in messages_of(response)
    paid = fresh(pending)
    assert (paid.status, paid.external_reference, paid.paid_by) == (
        "paid",
        "BATCH-2025-03",
        admin_user,
    )
    event = PayoutEvent.objects.get(payout=pending, action="paid")
    assert (event.actor, event.note) == (admin_user, "March bank batch")
    log = LogEntry.objects.filter(object_id=str(pending.pk)).first()
    assert log is not None and "BATCH-2025-03" in log.get_change_message()
    # A pending one, and a second time: refused, reported, unchanged.
    waiting = ask(earner, "10", "cash")
    response = act(admin_client, "mark_paid", [pending, waiting], apply="1", reference="")
    messages = messages_of(response)
    assert len(messages) == 2 and all(m.startswith("#") for m in messages)
    assert fresh(waiting).status == "pending" and fresh(pending).external_reference
    # Without a reference (cash at the counter).
    payouts.approve_payout(waiting, by=admin_user)
    response = act(admin_client, "mark_paid", [waiting], apply="1", reference="")
    assert "Marked 1 payout paid." in messages_of(response)
    assert LogEntry.objects.filter(object_id=str(waiting.pk), change_message="Marked paid.")


def test_cancel_with_a_reason_gives_the_commission_back(admin_client, admin_user, earner, pending):
    assert commission(earner) == 3000
    response = act(admin_client, "cancel", [pending], follow=False, apply="1", reason=" ")
    assert "reason" in response.context["form"].errors
    response = act(admin_client, "cancel", [pending], apply="1", reason="Wrong IBAN")
    assert "Cancelled 1 payout." in messages_of(response)
    cancelled = fresh(pending)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "Wrong IBAN")
    assert commission(earner) == 5000
    event = PayoutEvent.objects.get(payout=pending, action="cancelled")
    assert (event.actor, event.note) == (admin_user, "Wrong IBAN")
    response = act(admin_client, "cancel", [pending], apply="1", reason="Again")
    assert any(m.startswith(f"#{pending.pk} ") for m in messages_of(response))
    assert commission(earner) == 5000


def test_send_is_not_offered_with_the_manual_backend(admin_client, admin_user, pending):
    payouts.approve_payout(pending, by=admin_user)
    assert 'value="send"' not in admin_client.get(changelist(Payout)).content.decode()
    response = act(admin_client, "send", [pending])
    assert response.status_code == 200
    assert fresh(pending).status == "approved"
    assert "send" not in dict(admin_client.get(change(pending)).context["workflow_steps"])


def test_send_inside_a_request_transaction_is_refused_once(
    admin_client, admin_user, earner, automatic
):
    # Test cases run in a transaction, as every request does with ATOMIC_REQUESTS.
    approved = [payouts.approve_payout(ask(earner, "10"), by=admin_user) for _ in range(2)]
    messages = messages_of(act(admin_client, "send", approved))
    assert len(messages) == 1 and "ATOMIC_REQUESTS" in messages[0]
    assert {fresh(p).status for p in approved} == {"approved"}
    assert not PayoutEvent.objects.filter(action="submitted").exists()


@pytest.mark.django_db(transaction=True)
def test_send_pays_through_the_backend_and_reports_failures(admin_client, admin_user, automatic):
    member = testing.make_member(name="Ann Archer")
    earner = testing.make_account(member, commission=5000)
    first = payouts.approve_payout(ask(earner, "10"), by=admin_user)
    second = payouts.approve_payout(ask(earner, "10"), by=admin_user)
    waiting = ask(earner, "10")
    assert 'value="send"' in admin_client.get(changelist(Payout)).content.decode()
    automatic.failures = 1
    messages = messages_of(act(admin_client, "send", [first, second, waiting]))
    assert "Sent and paid 1 payout." in messages
    failed = [m for m in messages if m.startswith("#")]
    assert len(failed) == 2
    assert any("provider unreachable" in m and "approved again" in m for m in failed)
    assert any(m.startswith(f"#{waiting.pk} ") for m in failed)
    statuses = {fresh(first).status, fresh(second).status}
    assert statuses == {"approved", "paid"}
    paid = first if fresh(first).status == "paid" else second
    retry = second if paid is first else first
    assert fresh(paid).external_reference == f"ACME-{paid.pk}"
    # The failure is on the change page, with the attempts; sending again pays it.
    page = admin_client.get(change(retry)).content.decode()
    assert "ConnectionError: provider unreachable" in page
    assert [name for name, _ in admin_client.get(change(retry)).context["workflow_steps"]] == [
        "mark_paid",
        "send",
        "cancel",
    ]
    messages = messages_of(act(admin_client, "send", [retry, paid]))
    assert "Sent and paid 1 payout." in messages
    assert fresh(retry).external_reference == f"ACME-{retry.pk}"
    assert (fresh(retry).attempts, fresh(retry).last_error) == (2, "")
    # A payout left being sent by a crash is sent again (the same submission key).
    stuck = payouts.approve_payout(ask(earner, "10"), by=admin_user)
    Payout.objects.filter(pk=stuck.pk).update(
        status="processing", attempts=1, submitted_at=timezone.now() - dt.timedelta(hours=1)
    )
    steps = admin_client.get(change(stuck)).context["workflow_steps"]
    assert [name for name, _ in steps] == ["mark_paid", "send"]
    assert "Sent and paid 1 payout." in messages_of(act(admin_client, "send", [stuck]))
    assert fresh(stuck).status == "paid"
    log = LogEntry.objects.filter(object_id=str(stuck.pk)).first()
    assert log is not None and f"ACME-{stuck.pk}" in log.get_change_message()


def test_change_page_offers_the_steps_that_apply(admin_client, admin_user, earner, pending):
    def steps(payout):
        response = admin_client.get(change(payout))
        return [name for name, _ in response.context["workflow_steps"]]

    assert steps(pending) == ["approve", "cancel"]
    page = admin_client.get(change(pending)).content.decode()
    assert f'action="{changelist(Payout)}"' in page and 'value="approve"' in page
    payouts.approve_payout(pending, by=admin_user)
    assert steps(pending) == ["mark_paid", "cancel"]  # the manual backend: no "send"
    payouts.mark_paid(pending, by=admin_user, reference="X")
    assert steps(pending) == []
    other = ask(earner, "10")
    payouts.cancel_payout(other, by=admin_user, reason="Asked twice")
    assert steps(other) == []
    # A step button posts the action for this one payout: its intermediate page.
    waiting = ask(earner, "10")
    form = act(admin_client, "cancel", [waiting], follow=False)
    assert form.context["items"] == [(waiting.pk, f"#{waiting.pk} 10.00 USD → {earner}")]


def test_change_page_links_the_ledger_and_the_commission_paid_out(
    admin_client, admin_user, shop, earner, pending
):
    page = admin_client.get(change(pending)).content.decode()
    reserve = fresh(pending).reserve_entry
    earned = LedgerEntry.objects.get(account=earner, kind="earn", unit="commission")
    assert change(reserve) in page and "-20.00 USD, Paid out" in page
    assert change(earned) in page and "Opening balance" in page  # the commission it pays
    payouts.cancel_payout(pending, by=admin_user, reason="Wrong IBAN")
    page = admin_client.get(change(pending)).content.decode()
    returned = fresh(pending).return_entry
    assert change(returned) in page and "+20.00 USD, Reversed" in page
    assert "Wrong IBAN" in page and "Cancelled" in page


def test_export_batch_downloads_approved_bank_transfers(admin_client, admin_user, shop, earner):
    other = testing.make_account(
        testing.make_member(name="Carl Cole", email="carl@example.org"), program=shop
    )
    ledger.credit(other, 4000, unit="commission", reason="Commission")
    first = payouts.approve_payout(ask(earner, "20"), by=admin_user)
    second = payouts.approve_payout(
        ask(other, "12.5", destination="FR76 3000 6000 0112 3456 7890 189"), by=admin_user
    )
    waiting = ask(earner, "10")
    cash = payouts.approve_payout(ask(other, "10", "cash"), by=admin_user)
    response = act(admin_client, "export_batch", [first, second, waiting, cash], follow=False)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="payouts-')
    rows = read_csv(response.content)
    assert [(r["id"], r["payee"], r["email"], r["amount"], r["destination"]) for r in rows] == [
        (str(first.pk), "Ann Archer", "ann@example.com", "20.00", "DE89 3704 0044 0532 0130 00"),
        (
            str(second.pk),
            "Carl Cole",
            "carl@example.org",
            "12.50",
            "FR76 3000 6000 0112 3456 7890 189",
        ),
    ]
    assert {r["status"] for r in rows} == {"approved"}
    # The others were left out, and staff are told on the next page.
    messages = messages_of(admin_client.get(changelist(Payout)))
    (warning,) = messages
    assert f"#{waiting.pk} " in warning and f"#{cash.pk} " in warning
    assert f"#{first.pk} " not in warning
    # Nothing to export: no file, a warning.
    response = act(admin_client, "export_batch", [waiting])
    assert response.redirect_chain == [(changelist(Payout), 302)]
    assert "Only approved bank transfers" in messages_of(response)[0]


def test_export_button_exports_the_filtered_list(admin_client, admin_user, earner, pending):
    paid = payouts.mark_paid(
        payouts.approve_payout(ask(earner, "10"), by=admin_user), by=admin_user, reference="B-1"
    )
    url = reverse(PAYOUT_EXPORT) + "?status__exact=paid"
    form = admin_client.get(url).context["form"]
    csv_index = next(value for value, label in form.fields["format"].choices if label == "csv")
    data: dict[str, Any] = {"format": csv_index, "resource": "0"}
    data.update({name: "on" for name in form.fields if name.startswith("payoutresource_")})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    rows = read_csv(response.content)
    assert [(r["id"], r["external_reference"]) for r in rows] == [(str(paid.pk), "B-1")]
    assert pending.pk not in {int(r["id"]) for r in rows}


# --- requesting a payout for a member ---------------------------------------------------


def test_staff_request_a_payout_for_a_member(admin_client, admin_user, earner):
    url = reverse(PAYOUT_ADD)
    page = admin_client.get(url + f"?account={earner.pk}")
    assert page.context["form"]["account"].value() == str(earner.pk)
    data = {
        "account": earner.pk,
        "amount": "25.50",
        "method": "cheque",
        "destination": "1 Vet Street",
        "token": "t-1",
    }
    response = admin_client.post(url, data, follow=True)
    payout = Payout.objects.get()
    assert response.redirect_chain[-1][0] == change(payout)
    assert any("Requested a payout of 25.50 USD" in m for m in messages_of(response))
    assert (payout.status, payout.amount, payout.method, payout.destination) == (
        "pending",
        Decimal("25.50"),
        "cheque",
        "1 Vet Street",
    )
    assert payout.requested_by == admin_user
    assert commission(earner) == 5000 - 2550
    admin_client.post(url, data)  # the same form again: once
    assert Payout.objects.count() == 1
    assert commission(earner) == 2450


def test_request_refusals_are_form_errors_and_write_nothing(admin_client, earner):
    url = reverse(PAYOUT_ADD)
    cases = [
        ({"amount": "5"}, "amount", "minimum payout is 10.00 USD"),
        ({"amount": "60"}, "amount", "50.00 USD of commission is available"),
        ({"amount": "10.001"}, "amount", "decimal places"),
        ({"amount": "0"}, "amount", "more than zero"),
        ({"method": "gold"}, "method", "valid choice"),
        ({"account": ""}, "account", "required"),
        ({"destination": "x" * 256}, "destination", "at most 255"),
    ]
    for overrides, field, text in cases:
        data = {"account": earner.pk, "amount": "20", "method": "bank_transfer", "token": "t"}
        response = admin_client.post(url, {**data, **overrides})
        assert response.status_code == 200, overrides
        errors = response.context["form"].errors
        assert text in str(errors.get(field)), (overrides, errors)
    assert not Payout.objects.exists()
    assert commission(earner) == 5000


def test_request_with_a_key_used_for_another_payout_is_a_form_error(admin_client, earner):
    ask(earner, "10", idempotency_key="admin-payout:reused")
    data = {"account": earner.pk, "amount": "20", "method": "cash", "token": "reused"}
    response = admin_client.post(reverse(PAYOUT_ADD), data)
    assert response.status_code == 200
    assert "already used" in str(response.context["form"].non_field_errors())
    assert Payout.objects.count() == 1


# --- permissions ------------------------------------------------------------------------


def test_viewers_cannot_act_request_or_edit(staff, earner, pending):
    client = staff("view_payout", "view_account")
    listing = client.get(changelist(Payout))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert 'value="approve"' not in page and "Request a payout for a member" not in page
    assert 'value="export_batch"' in page  # viewing allows exporting
    assert f'href="{reverse(PAYOUT_EXPORT)}' in page
    assert client.get(change(pending)).context["workflow_steps"] == []
    act(client, "approve", [pending])
    act(client, "cancel", [pending], apply="1", reason="no")
    assert fresh(pending).status == "pending"
    assert client.post(change(pending), {"notes": "x"}).status_code == 403
    assert client.get(reverse(PAYOUT_ADD)).status_code == 403
    data = {"account": earner.pk, "amount": "10", "method": "cash", "token": "x"}
    assert client.post(reverse(PAYOUT_ADD), data).status_code == 403
    assert Payout.objects.count() == 1


def test_change_permission_allows_the_actions(staff, pending):
    client = staff("view_payout", "change_payout")
    response = act(client, "approve", [pending])
    assert "Approved 1 payout: pay it, then mark it paid." in messages_of(response)
    assert fresh(pending).status == "approved"
    assert [name for name, _ in client.get(change(pending)).context["workflow_steps"]] == [
        "mark_paid",
        "cancel",
    ]


def test_add_permission_allows_requesting_for_a_member(staff, earner):
    client = staff("add_payout")
    data = {"account": earner.pk, "amount": "10", "method": "cash", "token": "t-9"}
    response = client.post(reverse(PAYOUT_ADD), data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")  # cannot view them
    assert Payout.objects.get().amount == Decimal("10")


def test_export_needs_the_view_permission(staff, pending):
    client = staff("view_account")
    assert client.get(reverse(PAYOUT_EXPORT)).status_code == 403


# --- accounts: own commission terms, commission and payout links ------------------------


def test_account_admin_edits_the_own_commission_terms(admin_client, earner):
    def post(**data):
        return admin_client.post(change(earner), {"metadata": "{}", **data})

    cases = [
        ({"commission_kind": "commission_percent", "commission_value": "150"}, "commission_value"),
        ({"commission_kind": "commission_fixed"}, "commission_value"),
        ({"commission_value": "10"}, "commission_kind"),
    ]
    for data, field in cases:
        response = post(**data)
        assert response.status_code == 200, data
        assert field in response.context["adminform"].form.errors, data
    assert fresh(earner).commission_kind == ""
    response = post(commission_kind="commission_percent", commission_value="10")
    assert response.status_code == 302
    saved = fresh(earner)
    assert (saved.commission_kind, saved.commission_value) == ("commission_percent", Decimal(10))
    assert saved.commission_balance == 5000  # balances are never written by the form


def test_account_admin_shows_commission_and_credit_with_links(
    admin_client, admin_user, shop, earner
):
    ledger.credit(earner, 250, unit="credit", reason="Goodwill")
    ledger.credit(earner, 100, unit="points", reason="Welcome")
    ask(earner, "20")
    other = testing.make_account(program=shop, commission=1000)
    ask(other, "10")
    page = admin_client.get(change(earner)).content.decode()
    assert "30.00 USD" in page and "2.50 USD" in page  # commission available; credit
    entries = (
        changelist(LedgerEntry) + f"?account__id__exact={earner.pk}&amp;unit__exact=commission"
    )
    assert entries in page
    listing = admin_client.get(
        changelist(LedgerEntry), {"account__id__exact": earner.pk, "unit__exact": "commission"}
    )
    assert listing.status_code == 200
    rows = list(listing.context["cl"].result_list)
    assert {(e.account_id, e.unit) for e in rows} == {(earner.pk, "commission")}
    assert {e.kind for e in rows} == {"earn", "payout"}
    payouts_url = changelist(Payout) + f"?account__id__exact={earner.pk}"
    assert payouts_url in page
    assert reverse(PAYOUT_ADD) + f"?account={earner.pk}" in page
    # A commission balance below zero (a clawback) leaves nothing to pay out.
    Account.objects.filter(pk=other.pk).update(commission_balance=-300)
    page = admin_client.get(change(other)).content.decode()
    assert "-3.00 USD" in page and "0.00 USD" in page


def test_program_admin_has_the_payout_minimum(admin_client, shop):
    page = admin_client.get(change(shop)).content.decode()
    assert 'name="payout_minimum"' in page and 'value="10.0000"' in page
    assert changelist(Payout) + f"?program__id__exact={shop.pk}" in page


# --- partners and professional referrals ------------------------------------------------


def test_partner_list_counts_sorts_filters_and_searches(admin_client, clinics):
    response = admin_client.get(changelist(Partner))
    rows = {p.name: p for p in response.context["cl"].result_list}
    assert (rows["Dr Vet"].referrals_sent, rows["Dr Vet"].referrals_received) == (2, 3)
    page = response.content.decode()
    assert "They owe us 1 referral" in page and "We owe them 1 referral" in page
    column = response.context["cl"].list_display.index("balance_display")

    def names(**params):
        response = admin_client.get(changelist(Partner), params)
        assert response.status_code == 200, params
        return [p.name for p in response.context["cl"].result_list]

    ascending = names(o=str(column))  # -1, then 1 and 1
    assert ascending[0] == "Onco Care" and set(ascending[1:]) == {"Dr Vet", "Old Clinic"}
    assert names(o=f"-{column}")[-1] == "Onco Care"
    assert names(kind__exact="specialist") == ["Onco Care"]
    assert names(active__exact="0") == ["Old Clinic"]
    assert names(q="oncol") == ["Onco Care"]


def test_partner_page_records_referrals_inline_with_the_staff_user(
    admin_client, admin_user, clinics
):
    vet = clinics["vet"]
    today = timezone.localdate()
    old = professional.record_referral(
        vet, direction="sent", date=today - dt.timedelta(days=400), reference="OLD-1"
    )
    response = admin_client.get(change(vet))
    inline = response.context["inline_admin_formsets"][0].formset
    assert old not in inline.queryset and inline.queryset.exists() is False  # all older
    recent = professional.record_referral(vet, direction="received", date=today, reference="N-1")
    inline = admin_client.get(change(vet)).context["inline_admin_formsets"][0].formset
    assert list(inline.queryset) == [recent]
    data = {
        "name": "Dr Vet",
        "kind": "clinic",
        "specialty": "Dermatology",
        "active": "on",
        "contact_name": "Dr Smith",
        "email": "",
        "phone": "",
        "address": "",
        "notes": "",
        "referrals-TOTAL_FORMS": "2",
        "referrals-INITIAL_FORMS": "1",
        "referrals-MIN_NUM_FORMS": "0",
        "referrals-MAX_NUM_FORMS": "1000",
        "referrals-0-id": recent.pk,
        "referrals-0-partner": vet.pk,
        "referrals-0-date": str(today),
        "referrals-0-direction": "received",
        "referrals-0-reference": "N-1",
        "referrals-0-reason": "Skin biopsy",
        "referrals-1-partner": vet.pk,
        "referrals-1-date": str(today),
        "referrals-1-direction": "received",
        "referrals-1-reference": "N-2",
        "referrals-1-reason": "Allergy",
    }
    response = admin_client.post(change(vet), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    added = ProfessionalReferral.objects.get(reference="N-2")
    assert (added.partner, added.direction, added.created_by) == (vet, "received", admin_user)
    edited = fresh(recent)
    assert (edited.reason, edited.created_by) == ("Skin biopsy", None)  # not re-attributed
    assert fresh(vet).contact_name == "Dr Smith"
    assert professional.balance(vet).description == "They owe us 2 referrals"
    # Deleting one inline.
    data.update(
        {
            "referrals-TOTAL_FORMS": "2",
            "referrals-INITIAL_FORMS": "2",
            "referrals-0-DELETE": "on",
            "referrals-1-id": added.pk,
        }
    )
    assert admin_client.post(change(vet), data).status_code == 302
    assert not ProfessionalReferral.objects.filter(pk=recent.pk).exists()


def test_professional_referral_admin(admin_client, admin_user, clinics):
    vet = clinics["vet"]
    data = {
        "partner": vet.pk,
        "direction": "sent",
        "date": "2025-06-01",
        "reference": "P-1234",
        "reason": "Cardiology",
        "notes": "Urgent",
    }
    assert admin_client.post(add(ProfessionalReferral), data).status_code == 302
    referral = ProfessionalReferral.objects.get(reference="P-1234")
    assert (referral.created_by, referral.date) == (admin_user, dt.date(2025, 6, 1))
    # Editing keeps who recorded it.
    admin_client.force_login(testing.make_user(is_staff=True, is_superuser=True))
    assert admin_client.post(change(referral), {**data, "notes": "Seen"}).status_code == 302
    assert (fresh(referral).notes, fresh(referral).created_by) == ("Seen", admin_user)

    def results(**params):
        response = admin_client.get(changelist(ProfessionalReferral), params)
        assert response.status_code == 200, params
        return {r.reference for r in response.context["cl"].result_list}

    assert results(q="P-12") == {"P-1234"}
    assert results(direction__exact="sent", partner__id__exact=vet.pk) == {"S0", "S1", "P-1234"}
    assert results(date__year="2025", date__month="6") == {"P-1234"}
    autocomplete = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "referral_rewards",
            "model_name": "professionalreferral",
            "field_name": "partner",
            "term": "onco",
        },
    )
    assert [row["text"] for row in autocomplete.json()["results"]] == ["Onco Care (Oncology)"]


def test_balances_report(admin_client, clinics):
    url = reverse(BALANCES)
    response = admin_client.get(url)
    rows = [(r.partner.name, r.sent, r.received) for r in response.context["rows"]]
    assert rows == [("Dr Vet", 2, 3), ("Onco Care", 1, 0)]  # active partners
    assert (response.context["total_sent"], response.context["total_received"]) == (3, 3)
    page = response.content.decode()
    assert "They owe us 1 referral" in page and "We owe them 1 referral" in page
    assert reverse(BALANCES) in admin_client.get(changelist(Partner)).content.decode()
    # A date range: from February (one received, one sent from January 11 are out).
    response = admin_client.get(url, {"start": "2025-02-01", "end": "2025-12-31"})
    rows = [(r.partner.name, r.sent, r.received) for r in response.context["rows"]]
    assert rows == [("Dr Vet", 1, 2), ("Onco Care", 0, 0)]
    assert "From Feb. 1, 2025 to Dec. 31, 2025" in response.content.decode()
    only_start = admin_client.get(url, {"start": "2025-03-01"}).content.decode()
    assert "Since" in only_start
    only_end = admin_client.get(url, {"end": "2025-01-10"})
    assert [(r.sent, r.received) for r in only_end.context["rows"]] == [(0, 1), (1, 0)]
    assert "Until" in only_end.content.decode()
    # Inactive partners on request.
    response = admin_client.get(url, {"include_inactive": "on"})
    assert {r.partner.name for r in response.context["rows"]} == {
        "Dr Vet",
        "Onco Care",
        "Old Clinic",
    }
    assert "(inactive)" in response.content.decode()
    # A bad range: a form error, no table.
    response = admin_client.get(url, {"start": "2025-05-01", "end": "2025-04-01"})
    assert response.status_code == 200
    assert "end" in response.context["form"].errors and response.context["rows"] is None
    assert 'id="partner-balances"' not in response.content.decode()
    assert admin_client.get(url, {"start": "not a date"}).context["rows"] is None
    # No partners at all.
    ProfessionalReferral.objects.all().delete()
    Partner.objects.all().delete()
    assert "No partners." in admin_client.get(url).content.decode()


def test_balances_report_csv(admin_client, clinics):
    Partner.objects.filter(pk=clinics["onco"].pk).update(name="=HYPERLINK(1)")
    url = reverse(BALANCES)
    response = admin_client.get(url, {"start": "2025-02-01", "end": "2025-12-31", "csv": "1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    disposition = response["Content-Disposition"]
    assert 'filename="partner-balances-2025-02-01-to-2025-12-31.csv"' in disposition
    rows = read_csv(response.content)
    assert [
        (r["partner"], r["sent"], r["received"], r["balance"], r["description"]) for r in rows
    ] == [
        ("Dr Vet", "1", "2", "1", "They owe us 1 referral"),
        ("'=HYPERLINK(1)", "0", "0", "0", "Even"),
    ]
    assert (rows[0]["kind"], rows[0]["specialty"], rows[0]["active"]) == (
        "clinic",
        "Dermatology",
        "yes",
    )
    everything = admin_client.get(url, {"csv": "1", "include_inactive": "on"})
    assert len(read_csv(everything.content)) == 3
    assert "partner-balances-start-to-" in everything["Content-Disposition"]
    assert "no" in {r["active"] for r in read_csv(everything.content)}
    bad = admin_client.get(url, {"start": "2025-05-01", "end": "2025-04-01", "csv": "1"})
    assert not bad["Content-Type"].startswith("text/csv")  # the page with the error


def test_partner_pages_need_the_view_permission(staff, clinics):
    client = staff("view_account")
    assert client.get(reverse(BALANCES)).status_code == 403
    assert client.get(changelist(Partner)).status_code == 403
    viewer = staff("view_partner")
    assert viewer.get(reverse(BALANCES)).status_code == 200


# --- queries ----------------------------------------------------------------------------


def test_changelist_query_counts_do_not_grow_with_rows(
    admin_client, admin_user, shop, django_assert_max_num_queries
):
    for n in range(20):
        account = testing.make_account(program=shop, commission=5000)
        payout = ask(account, "10", ["bank_transfer", "cash", "cheque"][n % 3])
        if n % 2:
            payouts.approve_payout(payout, by=admin_user)
        if n % 4 == 1:
            payouts.mark_paid(payout, by=admin_user, reference=f"B-{n}")
    for n in range(15):
        partner = Partner.objects.create(name=f"Clinic {n}", specialty="Surgery")
        for k in range(n % 4):
            professional.record_referral(partner, direction=["sent", "received"][k % 2])
    for model, rows in ((Payout, 20), (Partner, 15), (ProfessionalReferral, 21)):
        with django_assert_max_num_queries(10):
            response = admin_client.get(changelist(model))
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == rows, model
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse(BALANCES)).status_code == 200
