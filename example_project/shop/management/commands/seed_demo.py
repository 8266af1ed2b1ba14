"""``python example_project/manage.py seed_demo``: demo users, accounts, ledger entries,
the default program's referral reward rules and alice's referral code.

Idempotent: running it again creates no duplicates. Users, programs and reward rules
(by name) are looked up before they are created, alice's personal code is created once,
and every ledger entry carries an idempotency key, so the ledger service returns the
entry written the first time instead of writing another.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from django_referral_rewards.enums import Beneficiary, RewardKind, RewardTrigger
from django_referral_rewards.models import Program, RewardRule
from django_referral_rewards.services import accounts, codes, ledger

#: username -> (password, is_staff, is_superuser); printed by demo.py as well.
LOGINS = {
    "admin": ("admin", True, True),
    "alice": ("alice", False, False),
    "tech": ("tech", True, False),
}

#: The default program's two-sided referral rewards: (name, trigger, beneficiary, kind,
#: value, extra fields). Staff edit them in the admin (Reward rules); the names identify
#: them here, so a renamed rule is created again by the next seed.
REWARD_RULES = [
    (
        "Friend signed up: 500 points",
        RewardTrigger.SIGNUP,
        Beneficiary.REFERRER,
        RewardKind.POINTS,
        Decimal("500"),
        {},
    ),
    (
        "Friend's first order: 10% commission",
        RewardTrigger.FIRST_ORDER,
        Beneficiary.REFERRER,
        RewardKind.COMMISSION_PERCENT,
        Decimal("10"),
        {},
    ),
    (
        "Welcome: 100 points",
        RewardTrigger.SIGNUP,
        Beneficiary.REFEREE,
        RewardKind.POINTS,
        Decimal("100"),
        {},
    ),
    (
        "First order: 15% off your next order",
        RewardTrigger.FIRST_ORDER,
        Beneficiary.REFEREE,
        RewardKind.VOUCHER_PERCENT,
        Decimal("15"),
        {"voucher_valid_days": 90, "description": "Welcome gift for your next order"},
    ),
]


class Command(BaseCommand):
    help = "Create the example project's demo users, programs, accounts and ledger entries."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = {name: self.user(name, *spec) for name, spec in LOGINS.items()}
            self.technicians(users["tech"])
            shop_b = self.program("shop-b", "Shop B")
            self.seed_alice(users["alice"], admin=users["admin"], shop_b=shop_b)
            self.reward_rules(Program.objects.resolve(None))
            alice_code = codes.get_or_create_personal_code(users["alice"])
        alice = users["alice"]
        for program in (None, "shop-b"):
            account = accounts.get_or_create_account(alice, program=program)
            self.stdout.write(
                f"alice @ {account.program}: {ledger.balance(account)} points, "
                f"{account.program.from_minor(ledger.balance(account, unit='credit'))} credit, "
                f"{account.program.from_minor(ledger.balance(account, unit='commission'))} "
                "commission"
            )
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write(
            "\nReferral demo:\n"
            f"  1. open /r/{alice_code.code}/ (alice's share link) in a private window:\n"
            "     you land on the sign-up page with her code filled in;\n"
            "  2. sign up (alice earns 500 points, you 100);\n"
            "  3. place an order on /shop/ (alice earns 10% commission, you a 15% voucher)\n"
            "     and a second one with the voucher from /rewards/;\n"
            "  4. log in as alice / alice and open /rewards/ to see her rewards."
        )

    def user(self, username: str, password: str, is_staff: bool, is_superuser: bool) -> Any:
        User = get_user_model()
        user = User._default_manager.filter(username=username).first()
        if user is None:
            user = User._default_manager.create_user(
                username=username,
                password=password,
                email=f"{username}@example.com",
                is_staff=is_staff,
                is_superuser=is_superuser,
            )
            self.stdout.write(f"Created user {username} (password {password}).")
        return user

    def technicians(self, tech: Any) -> None:
        """Staff who fulfil redemptions; for now they may look at everything in admin."""
        group, _ = Group.objects.get_or_create(name="Technicians")
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="referral_rewards", codename__startswith="view_"
            )
        )
        tech.groups.add(group)

    def program(self, slug: str, name: str) -> Program:
        program, created = Program.objects.get_or_create(
            slug=slug, defaults={"name": name, "currency": "USD"}
        )
        if created:
            self.stdout.write(f"Created program {slug}.")
        return program

    def reward_rules(self, program: Program) -> None:
        for name, trigger, beneficiary, kind, value, extra in REWARD_RULES:
            _, created = RewardRule.objects.get_or_create(
                program=program,
                campaign=None,
                name=name,
                defaults={
                    "trigger": trigger,
                    "beneficiary": beneficiary,
                    "kind": kind,
                    "value": value,
                    **extra,
                },
            )
            if created:
                self.stdout.write(f"Created reward rule in {program.slug}: {name}.")

    def seed_alice(self, alice: Any, *, admin: Any, shop_b: Program) -> None:
        """A referrer with history in the default program and an account in shop-b."""
        account = accounts.get_or_create_account(alice)
        ledger.credit(account, 500, reason="Welcome bonus", idempotency_key="seed-demo:welcome")
        ledger.credit(
            account,
            250,
            reason="Referred bob: his first order #1001",
            reference=("shop.order", "1001"),
            idempotency_key="seed-demo:referral-bob",
        )
        ledger.debit(
            account,
            120,
            reason="Redeemed: free coffee",
            idempotency_key="seed-demo:redeem-coffee",
        )
        ledger.credit(
            account,
            300,
            reason="Double-points weekend (expires in 30 days)",
            expires_at=timezone.now() + timedelta(days=30),
            idempotency_key="seed-demo:double-points",
        )
        ledger.credit(
            account,
            1500,
            unit="credit",
            reason="Goodwill credit for a late repair",
            created_by=admin,
            idempotency_key="seed-demo:goodwill",
        )
        ledger.credit(
            account,
            625,
            unit="commission",
            reason="Commission: 5% of bob's order #1001",
            reference=("shop.order", "1001"),
            idempotency_key="seed-demo:commission-1001",
        )
        account_b = accounts.get_or_create_account(alice, program=shop_b)
        ledger.credit(
            account_b, 80, reason="Welcome bonus (Shop B)", idempotency_key="seed-demo:shop-b"
        )
