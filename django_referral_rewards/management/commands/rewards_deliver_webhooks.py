"""Send the due webhook deliveries, retries included (run it every minute)."""

from __future__ import annotations

from typing import Any

from ...services import webhooks
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Send every webhook delivery that is due (new ones not sent yet, and retries), in "
        "batches. Safe to rerun and to run on several machines at once."
    )
    batch_unit = "Deliveries"

    def handle(self, *args: Any, **options: Any) -> None:
        run = self.run_sweep(webhooks.deliver_due, options)
        self.stdout.write(
            f"Delivered {run.delivered} webhook(s); {run.retried} will be retried, "
            f"{run.failed} given up, {run.cancelled} cancelled; {run.batches} batch(es)."
        )
