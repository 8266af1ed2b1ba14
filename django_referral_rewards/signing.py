"""HMAC-SHA256 request signatures, shared by outbound webhooks (we sign, the receiver
checks) and the host event endpoints of the REST API (the host signs, we check).

The header is ``Referral-Rewards-Signature: t=<unix time>,v1=<hex>``, where ``<hex>`` is
the HMAC-SHA256 under the shared secret of ``"<unix time>." + body`` (the exact bytes
sent). Binding the timestamp into the MAC lets a receiver refuse replays of an old
request (see ``REFERRAL_REWARDS_SIGNATURE_TOLERANCE``); several ``v1=`` values may be
given, so a sender can sign with an old and a new secret while a key is rotated.

To check a webhook delivery in a receiver without this package::

    import hashlib, hmac, time

    def is_valid(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                            hashlib.sha256).hexdigest()
        return (abs(time.time() - timestamp) <= tolerance
                and hmac.compare_digest(expected, parts["v1"]))
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

from .conf import app_settings
from .exceptions import SignatureInvalid

#: The HTTP header that carries the signature.
SIGNATURE_HEADER = "Referral-Rewards-Signature"
#: The version tag of the scheme (the key of each MAC in the header).
SCHEME = "v1"


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The value of the :data:`SIGNATURE_HEADER` header for ``body`` (signed now unless
    ``timestamp`` is given)."""
    when = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={when},{SCHEME}={compute(secret, when, body)}"


def parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the MACs of a signature header; :class:`SignatureInvalid` if it
    is malformed."""
    timestamp: int | None = None
    macs: list[str] = []
    for item in (header or "").split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureInvalid() from None
        elif name == SCHEME and value:
            macs.append(value)
    if timestamp is None or not macs:
        raise SignatureInvalid()
    return timestamp, macs


def verify(
    secrets: str | Iterable[str],
    header: str,
    body: bytes,
    *,
    tolerance: int | None = None,
    now: float | None = None,
) -> str:
    """Check ``header`` against ``body``; return the secret that signed it (one of
    ``secrets``). Raises :class:`SignatureInvalid` when the header is missing or
    malformed, its timestamp is more than ``tolerance`` seconds
    (``REFERRAL_REWARDS_SIGNATURE_TOLERANCE`` by default) from ``now``, or no MAC in it
    matches any of ``secrets``. Comparisons take constant time."""
    timestamp, macs = parse(header)
    limit = app_settings.SIGNATURE_TOLERANCE if tolerance is None else tolerance
    current = time.time() if now is None else now
    if abs(current - timestamp) > limit:
        raise SignatureInvalid()
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    for secret in candidates:
        expected = compute(secret, timestamp, body)
        # Every MAC is compared (no early exit), so timing says nothing about which.
        if any([hmac.compare_digest(expected, mac) for mac in macs]):
            return secret
    raise SignatureInvalid()
