"""Erase one member's personal data, keeping every balance and total."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exceptions import ReferralRewardsError
from ...services import privacy
from ..members import get_member


class Command(BaseCommand):
    help = (
        "Erase the personal data of the member with this primary key: pseudonymise the "
        "member, delete their traces, blank hashes and free-text notes, deactivate their "
        "codes. Balances, ledger entries and program totals stay exactly as they are. "
        "Asks for confirmation unless --yes is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member", help="The member's primary key.")
        parser.add_argument(
            "--yes", action="store_true", help="Erase without asking for confirmation."
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Never prompt; without --yes the command then refuses to erase.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        member = get_member(options["member"])
        if not options["yes"]:
            if not options["interactive"]:
                raise CommandError("Refusing to erase a member without confirmation: pass --yes.")
            answer = input(
                f"This erases the personal data of member #{member.pk} ({member}) and "
                "cannot be undone.\nType 'yes' to continue: "
            )
            if answer.strip().lower() != "yes":
                self.stdout.write("Erasure cancelled.")
                return
        try:
            result = privacy.erase_member(member)
        except ReferralRewardsError as exc:
            raise CommandError(exc.message) from exc
        if not result.changed:
            self.stdout.write(f"Member #{member.pk} was already erased; nothing changed.")
            return
        self.stdout.write(
            f"Erased member #{member.pk}: {result.traces} trace(s) deleted; hashes blanked on "
            f"{result.referrals} referral(s), {result.signals} fraud signal(s) and "
            f"{result.orders} order(s); {result.codes} code(s) deactivated, "
            f"{result.codes_replaced} replaced; notes blanked on {result.redemptions} "
            f"redemption(s), {result.payouts} payout(s) and {result.history} history step(s)."
        )
        if result.open_payouts or result.open_redemptions:
            self.stdout.write(
                f"Still open: {result.open_payouts} payout(s) (their destination is now "
                f"blank) and {result.open_redemptions} redemption(s)."
            )
