"""Check the ledger: every cached balance against its entries (invariant 1), the open
lots against the balances, and per program the totals by kind (invariant 11)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exceptions import ReferralRewardsError
from ...models import Program
from ...services import ledger


class Command(BaseCommand):
    help = (
        "Verify that cached balances equal the sum of ledger entries and that program "
        "totals add up. Exits non-zero if anything differs. --fix rebuilds wrong cached "
        "balances from the ledger."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", help="Only this program (slug).")
        parser.add_argument(
            "--fix", action="store_true", help="Rebuild wrong cached balances from the ledger."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            programs = (
                [Program.objects.resolve(options["program"])]
                if options["program"]
                else list(Program.objects.order_by("slug"))
            )
        except ReferralRewardsError as exc:
            raise CommandError(exc.message) from exc
        problems = fixed = 0
        for program in programs:
            found = ledger.recompute(program=program, fix=options["fix"])
            for d in found:
                self.stdout.write(
                    f"[{program.slug}] account {d.account_id} {d.unit} {d.what}: "
                    f"cached {d.cached}, ledger says {d.expected}"
                )
            if options["fix"] and found:
                # Cached balances are rebuilt; lot differences cannot be fixed blindly.
                remaining = ledger.recompute(program=program)
                for d in remaining:
                    self.stdout.write(
                        f"[{program.slug}] account {d.account_id} {d.unit} {d.what} still "
                        f"differs after --fix: {d.cached} vs {d.expected}"
                    )
                problems += len(remaining)
                fixed += len(found) - len(remaining)
            else:
                problems += len(found)
            for unit, totals in ledger.program_totals(program).items():
                kinds = ", ".join(
                    f"{kind} {value}"
                    for kind, value in sorted(totals.items())
                    if kind not in ("ledger", "balances")
                )
                status = "ok" if totals["ledger"] == totals["balances"] else "MISMATCH"
                if status != "ok":
                    problems += 1
                self.stdout.write(
                    f"[{program.slug}] {unit}: {kinds or 'no entries'}; ledger {totals['ledger']}"
                    f" = balances {totals['balances']} {status}"
                )
        if problems:
            raise CommandError(f"{problems} difference(s) found.")
        message = (
            f"Fixed {fixed} difference(s); the ledger reconciles."
            if fixed
            else "The ledger reconciles."
        )
        self.stdout.write(self.style.SUCCESS(message))
