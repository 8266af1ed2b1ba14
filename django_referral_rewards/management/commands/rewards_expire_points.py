"""Expire what is left of earn lots past their date (run it daily from cron)."""

from __future__ import annotations

from typing import Any

from ...services import ledger
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Expire what is left of every earn lot past its expiry date, in batches. "
        "Safe to rerun and to run on several machines at once."
    )

    batch_unit = "Lots"
    takes_program = True

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(ledger.expire_lots, options)
        amounts = ", ".join(f"{amount} {unit}" for unit, amount in sorted(result.amounts.items()))
        self.stdout.write(
            f"Expired {result.lots} lot(s) in {result.entries} entr(y/ies) over "
            f"{result.batches} batch(es){': ' + amounts if amounts else ''}."
        )
        if result.skipped_accounts:
            self.stdout.write(
                f"{result.skipped_accounts} account(s) were busy and are left for the next run."
            )
