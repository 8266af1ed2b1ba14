"""Shared options of the sweep commands (``--batch-size``, ``--now``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime


class SweepCommand(BaseCommand):
    """A command that runs one set-based, batched sweep. Subclasses name what a batch
    holds (``batch_unit``) and implement :meth:`sweep`."""

    batch_unit = "rows"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, help=f"{self.batch_unit} per transaction.")
        parser.add_argument(
            "--now", help="Treat this ISO 8601 date-time as now (for catching up or testing)."
        )

    def parse_now(self, options: dict[str, Any]) -> datetime | None:
        if not options["now"]:
            return None
        now = parse_datetime(options["now"])
        if now is None or now.tzinfo is None:
            raise CommandError("--now must be an ISO 8601 date-time with a time zone.")
        return now

    def parse_batch_size(self, options: dict[str, Any]) -> int | None:
        size = options["batch_size"]
        if size is not None and size < 1:
            raise CommandError("--batch-size must be at least 1.")
        return int(size) if size is not None else None
