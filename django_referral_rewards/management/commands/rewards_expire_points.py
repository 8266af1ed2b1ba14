"""Expire what is left of earn lots past their date (run it daily from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from ...exceptions import ReferralRewardsError
from ...services import ledger


class Command(BaseCommand):
    help = (
        "Expire what is left of every earn lot past its expiry date, in batches. "
        "Safe to rerun and to run on several machines at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", help="Only this program (slug).")
        parser.add_argument("--batch-size", type=int, help="Lots per transaction.")
        parser.add_argument(
            "--now", help="Treat this ISO 8601 date-time as now (for catching up or testing)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = None
        if options["now"]:
            now = parse_datetime(options["now"])
            if now is None or now.tzinfo is None:
                raise CommandError("--now must be an ISO 8601 date-time with a time zone.")
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            result = ledger.expire_lots(
                now=now, batch_size=options["batch_size"], program=options["program"]
            )
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
