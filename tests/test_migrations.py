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


@pytest.mark.django_db(transaction=True)
def test_0007_backfills_the_qualifying_spend_of_existing_accounts():
    from decimal import Decimal

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from django_referral_rewards.conf import get_member_model_string

    before = [("referral_rewards", "0006_rewards_orders_vouchers")]
    after = [("referral_rewards", "0007_loyalty_tiers_catalog")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        Member = old.get_model(*get_member_model_string().split("."))
        Program = old.get_model("referral_rewards", "Program")
        Account = old.get_model("referral_rewards", "Account")
        Order = old.get_model("referral_rewards", "Order")
        program = Program.objects.create(slug="backfill", name="Backfill", currency="USD")
        buyer = Account.objects.create(member=Member.objects.create(name="b"), program=program)
        idle = Account.objects.create(member=Member.objects.create(name="i"), program=program)
        for number, amount, refunded, qualifying in [
            ("1", "100", "30", True),
            ("2", "50", "0", True),
            ("3", "5", "0", False),
        ]:
            Order.objects.create(
                program=program,
                account=buyer,
                order_id=number,
                amount=Decimal(amount),
                refunded_amount=Decimal(refunded),
                currency="USD",
                qualifying=qualifying,
            )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("referral_rewards", "Account")
        assert new.objects.get(pk=buyer.pk).qualifying_spend == Decimal("120")
        assert new.objects.get(pk=idle.pk).qualifying_spend == Decimal("0")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
