"""What the real-worker tests do in a process of their own (on the database that
``RR_WORKER_DB_NAME`` names, with ``tests.worker.settings``)::

    python -m tests.worker.actions seed_expiry 2000   # 2,000 accounts, one lapsed lot each
    python -m tests.worker.actions seed_held          # one held grant already due
    python -m tests.worker.actions enqueue expire_points

Each prints one line of JSON (what it made) for the test to read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal
from typing import Any


def seed_expiry(count: int) -> dict[str, Any]:
    """``count`` accounts, each with one lot of 10..(10 + count) points that lapsed a
    day ago, and 5 points that never expire; all in one transaction."""
    from django.db import transaction
    from django.utils import timezone

    from django_referral_rewards import testing
    from django_referral_rewards.models import Program
    from django_referral_rewards.services import ledger

    program = Program.objects.get_default()
    lapsed = timezone.now() - dt.timedelta(days=1)
    with transaction.atomic():
        for n in range(count):
            account = testing.make_account(program=program)
            ledger.credit(account, 10 + n, reason="Bonus", expires_at=lapsed)
            ledger.credit(account, 5, reason="Welcome")
    return {"accounts": count}


def seed_held() -> dict[str, Any]:
    """A referrer whose referral-signup reward (500 points, held 7 days) was granted 8
    days ago, so its release is due."""
    from django.utils import timezone

    from django_referral_rewards import testing
    from django_referral_rewards.models import Program, RewardGrant, RewardRule
    from django_referral_rewards.services import codes, events

    program = Program.objects.get_default()
    RewardRule.objects.create(
        program=program,
        name="Referral bonus",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=Decimal(500),
        hold_days=7,
    )
    referrer = testing.make_user()
    code = codes.get_or_create_personal_code(referrer, program=program)
    then = timezone.now() - dt.timedelta(days=8)
    events.customer_signed_up(testing.make_user(), code=code.code, program=program, now=then)
    (grant,) = RewardGrant.objects.all()
    return {"grant": grant.pk, "account": grant.account_id, "status": grant.status}


def enqueue(name: str, *args: str) -> dict[str, Any]:
    """Enqueue the package task ``name`` on the configured (database) backend."""
    from django_referral_rewards import tasks

    result = getattr(tasks, name).enqueue(*args)
    return {"id": str(result.id), "backend": result.backend}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.worker.settings")
    import django

    django.setup()
    action, *args = argv
    if action == "seed_expiry":
        out = seed_expiry(int(args[0]))
    elif action == "seed_held":
        out = seed_held()
    elif action == "enqueue":
        out = enqueue(*args)
    else:
        raise SystemExit(f"unknown action {action!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
