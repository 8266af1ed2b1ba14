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
}
BALANCES = (
    "SELECT p.slug, a.points_balance, a.credit_balance, a.commission_balance "
    "FROM referral_rewards_account a JOIN referral_rewards_program p ON p.id = a.program_id "
    "ORDER BY p.slug"
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


def snapshot(db_path: Path) -> tuple[dict[str, int], list[tuple]]:
    with sqlite3.connect(db_path) as db:
        counts = {name: db.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}
        return counts, db.execute(BALANCES).fetchall()


@EXAMPLE_PROJECT_ONLY
def test_example_project_seeds_idempotently(tmp_path):
    db_path = tmp_path / "example.sqlite3"
    manage(db_path, "migrate", "--noinput", "--verbosity", "0")
    first_output = manage(db_path, "seed_demo")
    first = snapshot(db_path)
    second_output = manage(db_path, "seed_demo")

    assert snapshot(db_path) == first
    counts, balances = first
    assert counts == {
        "users": 3,
        "programs": 2,
        "members": 1,
        "accounts": 2,
        "entries": 8,
        "lots": 6,
        "tiers": 8,
        "options": 10,
        "redemptions": 1,
    }
    # Default program: 500 + 250 - 120 + 300 - 500 (the free diagnostic) points, $15.00
    # credit, $6.25 commission.
    assert balances == [("default", 430, 1500, 625), ("shop-b", 80, 0, 0)]
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
