"""The member portal's dashboard and program switcher: balances, the tier progress bar,
the share links (five targets, URL-encoded, no third-party script), the referral
figures, a bounded number of queries; who gets in (anonymous → log in, a closed member →
403 page); switching programs (kept in the session, only among the member's own, never
an open redirect)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.enums import ReferralStatus
from django_referral_rewards.models import Account, Referral, Tier, Visit
from django_referral_rewards.services import codes, events
from django_referral_rewards.views.portal.base import SESSION_KEY

from .member_pages import Member, html, is_login_redirect, member, texts

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("referral_rewards:portal")
SWITCH = reverse("referral_rewards:portal_program")


@pytest.fixture
def ana(program) -> Member:
    return member(program, "ana", points=1250, credit=1999, commission=45050)


def test_the_dashboard_shows_the_balances(ana):
    Account.objects.filter(pk=ana.account.pk).update(held_points=80)
    response = ana.client.get(DASHBOARD)
    assert response.status_code == 200
    page = html(response)
    assert re.search(r'class="rr-figure">1250<', page)
    assert "80 more on hold" in page
    assert "19.99 USD" in page  # credit
    assert "450.50 USD" in page  # commission


def test_the_tier_progress_bar(program, ana):
    Tier.objects.create(program=program, name="Silver", rank=1, threshold=Decimal("100"))
    Tier.objects.create(program=program, name="Gold", rank=2, threshold=Decimal("500"))
    events.order_completed(ana.user, "O-1", Decimal("200.00"))
    page = html(ana.client.get(DASHBOARD))
    assert "You are <strong>Silver</strong>." in page
    assert "Spend 300.00 USD more to reach Gold." in page
    assert re.search(r'<progress id="rr-tier-progress"[^>]* max="100" value="40">', page)
    assert '<label for="rr-tier-progress"' in page


def test_without_tiers_there_is_no_progress_bar(ana):
    assert "<progress" not in html(ana.client.get(DASHBOARD))


def test_the_share_links_are_url_encoded_without_third_party_scripts(ana):
    page = html(ana.client.get(DASHBOARD))
    code = codes.get_or_create_personal_code(ana.account).code
    share_url = f"http://testserver/r/{code}/"
    assert f'value="{share_url}"' in page
    links = re.findall(
        r'<a class="rr-button rr-button-secondary rr-share-(\w+)" href="([^"]+)"', page
    )
    assert [key for key, _ in links] == ["email", "whatsapp", "x", "facebook", "sms"]
    for key, href in links:
        href = href.replace("&amp;", "&")
        assert " " not in href, (key, href)  # spaces and the rest are encoded
        assert share_url in unquote(href), (key, href)
        assert "http://testserver/r/" not in href.split("?", 1)[1]  # only encoded
    encoded = dict(links)
    assert encoded["facebook"].startswith(
        "https://www.facebook.com/sharer/sharer.php?u=http%3A%2F%2F"
    )
    assert encoded["email"].startswith("mailto:?subject=")
    # No script from anywhere but the site itself.
    assert '<script src="http' not in page and "<script src='http" not in page
    assert not re.search(r"<script[^>]+src=\"//", page)


def test_the_code_is_created_on_the_first_visit_and_kept(ana):
    ana.client.get(DASHBOARD)
    ana.client.get(DASHBOARD)
    assert ana.account.codes.count() == 1


def test_the_referral_figures(program, ana):
    code = codes.get_or_create_personal_code(ana.account)
    for _ in range(4):
        Visit.objects.create(code=code)
    for status in (ReferralStatus.CONVERTED, ReferralStatus.PENDING, ReferralStatus.PENDING):
        Referral.objects.create(
            program=program,
            referrer=ana.account,
            referred=testing.make_account(program=program),
            status=status,
            converted_at=timezone.now() if status == ReferralStatus.CONVERTED else None,
        )
    page = html(ana.client.get(DASHBOARD))
    assert 'data-stat="visits">4<' in page
    assert 'data-stat="signups">3<' in page
    assert 'data-stat="pending">2<' in page
    assert 'data-stat="converted">1<' in page
    assert "33% of sign-ups" in page


def test_the_dashboard_takes_a_bounded_number_of_queries(
    program, ana, django_assert_max_num_queries
):
    Tier.objects.create(program=program, name="Gold", rank=1, threshold=Decimal("500"))
    ana.client.get(DASHBOARD)  # the first visit creates the code
    for _ in range(20):
        Referral.objects.create(
            program=program,
            referrer=ana.account,
            referred=testing.make_account(program=program),
            status=ReferralStatus.CONVERTED,
            converted_at=timezone.now() - dt.timedelta(days=1),
        )
    with django_assert_max_num_queries(16):
        assert ana.client.get(DASHBOARD).status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert is_login_redirect(client.get(DASHBOARD))
    assert is_login_redirect(client.get(SWITCH))
    assert is_login_redirect(client.post(SWITCH, {"program": "1"}))


def test_a_closed_member_gets_a_403_page(ana):
    type(ana.member).objects.filter(pk=ana.member.pk).update(active=False)
    for url in (DASHBOARD, SWITCH, reverse("referral_rewards:portal_rewards")):
        response = ana.client.get(url)
        assert response.status_code == 403
        assert "Your rewards account is closed" in html(response)


def test_a_user_without_a_member_gets_one_on_the_first_visit(client, program):
    user = testing.make_user("newbie")
    client.force_login(user)
    assert client.get(DASHBOARD).status_code == 200
    assert Account.objects.filter(member__user=user, program=program).exists()


# --- the program switcher -----------------------------------------------------------------


@pytest.fixture
def shops(program, ana):
    """Ana also has an account at the Corner Shop."""
    corner = testing.make_program(name="Corner Shop")
    testing.make_account(ana.member, program=corner, points=7)
    return program, corner


def test_one_program_shows_no_switcher(ana):
    assert 'class="rr-switcher"' not in html(ana.client.get(DASHBOARD))


def test_a_member_of_several_programs_switches_with_post(ana, shops):
    default, corner = shops
    page = html(ana.client.get(DASHBOARD))
    assert 'class="rr-switcher"' in page and "Corner Shop" in page
    assert re.search(r'class="rr-figure">1250<', page)

    response = ana.client.post(SWITCH, {"program": str(corner.pk)})

    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert texts(response) == ["You are now looking at Corner Shop."]
    assert ana.client.session[SESSION_KEY] == corner.pk
    page = html(ana.client.get(DASHBOARD))
    assert re.search(r'class="rr-figure">7<', page)
    # The choice sticks for every page, until switched back.
    assert 'data-stat="points">7<' in html(
        ana.client.get(reverse("referral_rewards:portal_rewards"))
    )
    ana.client.post(SWITCH, {"program": str(default.pk)})
    assert re.search(r'class="rr-figure">1250<', html(ana.client.get(DASHBOARD)))


def test_the_switcher_page_lists_my_programs(ana, shops):
    page = html(ana.client.get(SWITCH))
    assert "Corner Shop" in page and "Default program" in page
    assert "7 points" in page and "1250 points" in page


def test_the_switcher_goes_back_to_the_page_it_came_from(ana, shops):
    _, corner = shops
    referrals = reverse("referral_rewards:portal_referrals")
    response = ana.client.post(SWITCH, {"program": str(corner.pk), "next": referrals})
    assert response["Location"] == referrals


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
    ],
)
def test_next_is_never_an_open_redirect(ana, shops, target):
    _, corner = shops
    response = ana.client.post(SWITCH, {"program": str(corner.pk), "next": target})
    assert response.status_code == 302 and response["Location"] == DASHBOARD


@pytest.mark.parametrize("wanted", ["other", "", "abc", "999999"])
def test_a_program_without_an_account_is_refused(ana, shops, wanted):
    stranger = testing.make_program(name="Not Mine")
    testing.make_account(program=stranger)  # someone else's account there
    value = str(stranger.pk) if wanted == "other" else wanted
    response = ana.client.post(SWITCH, {"program": value})
    assert response.status_code == 400
    assert "Choose one of your programs." in html(response)
    assert SESSION_KEY not in ana.client.session
    assert not Account.objects.filter(member=ana.member, program=stranger).exists()


def test_an_inactive_program_is_not_offered(ana, shops):
    _, corner = shops
    corner.active = False
    corner.save()
    assert ana.client.post(SWITCH, {"program": str(corner.pk)}).status_code == 400
    assert "Corner Shop" not in html(ana.client.get(DASHBOARD))


def test_a_refused_action_is_a_400_page_with_its_message_never_a_500(ana, monkeypatch):
    from django_referral_rewards.exceptions import InvalidArgument
    from django_referral_rewards.views.portal import dashboard

    def refuse(account):
        raise InvalidArgument("The figures cannot be shown right now.")

    monkeypatch.setattr(dashboard.stats, "referral_stats", refuse)
    response = ana.client.get(DASHBOARD)
    assert response.status_code == 400
    page = html(response)
    assert "That did not work" in page and "The figures cannot be shown right now." in page
    assert 'class="rr-nav"' in page  # still inside the portal's layout
