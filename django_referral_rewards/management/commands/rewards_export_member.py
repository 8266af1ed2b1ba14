"""Print everything held about one member as JSON (a subject access request)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...services import privacy
from ..members import get_member


class Command(BaseCommand):
    help = (
        "Print, as JSON, everything held about the member with this primary key: the "
        "member record, accounts and balances, codes, referrals, ledger, rewards, "
        "vouchers, redemptions, payouts, orders and traces (keyed hashes are not exported)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member", help="The member's primary key.")
        parser.add_argument("--output", "-o", help="Write the JSON to this file instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        member = get_member(options["member"])
        text = json.dumps(privacy.export_member(member), indent=2, ensure_ascii=False)
        if not options["output"]:
            self.stdout.write(text)
            return
        try:
            with open(options["output"], "w", encoding="utf-8") as file:
                file.write(text + "\n")
        except OSError as exc:
            raise CommandError(f"Cannot write {options['output']}: {exc.strerror}.") from exc
        self.stdout.write(f"Wrote the data of member #{member.pk} to {options['output']}.")
