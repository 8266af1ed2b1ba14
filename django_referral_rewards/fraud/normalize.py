"""Normalising e-mail addresses and phone numbers for comparison, and the disposable
e-mail domains list.

``Jane.Doe+promo@GoogleMail.com`` and ``janedoe@gmail.com`` reach the same inbox: Gmail
ignores dots in the local part, and most large providers deliver ``name+anything`` to
``name``. :func:`normalize_email` reduces both to ``janedoe@gmail.com`` so the
``same_email`` check sees through the trick.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

#: Providers that ignore dots in the local part, and the domain they are aliases of.
DOT_INSENSITIVE = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
#: Providers that deliver ``name+tag@`` to ``name@`` (sub-addressing).
PLUS_TAG_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "fastmail.fm",
        "protonmail.com",
        "protonmail.ch",
        "proton.me",
        "pm.me",
        "hey.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "ya.ru",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "tutanota.com",
        "tuta.io",
    }
)
#: Phone numbers are compared on their last digits, so that ``+1 555 010 9999`` and
#: ``(555) 010-9999`` match; this many (the subscriber number without most country
#: and trunk prefixes).
PHONE_DIGITS = 9
#: Fewer digits than this is not a phone number worth comparing.
MIN_PHONE_DIGITS = 6

BUNDLED_DOMAINS = Path(__file__).with_name("disposable_domains.txt")
_NON_DIGITS = re.compile(r"\D+")


def normalize_email(address: Any) -> str:
    """``address`` lower-cased, with the ``+tag`` removed for providers that deliver
    tagged addresses to the untagged one and dots removed for providers that ignore
    them (``googlemail.com`` becomes ``gmail.com``). ``""`` for anything that is not an
    address."""
    if not isinstance(address, str):
        return ""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local or not domain:
        return ""
    if domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in DOT_INSENSITIVE:
        local = local.replace(".", "")
        domain = DOT_INSENSITIVE[domain]
    return f"{local}@{domain}" if local else ""


def email_domain(address: Any) -> str:
    """The lower-cased domain of ``address`` (``""`` for anything else)."""
    if not isinstance(address, str) or "@" not in address:
        return ""
    return address.strip().lower().rpartition("@")[2]


def normalize_phone(number: Any) -> str:
    """The last :data:`PHONE_DIGITS` digits of ``number`` (all of them if fewer), or
    ``""`` when it has fewer than :data:`MIN_PHONE_DIGITS` digits."""
    if not isinstance(number, str):
        return ""
    digits = _NON_DIGITS.sub("", number)
    if len(digits) < MIN_PHONE_DIGITS:
        return ""
    return digits[-PHONE_DIGITS:]


def _read_domains(path: Path) -> set[str]:
    domains = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            domain = line.split("#", 1)[0].strip().lower()
            if domain:
                domains.add(domain)
    return domains


@functools.cache
def disposable_domains() -> frozenset[str]:
    """The disposable e-mail domains in use: ``REFERRAL_REWARDS_DISPOSABLE_EMAIL_DOMAINS_FILE``
    (or the bundled list), plus ``REFERRAL_REWARDS_DISPOSABLE_EMAIL_DOMAINS``. Read once
    and cached (the cache is cleared when those settings change)."""
    from ..conf import app_settings
    from ..exceptions import ConfigurationError

    configured = app_settings.DISPOSABLE_EMAIL_DOMAINS_FILE
    path = Path(configured) if configured else BUNDLED_DOMAINS
    try:
        domains = _read_domains(path)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the disposable e-mail domains file {str(path)!r}: {exc}"
        ) from exc
    return frozenset(domains | set(app_settings.DISPOSABLE_EMAIL_DOMAINS))


def is_disposable(address: Any) -> bool:
    """Whether ``address`` is at a disposable e-mail domain, or a sub-domain of one."""
    domain = email_domain(address)
    if not domain:
        return False
    known = disposable_domains()
    parts = domain.split(".")
    return any(".".join(parts[i:]) in known for i in range(len(parts) - 1))
