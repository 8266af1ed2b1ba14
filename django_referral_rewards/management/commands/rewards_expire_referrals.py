"""Expire pending referrals past their attribution window (run it daily)."""

from __future__ import annotations

from typing import Any

from ...services import referrals
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Expire every pending referral that did not convert within its program's "
        "attribution window, in batches. Safe to rerun and to run on several machines at once."
    )
    batch_unit = "Referrals"

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(referrals.expire_pending, options)
        self.stdout.write(f"Expired {result.expired} referral(s) over {result.batches} batch(es).")
