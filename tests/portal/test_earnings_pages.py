"""The member portal's earnings pages: the commission balance, what may be paid out, the
commission ledger and the member's payouts; the payout form (labels, refusals as errors
on the amount with nothing written, decimal places of the currency, the destination a
bank transfer or cheque needs, one-time token, rate limit on POST); a payout's history
and cancellation. Every object page answers another member with a 404 and an anonymous
visitor with a redirect to log in."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from django_referral_rewards import testing
from django_referral_rewards.enums import PayoutStatus
from django_referral_rewards.models import LedgerEntry, Payout, PayoutEvent
from django_referral_rewards.services import ledger, payouts

from .member_pages import Member, html, is_login_redirect, member, texts, token_of

pytestmark = pytest.mark.django_db

EARNINGS = reverse("referral_rewards:portal_earnings")
REQUEST = reverse("referral_rewards:portal_request_payout")


def payout_url(payout: Payout) -> str:
    return reverse("referral_rewards:portal_payout", kwargs={"pk": payout.pk})


def cancel_url(payout: Payout) -> str:
    return reverse("referral_rewards:portal_cancel_payout", kwargs={"pk": payout.pk})


def ask(who: Member, **data: Any) -> Any:
    data.setdefault("method", "bank_transfer")
    data.setdefault("destination", "ES91 2100 0418 4502 0005 1332")
    data.setdefault("token", uuid.uuid4().hex)
    return who.client.post(REQUEST, data)


@pytest.fixture
def paula(program) -> Member:
    """A partner with 150.00 of commission (the program pays out from 20.00)."""
    program.payout_minimum = Decimal("20.00")
    program.save()
    return member(program, "paula", commission=15000)


@pytest.fixture
def bob(program) -> Member:
    return member(program, "bob", commission=5000)


@pytest.fixture
def boss(db) -> Any:
    return testing.make_user("boss", is_staff=True)


# --- the earnings page ----------------------------------------------------------------


def test_the_earnings_page_shows_balances_ledger_and_payouts(
    program, paula, bob, boss, django_assert_max_num_queries
):
    ledger.credit(
        paula.account, 2550, unit="commission", reason="10% of order 77 (Ana's first order)"
    )
    paid = payouts.request_payout(paula.account, amount=Decimal("40.00"), method="cash")
    payouts.approve_payout(paid, by=boss)
    payouts.mark_paid(paid, by=boss, reference="CASH-1")
    payouts.request_payout(paula.account, amount=Decimal("25.50"), method="bank_transfer")
    payouts.request_payout(bob.account, amount=Decimal("33.33"), method="cheque")

    with django_assert_max_num_queries(12):
        response = paula.client.get(EARNINGS)

    assert response.status_code == 200
    page = html(response)
    assert 'data-stat="balance">110.00 USD<' in page  # 150 + 25.50 - 40 - 25.50
    assert 'data-stat="available">110.00 USD<' in page
    assert 'data-stat="minimum">20.00 USD<' in page
    assert "10% of order 77 (Ana&#x27;s first order)" in page
    assert "+25.50 USD" in page and "-40.00 USD" in page
    assert "Paid" in page and "Waiting for approval" in page
    assert "Bank transfer" in page and "Cash" in page
    assert "33.33" not in page  # Bob's
    for payout in Payout.objects.filter(account=paula.account):
        assert payout_url(payout) in page
    assert "Request a payout" in page and REQUEST in page
    assert "You can ask for a payout once" not in page


def test_the_ledger_is_newest_first_and_paginated(program, paula):
    for n in range(30):
        ledger.credit(paula.account, 100 + n, unit="commission", reason=f"Order {n:02d}")
    ledger.credit(paula.account, 7, unit="points", reason="Points are not commission")
    page = html(paula.client.get(EARNINGS))
    assert "Points are not commission" not in page
    assert page.index("Order 29") < page.index("Order 28")
    assert "Order 05" in page and "Order 04" not in page  # 25 a page
    assert "Page 1 of 2" in page
    second = html(paula.client.get(EARNINGS, {"page": "2"}))
    assert "Order 04" in second and "Opening balance" in second
    assert paula.client.get(EARNINGS, {"page": "x"}).status_code == 200


def test_the_payouts_have_their_own_pages(program, paula):
    program.payout_minimum = Decimal("0")
    program.save()
    for _ in range(26):
        payouts.request_payout(paula.account, amount=Decimal("1.00"), method="cash")
    page = html(paula.client.get(EARNINGS))
    assert "?payouts=2" in page
    later = html(paula.client.get(EARNINGS, {"payouts": "2"}))
    assert later.count(">Cash<") == 1


def test_too_little_to_pay_out_is_explained(program, bob):
    program.payout_minimum = Decimal("100.00")
    program.save()
    page = html(bob.client.get(EARNINGS))
    assert "You can ask for a payout once at least 100.00 USD is available." in page


def test_nothing_earned_yet(program):
    newcomer = member(program, "newcomer")
    page = html(newcomer.client.get(EARNINGS))
    assert "No commission yet." in page and "You have not asked for a payout yet." in page


def test_the_earnings_page_needs_a_login(client):
    assert is_login_redirect(client.get(EARNINGS))


# --- the payout form ----------------------------------------------------------------------


def test_the_form_has_labelled_fields_and_a_token(paula):
    response = paula.client.get(REQUEST)
    assert response.status_code == 200
    page = html(response)
    for label, field in (("Amount", "amount"), ("Method", "method"), ("Pay to", "destination")):
        assert f'<label for="id_{field}">{label}</label>' in page
    assert "account number" in page.lower()
    for value, label in (("bank_transfer", "Bank transfer"), ("cheque", "Cheque")):
        assert f'<option value="{value}"' in page and label in page
    assert 'value="150.00"' in page  # everything available, as a start
    assert uuid.UUID(token_of(response))
    assert "Request payout" in page


def test_no_amount_is_suggested_below_the_minimum(program, bob):
    program.payout_minimum = Decimal("100.00")
    program.save()
    assert 'name="amount" value=' not in html(bob.client.get(REQUEST))


def test_a_payout_request_reserves_the_amount_and_shows_the_payout(paula):
    token = token_of(paula.client.get(REQUEST))
    response = ask(paula, amount="60.25", method="bank_transfer", token=token)

    payout = Payout.objects.get()
    assert response.status_code == 302 and response["Location"] == payout_url(payout)
    assert texts(response) == [
        "You asked for a payout of 60.25 USD by bank transfer. It waits for approval."
    ]
    assert payout.amount == Decimal("60.25")
    assert payout.destination == "ES91 2100 0418 4502 0005 1332"
    assert payout.idempotency_key == f"portal:{paula.member.pk}:{token}"
    assert payout.requested_by_id == paula.user.pk
    assert paula.fresh().commission_balance == 15000 - 6025
    assert testing.ledger_is_consistent(paula.account)


def test_a_double_submitted_form_asks_once(paula):
    token = uuid.uuid4().hex
    first = ask(paula, amount="50", token=token)
    second = ask(paula, amount="50", token=token)
    assert first["Location"] == second["Location"]
    assert Payout.objects.count() == 1
    assert paula.fresh().commission_balance == 10000


def test_a_token_reused_for_another_amount_is_refused_with_a_new_token(paula):
    token = uuid.uuid4().hex
    ask(paula, amount="50", token=token)
    response = ask(paula, amount="70", token=token)
    assert response.status_code == 400
    assert "This form was already used for another payout request." in html(response)
    assert token_of(response) != token
    assert Payout.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("19.99", "The minimum payout is 20.00 USD."),
        ("150.01", "150.00 USD of commission is available; 150.01 USD was requested."),
        ("0", "Enter an amount above zero."),
        ("-5", "Enter an amount above zero."),
        ("12.345", "Use at most 2 decimal places for USD."),
        ("abc", "Enter a number."),
        ("", "This field is required."),
        ("NaN", "Enter a number."),
        ("1e400", "no more than 14 digits"),
        ("99999999999", "less than or equal to 9999999999"),
    ],
)
def test_refused_amounts_are_errors_on_the_amount_and_nothing_is_written(paula, amount, message):
    response = ask(paula, amount=amount)
    assert response.status_code == 400
    form = response.context["form"]
    assert message in " ".join(form.errors["amount"]), form.errors
    assert list(form.errors) == ["amount"]
    assert not Payout.objects.exists()
    assert not LedgerEntry.objects.filter(kind="payout").exists()
    assert paula.fresh().commission_balance == 15000


def test_trailing_zeros_are_not_extra_decimal_places(paula):
    ask(paula, amount="25.5000")
    assert Payout.objects.get().amount == Decimal("25.50")


def test_a_currency_without_decimals_takes_whole_amounts_only():
    yen = testing.make_program(currency="JPY", currency_decimal_places=0)
    taro = member(yen, "taro", commission=5000)
    from django_referral_rewards.views.portal.base import SESSION_KEY

    session = taro.client.session
    session[SESSION_KEY] = yen.pk
    session.save()
    page = html(taro.client.get(REQUEST))
    assert 'step="1"' in page and "In JPY." in page
    response = ask(taro, amount="10.5", method="cash")
    assert response.status_code == 400
    assert "Enter a whole amount: JPY has no decimal places." in html(response)
    assert ask(taro, amount="1000", method="cash").status_code == 302
    assert Payout.objects.get().amount == Decimal("1000")


@pytest.mark.parametrize("method", ["bank_transfer", "cheque"])
def test_a_bank_transfer_or_cheque_needs_to_know_where_to_pay(paula, method):
    response = ask(paula, amount="30", method=method, destination="   ")
    assert response.status_code == 400
    assert "Say where to send a" in " ".join(response.context["form"].errors["destination"])
    assert not Payout.objects.exists()


@pytest.mark.parametrize("method", ["cash", "account_credit"])
def test_cash_and_account_credit_need_no_destination(paula, method):
    assert ask(paula, amount="30", method=method, destination="").status_code == 302
    assert Payout.objects.get().method == method


def test_unknown_methods_and_long_destinations_are_refused(paula):
    response = ask(paula, amount="30", method="bitcoin")
    assert "method" in response.context["form"].errors
    response = ask(paula, amount="30", destination="x" * 256)
    assert "destination" in response.context["form"].errors
    assert not Payout.objects.exists()


def test_requests_are_rate_limited_on_post_only(paula):
    with override_settings(REFERRAL_REWARDS_RATE_LIMITS={"payout": "1/m"}):
        for _ in range(3):
            assert paula.client.get(REQUEST).status_code == 200
        assert ask(paula, amount="20").status_code == 302
        refused = ask(paula, amount="20")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert Payout.objects.count() == 1


def test_the_payout_form_needs_a_login(client):
    assert is_login_redirect(client.get(REQUEST))
    assert is_login_redirect(client.post(REQUEST, {"amount": "20", "method": "cash"}))
    assert not Payout.objects.exists()


# --- one payout -----------------------------------------------------------------------------


def test_the_payout_page_shows_its_history(paula, boss):
    payout = payouts.request_payout(
        paula.account,
        amount=Decimal("30.00"),
        method="bank_transfer",
        destination="ES91",
        requested_by=paula.user,
    )
    payouts.approve_payout(payout, by=boss, note="In Friday's batch")
    payouts.mark_paid(payout, by=boss, reference="BANK-778")
    page = html(paula.client.get(payout_url(payout)))
    for text in ("Requested", "Approved", "Paid", "In Friday&#x27;s batch", "BANK-778", "ES91"):
        assert text in page
    assert "by you" in page and "by our staff" in page and "boss" not in page
    assert "Cancel payout" not in page


def test_the_payout_backends_attempts_are_not_shown(paula, boss):
    payout = payouts.request_payout(paula.account, amount=Decimal("30.00"), method="cash")
    payouts.approve_payout(payout, by=boss)
    for action, status, note in (
        ("submitted", "processing", ""),
        ("failed", "approved", "ConnectionError: api.acmepay.internal:443 refused"),
    ):
        PayoutEvent.objects.create(payout=payout, action=action, status=status, note=note)
    page = html(paula.client.get(payout_url(payout)))
    assert "Approved" in page
    assert "acmepay" not in page and "Sending failed" not in page
    assert "Sent to the payout backend" not in page


def test_a_pending_payout_can_be_cancelled(paula):
    payout = payouts.request_payout(paula.account, amount=Decimal("30.00"), method="cash")
    page = html(paula.client.get(payout_url(payout)))
    assert "Cancel payout" in page and cancel_url(payout) in page

    response = paula.client.post(cancel_url(payout), {"reason": "Wrong amount"})

    assert response["Location"] == payout_url(payout)
    assert texts(response) == [
        "Your payout was cancelled; 30.00 USD is back in your commission balance."
    ]
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.CANCELLED and payout.reason == "Wrong amount"
    assert paula.fresh().commission_balance == 15000
    event = PayoutEvent.objects.get(payout=payout, action="cancelled")
    assert event.actor_id == paula.user.pk


def test_an_approved_payout_cannot_be_cancelled_here_even_by_a_staff_member(program, boss):
    staffer = member(program, "staffer", commission=5000, is_staff=True)
    payout = payouts.request_payout(staffer.account, amount=Decimal("30.00"), method="cash")
    payouts.approve_payout(payout, by=boss)
    assert "Cancel payout" not in html(staffer.client.get(payout_url(payout)))
    response = staffer.client.post(cancel_url(payout))
    assert texts(response) == ["This payout is approved; it can no longer be cancelled here."]
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.APPROVED


def test_a_payout_approved_meanwhile_is_a_message(paula, boss, monkeypatch):
    payout = payouts.request_payout(paula.account, amount=Decimal("30.00"), method="cash")
    original = payouts.cancel_payout

    def approved_first(target, **kwargs):
        payouts.approve_payout(Payout.objects.get(pk=target.pk), by=boss)
        return original(target, **kwargs)

    monkeypatch.setattr(payouts, "cancel_payout", approved_first)
    response = paula.client.post(cancel_url(payout))
    assert response.status_code == 302
    assert "is approved; it cannot be cancelled" in texts(response)[0]
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.APPROVED


def test_a_reason_too_long_is_refused(paula):
    payout = payouts.request_payout(paula.account, amount=Decimal("30.00"), method="cash")
    response = paula.client.post(cancel_url(payout), {"reason": "x" * 300})
    assert "at most 255 characters" in texts(response)[0]
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.PENDING


def test_cancel_is_post_only(paula):
    payout = payouts.request_payout(paula.account, amount=Decimal("30.00"), method="cash")
    assert paula.client.get(cancel_url(payout)).status_code == 405


def test_another_members_payout_is_not_found(paula, bob):
    """portal_payout and portal_cancel_payout: another member's id → 404."""
    theirs = payouts.request_payout(bob.account, amount=Decimal("30.00"), method="cash")
    assert paula.client.get(payout_url(theirs)).status_code == 404
    assert paula.client.post(cancel_url(theirs)).status_code == 404
    assert Payout.objects.get(pk=theirs.pk).status == PayoutStatus.PENDING
    missing = Payout(pk=theirs.pk + 1000)
    assert paula.client.get(payout_url(missing)).status_code == 404


def test_a_payout_page_needs_a_login(client, bob):
    """portal_payout and portal_cancel_payout: anonymous → login."""
    theirs = payouts.request_payout(bob.account, amount=Decimal("30.00"), method="cash")
    assert is_login_redirect(client.get(payout_url(theirs)))
    assert is_login_redirect(client.post(cancel_url(theirs)))
    assert Payout.objects.get(pk=theirs.pk).status == PayoutStatus.PENDING
