"""Re-evaluate loyalty tiers: downgrades after the grace period, and late upgrades
(run it daily from cron)."""

from __future__ import annotations

from typing import Any

from ...services import tiers
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Re-evaluate the tier of every account of programs with tiers, in batches: move "
        "members up to the tier they meet, and down after the program's grace period. "
        "Safe to rerun and to run on several machines at once."
    )
    batch_unit = "Accounts"
    takes_program = True

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(tiers.reevaluate, options)
        self.stdout.write(
            f"Evaluated {result.accounts} account(s): {result.upgraded} moved up, "
            f"{result.downgraded} moved down, {result.scheduled} given a grace period "
            "before moving down."
        )
