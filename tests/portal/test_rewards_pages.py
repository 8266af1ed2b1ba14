"""The member portal's reward pages: the catalog (with why an option cannot be redeemed),
the confirmation and the redemption itself (one-time token: a double submission redeems
once; refusals re-render with the message and write nothing; rate limit on POST), the
member's redemptions (filter, pagination, query count), a redemption's history and
cancellation, and the vouchers page. Every object page answers another member (or
another program) with a 404 and an anonymous visitor with a redirect to log in."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.enums import RedemptionStatus
from django_referral_rewards.models import (
    LedgerEntry,
    Program,
    Redemption,
    RedemptionEvent,
    RewardOption,
    Tier,
    Voucher,
)
from django_referral_rewards.services import redemptions, vouchers
from django_referral_rewards.views.portal.base import SESSION_KEY

from .member_pages import Member, html, is_login_redirect, member, texts, token_of

pytestmark = pytest.mark.django_db

CATALOG = reverse("referral_rewards:portal_rewards")
REDEMPTIONS = reverse("referral_rewards:portal_redemptions")
VOUCHERS = reverse("referral_rewards:portal_vouchers")


def redeem_url(option: RewardOption) -> str:
    return reverse("referral_rewards:portal_redeem", kwargs={"pk": option.pk})


def detail_url(redemption: Redemption) -> str:
    return reverse("referral_rewards:portal_redemption", kwargs={"pk": redemption.pk})


def cancel_url(redemption: Redemption) -> str:
    return reverse("referral_rewards:portal_cancel_redemption", kwargs={"pk": redemption.pk})


def make_option(program: Program, **fields: Any) -> RewardOption:
    fields.setdefault("name", "Free car wash")
    fields.setdefault("points_cost", 100)
    fields.setdefault("kind", "item")
    return RewardOption.objects.create(program=program, **fields)


def voucher_option(program: Program, **fields: Any) -> RewardOption:
    fields.setdefault("name", "10% off")
    return make_option(program, kind="voucher", voucher_kind="percent", value=Decimal(10), **fields)


def staff_user(username: str = "boss") -> Any:
    return testing.make_user(username, is_staff=True)


@pytest.fixture
def juan(program) -> Member:
    return member(program, "juan", points=500, first_name="Juan", last_name="Pérez")


@pytest.fixture
def bob(program) -> Member:
    return member(program, "bob", points=500)


# --- the catalog ------------------------------------------------------------------------


def test_the_catalog_says_what_can_be_redeemed_and_why_not(
    program, juan, django_assert_max_num_queries
):
    gold = Tier.objects.create(program=program, name="Gold", rank=2, threshold=1000)
    wash = make_option(program, name="Car wash", points_cost=100, position=1)
    make_option(program, name="Gold lounge", points_cost=50, minimum_tier=gold, position=2)
    make_option(program, name="Sold out mug", points_cost=10, stock=0, position=3)
    make_option(program, name="Big TV", points_cost=9000, position=4)
    once = make_option(program, name="Once only", points_cost=10, per_member_limit=1, position=5)
    redemptions.request_redemption(juan.account, once)
    make_option(program, name="Retired", active=False)
    make_option(testing.make_program(), name="Other shop's gift", points_cost=1)

    with django_assert_max_num_queries(12):
        response = juan.client.get(CATALOG)

    assert response.status_code == 200
    page = html(response)
    assert 'data-stat="points">490<' in page  # 500 less the 10 just redeemed
    assert redeem_url(wash) in page
    assert "This reward needs the Gold tier or higher." in page
    assert "This reward is out of stock." in page
    assert "You have 490 points; this reward costs 9000." in page
    assert "You have redeemed this reward as many times as allowed (1)." in page
    assert "Retired" not in page and "Other shop" not in page
    # Only the redeemable option has a Redeem link.
    assert page.count('class="rr-button" href="/portal/rewards/') == 1


def test_the_affordable_filter_lists_only_what_can_be_redeemed_now(program, juan):
    wash = make_option(program, name="Car wash", points_cost=100)
    make_option(program, name="Big TV", points_cost=9000)
    page = html(juan.client.get(CATALOG, {"show": "affordable"}))
    assert "Car wash" in page and "Big TV" not in page
    assert redeem_url(wash) in page
    for show in ("all", "everything", ""):
        page = html(juan.client.get(CATALOG, {"show": show}))
        assert "Car wash" in page and "Big TV" in page


def test_the_affordable_filter_says_when_nothing_can_be_redeemed(program, juan):
    make_option(program, name="Big TV", points_cost=9000)
    page = html(juan.client.get(CATALOG, {"show": "affordable"}))
    assert "None of the rewards can be redeemed right now." in page
    assert "Big TV" not in page


def test_an_empty_catalog(juan):
    assert "There are no rewards in the catalog yet." in html(juan.client.get(CATALOG))


def test_the_catalog_is_the_chosen_programs(program, juan):
    shop = testing.make_program(name="Corner Shop")
    testing.make_account(juan.member, program=shop, points=5)
    make_option(program, name="Default gift")
    make_option(shop, name="Corner gift", points_cost=1)
    session = juan.client.session
    session[SESSION_KEY] = shop.pk
    session.save()
    page = html(juan.client.get(CATALOG))
    assert "Corner gift" in page and "Default gift" not in page
    assert 'data-stat="points">5<' in page


def test_the_catalog_needs_a_login(client):
    assert is_login_redirect(client.get(CATALOG))


# --- the confirmation -------------------------------------------------------------------


def test_the_confirmation_shows_the_cost_the_balance_after_and_a_one_time_token(program, juan):
    option = voucher_option(program, points_cost=120, voucher_valid_days=30)
    response = juan.client.get(redeem_url(option))
    assert response.status_code == 200
    page = html(response)
    assert "A voucher for 10% off" in page
    assert 'data-stat="balance">500<' in page
    assert 'data-stat="balance_after">380<' in page
    assert "The voucher is valid for 30 days." in page
    assert "needs approval" not in page
    assert "Confirm redemption" in page
    assert 'type="hidden" name="token"' in page
    assert uuid.UUID(token_of(response))
    assert token_of(juan.client.get(redeem_url(option))) != token_of(response)  # one-time


def test_the_confirmation_says_when_approval_is_needed(program, juan):
    program.redemption_approval_threshold = 50
    program.save()
    page = html(juan.client.get(redeem_url(make_option(program, points_cost=100))))
    assert "This reward needs approval by our staff." in page


def test_the_confirmation_of_an_option_that_cannot_be_redeemed_says_why(program, juan):
    page = html(juan.client.get(redeem_url(make_option(program, points_cost=9000))))
    assert "You have 500 points; this reward costs 9000." in page
    assert "Confirm redemption" not in page


@pytest.mark.parametrize("which", ["other program", "inactive", "missing"])
def test_options_of_another_program_or_inactive_are_not_found(program, juan, which):
    if which == "other program":
        option = make_option(testing.make_program(), points_cost=1)
    elif which == "inactive":
        option = make_option(program, active=False)
    else:
        option = make_option(program)
        option.pk += 1000
    assert juan.client.get(redeem_url(option)).status_code == 404
    response = juan.client.post(redeem_url(option), {"token": uuid.uuid4().hex})
    assert response.status_code == 404
    assert not Redemption.objects.exists()


def test_redeeming_needs_a_login(client, program):
    option = make_option(program)
    assert is_login_redirect(client.get(redeem_url(option)))
    assert is_login_redirect(client.post(redeem_url(option), {"token": uuid.uuid4().hex}))
    assert not Redemption.objects.exists()


# --- redeeming -----------------------------------------------------------------------------


def test_redeeming_takes_the_points_and_shows_the_redemption(program, juan):
    option = voucher_option(program, name="Ten off", points_cost=120)
    token = token_of(juan.client.get(redeem_url(option)))

    response = juan.client.post(redeem_url(option), {"token": token})

    redemption = Redemption.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(redemption)
    assert texts(response) == ["You redeemed Ten off for 120 points."]
    assert redemption.account_id == juan.account.pk
    assert redemption.idempotency_key == f"portal:{juan.member.pk}:{token}"
    assert redemption.status == RedemptionStatus.FULFILLED  # a voucher: given at once
    assert juan.fresh().points_balance == 380
    detail = html(juan.client.get(response["Location"]))
    assert redemption.voucher.display_code in detail
    # The requester is the member's user.
    requested = RedemptionEvent.objects.get(redemption=redemption, action="requested")
    assert requested.actor_id == juan.user.pk


def test_a_double_submitted_form_redeems_once(program, juan):
    option = make_option(program, name="Car wash", points_cost=100)
    token = token_of(juan.client.get(redeem_url(option)))

    first = juan.client.post(redeem_url(option), {"token": token})
    second = juan.client.post(redeem_url(option), {"token": token})

    redemption = Redemption.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == detail_url(redemption)
    assert texts(first) == ["You redeemed Car wash for 100 points."]
    # The first answer's message (not shown yet) is carried over; the replay adds none.
    assert texts(second) == ["You redeemed Car wash for 100 points."]
    assert juan.fresh().points_balance == 400
    assert LedgerEntry.objects.filter(account=juan.account, kind="spend").count() == 1
    # A new form (a new token) is a new redemption.
    juan.client.post(redeem_url(option), {"token": token_of(juan.client.get(redeem_url(option)))})
    assert Redemption.objects.count() == 2
    assert juan.fresh().points_balance == 300


def test_a_redemption_that_waits_for_approval_says_so(program, juan):
    option = make_option(program, name="Toaster", points_cost=100, requires_approval=True)
    response = juan.client.post(redeem_url(option), {"token": uuid.uuid4().hex})
    assert Redemption.objects.get().status == RedemptionStatus.PENDING
    assert texts(response) == [
        "You redeemed Toaster for 100 points.",
        "It waits for approval; if it is not approved, your points come back.",
    ]


def test_a_refusal_re_renders_the_confirmation_and_writes_nothing(program, juan):
    option = make_option(program, name="Car wash", points_cost=100, stock=1)
    token = token_of(juan.client.get(redeem_url(option)))
    RewardOption.objects.filter(pk=option.pk).update(stock=0)  # sold out meanwhile

    response = juan.client.post(redeem_url(option), {"token": token})

    assert response.status_code == 400
    page = html(response)
    assert page.count("This reward is out of stock.") == 1
    assert "Confirm redemption" not in page
    assert not Redemption.objects.exists()
    assert juan.fresh().points_balance == 500


def test_a_balance_spent_meanwhile_is_refused(program, juan):
    option = make_option(program, points_cost=400)
    token = token_of(juan.client.get(redeem_url(option)))
    redemptions.request_redemption(juan.account, make_option(program, points_cost=300))
    response = juan.client.post(redeem_url(option), {"token": token})
    assert response.status_code == 400
    assert "You have 200 points; this reward costs 400." in html(response)
    assert Redemption.objects.count() == 1


def test_a_tier_refusal_names_the_tier(program, juan):
    gold = Tier.objects.create(program=program, name="Gold", rank=2, threshold=1000)
    option = make_option(program, minimum_tier=gold, points_cost=10)
    response = juan.client.post(redeem_url(option), {"token": uuid.uuid4().hex})
    assert response.status_code == 400
    assert "needs the Gold tier" in html(response)
    assert not Redemption.objects.exists()


def test_a_token_used_for_another_option_is_a_conflict_with_a_fresh_token(program, juan):
    wash = make_option(program, name="Car wash", points_cost=100)
    mug = make_option(program, name="Mug", points_cost=50)
    token = uuid.uuid4().hex
    juan.client.post(redeem_url(wash), {"token": token})

    response = juan.client.post(redeem_url(mug), {"token": token})

    assert response.status_code == 400
    assert "This form was already used for another request." in html(response)
    assert token_of(response) != token
    assert Redemption.objects.count() == 1
    assert juan.fresh().points_balance == 400


@pytest.mark.parametrize("token", [None, "", "not-a-uuid", "x" * 65])
def test_a_missing_or_bad_token_writes_nothing(program, juan, token):
    option = make_option(program)
    data = {} if token is None else {"token": token}
    response = juan.client.post(redeem_url(option), data)
    assert response.status_code == 400
    assert "This form has expired. Please load the page again." in html(response)
    assert uuid.UUID(token_of(response))  # a fresh form to try again
    assert not Redemption.objects.exists()


def test_redeeming_is_rate_limited_on_post_only(program, juan):
    option = make_option(program, points_cost=10)
    with override_settings(REFERRAL_REWARDS_RATE_LIMITS={"redeem": "2/m"}):
        for _ in range(5):  # looking does not count
            assert juan.client.get(redeem_url(option)).status_code == 200
        for _ in range(2):
            response = juan.client.post(redeem_url(option), {"token": uuid.uuid4().hex})
            assert response.status_code == 302
        refused = juan.client.post(redeem_url(option), {"token": uuid.uuid4().hex})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert Redemption.objects.count() == 2


def test_only_get_and_post(program, juan):
    assert juan.client.put(redeem_url(make_option(program))).status_code == 405


# --- my redemptions -----------------------------------------------------------------------


def test_my_redemptions_list_status_points_date_and_voucher(
    program, juan, bob, django_assert_max_num_queries
):
    ten = voucher_option(program, name="Ten off", points_cost=10)
    wash = make_option(program, name="Car wash", points_cost=20)
    for _ in range(4):
        redemptions.request_redemption(juan.account, ten)
        redemptions.request_redemption(juan.account, wash)
    redemptions.request_redemption(bob.account, make_option(program, name="Bob's gift"))
    voucher = Voucher.objects.filter(account=juan.account).first()

    with django_assert_max_num_queries(10):
        response = juan.client.get(REDEMPTIONS)

    page = html(response)
    assert page.count("<tr>") == 9  # the header and 8 rows
    assert voucher.display_code in page
    assert "Fulfilled" in page and "Approved" in page
    assert "Bob&#x27;s gift" not in page and "Bob's gift" not in page
    for redemption in Redemption.objects.filter(account=juan.account):
        assert detail_url(redemption) in page


def test_my_redemptions_filter_by_status(program, juan):
    redemptions.request_redemption(juan.account, make_option(program, name="Car wash"))
    redemptions.request_redemption(
        juan.account, make_option(program, name="Toaster", requires_approval=True)
    )
    pending = html(juan.client.get(REDEMPTIONS, {"status": "pending"}))
    assert "Toaster" in pending and "Car wash" not in pending
    assert "No redemption has this status." in html(
        juan.client.get(REDEMPTIONS, {"status": "rejected"})
    )
    everything = html(juan.client.get(REDEMPTIONS, {"status": "bogus"}))
    assert "Toaster" in everything and "Car wash" in everything


def test_my_redemptions_are_paginated(program, juan):
    option = make_option(program, points_cost=1)
    for _ in range(27):
        redemptions.request_redemption(juan.account, option)
    first = html(juan.client.get(REDEMPTIONS))
    assert first.count("<tr>") == 26
    assert "Page 1 of 2" in first and "?page=2" in first
    assert html(juan.client.get(REDEMPTIONS, {"page": "2"})).count("<tr>") == 3
    for bad in ("abc", "-1", "0"):
        assert juan.client.get(REDEMPTIONS, {"page": bad}).status_code == 200
    assert "Page 2 of 2" in html(juan.client.get(REDEMPTIONS, {"page": "999"}))
    # The filter is kept in the page links.
    filtered = html(juan.client.get(REDEMPTIONS, {"status": "approved"}))
    assert "?status=approved&amp;page=2" in filtered


def test_no_redemptions_yet(juan):
    assert "You have not redeemed any rewards yet." in html(juan.client.get(REDEMPTIONS))


def test_my_redemptions_need_a_login(client):
    assert is_login_redirect(client.get(REDEMPTIONS))


# --- one redemption -------------------------------------------------------------------------


def test_the_redemption_page_shows_the_history_without_staff_internals(program, juan):
    program.redemption_approval_threshold = 10
    program.save()
    boss = staff_user("boss")
    tech = testing.make_user("tomas", is_staff=True, first_name="Tomás", last_name="Secret")
    redemption = redemptions.request_redemption(
        juan.account, make_option(program, name="Car wash"), requested_by=juan.user
    )
    redemptions.approve(redemption, by=boss, note="Enjoy!")
    redemptions.assign(redemption, tech, by=boss)
    redemptions.fulfil(redemption, by=tech, notes="Handed over at the front desk.")

    response = juan.client.get(detail_url(redemption))

    assert response.status_code == 200
    page = html(response)
    for step in ("Requested", "Approved", "Fulfilled", "Enjoy!", "Handed over at the front desk."):
        assert step in page
    assert "by you" in page and "by our staff" in page
    assert "Assigned" not in page and "Secret" not in page and "Tomás" not in page
    assert "boss" not in page
    assert "Cancel redemption" not in page  # fulfilled: too late


def test_an_open_redemption_can_be_cancelled_and_the_points_come_back(program, juan):
    redemption = redemptions.request_redemption(
        juan.account, make_option(program, name="Toaster", points_cost=100, requires_approval=True)
    )
    page = html(juan.client.get(detail_url(redemption)))
    assert "Cancel redemption" in page and cancel_url(redemption) in page
    assert juan.fresh().points_balance == 400

    response = juan.client.post(cancel_url(redemption), {"reason": "  Changed my mind  "})

    assert response.status_code == 302 and response["Location"] == detail_url(redemption)
    assert texts(response) == [
        "Your redemption was cancelled; 100 points are back in your balance."
    ]
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED
    assert redemption.reason == "Changed my mind"
    assert juan.fresh().points_balance == 500
    cancelled = RedemptionEvent.objects.get(redemption=redemption, action="cancelled")
    assert cancelled.actor_id == juan.user.pk
    assert "Cancel redemption" not in html(juan.client.get(detail_url(redemption)))


def test_an_approved_item_not_yet_handed_over_can_be_cancelled(program, juan):
    redemption = redemptions.request_redemption(juan.account, make_option(program))
    assert redemption.status == RedemptionStatus.APPROVED
    juan.client.post(cancel_url(redemption))
    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.CANCELLED


def test_cancelling_a_fulfilled_redemption_is_a_message_not_an_error(program, juan):
    redemption = redemptions.request_redemption(juan.account, voucher_option(program))
    assert redemption.status == RedemptionStatus.FULFILLED
    response = juan.client.post(cancel_url(redemption), {"reason": "too late"})
    assert response.status_code == 302 and response["Location"] == detail_url(redemption)
    [message] = texts(response)
    assert "is fulfilled; it cannot be cancelled" in message
    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.FULFILLED
    assert juan.fresh().points_balance == 400


def test_a_reason_too_long_is_refused(program, juan):
    redemption = redemptions.request_redemption(juan.account, make_option(program))
    response = juan.client.post(cancel_url(redemption), {"reason": "x" * 256})
    assert response.status_code == 302
    assert "at most 255 characters" in texts(response)[0]
    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.APPROVED


def test_cancel_is_post_only(program, juan):
    redemption = redemptions.request_redemption(juan.account, make_option(program))
    assert juan.client.get(cancel_url(redemption)).status_code == 405
    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.APPROVED


def test_another_members_redemption_is_not_found(program, juan, bob):
    """portal_redemption and portal_cancel_redemption: another member's id → 404."""
    theirs = redemptions.request_redemption(bob.account, make_option(program))
    assert juan.client.get(detail_url(theirs)).status_code == 404
    assert juan.client.post(cancel_url(theirs)).status_code == 404
    assert Redemption.objects.get(pk=theirs.pk).status == RedemptionStatus.APPROVED
    missing = Redemption(pk=theirs.pk + 1000)
    assert juan.client.get(detail_url(missing)).status_code == 404
    assert juan.client.post(cancel_url(missing)).status_code == 404


def test_staff_see_no_other_members_redemption_in_the_portal(program, bob):
    from django.contrib.auth.models import Permission

    theirs = redemptions.request_redemption(bob.account, make_option(program))
    clerk = member(program, "clerk", is_staff=True)
    clerk.user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="referral_rewards",
            codename__in=["view_redemption", "change_redemption"],
        )
    )
    assert clerk.client.get(detail_url(theirs)).status_code == 404
    assert clerk.client.post(cancel_url(theirs)).status_code == 404


def test_my_redemption_of_another_program_is_not_found_here(program, juan):
    shop = testing.make_program()
    elsewhere = testing.make_account(juan.member, program=shop, points=100)
    theirs = redemptions.request_redemption(elsewhere, make_option(shop, points_cost=10))
    assert juan.client.get(detail_url(theirs)).status_code == 404
    assert juan.client.get(REDEMPTIONS).content.count(b"<tr>") == 0


def test_a_redemption_page_needs_a_login(client, program, bob):
    """portal_redemption and portal_cancel_redemption: anonymous → login."""
    theirs = redemptions.request_redemption(bob.account, make_option(program))
    assert is_login_redirect(client.get(detail_url(theirs)))
    assert is_login_redirect(client.post(cancel_url(theirs)))
    assert Redemption.objects.get(pk=theirs.pk).status == RedemptionStatus.APPROVED


# --- vouchers -------------------------------------------------------------------------------


def test_my_vouchers_show_code_value_status_expiry_and_order(
    program, juan, bob, django_assert_max_num_queries
):
    now = timezone.now()
    ready = vouchers.issue_voucher(
        juan.account, kind="percent", value=Decimal(15), valid_days=30, description="Spring"
    )
    used = vouchers.issue_voucher(juan.account, kind="fixed", value=Decimal("5.00"))
    vouchers.apply_voucher(used.code, user=juan.user, order_id="A-1001", order_amount=Decimal("40"))
    expired = vouchers.issue_voucher(
        juan.account, kind="free_item", value=Decimal(0), expires_at=now - dt.timedelta(days=1)
    )
    month = vouchers.issue_voucher(juan.account, kind="free_period", value=Decimal("30.00"))
    theirs = vouchers.issue_voucher(bob.account, kind="fixed", value=Decimal("9.00"))

    with django_assert_max_num_queries(8):
        response = juan.client.get(VOUCHERS)

    page = html(response)
    for voucher in (ready, used, expired, month):
        assert voucher.display_code in page
    assert theirs.display_code not in page
    assert "15% off" in page and "Spring" in page and "Ready to use" in page
    assert "5.00 USD off" in page
    assert "Order A-1001" in page and "Used" in page
    assert "Expired" in page and "A free item or service" in page
    assert "A free billing period" in page and "(up to 30.00" in page
    assert "No expiry" in page


def test_no_vouchers_yet(juan):
    assert "You have no vouchers yet." in html(juan.client.get(VOUCHERS))


def test_vouchers_need_a_login(client):
    assert is_login_redirect(client.get(VOUCHERS))
