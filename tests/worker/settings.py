"""Settings for the real-worker tests and the processes they start: the suite's
settings plus the ``django-tasks-db`` app and backend, on a throw-away SQLite file.

``RR_WORKER_DB_NAME`` names the database file (every process of one test uses the same
file); ``RR_WORKER_BATCH_SIZE`` sets ``REFERRAL_REWARDS_SWEEP_BATCH_SIZE``.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES as _SUITE_DATABASES
from tests.settings import INSTALLED_APPS as _SUITE_APPS

_suite_db = _SUITE_DATABASES["default"]
_sqlite = _suite_db["ENGINE"] == "django.db.backends.sqlite3"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("RR_WORKER_DB_NAME") or (_suite_db["NAME"] if _sqlite else ""),
        # As the suite's: writers queue (IMMEDIATE) instead of failing with "locked".
        "OPTIONS": dict(_suite_db.get("OPTIONS", {}))
        if _sqlite
        else {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}

INSTALLED_APPS = [*_SUITE_APPS, "django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

REFERRAL_REWARDS_SWEEP_BATCH_SIZE = int(os.environ.get("RR_WORKER_BATCH_SIZE", "500"))

# One worker process per test and nothing rate-limited: the per-process cache is fine.
SILENCED_SYSTEM_CHECKS = ["referral_rewards.W003"]

if os.environ.get("RR_WORKER_KILL_AT_LOT_UPDATE"):  # see tests/worker/crash.py
    from tests.worker import crash

    crash.install()
