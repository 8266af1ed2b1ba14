"""Management commands: the expiry sweep and reconciliation."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from django_referral_rewards import testing
from django_referral_rewards.models import Account, EarnLot
from django_referral_rewards.services import ledger
from tests.conftest import days

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_expire_points_command(account, now):
    ledger.credit(account, 40, reason="x", expires_at=now - days(1))
    ledger.credit(account, 10, reason="y")
    output = run("rewards_expire_points", "--batch-size", "10")
    assert "Expired 1 lot(s)" in output and "40 points" in output
    assert ledger.balance(account) == 10
    assert "Expired 0 lot(s)" in run("rewards_expire_points")


def test_expire_points_command_time_travel_and_program(account, now):
    ledger.credit(account, 5, reason="x", expires_at=now + days(3))
    later = (now + days(4)).isoformat()
    assert "Expired 0" in run("rewards_expire_points")  # not yet due
    with pytest.raises(CommandError, match="No program"):
        run("rewards_expire_points", "--program", "missing")
    with pytest.raises(CommandError, match="time zone"):
        run("rewards_expire_points", "--now", "2030-01-01T00:00")
    with pytest.raises(CommandError, match="at least 1"):
        run("rewards_expire_points", "--batch-size", "0")
    assert "5 points" in run("rewards_expire_points", "--now", later, "--program", "default")


def test_reconcile_passes_on_a_clean_ledger(account):
    ledger.credit(account, 100, reason="x")
    ledger.debit(account, 30, reason="y")
    output = run("rewards_reconcile")
    assert "[default] points: earn 100, spend -30; ledger 70 = balances 70 ok" in output
    assert "The ledger reconciles." in output


def test_reconcile_fails_and_fixes(account, program):
    ledger.credit(account, 100, reason="x")
    Account.objects.filter(pk=account.pk).update(points_balance=5)
    with pytest.raises(CommandError, match="difference"):
        run("rewards_reconcile", "--program", "default")
    output = run("rewards_reconcile", "--fix")
    assert "Fixed 1 difference(s)" in output
    assert "The ledger reconciles." in run("rewards_reconcile")


def test_reconcile_fix_cannot_fix_lots(account):
    entry = ledger.credit(account, 100, reason="x")
    Account.objects.filter(pk=account.pk).update(points_balance=5)
    EarnLot.objects.filter(entry=entry).update(remaining=1)
    with pytest.raises(CommandError, match="difference"):
        run("rewards_reconcile", "--fix")


def test_reconcile_unknown_program():
    with pytest.raises(CommandError, match="No program"):
        run("rewards_reconcile", "--program", "missing")


def test_testing_helpers():
    account = testing.make_account(points=5, credit=10, commission=15)
    assert (account.points_balance, account.credit_balance, account.commission_balance) == (
        5,
        10,
        15,
    )
    assert testing.ledger_is_consistent(account)
