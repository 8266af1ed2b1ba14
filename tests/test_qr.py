"""QR codes and share links: both backends draw PNG and SVG that decode back to the
share link; SVG is accessible (role, title) and scalable (viewBox); bad input is
refused with a clear message; links are built on REFERRAL_REWARDS_SITE_URL or the
request, and neither is a configuration error; the backend setting has a system check."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from django.core.checks import run_checks
from django.test import RequestFactory, override_settings
from PIL import Image

from django_referral_rewards import links, qr, testing
from django_referral_rewards.conf import IMPORT_STRING_SETTINGS, app_settings
from django_referral_rewards.exceptions import ConfigurationError, InvalidArgument
from django_referral_rewards.services import codes

from .qr_images import SVG_NS, decode_png, decode_svg

QRCODE = "django_referral_rewards.qr.QRCodeBackend"
SEGNO = "django_referral_rewards.qr.SegnoBackend"
BACKENDS = [SEGNO, QRCODE]
URL = "https://shop.example/r/K7Q2MX9PA/"

rf = RequestFactory()


class UpperCaseBackend(qr.SegnoBackend):
    """A backend of a host's own: draws the upper-cased text (to tell it was used)."""

    def png(self, data: str, *, scale: int = 8) -> bytes:
        return super().png(data.upper(), scale=scale)


class NotABackend:
    pass


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale", [1, 3, 8])
def test_png_decodes_to_the_text_at_every_scale(backend, scale):
    with override_settings(REFERRAL_REWARDS_QR_BACKEND=backend):
        data = qr.qr_png(URL, scale=scale)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    # Square, a whole number of modules (plus the quiet zone) of `scale` pixels each.
    assert image.width == image.height
    assert image.width % scale == 0
    modules = image.width // scale
    assert (modules - 2 * qr.BORDER - 17) % 4 == 0  # version n has 17 + 4n modules
    assert decode_png(data) == URL


@pytest.mark.parametrize("backend", BACKENDS)
def test_svg_is_well_formed_accessible_scalable_and_decodes(backend):
    with override_settings(REFERRAL_REWARDS_QR_BACKEND=backend):
        svg = qr.qr_svg(URL, title="QR code of my link & more")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.attrib["role"] == "img"
    x, y, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert (x, y) == (0, 0) and width == height > 0
    title = root.find(f"{SVG_NS}title")
    assert title is not None and title.text == "QR code of my link & more"  # escaped, read back
    assert list(root).index(title) == 0  # the accessible name comes first
    assert decode_svg(svg) == URL


@pytest.mark.parametrize("backend", BACKENDS)
def test_svg_without_a_title_is_not_announced_as_an_image(backend):
    with override_settings(REFERRAL_REWARDS_QR_BACKEND=backend):
        svg = qr.qr_svg(URL)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG_NS}title") is None
    assert "role" not in root.attrib
    assert decode_svg(svg) == URL


def test_the_scale_sets_the_size_of_the_svg():
    small = ET.fromstring(qr.qr_svg(URL, scale=1))
    large = ET.fromstring(qr.qr_svg(URL, scale=10))
    assert float(large.attrib["width"]) == 10 * float(small.attrib["width"])
    assert large.attrib["viewBox"].split()[2] == large.attrib["width"]


@pytest.mark.parametrize(
    ("data", "scale", "message"),
    [
        ("", 4, "1 to 1000 characters"),
        ("x" * (qr.MAX_DATA + 1), 4, "1 to 1000 characters"),
        (None, 4, "1 to 1000 characters"),
        (URL, 0, "from 1 to 40"),
        (URL, qr.MAX_SCALE + 1, "from 1 to 40"),
        (URL, "4", "from 1 to 40"),
        (URL, True, "from 1 to 40"),
        (URL, 2.5, "from 1 to 40"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(data, scale, message):
    with pytest.raises(InvalidArgument, match=message):
        qr.qr_png(data, scale=scale)
    with pytest.raises(InvalidArgument, match=message):
        qr.qr_svg(data, scale=scale)


def test_the_longest_text_still_draws():
    text = "https://shop.example/?" + "a" * (qr.MAX_DATA - 22)
    assert len(text) == qr.MAX_DATA
    assert decode_png(qr.qr_png(text, scale=4)) == text


def test_the_base_backend_draws_nothing_by_itself():
    with pytest.raises(NotImplementedError):
        qr.QRBackend().svg(URL)
    with pytest.raises(NotImplementedError):
        qr.QRBackend().png(URL)


# --- codes' share links --------------------------------------------------------------------


@pytest.fixture
def code(db, program):
    account = testing.make_account(testing.make_member(name="Zoë"), program=program)
    return codes.get_or_create_personal_code(account)


@pytest.mark.parametrize("backend", BACKENDS)
def test_code_qr_draws_the_codes_share_link(code, backend):
    request = rf.get("/", HTTP_HOST="shop.example", secure=True)
    expected = f"https://shop.example/r/{code.code}/"
    with override_settings(REFERRAL_REWARDS_QR_BACKEND=backend):
        png = qr.code_qr(code, format="png", request=request)
        svg = qr.code_qr(code, format="svg", request=request)
    assert isinstance(png, bytes) and decode_png(png) == expected
    assert isinstance(svg, str) and decode_svg(svg) == expected
    title = ET.fromstring(svg).find(f"{SVG_NS}title")
    assert title is not None and title.text == f"QR code of {expected}"


def test_code_qr_default_and_given_scales(code):
    request = rf.get("/")
    default = Image.open(io.BytesIO(qr.code_qr(code, format="png", request=request)))
    double = Image.open(io.BytesIO(qr.code_qr(code, format="png", scale=16, request=request)))
    assert double.width == 2 * default.width  # the default PNG scale is 8


def test_code_qr_refuses_an_unknown_format(code):
    with pytest.raises(InvalidArgument, match="Unknown QR code format 'gif'"):
        qr.code_qr(code, format="gif", request=rf.get("/"))


def test_a_backend_of_ones_own_is_used(code):
    with override_settings(
        REFERRAL_REWARDS_QR_BACKEND="tests.test_qr.UpperCaseBackend",
        REFERRAL_REWARDS_SITE_URL="https://shop.example",
    ):
        assert isinstance(app_settings.qr_backend(), UpperCaseBackend)
        png = qr.code_qr(code, format="png")
    assert decode_png(png) == f"HTTPS://SHOP.EXAMPLE/R/{code.code}/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "message"),
    [("tests.test_qr.Missing", "could not be imported"), ("tests.test_qr.NotABackend", "subclass")],
)
def test_a_bad_backend_setting_fails_the_system_check(path, message):
    assert IMPORT_STRING_SETTINGS["QR_BACKEND"] == "django_referral_rewards.qr.QRBackend"
    with override_settings(REFERRAL_REWARDS_QR_BACKEND=path):
        with pytest.raises(ConfigurationError, match=message) as info:
            qr.qr_png(URL)
        assert "REFERRAL_REWARDS_QR_BACKEND" in str(info.value)
        errors = [m for m in run_checks() if m.id == "referral_rewards.E001"]
        assert len(errors) == 1 and "REFERRAL_REWARDS_QR_BACKEND" in errors[0].msg
    assert not [m for m in run_checks() if m.id == "referral_rewards.E001"]


# --- absolute links ------------------------------------------------------------------------


def test_links_use_the_site_url_when_it_is_set(code):
    request = rf.get("/", HTTP_HOST="internal:8000")
    with override_settings(REFERRAL_REWARDS_SITE_URL="https://shop.example/"):
        assert links.absolute_url("/r/X/", request=request) == "https://shop.example/r/X/"
        assert links.share_url(code) == f"https://shop.example/r/{code.code}/"
        assert links.share_url(code.code) == f"https://shop.example/r/{code.code}/"


def test_links_are_built_from_the_request_without_a_site_url(code):
    plain = rf.get("/", HTTP_HOST="shop.example")
    secure = rf.get("/", HTTP_HOST="shop.example:8443", secure=True)
    assert links.share_url(code, request=plain) == f"http://shop.example/r/{code.code}/"
    assert links.share_url(code, request=secure) == f"https://shop.example:8443/r/{code.code}/"


def test_without_site_url_or_request_links_are_a_configuration_error(code):
    with pytest.raises(ConfigurationError, match="REFERRAL_REWARDS_SITE_URL"):
        links.absolute_url("/r/X/")
    with pytest.raises(ConfigurationError, match="REFERRAL_REWARDS_SITE_URL"):
        qr.code_qr(code, format="png")


def test_a_site_url_without_a_scheme_is_a_configuration_error():
    with (
        override_settings(REFERRAL_REWARDS_SITE_URL="shop.example"),
        pytest.raises(ConfigurationError, match="http:// or https://"),
    ):
        links.absolute_url("/", request=rf.get("/"))


def test_share_links_encode_the_link_and_the_text():
    found = links.share_links(URL, text="Join me & save", subject="An invitation")
    assert [link.key for link in found] == ["email", "whatsapp", "x", "facebook", "sms"]
    by_key = {link.key: link.url for link in found}
    assert by_key["facebook"] == (
        "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fshop.example%2Fr%2FK7Q2MX9PA%2F"
    )
    assert by_key["x"].startswith("https://x.com/intent/post?text=Join%20me%20%26%20save&url=")
    assert by_key["email"] == (
        "mailto:?subject=An%20invitation&body=Join%20me%20%26%20save%20"
        "https%3A%2F%2Fshop.example%2Fr%2FK7Q2MX9PA%2F"
    )
    assert all(" " not in url for url in by_key.values())
