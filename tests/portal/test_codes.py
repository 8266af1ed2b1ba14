"""The portal's "My codes" pages: the personal code (or the button creating it, once),
the campaign codes the account owns with their state, uses and links; QR images (SVG
and PNG that decode to the share link, scale, download, private caching) and PDF cards,
for the owner only: anyone else's, a house code or an unknown code is a 404; anonymous
visitors are sent to log in; bad input is a 400 page, a missing PDF library a 503 page."""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from PIL import Image

from django_referral_rewards import testing
from django_referral_rewards.models import Campaign, ReferralCode
from django_referral_rewards.services import codes

from ..qr_images import (
    SVG_NS,
    decode_image,
    decode_png,
    decode_svg,
    pdf_images,
    pdf_reader,
    pdf_text,
)
from .member_pages import Member, html, is_login_redirect, member, texts

pytestmark = pytest.mark.django_db

CODES = reverse("referral_rewards:portal_codes")
GENERATE = reverse("referral_rewards:portal_generate_code")


def qr_url(code: str, format: str) -> str:
    return reverse("referral_rewards:portal_code_qr", kwargs={"code": code, "format": format})


def card_url(code: str) -> str:
    return reverse("referral_rewards:portal_code_card", kwargs={"code": code})


@pytest.fixture
def ana(program) -> Member:
    return member(program, "ana")


@pytest.fixture
def bob(program) -> Member:
    return member(program, "bob")


@pytest.fixture
def campaign(program):
    return Campaign.objects.create(program=program, name="Summer", slug="summer")


# --- the list ------------------------------------------------------------------------------


def test_without_a_personal_code_the_page_offers_to_create_one(ana):
    response = ana.client.get(CODES)
    assert response.status_code == 200
    page = html(response)
    assert f'action="{GENERATE}"' in page and "Create my code" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert not ReferralCode.objects.exists()  # looking creates nothing


def test_creating_the_personal_code_is_idempotent(ana):
    response = ana.client.post(GENERATE)
    assert response.status_code == 302 and response["Location"] == CODES
    code = ReferralCode.objects.get(personal_for=ana.account)
    assert texts(response) == [f"Your code is {code.code}."]
    ana.client.get(CODES)  # shows (and so clears) the message
    again = ana.client.post(GENERATE, follow=True)
    assert again.redirect_chain == [(CODES, 302)]
    assert f"You already have a code: {code.code}." in html(again)
    assert f'<strong class="rr-code">{code.code}</strong>' in html(again)
    assert ReferralCode.objects.filter(owner=ana.account).count() == 1
    assert ana.client.get(GENERATE).status_code == 405  # never created by a GET


def test_the_personal_code_with_its_link_qr_code_and_cards(ana):
    code = codes.get_or_create_personal_code(ana.account)
    page = html(ana.client.get(CODES))
    assert "Create my code" not in page
    assert f'<strong class="rr-code">{code.code}</strong>' in page
    assert f'value="http://testserver/r/{code.code}/"' in page
    assert '<label for="rr-share-url-personal">' in page
    assert f'src="{qr_url(code.code, "svg")}"' in page
    assert f'alt="QR code of http://testserver/r/{code.code}/"' in page
    assert f'href="{qr_url(code.code, "png")}?download=1"' in page
    assert f'href="{card_url(code.code)}?size=a6"' in page
    assert f'href="{card_url(code.code)}?size=business"' in page
    assert "Used 0 times." in page and "rr-status-active" in page


def test_the_list_shows_only_the_accounts_own_codes(program, ana, bob, campaign, now):
    mine = codes.create_code("ANASUMMER", owner=ana.account, campaign=campaign, max_uses=5)
    expired = codes.create_code("ANAOLD", owner=ana.account, expires_at=now - dt.timedelta(days=1))
    off = codes.create_code("ANAOFF", owner=ana.account, active=False)
    later = codes.create_code("ANALATER", owner=ana.account, starts_at=now + dt.timedelta(days=2))
    full = codes.create_code("ANAFULL", owner=ana.account, max_uses=1)
    customer = testing.make_user("customer")
    codes.use_code(full.code, user=customer)
    codes.use_code(mine.code, user=customer)
    theirs = codes.create_code("BOBSUMMER", owner=bob.account, campaign=campaign)
    house = codes.create_code("HOUSE25", campaign=campaign)
    other_program = testing.make_program("other")
    elsewhere = codes.create_code(
        "ANAELSEWHERE",
        program=other_program,
        owner=testing.make_account(ana.member, program=other_program),
    )
    page = html(ana.client.get(CODES))
    for code in (theirs, house, elsewhere):
        assert code.code not in page
    rows = dict(re.findall(r'<code class="rr-code">(\w+)</code>.*?rr-status-(\w+)', page, re.S))
    assert rows == {
        "ANASUMMER": "active",
        "ANAOLD": "expired",
        "ANAOFF": "inactive",
        "ANALATER": "scheduled",
        "ANAFULL": "used_up",
    }
    assert "1 of 5" in page and "1 of 1" in page
    assert f'value="http://testserver/r/{mine.code}/"' in page
    assert f'<label class="rr-visually-hidden" for="rr-share-url-{mine.pk}">' in page
    for code in (mine, expired, off, later, full):
        assert f'href="{qr_url(code.code, "svg")}"' in page
    assert 'data-label="Uses"' in page  # the phone layout labels each cell
    Campaign.objects.filter(pk=campaign.pk).update(active=False)
    page = html(ana.client.get(CODES))
    assert re.search(r"ANASUMMER</code>.*?rr-status-inactive", page, re.S)


def test_the_list_reads_a_bounded_number_of_queries(ana, django_assert_max_num_queries):
    codes.get_or_create_personal_code(ana.account)
    campaign = Campaign.objects.create(program=ana.account.program, name="Fair", slug="fair")
    for n in range(3):
        codes.create_code(f"ANAC{n}", owner=ana.account, campaign=campaign)
    ana.client.get(CODES)  # warm up (session, member)
    with django_assert_max_num_queries(5):
        few = ana.client.get(CODES)
    for n in range(3, 15):
        codes.create_code(f"ANAC{n}", owner=ana.account, campaign=campaign)
    with django_assert_max_num_queries(5):
        many = ana.client.get(CODES)
    assert html(few).count("rr-status-") + 12 == html(many).count("rr-status-")


def test_without_fpdf2_the_list_has_no_card_links(ana, monkeypatch):
    code = codes.get_or_create_personal_code(ana.account)
    monkeypatch.setitem(sys.modules, "fpdf", None)
    page = html(ana.client.get(CODES))
    assert card_url(code.code) not in page
    assert "Printable cards are not available on this site." in page
    dashboard = html(ana.client.get(reverse("referral_rewards:portal")))
    assert card_url(code.code) not in dashboard
    monkeypatch.undo()
    assert card_url(code.code) in html(ana.client.get(reverse("referral_rewards:portal")))


# --- QR codes and cards --------------------------------------------------------------------


def test_the_owner_gets_svg_and_png_qr_codes_of_the_share_link(ana):
    code = codes.get_or_create_personal_code(ana.account)
    link = f"http://testserver/r/{code.code}/"
    svg = ana.client.get(qr_url(code.code, "svg"))
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(svg.content)
    assert root.attrib["role"] == "img" and "viewBox" in root.attrib
    assert root.find(f"{SVG_NS}title").text == f"QR code of {link}"
    assert decode_svg(svg.content.decode()) == link
    png = ana.client.get(qr_url(code.code, "png"))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert decode_png(png.content) == link
    for response in (svg, png):
        cache = response["Cache-Control"]
        assert "private" in cache and "max-age=3600" in cache
        assert response["Content-Disposition"].startswith("inline;")


def test_download_names_the_file(ana):
    code = codes.get_or_create_personal_code(ana.account)
    response = ana.client.get(qr_url(code.code, "png"), {"download": "1"})
    assert response["Content-Disposition"] == f'attachment; filename="{code.code}-qr.png"'
    card = ana.client.get(card_url(code.code), {"download": "1", "size": "business"})
    assert card["Content-Disposition"] == f'attachment; filename="{code.code}-card-business.pdf"'


def test_a_code_typed_in_lower_case_is_found(ana):
    code = codes.get_or_create_personal_code(ana.account)
    assert ana.client.get(qr_url(code.code.lower(), "png")).status_code == 200


def test_the_scale_sets_the_size_and_a_bad_scale_is_a_400_page(ana):
    code = codes.get_or_create_personal_code(ana.account)
    small = Image.open(io.BytesIO(ana.client.get(qr_url(code.code, "png"), {"scale": "2"}).content))
    large = Image.open(io.BytesIO(ana.client.get(qr_url(code.code, "png"), {"scale": "6"}).content))
    assert large.width == 3 * small.width
    for bad in ("0", "41", "abc", "-3", "2.5", "\uff19"):  # the last: a full-width 9
        response = ana.client.get(qr_url(code.code, "png"), {"scale": bad})
        assert response.status_code == 400, bad
        assert "The QR code scale must be a whole number from 1 to 40." in html(response)


def test_an_unknown_format_is_a_404(ana):
    code = codes.get_or_create_personal_code(ana.account)
    for format in ("gif", "SVG", "pdf", ""):
        url = f"/portal/codes/{code.code}/qr.{format}"
        assert ana.client.get(url).status_code == 404, format


def test_the_owner_gets_a_pdf_card_of_either_size(ana):
    code = codes.get_or_create_personal_code(ana.account)
    link = f"http://testserver/r/{code.code}/"
    for size, pages_mm in (("a6", 105), ("business", 85)):
        response = ana.client.get(card_url(code.code), {"size": size})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert "private" in response["Cache-Control"]
        text = " ".join(pdf_text(response.content).split())
        assert code.code in text and link in text and "An invitation from ana" in text
        (page,) = pdf_reader(response.content).pages
        assert round(float(page.mediabox.width) * 25.4 / 72) == pages_mm
        assert decode_image(pdf_images(page)[0]) == link
    default = ana.client.get(card_url(code.code))
    assert default.status_code == 200
    assert default["Content-Disposition"] == f'inline; filename="{code.code}-card-a6.pdf"'


def test_a_bad_card_size_is_a_400_page(ana):
    code = codes.get_or_create_personal_code(ana.account)
    response = ana.client.get(card_url(code.code), {"size": "poster"})
    assert response.status_code == 400
    assert "Unknown card size" in html(response)


def test_without_fpdf2_the_card_is_a_friendly_503_page(ana, monkeypatch):
    code = codes.get_or_create_personal_code(ana.account)
    monkeypatch.setitem(sys.modules, "fpdf", None)
    response = ana.client.get(card_url(code.code))
    assert response.status_code == 503
    page = html(response)
    assert "Printable cards are not available" in page
    assert "download your QR code" in page


def test_only_the_owner_gets_the_qr_code_and_card(program, ana, bob, campaign):
    theirs = codes.get_or_create_personal_code(bob.account)
    their_campaign_code = codes.create_code("BOBSUMMER", owner=bob.account, campaign=campaign)
    house = codes.create_code("HOUSE25", campaign=campaign)
    for text in (theirs.code, their_campaign_code.code, house.code, "NOSUCHCODE", "-"):
        for url in (qr_url(text, "svg"), qr_url(text, "png"), card_url(text)):
            response = ana.client.get(url)
            assert response.status_code == 404, url
            assert text not in response.content.decode() or text == "-"
    # The same code of one's own, in another program of the member's, is theirs.
    other = testing.make_account(ana.member, program=testing.make_program("other"))
    elsewhere = codes.create_code("ANAELSEWHERE", program=other.program, owner=other)
    assert ana.client.get(qr_url(elsewhere.code, "png")).status_code == 200
    # Staff get no wider view through the portal.
    staff = testing.make_user("staffer", is_staff=True, is_superuser=True)
    ana.client.force_login(staff)
    assert ana.client.get(qr_url(theirs.code, "png")).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, ana):
    code = codes.get_or_create_personal_code(ana.account)
    for url in (CODES, qr_url(code.code, "svg"), qr_url(code.code, "png"), card_url(code.code)):
        assert is_login_redirect(client.get(url)), url
    assert is_login_redirect(client.post(GENERATE))
    assert ReferralCode.objects.count() == 1


def test_the_nav_links_to_my_codes(ana):
    page = html(ana.client.get(CODES))
    assert re.search(rf'<a href="{CODES}" aria-current="page">My codes</a>', page)
