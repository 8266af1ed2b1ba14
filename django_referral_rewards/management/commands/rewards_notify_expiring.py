"""Warn members before their points expire (run it daily from cron)."""

from __future__ import annotations

from typing import Any

from ...services import notices
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Send the pre-expiry notice for every earn lot expiring within its program's "
        "expiry_notice_days (once per lot), in batches. Safe to rerun and to run on "
        "several machines at once."
    )
    batch_unit = "Lots"
    takes_program = True

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(notices.notify_expiring, options)
        self.stdout.write(
            f"Warned {result.accounts} account(s) of {result.points} point(s) expiring "
            f"in {result.lots} lot(s)."
        )
