"""The tasks on a real backend: ``django-tasks-db`` with its ``db_worker`` running as a
separate process, on a throw-away SQLite file shared by every process of a test.

The test process itself never opens Django's database: it migrates, seeds and enqueues
in subprocesses (``tests.worker.actions``, settings ``tests.worker.settings``), starts
the worker with ``subprocess``, and reads the results with the stdlib ``sqlite3``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import django
import pytest

pytest.importorskip("django_tasks_db")
if django.VERSION < (6, 0):  # pragma: no cover - depends on the Django version
    pytest.skip("django.tasks needs Django 6.0 or later", allow_module_level=True)
if not hasattr(signal, "SIGKILL"):  # pragma: no cover - Windows
    pytest.skip("needs SIGKILL", allow_module_level=True)

pytestmark = pytest.mark.concurrency

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 2000
BATCH_SIZE = 5  # 400 batches of one transaction each: a few seconds of work to interrupt


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.worker.settings",
        DB_BACKEND="sqlite",
        RR_WORKER_DB_NAME=str(db),
        RR_WORKER_BATCH_SIZE=str(BATCH_SIZE),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    )
    return env


def run(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python *args`` against ``db``, to completion."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env_for(db),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode:
        pytest.fail(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def action(db: Path, *args: str) -> dict:
    out = run(db, "-m", "tests.worker.actions", *args).stdout
    return json.loads(out.strip().splitlines()[-1])


def worker_command(*options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "django",
        "db_worker",
        "--no-startup-delay",
        "--no-reload",
        "--interval",
        "0.05",
        *options,
    ]


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    # A read-write connection (used for reads only): after a SIGKILL it is the one that
    # rolls back the dead worker's unfinished transaction (a "hot journal").
    connection = sqlite3.connect(db, timeout=20)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def task_results(db: Path) -> dict[str, tuple[str, dict | None]]:
    rows = query(db, "SELECT id, status, return_value FROM django_tasks_database_dbtaskresult")
    results = {}
    for pk, status, value in rows:
        # UUIDs are stored without dashes on SQLite.
        results[pk.replace("-", "")] = (status, json.loads(value) if value else None)
    return results


def result_of(db: Path, enqueued: dict) -> tuple[str, dict | None]:
    return task_results(db)[enqueued["id"].replace("-", "")]


def lapsed_lots_done(db: Path) -> int:
    return query(
        db,
        "SELECT count(*) FROM referral_rewards_earnlot "
        "WHERE expires_at IS NOT NULL AND remaining = 0",
    )[0][0]


def seed_and_list_lots(db: Path) -> list[tuple]:
    """Seed the lapsed lots; their (id, account_id, amount), by id."""
    action(db, "seed_expiry", str(ACCOUNTS))
    lots = query(
        db,
        "SELECT id, account_id, amount FROM referral_rewards_earnlot "
        "WHERE expires_at IS NOT NULL ORDER BY id",
    )
    assert len(lots) == ACCOUNTS and lapsed_lots_done(db) == 0
    return lots


def expiry_entries(db: Path) -> list[tuple]:
    return query(
        db,
        "SELECT account_id, amount, lots FROM referral_rewards_ledgerentry WHERE kind = 'expire'",
    )


def rerun_to_completion(db: Path, left: int) -> None:
    """Enqueue the sweep again (as a schedule would) and run a fresh worker until the
    queue is empty: it succeeds, doing exactly the ``left`` lots, one entry each."""
    enqueued = action(db, "enqueue", "expire_points")
    started = time.monotonic()
    rerun = run(db, *worker_command("--batch")[1:])
    assert time.monotonic() - started < 60, rerun.stdout
    status, value = result_of(db, enqueued)
    assert status == "SUCCESSFUL", (status, rerun.stdout, rerun.stderr)
    assert value["lots"] == value["entries"] == left, value
    assert value["skipped_accounts"] == 0


def assert_expired_exactly_once(db: Path, lots: list[tuple]) -> None:
    # Every lapsed lot expired exactly once, for exactly what it held...
    assert (
        query(
            db,
            "SELECT id, account_id, amount FROM referral_rewards_earnlot "
            "WHERE expires_at IS NOT NULL AND remaining = 0 AND expired = amount ORDER BY id",
        )
        == lots
    )
    expiries = expiry_entries(db)
    assert len(expiries) == ACCOUNTS
    expired_lots = [tuple(pair) for _, _, pairs in expiries for pair in json.loads(pairs)]
    assert sorted(expired_lots) == [(pk, amount) for pk, _, amount in lots]
    assert sorted((account, -amount) for account, amount, _ in expiries) == sorted(
        (account, amount) for _, account, amount in lots
    )
    # ...and every cached balance is the sum of its entries: the 5 points that never expire.
    balances = query(
        db,
        "SELECT a.points_balance, (SELECT sum(e.amount) FROM referral_rewards_ledgerentry e "
        "WHERE e.account_id = a.id AND e.unit = 'points') FROM referral_rewards_account a",
    )
    assert len(balances) == ACCOUNTS and set(balances) == {(5, 5)}
    run(db, "-m", "django", "rewards_reconcile")  # exits non-zero on any difference


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A migrated database file, for each test to copy (migrating takes seconds)."""
    db = tmp_path_factory.mktemp("worker-templates") / "migrated.sqlite3"
    run(db, "-m", "django", "migrate", "-v0")
    return db


@pytest.fixture(scope="module")
def seeded(migrated, tmp_path_factory) -> tuple[Path, list[tuple]]:
    """A copy with the lapsed lots seeded (seconds again), and the lots' (id,
    account_id, amount) by id."""
    db = tmp_path_factory.mktemp("worker-templates") / "seeded.sqlite3"
    shutil.copy(migrated, db)
    return db, seed_and_list_lots(db)


def copy_of(template: Path, tmp_path: Path) -> Path:
    db = tmp_path / "worker.sqlite3"
    shutil.copy(template, db)
    return db


@pytest.fixture
def lapsed(seeded, tmp_path) -> tuple[Path, list[tuple]]:
    """This test's database with the lapsed lots, and the lots."""
    template, lots = seeded
    return copy_of(template, tmp_path), lots


def test_a_worker_killed_mid_sweep_is_finished_by_the_next_run_without_repeats(lapsed, tmp_path):
    db_file, lots = lapsed
    first = action(db_file, "enqueue", "expire_points")

    # A long-running worker (not --batch), killed once a fifth of the lots are done.
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        worker_command(), cwd=ROOT, env=env_for(db_file), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            done = lapsed_lots_done(db_file)
            if done >= ACCOUNTS // 5:
                break
            if worker.poll() is not None:
                pytest.fail(f"the worker exited ({worker.returncode}) after {done} lots")
            if time.monotonic() > deadline:
                pytest.fail(f"no progress to kill: {done} of {ACCOUNTS} lots after 30 s")
            time.sleep(0.01)
        assert worker.poll() is None, "the worker exited before it could be killed"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:  # a failure above: never leave the worker running
            worker.kill()
            worker.wait(timeout=10)
        log.close()

    # Killed part-way: some lots are expired, not all, each with its entry; the
    # interrupted task stays as the worker left it (the backend does not take it back).
    done_at_kill = lapsed_lots_done(db_file)
    assert 0 < done_at_kill < ACCOUNTS, done_at_kill
    assert len(expiry_entries(db_file)) == done_at_kill
    assert result_of(db_file, first) == ("RUNNING", None)

    rerun_to_completion(db_file, ACCOUNTS - done_at_kill)
    assert result_of(db_file, first) == ("RUNNING", None)  # never picked up again
    assert_expired_exactly_once(db_file, lots)


def test_a_worker_killed_inside_a_batch_transaction_loses_only_that_batch(lapsed):
    """The worst moment, made certain: the worker SIGKILLs itself in batch 40's
    transaction, after that batch's expire entries are written and before its lots are
    marked (tests/worker/crash.py). The batch is rolled back whole; the rerun does it."""
    db_file, lots = lapsed
    first = action(db_file, "enqueue", "expire_points")
    kill_at = 40
    crashed = subprocess.run(
        worker_command("--batch"),
        cwd=ROOT,
        env=env_for(db_file, RR_WORKER_KILL_AT_LOT_UPDATE=str(kill_at)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGKILL, (crashed.stdout, crashed.stderr)

    committed = (kill_at - 1) * BATCH_SIZE
    assert lapsed_lots_done(db_file) == committed
    assert len(expiry_entries(db_file)) == committed  # batch 40's entries were rolled back
    assert result_of(db_file, first) == ("RUNNING", None)

    rerun_to_completion(db_file, ACCOUNTS - committed)
    assert_expired_exactly_once(db_file, lots)


def test_a_real_worker_releases_a_due_grant_once(migrated, tmp_path):
    db_file = copy_of(migrated, tmp_path)
    held = action(db_file, "seed_held")
    assert held["status"] == "held"
    first = action(db_file, "enqueue", "release_grants")
    second = action(db_file, "enqueue", "release_grants")

    run(db_file, *worker_command("--batch")[1:])

    assert result_of(db_file, first) == ("SUCCESSFUL", {"released": 1, "batches": 1})
    assert result_of(db_file, second) == ("SUCCESSFUL", {"released": 0, "batches": 0})
    assert query(
        db_file, "SELECT status FROM referral_rewards_rewardgrant WHERE id = ?", held["grant"]
    ) == [("released",)]
    assert query(
        db_file,
        "SELECT kind, amount FROM referral_rewards_ledgerentry "
        "WHERE reference_type = 'grant' AND reference_id = ?",
        str(held["grant"]),
    ) == [("earn", 500)]
    assert query(
        db_file,
        "SELECT points_balance, held_points FROM referral_rewards_account WHERE id = ?",
        held["account"],
    ) == [(500, 0)]
    run(db_file, "-m", "django", "rewards_reconcile")
