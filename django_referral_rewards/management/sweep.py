"""Shared options of the sweep commands (``--batch-size``, ``--now``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from ..exceptions import ReferralRewardsError

R = TypeVar("R")


class SweepCommand(BaseCommand):
    """A command that runs one set-based, batched sweep. Subclasses name what a batch
    holds (``batch_unit``) and implement :meth:`sweep`."""

    batch_unit = "rows"
    #: Whether the sweep takes ``--program SLUG`` (and its service a ``program``).
    takes_program = False

    def add_arguments(self, parser: CommandParser) -> None:
        if self.takes_program:
            parser.add_argument("--program", help="Only this program (slug).")
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

    def run_sweep(self, sweep: Callable[..., R], options: dict[str, Any]) -> R:
        """Call the service ``sweep`` with the command's ``now``, ``batch_size`` (and
        ``program``); a service error becomes a :class:`CommandError`."""
        kwargs: dict[str, Any] = {
            "now": self.parse_now(options),
            "batch_size": self.parse_batch_size(options),
        }
        if self.takes_program:
            kwargs["program"] = options["program"]
        try:
            return sweep(**kwargs)
        except ReferralRewardsError as exc:
            raise CommandError(exc.message) from exc
