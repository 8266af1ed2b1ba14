from __future__ import annotations

import datetime as dt
import os

import pytest
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.models import Program

# The browser tests (tests/browser: Chromium against the served example project) run in
# their own env, `tox -e browser`, which sets RR_BROWSER_TESTS=1; the other envs skip them.
collect_ignore = [] if os.environ.get("RR_BROWSER_TESTS") else ["browser"]


@pytest.fixture
def program(db) -> Program:
    return Program.objects.get_default()


@pytest.fixture
def account(db, program):
    return testing.make_account(program=program)


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty default cache, so rate-limit counts (and any
    other cached state) never leak from one test into the next."""
    from django.core.cache import cache

    from django_referral_rewards.services.webhooks import ENDPOINTS_CACHE_KEY

    cache.clear()
    # No webhook endpoint exists when a test starts; saying so up front keeps the one
    # query a process spends per cache period on looking them up out of the query
    # counts of single operations (tests that add endpoints clear the key on save).
    cache.set(ENDPOINTS_CACHE_KEY, [])
    yield
    cache.clear()
