"""Apply the default outcome to fraud reviews past their deadline (run it hourly)."""

from __future__ import annotations

from typing import Any

from ...services import fraud
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Approve or reject (each program's default review outcome) every referral whose "
        "fraud review is past its deadline, in batches. Safe to rerun and to run on several "
        "machines at once."
    )
    batch_unit = "Referrals"

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(fraud.resolve_due_reviews, options)
        self.stdout.write(
            f"Approved {result.approved} and rejected {result.rejected} referral(s) "
            f"over {result.batches} batch(es)."
        )
