"""Expire what is left of earn lots past their date (run it daily from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...exceptions import ReferralRewardsError
from ...services import ledger
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Expire what is left of every earn lot past its expiry date, in batches. "
        "Safe to rerun and to run on several machines at once."
    )

    batch_unit = "Lots"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", help="Only this program (slug).")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        now = self.parse_now(options)
        batch_size = self.parse_batch_size(options)
        try:
            result = ledger.expire_lots(now=now, batch_size=batch_size, program=options["program"])
        except ReferralRewardsError as exc:
            raise CommandError(exc.message) from exc
        amounts = ", ".join(f"{amount} {unit}" for unit, amount in sorted(result.amounts.items()))
        self.stdout.write(
            f"Expired {result.lots} lot(s) in {result.entries} entr(y/ies) over "
            f"{result.batches} batch(es){': ' + amounts if amounts else ''}."
        )
        if result.skipped_accounts:
            self.stdout.write(
                f"{result.skipped_accounts} account(s) were busy and are left for the next run."
            )
