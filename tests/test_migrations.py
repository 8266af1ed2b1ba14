"""Migrations match the models, in the default mode and with the member swapped (the
tox ``swapped`` factor runs this file again with ``REFERRAL_REWARDS_SWAPPED=1``)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

import django_referral_rewards
from django_referral_rewards.models import Program

MIGRATIONS = Path(django_referral_rewards.__file__).parent / "migrations"


@pytest.mark.django_db
def test_no_missing_migrations():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert "No changes detected" in out.getvalue()


def test_migrations_never_read_the_member_setting_directly():
    """``settings.REFERRAL_REWARDS_MEMBER_MODEL`` would crash for hosts that never set
    it; migrations must go through ``conf.get_member_model_string()``."""
    offenders = [
        path.name
        for path in MIGRATIONS.glob("*.py")
        if re.search(r"settings\.REFERRAL_REWARDS_MEMBER_MODEL", path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_data_migration_created_the_default_program():
    assert Program.objects.filter(slug="default").exists()
