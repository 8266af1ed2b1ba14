"""Warn members before their points expire (run it daily from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...exceptions import ReferralRewardsError
from ...services import notices
from ..sweep import SweepCommand


class Command(SweepCommand):
    help = (
        "Send the pre-expiry notice for every earn lot expiring within its program's "
        "expiry_notice_days (once per lot), in batches. Safe to rerun and to run on "
        "several machines at once."
    )
    batch_unit = "Lots"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", help="Only this program (slug).")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = notices.notify_expiring(
                program=options["program"],
                now=self.parse_now(options),
                batch_size=self.parse_batch_size(options),
            )
        except ReferralRewardsError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Warned {result.accounts} account(s) of {result.points} point(s) expiring "
            f"in {result.lots} lot(s)."
        )
