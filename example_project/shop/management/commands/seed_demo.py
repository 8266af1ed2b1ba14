"""``python example_project/manage.py seed_demo``: demo users, accounts and ledger entries.

Idempotent: running it again creates no duplicates. Users and programs are looked up
before they are created, and every ledger entry carries an idempotency key, so the
ledger service returns the entry written the first time instead of writing another.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from django_referral_rewards.models import Program
from django_referral_rewards.services import accounts, ledger

#: username -> (password, is_staff, is_superuser); printed by demo.py as well.
LOGINS = {
    "admin": ("admin", True, True),
    "alice": ("alice", False, False),
    "tech": ("tech", True, False),
}


class Command(BaseCommand):
    help = "Create the example project's demo users, programs, accounts and ledger entries."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = {name: self.user(name, *spec) for name, spec in LOGINS.items()}
            self.technicians(users["tech"])
            shop_b = self.program("shop-b", "Shop B")
            self.seed_alice(users["alice"], admin=users["admin"], shop_b=shop_b)
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
