"""Absolute share links for referral codes, and the share buttons built from them.

A share link is the code's ``/r/CODE/`` URL (see :mod:`.views.landing`): it records the
visit, remembers the code and sends the visitor on to ``REFERRAL_REWARDS_LANDING_URL``
(the host's sign-up page). QR codes, printed cards, the portal and e-mails all carry
the absolute form of it, built from ``REFERRAL_REWARDS_SITE_URL`` when set, else from
the request being answered.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote, urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .exceptions import ConfigurationError


def absolute_url(path: str, *, request: HttpRequest | None = None) -> str:
    """``path`` (a site-relative URL) as an absolute URL: on ``REFERRAL_REWARDS_SITE_URL``
    when it is set, else on the request's scheme and host. Raises
    :class:`ConfigurationError` when there is neither."""
    site = app_settings.SITE_URL
    if site:
        return site + path
    if request is None:
        raise ConfigurationError(
            gettext(
                "Set REFERRAL_REWARDS_SITE_URL (e.g. https://shop.example) to build links "
                "outside a request."
            )
        )
    return request.build_absolute_uri(path)


def share_url(code: Any, *, request: HttpRequest | None = None) -> str:
    """The absolute share link of ``code`` (a :class:`ReferralCode` or its text)."""
    text = getattr(code, "code", code)
    return absolute_url(reverse("referral_rewards:landing", kwargs={"code": text}), request=request)


@dataclasses.dataclass(frozen=True)
class ShareLink:
    """One way to share a link: a plain URL that opens the service (no script of theirs
    runs on the page)."""

    key: str
    label: str
    url: str


#: ``key -> (label, URL template)``; ``{url}``, ``{text}`` and ``{both}`` are filled in,
#: URL-encoded.
SHARE_TARGETS: dict[str, tuple[Any, str]] = {
    "email": (_("E-mail"), "mailto:?{email}"),
    "whatsapp": (_("WhatsApp"), "https://wa.me/?text={both}"),
    "x": (_("X"), "https://x.com/intent/post?text={text}&url={url}"),
    "facebook": (_("Facebook"), "https://www.facebook.com/sharer/sharer.php?u={url}"),
    "sms": (_("SMS"), "sms:?&body={both}"),
}


def share_links(url: str, *, text: str = "", subject: str = "") -> list[ShareLink]:
    """Share buttons for ``url`` with an inviting ``text``: e-mail, WhatsApp, X,
    Facebook and SMS, in that order."""
    both = f"{text} {url}".strip()
    values = {
        "url": quote(url, safe=""),
        "text": quote(text, safe=""),
        "both": quote(both, safe=""),
        "email": urlencode({"subject": subject, "body": both}, quote_via=quote),
    }
    return [
        ShareLink(key=key, label=str(label), url=template.format(**values))
        for key, (label, template) in SHARE_TARGETS.items()
    ]
