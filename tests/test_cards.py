"""Printable cards: one card (A6 or business size) carries the program, the member's
name, the code, the share link and a QR code that decodes to it; long or non-Latin
text never crashes nor runs off the card; sheets of handout cards create fresh house
codes (all or none) and lay them out with crop marks; the admin's "Print handout cards"
page (form, permission, errors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse
from fpdf import FPDF

from django_referral_rewards import cards, testing
from django_referral_rewards.enums import CodeKind
from django_referral_rewards.exceptions import (
    CodeNotFound,
    ConfigurationError,
    InvalidArgument,
)
from django_referral_rewards.models import Campaign, ReferralCode
from django_referral_rewards.services import codes

from .conftest import days
from .qr_images import (
    decode_image,
    page_image_boxes,
    page_lines,
    page_size_mm,
    pdf_images,
    pdf_reader,
    pdf_text,
)

pytestmark = pytest.mark.django_db

SITE = "https://shop.example"
rf = RequestFactory()
MM = 72 / 25.4  # points per millimetre


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.REFERRAL_REWARDS_SITE_URL = SITE


@pytest.fixture
def zoe_code(program):
    account = testing.make_account(testing.make_member(name="Zoë Ünal"), program=program)
    return codes.get_or_create_personal_code(account)


@pytest.fixture
def campaign(program):
    return Campaign.objects.create(program=program, name="Spring fair", slug="spring-fair")


def make_font(path: Path, chars: str) -> Path:
    """A TrueType font with a (square) glyph for each of ``chars``."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = [".notdef"] + [f"uni{ord(c):04X}" for c in chars]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): f"uni{ord(c):04X}" for c in chars})
    glyphs = {}
    for name in names:
        pen = TTGlyphPen(None)
        if name != "uni0020":
            pen.moveTo((50, 0))
            pen.lineTo((50, 700))
            pen.lineTo((450, 700))
            pen.lineTo((450, 0))
            pen.closePath()
        glyphs[name] = pen.glyph()
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (500, 50) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Cards Test", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))
    return path


def text_boxes(page) -> list[tuple[str, float, float, float, float]]:
    """``(text, x, right, baseline, size)`` in points of every Helvetica/Courier text
    shown on ``page``, measured with the fonts' metrics."""
    measure = FPDF(unit="pt")
    measure.core_fonts_encoding = "windows-1252"
    fonts = {
        "/Helvetica": ("helvetica", ""),
        "/Helvetica-Bold": ("helvetica", "B"),
        "/Courier-Bold": ("courier", "B"),
    }
    found: list[tuple[str, float, float, float, float]] = []

    def visit(text, cm, tm, font, size):
        if not text.strip() or font is None:
            return
        family, style = fonts[font["/BaseFont"]]
        measure.set_font(family, style, size)
        found.append((text, tm[4], tm[4] + measure.get_string_width(text), tm[5], size))

    page.extract_text(visitor_text=visit)
    return found


def assert_inside(page, left: float = 0, bottom: float = 0, width=None, height=None):
    width = float(page.mediabox.width) if width is None else width
    height = float(page.mediabox.height) if height is None else height
    boxes = text_boxes(page)
    images = page_image_boxes(page)
    assert boxes and images
    for text, x, right, baseline, size in boxes:
        assert left - 0.01 <= x and right <= left + width + 0.01, (text, x, right)
        assert bottom <= baseline - 0.25 * size and baseline + 0.8 * size <= bottom + height
        for image_left, image_bottom, image_right, image_top in images:
            apart = (
                right <= image_left
                or x >= image_right
                or baseline + 0.8 * size <= image_bottom
                or baseline - 0.25 * size >= image_top
            )
            assert apart, (text, "over the QR code")


# --- one card ------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "mm"), [("a6", (105, 148)), ("business", (85, 55))])
def test_a_card_carries_program_name_code_link_and_a_qr_code(zoe_code, size, mm):
    pdf = cards.code_card(zoe_code, size=size)
    reader = pdf_reader(pdf)
    (page,) = reader.pages
    assert page_size_mm(page) == mm
    text = " ".join(pdf_text(pdf).split())
    url = f"{SITE}/r/{zoe_code.code}/"
    assert "Default program" in text
    assert "An invitation from Zoë Ünal" in text
    assert zoe_code.code in text
    assert f"Scan the QR code or visit {url} and enter {zoe_code.code} when you sign up." in text
    (image,) = pdf_images(page)
    assert decode_image(image) == url
    assert reader.metadata.title == f"Referral card {zoe_code.code}"
    assert_inside(page)


def test_the_link_is_built_from_the_request_without_a_site_url(zoe_code, settings):
    settings.REFERRAL_REWARDS_SITE_URL = ""
    request = rf.get("/", HTTP_HOST="vet.example", secure=True)
    pdf = cards.code_card(zoe_code, request=request)
    url = f"https://vet.example/r/{zoe_code.code}/"
    assert url in pdf_text(pdf)
    assert decode_image(pdf_images(pdf_reader(pdf).pages[0])[0]) == url
    with pytest.raises(ConfigurationError, match="REFERRAL_REWARDS_SITE_URL"):
        cards.code_card(zoe_code)


def test_a_card_never_shows_the_members_e_mail_address(program):
    member = testing.make_member(name="", email="private@example.com")
    code = codes.get_or_create_personal_code(testing.make_account(member, program=program))
    text = pdf_text(cards.code_card(code))
    assert "private@example.com" not in text and "invitation" not in text
    assert code.code in text


def test_a_house_campaign_code_shows_the_campaign(campaign):
    code = codes.create_code("SPRING25", campaign=campaign)
    text = pdf_text(cards.code_card(code, size="business"))
    assert "Spring fair" in text and "SPRING25" in text and "invitation" not in text


def test_a_card_for_a_code_given_as_text(zoe_code):
    pdf = cards.code_card(f" {zoe_code.code.lower()} ")
    assert zoe_code.code in pdf_text(pdf)
    with pytest.raises(CodeNotFound):
        cards.code_card("NOSUCHCODE")


@pytest.mark.parametrize("size", ["a5", "", None, "A6"])
def test_an_unknown_card_size_is_refused(zoe_code, size):
    with pytest.raises(InvalidArgument, match="Unknown card size"):
        cards.code_card(zoe_code, size=size)


def test_letters_outside_western_european_never_crash(program):
    member = testing.make_member(name="Łukasz 王 ﬁlip")
    code = codes.get_or_create_personal_code(testing.make_account(member, program=program))
    for size in cards.CARD_SIZES:
        text = pdf_text(cards.code_card(code, size=size))
        # Ł has a Latin spelling, the ligature decomposes, 王 has none here.
        assert "An invitation from Lukasz ? filip" in " ".join(text.split())


def test_a_card_font_prints_every_letter_it_has(program, tmp_path, settings):
    chars = "".join(chr(c) for c in range(32, 127)) + "Łł王…ëÜ"
    settings.REFERRAL_REWARDS_CARD_FONT = str(make_font(tmp_path / "font.ttf", chars))
    member = testing.make_member(name="Łukasz 王 Жан")  # the font has no Cyrillic
    code = codes.get_or_create_personal_code(testing.make_account(member, program=program))
    pdf = cards.code_card(code)
    text = " ".join(pdf_text(pdf).split())
    assert "An invitation from Łukasz 王 ?" in text
    assert code.code in text  # the code is in Courier, a built-in font
    assert decode_image(pdf_images(pdf_reader(pdf).pages[0])[0]) == f"{SITE}/r/{code.code}/"


def test_a_bad_card_font_is_a_configuration_error(zoe_code, tmp_path, settings):
    settings.REFERRAL_REWARDS_CARD_FONT = str(tmp_path / "missing.ttf")
    with pytest.raises(ConfigurationError, match="names no font file"):
        cards.code_card(zoe_code)
    not_a_font = tmp_path / "notes.ttf"
    not_a_font.write_text("not a font")
    settings.REFERRAL_REWARDS_CARD_FONT = str(not_a_font)
    with pytest.raises(ConfigurationError, match="not a usable TrueType font"):
        cards.code_card(zoe_code)


@pytest.mark.parametrize("size", list(cards.CARD_SIZES))
def test_long_names_and_links_shrink_wrap_and_are_cut_but_stay_on_the_card(program, settings, size):
    settings.REFERRAL_REWARDS_SITE_URL = "https://" + "very-long-subdomain." * 4 + "example"
    # As long as the fields allow (200 characters), of wide letters.
    program.name = ("The Wonderful Worldwide Warehouse Members Programme " * 4)[:200]
    program.save()
    member = testing.make_member(name=("Wilhelmina Maximiliane Wolkenstein " * 6)[:200])
    account = testing.make_account(member, program=program)
    code = codes.create_code("VANITY" + "X" * 26, program=program, owner=account)
    pdf = cards.code_card(code, size=size)
    (page,) = pdf_reader(pdf).pages
    assert_inside(page)
    text = pdf_text(pdf)
    assert "…" in text  # the name was cut short
    assert "Wilhelmina Maximiliane" in text
    assert "".join(text.split()).count(code.code) >= 1  # the code may wrap, never cut
    (image,) = pdf_images(page)
    assert decode_image(image) == f"{settings.REFERRAL_REWARDS_SITE_URL}/r/{code.code}/"


def test_without_fpdf2_cards_are_a_clear_configuration_error(zoe_code, monkeypatch):
    monkeypatch.setitem(sys.modules, "fpdf", None)  # as if not installed
    assert cards.available() is False
    with pytest.raises(ConfigurationError, match=r'pip install "django-referral-rewards\[pdf\]"'):
        cards.code_card(zoe_code)
    before = ReferralCode.objects.count()
    with pytest.raises(ConfigurationError):
        cards.card_sheet(count=3)
    assert ReferralCode.objects.count() == before
    monkeypatch.undo()
    assert cards.available() is True


# --- sheets --------------------------------------------------------------------------------


def test_a_sheet_creates_fresh_house_codes_and_lays_them_out(campaign):
    staff = testing.make_user("clerk", is_staff=True)
    pdf, made = cards.card_sheet(campaign=campaign, count=12, created_by=staff)
    assert len(made) == len({code.code for code in made}) == 12
    stored = ReferralCode.objects.filter(pk__in=[code.pk for code in made])
    assert stored.count() == 12
    batch = made[0].metadata["sheet"]["batch"]
    for code in stored:
        assert code.kind == CodeKind.CAMPAIGN and code.owner_id is None
        assert code.campaign_id == campaign.pk and code.program_id == campaign.program_id
        assert code.metadata == {"sheet": {"batch": batch, "by": staff.pk}}
        codes.validate_code(code.code)  # usable
    reader = pdf_reader(pdf)
    assert len(reader.pages) == 2  # 10 business cards on an A4 page
    assert all(page_size_mm(page) == (210, 297) for page in reader.pages)
    text = "".join(pdf_text(pdf).split())
    for code in made:
        assert code.code in text and f"{SITE}/r/{code.code}/" in text
    images = [image for page in reader.pages for image in pdf_images(page)]
    assert len(images) == 12
    # Each card's QR code is its own code's link, in the order of the returned codes.
    assert [decode_image(image) for image in images] == [f"{SITE}/r/{c.code}/" for c in made]


def test_crop_marks_frame_every_cut_outside_the_cards(campaign):
    pdf, _made = cards.card_sheet(campaign=campaign, count=13)
    first, second = pdf_reader(pdf).pages
    layout = cards.sheet_layout("a4", "business")
    assert (layout.columns, layout.rows, layout.per_page) == (2, 5, 10)
    x0, y0 = (v * MM for v in layout.origin)
    width, height = (v * MM for v in layout.card)
    page_height = 297 * MM
    for page, columns, rows in ((first, 2, 5), (second, 2, 2)):
        lines = page_lines(page)
        # A pair of marks for each vertical and each horizontal cut.
        assert len(lines) == 2 * (columns + 1) + 2 * (rows + 1)
        grid = (x0, x0 + columns * width, page_height - y0 - rows * height, page_height - y0)
        vertical = sorted({round(x1, 2) for x1, y1, x2, y2 in lines if x1 == x2})
        horizontal = sorted({round(y1, 2) for x1, y1, x2, y2 in lines if y1 == y2})
        assert vertical == [round(x0 + i * width, 2) for i in range(columns + 1)]
        assert horizontal == sorted(round(grid[3] - j * height, 2) for j in range(rows + 1))
        for x1, y1, x2, y2 in lines:
            # Outside the grid of cards, inside the printable part of the page.
            outside_x = max(x1, x2) <= grid[0] or min(x1, x2) >= grid[1]
            outside_y = max(y1, y2) <= grid[2] or min(y1, y2) >= grid[3]
            assert outside_x or outside_y, (x1, y1, x2, y2)
            for value in (x1, x2):
                assert cards.UNPRINTABLE * MM - 0.01 <= value <= (210 - cards.UNPRINTABLE) * MM
            for value in (y1, y2):
                assert cards.UNPRINTABLE * MM - 0.01 <= value <= page_height - 4.99 * MM
        for _text, x, right, baseline, _size in text_boxes(page):
            assert grid[0] <= x and right <= grid[1] and grid[2] <= baseline <= grid[3]


@pytest.mark.parametrize(
    ("paper", "card_size", "per_page", "page_mm"),
    [
        ("a4", "business", 10, (210, 297)),
        ("a4", "a6", 2, (297, 210)),
        ("letter", "business", 9, (279.4, 215.9)),
        ("letter", "a6", 2, (279.4, 215.9)),
    ],
)
def test_as_many_cards_as_fit_on_either_paper(program, paper, card_size, per_page, page_mm):
    layout = cards.sheet_layout(paper, card_size)
    assert layout.per_page == per_page
    pdf, made = cards.card_sheet(
        program=program, count=per_page + 1, paper=paper, card_size=card_size
    )
    pages = pdf_reader(pdf).pages
    assert len(pages) == 2
    assert page_size_mm(pages[0]) == page_mm
    assert [len(pdf_images(page)) for page in pages] == [per_page, 1]
    assert all(code.campaign_id is None and code.program_id == program.pk for code in made)
    assert_inside(pages[0])


def test_sheet_codes_take_limits(campaign, now):
    expires = now + days(30)
    _pdf, made = cards.card_sheet(campaign=campaign, count=2, max_uses=1, expires_at=expires)
    for code in ReferralCode.objects.filter(pk__in=[c.pk for c in made]):
        assert code.max_uses == 1 and code.expires_at == expires


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "from 1 to 500"),
        ({"count": 501}, "from 1 to 500"),
        ({"count": "5"}, "from 1 to 500"),
        ({"count": True}, "from 1 to 500"),
        ({"count": 2, "paper": "a3"}, "Unknown paper 'a3'"),
        ({"count": 2, "card_size": "a5"}, "Unknown card size 'a5'"),
        ({"count": 2, "max_uses": 0}, "from 1 to"),
    ],
)
def test_bad_sheet_input_is_refused_and_creates_nothing(campaign, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        cards.card_sheet(campaign=campaign, **kwargs)
    assert not ReferralCode.objects.exists()


def test_a_campaign_of_another_program_is_refused(campaign):
    other = testing.make_program("other-shop")
    with pytest.raises(InvalidArgument, match="another program"):
        cards.card_sheet(program=other, campaign=campaign, count=1)
    assert not ReferralCode.objects.exists()


def test_without_a_site_address_a_sheet_creates_no_code(campaign, settings):
    settings.REFERRAL_REWARDS_SITE_URL = ""
    with pytest.raises(ConfigurationError, match="REFERRAL_REWARDS_SITE_URL"):
        cards.card_sheet(campaign=campaign, count=2)
    assert not ReferralCode.objects.exists()
    pdf, made = cards.card_sheet(campaign=campaign, count=1, request=rf.get("/"))
    assert f"http://testserver/r/{made[0].code}/" in pdf_text(pdf)


def test_if_drawing_fails_no_code_is_kept(campaign, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(cards, "_render_sheet", broken)
    with pytest.raises(RuntimeError):
        cards.card_sheet(campaign=campaign, count=3)
    assert not ReferralCode.objects.exists()


# --- the admin page ------------------------------------------------------------------------


def staff_client(client, *codenames: str):
    user = testing.make_user(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="referral_rewards", codename__in=codenames
        )
    )
    client.force_login(user)
    return user


def cards_url(campaign) -> str:
    return reverse("admin:referral_rewards_campaign_cards", args=[campaign.pk])


def test_staff_print_a_sheet_of_handout_cards(client, campaign):
    user = staff_client(client, "view_campaign", "change_campaign", "add_referralcode")
    change = client.get(reverse("admin:referral_rewards_campaign_change", args=[campaign.pk]))
    assert cards_url(campaign) in change.content.decode()  # the button
    page = client.get(cards_url(campaign))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="count"' in body and 'name="paper"' in body and 'name="card_size"' in body
    assert "Spring fair" in body
    response = client.post(
        cards_url(campaign),
        {"count": "3", "paper": "letter", "card_size": "a6", "max_uses": "1"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="spring-fair-cards-')
    made = list(ReferralCode.objects.filter(campaign=campaign))
    assert len(made) == 3 and all(code.max_uses == 1 for code in made)
    assert all(code.metadata["sheet"]["by"] == user.pk for code in made)
    text = pdf_text(response.content)
    assert all(code.code in text for code in made)
    assert len(pdf_reader(response.content).pages) == 2  # two A6 cards on a Letter page
    entry = LogEntry.objects.get(user=user)
    assert "Printed 3 handout cards" in entry.get_change_message()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"count": "0"}, "count", "greater than or equal to 1"),
        ({"count": "501"}, "count", "less than or equal to 500"),
        ({"count": "many"}, "count", "Enter a whole number"),
        ({"count": "2", "paper": "a3"}, "paper", "Select a valid choice"),
        ({"count": "2", "card_size": "huge"}, "card_size", "Select a valid choice"),
        ({"count": "2", "max_uses": "0"}, "max_uses", "greater than or equal to 1"),
        (
            {"count": "2", "expires_at_0": "2001-01-01", "expires_at_1": "10:00"},
            "expires_at",
            "Choose a time in the future",
        ),
    ],
)
def test_bad_admin_input_shows_form_errors_and_creates_nothing(
    client, campaign, data, field, message
):
    staff_client(client, "view_campaign", "add_referralcode")
    full = {"paper": "a4", "card_size": "business", **data}
    response = client.post(cards_url(campaign), full)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not ReferralCode.objects.exists()


def test_admin_without_fpdf2_says_so_and_creates_nothing(client, campaign, monkeypatch):
    staff_client(client, "view_campaign", "add_referralcode")
    monkeypatch.setitem(sys.modules, "fpdf", None)
    assert "need the fpdf2 library" in client.get(cards_url(campaign)).content.decode()
    response = client.post(
        cards_url(campaign), {"count": "2", "paper": "a4", "card_size": "business"}
    )
    assert response.status_code == 200
    assert "pip install" in " ".join(response.context["form"].non_field_errors())
    assert not ReferralCode.objects.exists()


def test_printing_cards_needs_the_permission_to_add_codes(client, campaign):
    staff_client(client, "view_campaign", "change_campaign")
    assert client.get(cards_url(campaign)).status_code == 403
    response = client.post(cards_url(campaign), {"count": "2", "paper": "a4", "card_size": "a6"})
    assert response.status_code == 403
    change = client.get(reverse("admin:referral_rewards_campaign_change", args=[campaign.pk]))
    assert change.status_code == 200 and cards_url(campaign) not in change.content.decode()
    assert not ReferralCode.objects.exists()


def test_printing_cards_needs_staff_and_a_real_campaign(client, campaign):
    url = cards_url(campaign)
    assert client.get(url)["Location"].startswith("/admin/login/")
    member = testing.make_user("member")
    client.force_login(member)
    assert client.get(url)["Location"].startswith("/admin/login/")
    staff_client(client, "view_campaign", "add_referralcode")
    missing = reverse("admin:referral_rewards_campaign_cards", args=[campaign.pk + 100])
    assert client.get(missing).status_code == 404
    staff_client(client, "add_referralcode")  # may add codes, may not see campaigns
    assert client.get(url).status_code == 403
