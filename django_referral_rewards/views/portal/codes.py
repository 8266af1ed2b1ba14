"""The portal's "My codes" pages: the member's personal code and the campaign codes
they own, each with its share link, QR code images and printable cards.

QR images and cards are served only for codes one of the member's accounts owns:
another member's code, a house campaign code and a code that does not exist all get
the same 404.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Count, F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from ... import cards, links, permissions, qr
from ...codes import lookup_candidates, normalize
from ...exceptions import (
    CodeError,
    CodeExhausted,
    CodeExpired,
    CodeInactive,
    CodeNotYetValid,
    InvalidArgument,
)
from ...models import ReferralCode
from ...services import codes
from .base import Portal, portal_view, render_portal

#: The QR image formats, with their content types.
QR_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
#: How long a browser may keep a QR image or a card (seconds; private: never a shared
#: cache, they are the member's own).
CACHE_SECONDS = 3600


@dataclasses.dataclass(frozen=True)
class CodeRow:
    """One code on the page: the code, its share link, its state (``status`` key and
    ``status_label``), how often it was used and where its images and cards are."""

    code: ReferralCode
    share_url: str
    status: str
    status_label: str
    uses: int
    qr_svg_url: str
    qr_png_url: str
    card_urls: list[tuple[str, str]]


#: The state shown for each reason a code cannot be used (``services.codes.unusable_reason``).
CODE_STATES: dict[type[CodeError], tuple[str, Any]] = {
    CodeInactive: ("inactive", _("Inactive")),
    CodeNotYetValid: ("scheduled", _("Not valid yet")),
    CodeExpired: ("expired", _("Expired")),
    CodeExhausted: ("used_up", _("Used up")),
}


def code_status(code: ReferralCode, now: datetime) -> tuple[str, str]:
    """``(key, label)`` of the state of ``code`` at ``now``: ``inactive`` (the code or
    its campaign switched off), ``scheduled``, ``expired``, ``used_up`` or ``active`` —
    by the same rules as :func:`~django_referral_rewards.services.codes.validate_code`."""
    reason = codes.unusable_reason(code, now=now)
    if reason is None:
        return "active", gettext("Active")
    key, label = CODE_STATES[type(reason)]
    return key, str(label)


def _row(request: HttpRequest, code: Any, now: datetime, with_cards: bool) -> CodeRow:
    uses = code.use_count
    status, label = code_status(code, now)
    qr_url = "referral_rewards:portal_code_qr"
    card_url = reverse("referral_rewards:portal_code_card", kwargs={"code": code.code})
    card_labels = {"a6": gettext("A6 card (PDF)"), "business": gettext("Business card (PDF)")}
    return CodeRow(
        code=code,
        share_url=links.share_url(code, request=request),
        status=status,
        status_label=label,
        uses=uses,
        qr_svg_url=reverse(qr_url, kwargs={"code": code.code, "format": "svg"}),
        qr_png_url=reverse(qr_url, kwargs={"code": code.code, "format": "png"}),
        card_urls=(
            [(f"{card_url}?size={size}", card_labels[size]) for size in cards.CARD_SIZES]
            if with_cards
            else []
        ),
    )


@require_safe
@portal_view
def code_list(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The account's personal code (or a button to create it) and the campaign codes
    it owns, newest first (one query for the codes and their uses)."""
    now = timezone.now()
    with_cards = cards.available()
    owned = (
        ReferralCode.objects.filter(owner=portal.account)
        .select_related("campaign")
        .annotate(use_count=Count("uses"))
        .order_by(F("personal_for").desc(nulls_last=True), "-created", "-pk")
    )
    rows = [_row(request, code, now, with_cards) for code in owned]
    personal = next((row for row in rows if row.code.personal_for_id is not None), None)
    return render_portal(
        request,
        portal,
        "referral_rewards/portal/codes.html",
        {
            "title": gettext("My codes"),
            "personal": personal,
            "campaign_rows": [row for row in rows if row is not personal],
            "cards_available": with_cards,
        },
    )


@require_POST
@portal_view
def generate_code(request: HttpRequest, portal: Portal) -> HttpResponse:
    """Create the account's personal code (once: a second request shows the same)."""
    had_one = ReferralCode.objects.filter(personal_for=portal.account).exists()
    code = codes.get_or_create_personal_code(portal.account)
    if had_one:
        messages.info(request, gettext("You already have a code: %(code)s.") % {"code": code.code})
    else:
        messages.success(request, gettext("Your code is %(code)s.") % {"code": code.code})
    return HttpResponseRedirect(reverse("referral_rewards:portal_codes"))


def own_code(request: HttpRequest, code: str) -> ReferralCode:
    """The code ``code`` (as typed: case, spaces and dashes ignored) if one of the
    request's member's accounts owns it; else :class:`~django.http.Http404`."""
    candidates = lookup_candidates(normalize(code)) if normalize(code) else []
    return permissions.get_for_request(
        ReferralCode.objects.select_related("program", "campaign", "owner__member"),
        request,
        owner="owner__member",
        staff_action=None,
        code__in=candidates,
    )


def _scale(request: HttpRequest) -> int | None:
    value = request.GET.get("scale", "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= qr.MAX_SCALE:
        raise InvalidArgument(
            gettext("The QR code scale must be a whole number from 1 to %(max)s.")
            % {"max": qr.MAX_SCALE}
        )
    return int(value)


def _file_response(
    request: HttpRequest, content: str | bytes, content_type: str, filename: str
) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    download = request.GET.get("download") == "1"
    header = content_disposition_header(download, filename)
    if header:
        response["Content-Disposition"] = header
    patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    return response


@require_safe
@portal_view
def code_qr(request: HttpRequest, portal: Portal, code: str, format: str) -> HttpResponse:
    """The QR code of one of the member's codes' share link: ``qr.svg`` or ``qr.png``,
    ``?scale=`` 1 to 40 (SVG units or PNG pixels per module), ``?download=1`` to save
    it as a file."""
    if format not in QR_FORMATS:
        raise Http404(gettext("There is no such image format."))
    found = own_code(request, code)
    image = qr.code_qr(found, format=format, scale=_scale(request), request=request)
    return _file_response(request, image, QR_FORMATS[format], f"{found.code}-qr.{format}")


@require_safe
@portal_view
def code_card(request: HttpRequest, portal: Portal, code: str) -> HttpResponse:
    """A printable PDF card of one of the member's codes: ``?size=a6`` (the default)
    or ``?size=business``; ``?download=1`` to save it as a file. Where the PDF library
    is not installed, a page saying so (503)."""
    found = own_code(request, code)
    if not cards.available():
        return render_portal(
            request,
            portal,
            "referral_rewards/portal/error.html",
            {
                "title": gettext("Printable cards are not available"),
                "message": gettext(
                    "This site cannot make printable cards at the moment. You can still "
                    "download your QR code and share your link."
                ),
            },
            status=503,
        )
    size = request.GET.get("size", "a6")
    pdf = cards.code_card(found, size=size, request=request)
    return _file_response(request, pdf, "application/pdf", f"{found.code}-card-{size}.pdf")
