"""The member portal's community pages: the customers a member referred (shown privately,
never by e-mail address; status, "being checked", conversion date and what each earned;
pagination; the stats summary) and the leaderboard (periods, anonymous rows, the
member's own row, the opt-in form and its validation)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.enums import FraudStatus, GrantStatus, ReferralStatus
from django_referral_rewards.models import Account, Referral, RewardGrant
from django_referral_rewards.services import privacy
from django_referral_rewards.views.portal.base import SESSION_KEY

from .member_pages import Member, html, is_login_redirect, member, texts

pytestmark = pytest.mark.django_db

REFERRALS = reverse("referral_rewards:portal_referrals")
LEADERBOARD = reverse("referral_rewards:portal_leaderboard")

_keys = itertools.count(1)


def customer(program, name: str = "", email: str = "", active: bool = True) -> Account:
    record = testing.make_member(False, name=name, email=email, active=active)
    return testing.make_account(record, program=program)


def refer(referrer: Account, customer_account: Account, **fields: Any) -> Referral:
    return Referral.objects.create(
        program=referrer.program, referrer=referrer, referred=customer_account, **fields
    )


def grant(account: Account, referral: Referral, kind: str, value: str, **fields: Any):
    fields.setdefault("status", GrantStatus.RELEASED)
    return RewardGrant.objects.create(
        program=account.program,
        account=account,
        referral=referral,
        kind=kind,
        value=Decimal(value),
        release_at=timezone.now(),
        idempotency_key=f"community-{next(_keys)}",
        reason="test",
        **fields,
    )


@pytest.fixture
def ana(program) -> Member:
    return member(program, "ana", first_name="Ana", last_name="López")


# --- my referrals ---------------------------------------------------------------------------


def test_my_referrals_show_customers_privately_with_status_and_rewards(
    program, ana, django_assert_max_num_queries
):
    now = timezone.now()
    juan = refer(
        ana.account,
        customer(program, "Juan Carlos Pérez", "juan.perez@example.com"),
        status=ReferralStatus.CONVERTED,
        converted_at=now,
        attached_at=now - dt.timedelta(days=3),
    )
    maria = refer(
        ana.account,
        customer(program, "María", "maria@example.com"),
        fraud_status=FraudStatus.REVIEW,
        attached_at=now - dt.timedelta(days=2),
    )
    emailish = refer(
        ana.account,
        customer(program, "someone@example.com", "someone@example.com"),
        attached_at=now - dt.timedelta(days=1),
    )
    nameless = refer(ana.account, customer(program, "", "quiet@example.com"), attached_at=now)
    grant(ana.account, juan, "points", "100")
    grant(ana.account, juan, "points", "40", reversed_value=Decimal("10"))
    grant(ana.account, juan, "commission_fixed", "12.50")
    grant(ana.account, juan, "credit", "3.00", status=GrantStatus.HELD)
    grant(ana.account, juan, "voucher_fixed", "5.00")
    grant(ana.account, maria, "points", "25", status=GrantStatus.HELD)
    grant(ana.account, maria, "commission_percent", "4.00", status=GrantStatus.HELD)
    grant(ana.account, maria, "points", "999", status=GrantStatus.VOIDED)
    grant(maria.referred, maria, "points", "50")  # the customer's own welcome bonus

    with django_assert_max_num_queries(12):
        response = ana.client.get(REFERRALS)

    assert response.status_code == 200
    page = html(response)
    assert "@example.com" not in page  # never an e-mail address
    assert "Juan P." in page and "Pérez" not in page and "Carlos" not in page
    assert "María" in page
    assert f"Customer #{emailish.referred_id}" in page
    assert f"Customer #{nameless.referred_id}" in page
    assert "Being checked" in page
    assert page.count("Being checked") == 1
    assert "Converted" in page and "Pending" in page
    assert "130 points" in page  # 100 + 40 - 10 reversed
    assert "12.50 USD commission" in page and "3.00 USD credit on hold" in page
    assert "1 voucher" in page
    assert "25 points on hold" in page and "4.00 USD commission on hold" in page
    assert "999" not in page and "50 points" not in page
    # Newest first.
    assert page.index(f"Customer #{nameless.referred_id}") < page.index("Juan P.")
    # The summary at the top.
    assert 'data-stat="signups">4<' in page
    assert 'data-stat="converted">1<' in page
    assert 'data-stat="pending">3<' in page
    assert "25% of sign-ups" in page


def test_an_erased_customer_is_shown_by_number(program, ana):
    account = customer(program, "Juan Pérez")
    refer(ana.account, account)
    privacy.erase_member(account.member)
    page = html(ana.client.get(REFERRALS))
    assert f"Customer #{account.pk}" in page and "Erased" not in page


def test_only_my_referrals_of_the_chosen_program(program, ana):
    refer(ana.account, customer(program, "Mine Here"))
    other = member(program, "bob")
    refer(other.account, customer(program, "Not Mine"))
    shop = testing.make_program()
    elsewhere = testing.make_account(ana.member, program=shop)
    refer(elsewhere, customer(shop, "Other Shop"))
    page = html(ana.client.get(REFERRALS))
    assert "Mine H." in page and "Not M." not in page and "Other S." not in page
    session = ana.client.session
    session[SESSION_KEY] = shop.pk
    session.save()
    page = html(ana.client.get(REFERRALS))
    assert "Other S." in page and "Mine H." not in page


def test_my_referrals_are_paginated(program, ana, django_assert_max_num_queries):
    for n in range(30):
        refer(ana.account, customer(program, f"Person{n:02d} Last"))
    with django_assert_max_num_queries(12):
        first = html(ana.client.get(REFERRALS))
    assert first.count('data-label="Customer"') == 25
    assert "Page 1 of 2" in first
    second = html(ana.client.get(REFERRALS, {"page": "2"}))
    assert second.count('data-label="Customer"') == 5
    for bad in ("zero", "-3", "1.5", "99999999999999999999"):
        assert ana.client.get(REFERRALS, {"page": bad}).status_code == 200


def test_no_referrals_yet(ana):
    assert "Nobody has signed up with your code yet." in html(ana.client.get(REFERRALS))


def test_referrals_need_a_login(client):
    assert is_login_redirect(client.get(REFERRALS))


# --- the leaderboard ------------------------------------------------------------------------


def converted(account: Account, n: int) -> None:
    Account.objects.filter(pk=account.pk).update(conversions_count=n)


@pytest.fixture
def board(program, ana):
    """Carla (9, opted in as "Carla the Connector"), Ana (5, anonymous), Dan (2,
    a name but no opt-in)."""
    carla = member(program, "carla")
    dan = member(program, "dan")
    converted(carla.account, 9)
    converted(ana.account, 5)
    converted(dan.account, 2)
    Account.objects.filter(pk=carla.account.pk).update(
        show_on_leaderboard=True, leaderboard_name="Carla the Connector"
    )
    Account.objects.filter(pk=dan.account.pk).update(leaderboard_name="Dan")
    return {"carla": carla, "ana": ana, "dan": dan}


def rows_of(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr")[1:]]


def test_the_leaderboard_shows_names_anonymous_rows_and_my_row(
    board, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = board["ana"].client.get(LEADERBOARD)
    assert response.status_code == 200
    rows = rows_of(html(response))
    assert len(rows) == 3
    assert "Carla the Connector" in rows[0] and ">9<" in rows[0]
    assert 'class="rr-you"' in rows[1] and "You" in rows[1] and ">5<" in rows[1]
    assert "Anonymous referrer" in rows[2] and "Dan" not in rows[2]
    assert "rr-you" not in rows[0] + rows[2]


def test_my_name_is_shown_next_to_you_once_i_opted_in(board):
    Account.objects.filter(pk=board["ana"].account.pk).update(
        show_on_leaderboard=True, leaderboard_name="Ana B."
    )
    rows = rows_of(html(board["ana"].client.get(LEADERBOARD)))
    assert "You" in rows[1] and "(Ana B.)" in rows[1]
    rows = rows_of(html(board["dan"].client.get(LEADERBOARD)))
    assert "Ana B." in rows[1] and "rr-you" not in rows[1]
    assert "rr-you" in rows[2]


def test_this_month_counts_only_this_months_conversions(program, board):
    now = timezone.now()
    refer(
        board["dan"].account,
        customer(program, "Fresh One"),
        status=ReferralStatus.CONVERTED,
        converted_at=now,
    )
    page = html(board["ana"].client.get(LEADERBOARD, {"period": "month"}))
    rows = rows_of(page)
    assert len(rows) == 1 and "Anonymous referrer" in rows[0] and ">1<" in rows[0]
    assert 'href="?period=month" aria-current="true"' in page
    assert "You are not in the top yet." in page


@pytest.mark.parametrize("period", ["week", "", "ALL", "month'"])
def test_a_bad_period_shows_all_time(board, period):
    page = html(board["ana"].client.get(LEADERBOARD, {"period": period}))
    assert len(rows_of(page)) == 3
    assert 'href="?period=all" aria-current="true"' in page


def test_an_empty_leaderboard(ana):
    page = html(ana.client.get(LEADERBOARD))
    assert "Nobody has referred a customer yet." in page
    assert "Nobody has referred a customer this month yet." in html(
        ana.client.get(LEADERBOARD, {"period": "month"})
    )


def test_the_opt_in_form_has_its_labels(ana):
    page = html(ana.client.get(LEADERBOARD))
    assert '<label for="id_show_on_leaderboard">Show me on the leaderboard</label>' in page
    assert '<label for="id_leaderboard_name">Leaderboard name</label>' in page
    assert 'maxlength="40"' in page
    assert ">Save</button>" in page


def test_opting_in_saves_the_name_and_shows_it_to_others(board):
    ana = board["ana"]
    response = ana.client.post(
        LEADERBOARD + "?period=month",
        {"show_on_leaderboard": "on", "leaderboard_name": "  Ana   the  Great  "},
    )
    assert response.status_code == 302
    assert response["Location"] == LEADERBOARD + "?period=month"
    assert texts(response) == ["Other members now see you on the leaderboard as Ana the Great."]
    account = ana.fresh()
    assert account.show_on_leaderboard and account.leaderboard_name == "Ana the Great"
    assert account.points_balance == 0  # nothing else touched
    assert "Ana the Great" in html(board["dan"].client.get(LEADERBOARD))
    # The form shows what was saved.
    page = html(ana.client.get(LEADERBOARD))
    assert 'value="Ana the Great"' in page and "checked" in page


def test_opting_out_hides_the_name(board):
    carla = board["carla"]
    response = carla.client.post(LEADERBOARD, {"leaderboard_name": "Carla the Connector"})
    assert texts(response) == ["Other members now see you on the leaderboard anonymously."]
    assert response["Location"] == LEADERBOARD
    assert not carla.fresh().show_on_leaderboard
    assert "Carla the Connector" not in html(board["dan"].client.get(LEADERBOARD))


def test_saving_does_not_overwrite_balances_changed_meanwhile(program, ana):
    from django_referral_rewards.services import ledger

    stale = ana.fresh()
    ledger.credit(stale, 70, reason="meanwhile")
    ana.client.post(LEADERBOARD, {"show_on_leaderboard": "on", "leaderboard_name": "Ana"})
    assert ana.fresh().points_balance == 70
    assert testing.ledger_is_consistent(ana.account)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Choose the name to show, or untick the box."),
        ("     ", "Choose the name to show, or untick the box."),
        ("x" * 41, "at most 40 characters"),
        ("ana@example.com", "Choose a name without a web or e-mail address."),
        ("visit https://spam.example", "Choose a name without a web or e-mail address."),
        ("www.spam.example", "Choose a name without a web or e-mail address."),
        ("best-deals.com", "Choose a name without a web or e-mail address."),
    ],
)
def test_bad_names_are_refused_and_nothing_is_saved(board, name, message):
    ana = board["ana"]
    response = ana.client.post(LEADERBOARD, {"show_on_leaderboard": "on", "leaderboard_name": name})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["leaderboard_name"])
    assert len(rows_of(html(response))) == 3  # the board is still shown
    account = ana.fresh()
    assert not account.show_on_leaderboard and account.leaderboard_name == ""


@pytest.mark.parametrize("name", ["J.R. Smith", "Dr. Who", "Ana-María Ñúñez", "Team 42"])
def test_ordinary_names_are_accepted(ana, name):
    response = ana.client.post(LEADERBOARD, {"show_on_leaderboard": "on", "leaderboard_name": name})
    assert response.status_code == 302
    assert ana.fresh().leaderboard_name == name


def test_the_leaderboard_needs_a_login(client, program):
    assert is_login_redirect(client.get(LEADERBOARD))
    assert is_login_redirect(client.post(LEADERBOARD, {"show_on_leaderboard": "on"}))


def test_the_leaderboard_takes_get_and_post_only(ana):
    assert ana.client.delete(LEADERBOARD).status_code == 405
