"""``python example_project/manage.py seed_demo``: demo users, accounts, ledger entries,
the default program's referral reward rules, loyalty tiers and reward catalog (in both
programs), alice's referral code and a redemption waiting for the technician.

Idempotent: running it again creates no duplicates. Users, programs and reward rules
(by name) are looked up before they are created, alice's personal code is created once,
tiers and catalog options (by name) are looked up too, and every ledger entry and
redemption carries an idempotency key, so the services return what was written the first
time instead of writing another.
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

from django_referral_rewards.enums import (
    Beneficiary,
    OptionKind,
    RewardKind,
    RewardTrigger,
    TierBasis,
    TierWindow,
    VoucherKind,
)
from django_referral_rewards.models import Program, RewardOption, RewardRule, Tier
from django_referral_rewards.services import accounts, codes, ledger, redemptions, tiers

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

#: Loyalty tiers of both programs, by annual spend: (rank, name, threshold, multiplier,
#: benefits).
TIERS = [
    (0, "Bronze", Decimal("0"), Decimal("1"), "1 point per dollar."),
    (1, "Silver", Decimal("500"), Decimal("1.25"), "25% more points on every order."),
    (2, "Gold", Decimal("2000"), Decimal("1.5"), "50% more points; priority repairs."),
    (3, "Platinum", Decimal("5000"), Decimal("2"), "Double points; a free check-up a year."),
]

#: The reward catalog: name -> (points cost, fields). Options costing more than the
#: program's approval threshold (1,000 points) wait for staff approval.
CATALOG = {
    "$5 off your next order": (
        500,
        {"kind": OptionKind.VOUCHER, "voucher_kind": VoucherKind.FIXED, "value": Decimal("5")},
    ),
    "$10 account credit": (1000, {"kind": OptionKind.CREDIT, "value": Decimal("10")}),
    "Free diagnostic": (
        500,
        {
            "kind": OptionKind.ITEM,
            "value": Decimal("25"),
            "description": "A technician checks your device and tells you what it needs.",
        },
    ),
    "Battery replacement": (
        2500,
        {
            "kind": OptionKind.ITEM,
            "value": Decimal("60"),
            "stock": 10,
            "per_member_limit": 1,
            "description": "Any phone or laptop battery, fitted by a technician.",
        },
    ),
    "Priority repair (Gold and up)": (
        800,
        {"kind": OptionKind.ITEM, "value": Decimal("30"), "minimum_tier": "Gold"},
    ),
}


class Command(BaseCommand):
    help = "Create the example project's demo users, programs, accounts and ledger entries."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = {name: self.user(name, *spec) for name, spec in LOGINS.items()}
            self.technicians(users["tech"])
            shop_b = self.program("shop-b", "Shop B")
            self.seed_alice(users["alice"], admin=users["admin"], shop_b=shop_b)
            default = Program.objects.resolve(None)
            self.reward_rules(default)
            for program in (default, shop_b):
                self.loyalty(program)
            alice_code = codes.get_or_create_personal_code(users["alice"])
            self.redeem(users["alice"], default)
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
            "  4. log in as alice / alice and open /rewards/ to see her rewards, tier and\n"
            "     the catalog; her free diagnostic waits for tech / tech in the admin\n"
            "     (Redemptions: Fulfil…)."
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
        """Staff who fulfil redemptions: they see everything in the admin and may act on
        redemptions (the programs' fulfilment group)."""
        group, _ = Group.objects.get_or_create(name="Technicians")
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="referral_rewards", codename__startswith="view_"
            ),
            *Permission.objects.filter(
                content_type__app_label="referral_rewards", codename="change_redemption"
            ),
        )
        tech.groups.add(group)

    def loyalty(self, program: Program) -> None:
        """Points per dollar, tiers by annual spend, expiry with a notice, and a catalog."""
        Program.objects.filter(pk=program.pk, points_per_unit=0).update(
            points_per_unit=Decimal("1"),
            points_expiry_days=365,
            expiry_notice_days=14,
            tier_grace_days=30,
            redemption_approval_threshold=1000,
            fulfilment_group="Technicians",
        )
        program.refresh_from_db()
        by_name = {}
        for rank, name, threshold, multiplier, benefits in TIERS:
            by_name[name], created = Tier.objects.get_or_create(
                program=program,
                name=name,
                defaults={
                    "rank": rank,
                    "basis": TierBasis.SPEND,
                    "window": TierWindow.CALENDAR_YEAR,
                    "threshold": threshold,
                    "multiplier": multiplier,
                    "benefits": benefits,
                },
            )
            if created:
                self.stdout.write(f"Created tier in {program.slug}: {name}.")
        for position, (name, (cost, fields)) in enumerate(CATALOG.items()):
            fields = dict(fields)
            if "minimum_tier" in fields:
                fields["minimum_tier"] = by_name[fields["minimum_tier"]]
            _, created = RewardOption.objects.get_or_create(
                program=program,
                name=name,
                defaults={"points_cost": cost, "position": position, **fields},
            )
            if created:
                self.stdout.write(f"Created reward option in {program.slug}: {name}.")

    def redeem(self, alice: Any, program: Program) -> None:
        """alice redeems a free diagnostic: approved at once (under the threshold) and
        assigned to the least-loaded technician, who is e-mailed."""
        account = accounts.get_or_create_account(alice, program=program)
        tiers.evaluate(account)
        option = RewardOption.objects.get(program=program, name="Free diagnostic")
        redemptions.request_redemption(
            account, option, idempotency_key="seed-demo:redeem-diagnostic"
        )

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
