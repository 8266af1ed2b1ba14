"""The kept answers of idempotent API requests (see ``api/idempotency.py``)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ..conf import app_settings
from ..models import IdempotencyRecord


def purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the answers kept longer than
    ``REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS``; return how many."""
    moment = now or timezone.now()
    cutoff = moment - dt.timedelta(hours=app_settings.API_IDEMPOTENCY_RETENTION_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
