"""Smoke tests of what ships around the package: the example project that ``demo.py``
runs (its ``seed_demo`` command must be idempotent, and its own tests of the referral
flow must pass), and the files the sdist is built from. The wheel itself is checked by
``tox -e build`` (``scripts/check_wheel.py``)."""

from __future__ import annotations

import configparser
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"

COUNTS = {
    "users": "SELECT COUNT(*) FROM auth_user",
    "programs": "SELECT COUNT(*) FROM referral_rewards_program",
    "members": "SELECT COUNT(*) FROM referral_rewards_member",
    "accounts": "SELECT COUNT(*) FROM referral_rewards_account",
    "entries": "SELECT COUNT(*) FROM referral_rewards_ledgerentry",
    "lots": "SELECT COUNT(*) FROM referral_rewards_earnlot",
    "tiers": "SELECT COUNT(*) FROM referral_rewards_tier",
    "options": "SELECT COUNT(*) FROM referral_rewards_rewardoption",
    "redemptions": "SELECT COUNT(*) FROM referral_rewards_redemption",
    "referrals": "SELECT COUNT(*) FROM referral_rewards_referral",
    "orders": "SELECT COUNT(*) FROM referral_rewards_order",
    "shop_orders": "SELECT COUNT(*) FROM shop_shoporder",
    "grants": "SELECT COUNT(*) FROM referral_rewards_rewardgrant",
    "payouts": "SELECT COUNT(*) FROM referral_rewards_payout",
    "payout_events": "SELECT COUNT(*) FROM referral_rewards_payoutevent",
    "partners": "SELECT COUNT(*) FROM referral_rewards_partner",
    "professional_referrals": "SELECT COUNT(*) FROM referral_rewards_professionalreferral",
    "fraud_signals": "SELECT COUNT(*) FROM referral_rewards_fraudsignal",
    "fraud_decisions": "SELECT COUNT(*) FROM referral_rewards_frauddecision",
    "traces": "SELECT COUNT(*) FROM referral_rewards_trace",
}
BALANCES = (
    "SELECT p.slug, m.name, a.points_balance, a.held_points, a.credit_balance, "
    "a.commission_balance "
    "FROM referral_rewards_account a JOIN referral_rewards_program p ON p.id = a.program_id "
    "JOIN referral_rewards_member m ON m.id = a.member_id "
    "ORDER BY p.slug, m.name"
)
PAYOUTS = (
    "SELECT m.name, p.amount, p.method, p.status, p.external_reference "
    "FROM referral_rewards_payout p JOIN referral_rewards_account a ON a.id = p.account_id "
    "JOIN referral_rewards_member m ON m.id = a.member_id ORDER BY p.requested_at"
)
FRAUD_CAUGHT = (
    "SELECT m.name, r.status, r.fraud_status, r.fraud_score FROM referral_rewards_referral r "
    "JOIN referral_rewards_account a ON a.id = r.referred_id "
    "JOIN referral_rewards_member m ON m.id = a.member_id "
    "WHERE r.fraud_status <> 'clear' ORDER BY m.name"
)
PARTNER_REFERRALS = (
    "SELECT pa.name, r.direction, COUNT(*) FROM referral_rewards_professionalreferral r "
    "JOIN referral_rewards_partner pa ON pa.id = r.partner_id "
    "GROUP BY pa.name, r.direction ORDER BY pa.name, r.direction"
)


EXAMPLE_PROJECT_ONLY = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
    or getattr(settings, "SWAPPED", False),
    reason="the example project runs on SQLite with the default member model: "
    "once per interpreter is enough",
)


def manage(db_path: Path, *args: str) -> str:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="example_project.settings")
    env["EXAMPLE_PROJECT_DB"] = str(db_path)
    env.pop("REFERRAL_REWARDS_SWAPPED", None)
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def snapshot(
    db_path: Path,
) -> tuple[dict[str, int], list[tuple], list[tuple], list[tuple], list[tuple]]:
    with sqlite3.connect(db_path) as db:
        counts = {name: db.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}
        return (
            counts,
            db.execute(BALANCES).fetchall(),
            db.execute(PAYOUTS).fetchall(),
            db.execute(PARTNER_REFERRALS).fetchall(),
            db.execute(FRAUD_CAUGHT).fetchall(),
        )


@EXAMPLE_PROJECT_ONLY
def test_example_project_seeds_idempotently(tmp_path):
    db_path = tmp_path / "example.sqlite3"
    manage(db_path, "migrate", "--noinput", "--verbosity", "0")
    first_output = manage(db_path, "seed_demo")
    first = snapshot(db_path)
    second_output = manage(db_path, "seed_demo")

    assert snapshot(db_path) == first
    counts, balances, payouts, partner_referrals, fraud_caught = first
    assert counts == {
        # admin, alice, tech; maya's customers dana, eli and farah; nina and the two
        # sign-ups with her code that the fraud checks caught, omar and ninap.
        "users": 9,
        "programs": 2,
        # The users but admin and tech, and maya (an influencer without a user).
        "members": 8,
        "accounts": 9,
        # alice's second commission (enough for a payout in the portal) is one more
        # entry and lot.
        "entries": 21,
        "lots": 17,
        "tiers": 8,
        "options": 10,
        "redemptions": 1,
        "referrals": 5,
        "orders": 2,
        "shop_orders": 2,
        # 12, and omar's and nina's held sign-up points (nothing for the blocked one).
        "grants": 14,
        "payouts": 2,
        # Requested, approved and paid; requested.
        "payout_events": 4,
        "partners": 2,
        "professional_referrals": 9,
        # same_device on omar's referral, same_email on ninap's; the checks' decisions.
        "fraud_signals": 2,
        "fraud_decisions": 2,
        # nina's log-ins (IP address and device), omar's sign-up (both), ninap's (IP).
        "traces": 5,
    }
    assert balances == [
        # 500 points per referred sign-up; her own terms (10%, replacing the program's
        # commission rule) on $80.00 and $249.00 first orders: $32.90, less the $20.00
        # paid and the $10.00 waiting for approval (reserved when it was requested).
        ("default", "Maya Lopez", 1500, 0, 0, 290),
        # 500 + 250 - 120 + 300 - 500 (the free diagnostic) points, $15.00 credit, $6.25
        # and $15.00 commission (above the $10.00 payout minimum).
        ("default", "alice", 430, 0, 1500, 2125),
        # 100 for signing up and a point per dollar of her $80.00 first order.
        ("default", "dana", 180, 0, 0, 0),
        ("default", "eli", 349, 0, 0, 0),
        ("default", "farah", 100, 0, 0, 0),
        # omar's sign-up is in review: both sides' points are held until a decision.
        ("default", "nina", 0, 500, 0, 0),
        # nina herself under another address: blocked, nothing for anyone.
        ("default", "ninap", 0, 0, 0, 0),
        ("default", "omar", 0, 100, 0, 0),
        ("shop-b", "alice", 80, 0, 0, 0),
    ]
    assert payouts == [
        ("Maya Lopez", 20, "bank_transfer", "paid", "BATCH-0412-07"),
        ("Maya Lopez", 10, "bank_transfer", "pending", ""),
    ]
    # Northside sent us 3 and got 1 ("They owe us 2"); Harbour 2 and 3 ("We owe them 1").
    assert partner_referrals == [
        ("Harbour Device Clinic", "received", 2),
        ("Harbour Device Clinic", "sent", 3),
        ("Northside Repair Clinic", "received", 3),
        ("Northside Repair Clinic", "sent", 1),
    ]
    assert fraud_caught == [
        ("ninap", "rejected", "blocked", 100),
        ("omar", "pending", "review", 80),
    ]
    assert "fraud: omar referred by nina: in review (score 80: same_device)" in first_output
    assert "They owe us 2 referrals" in first_output
    assert "We owe them 1 referral" in first_output
    assert "2.90 USD of commission available" in first_output
    assert "Created user alice" in first_output
    assert "Created reward rule" in first_output
    assert "Created" not in second_output
    # The demo path: alice's share link, the same on every run.
    links = [line for line in first_output.splitlines() if "/r/" in line]
    assert len(links) == 1, first_output
    assert links[0] in second_output.splitlines()


@EXAMPLE_PROJECT_ONLY
def test_example_project_tests_pass(tmp_path):
    """The shop's own tests (``example_project/shop/tests.py``): share link, sign-up with
    the code, orders with a voucher, both members' rewards, refunds."""
    output = manage(tmp_path / "example.sqlite3", "test", "example_project.shop", "--noinput")
    assert "\nOK" in output, output


def test_sdist_sources_exist():
    """setup.cfg reads README.md as the long description; MANIFEST.in ships the rest."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    long_description = config["metadata"]["long_description"].removeprefix("file:").strip()
    for name in (long_description, "CHANGELOG.md", "LICENSE"):
        assert (ROOT / name).is_file(), name
        assert (ROOT / name).read_text(encoding="utf-8").strip(), name
