"""Remove what is kept only for fraud matching once it is older than the retention
period (run it daily from cron)."""

from __future__ import annotations

import functools
from typing import Any

from django.core.management.base import CommandParser

from ...services import privacy
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Delete visits, traces and fraud signals older than REFERRAL_REWARDS_RETENTION_DAYS "
        "(signals of referrals in review are kept) and blank the hashed sign-up IP address, "
        "device and user agent of older referrals and the payment fingerprints of older "
        "orders, and delete the settled webhook deliveries older than that and the kept "
        "answers of idempotent API requests older than "
        "REFERRAL_REWARDS_API_IDEMPOTENCY_RETENTION_HOURS, in batches. Safe to rerun and to "
        "run on several machines at once."
    )
    batch_unit = "Rows"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--days",
            type=int,
            help="Keep this many days instead of REFERRAL_REWARDS_RETENTION_DAYS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = self.run_sweep(
            functools.partial(privacy.purge_expired, days=options["days"]), options
        )
        self.stdout.write(
            f"Purged data older than {result.cutoff:%Y-%m-%d %H:%M %Z}: deleted "
            f"{result.visits} visit(s), {result.traces} trace(s) and {result.signals} fraud "
            f"signal(s); blanked the hashes of {result.referrals} referral(s) and "
            f"{result.orders} order(s); deleted {result.idempotency_records} kept API "
            f"answer(s) and {result.webhook_deliveries} settled webhook delivery(ies); "
            f"{result.batches} batch(es)."
        )
