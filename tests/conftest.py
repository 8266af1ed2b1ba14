from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from django_referral_rewards import testing
from django_referral_rewards.models import Program


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
