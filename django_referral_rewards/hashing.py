"""Keyed hashes for personal data used only for matching (IPs, user agents, device ids).

An HMAC-SHA256 under ``REFERRAL_REWARDS_HASH_KEY`` (or a key derived from
``SECRET_KEY``): the same input always gives the same hash, so fraud checks can compare
them, but nobody without the key can test a guess against them.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac

from .conf import app_settings


def keyed_hash(value: str, *, purpose: str) -> str:
    """The hex HMAC-SHA256 of ``value`` for ``purpose`` (``""`` for an empty value)."""
    if not value:
        return ""
    secret = app_settings.HASH_KEY or settings.SECRET_KEY
    return salted_hmac(
        f"django_referral_rewards.{purpose}", value, secret=secret, algorithm="sha256"
    ).hexdigest()
