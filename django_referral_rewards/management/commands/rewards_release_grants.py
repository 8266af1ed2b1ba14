"""Release held rewards whose hold period has ended (run it every few minutes)."""

from __future__ import annotations

from typing import Any

from ...services import rewards
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Release every held reward whose release time has passed (except those of referrals "
        "in review), in batches. Safe to rerun and to run on several machines at once."
    )
    batch_unit = "Grants"

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(rewards.release_due, options)
        self.stdout.write(f"Released {result.released} reward(s) over {result.batches} batch(es).")
