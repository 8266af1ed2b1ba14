"""``python example_project/manage.py seed_demo``: demo users, accounts, ledger entries,
the default program's referral reward rules, loyalty tiers and reward catalog (in both
programs), alice's referral code, her commission (enough for a payout) and her name on
the leaderboard, a redemption waiting in the technician's fulfilment queue, an influencer
with her own commission terms, her referred customers and her payouts (one paid, one
waiting for approval), two partner clinics with professional referrals, and two
referrals the fraud checks caught: one waiting for a staff review, one blocked.

Idempotent: running it again creates no duplicates. Users, programs and reward rules
(by name) are looked up before they are created, alice's personal code is created once,
tiers and catalog options (by name) are looked up too, and every ledger entry and
redemption carries an idempotency key, so the services return what was written the first
time instead of writing another. The influencer (by e-mail), her customers' shop orders
(by number), the partners (by name) and their referrals (by reference) are looked up
too; the host events are idempotent (a sign-up or an order id sent again has no second
effect); a payout is looked up by its idempotency key before it is requested, and
approved or marked paid only while it is still waiting for that step. The fraud cases
go through the same sign-up event, with a request as the shop's sign-up page sends it;
the referrer's traces are an upsert. A visitor who signed up on the demo site with a
seeded customer's username is left alone, and a payout the influencer's commission does
not cover is left out, with a warning.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from django_referral_rewards.conf import app_settings, get_member_model
from django_referral_rewards.enums import (
    Beneficiary,
    CommissionKind,
    FraudStatus,
    MemberKind,
    OptionKind,
    PartnerKind,
    PayoutMethod,
    PayoutStatus,
    RedemptionStatus,
    ReferralDirection,
    RewardKind,
    RewardTrigger,
    TierBasis,
    TierWindow,
    VoucherKind,
)
from django_referral_rewards.exceptions import InsufficientBalance, PayoutBelowMinimum
from django_referral_rewards.models import (
    Account,
    Partner,
    Payout,
    ProfessionalReferral,
    Program,
    Referral,
    RewardOption,
    RewardRule,
    Tier,
)
from django_referral_rewards.services import (
    accounts,
    codes,
    events,
    fraud,
    ledger,
    payouts,
    professional,
    redemptions,
    tiers,
)

from ... import catalog
from ...models import ShopOrder

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

#: The default program's smallest payout. alice's commission ($6.25 and $15.00) is
#: above it, so she can request a payout in the portal.
PAYOUT_MINIMUM = Decimal("10.00")
#: The name alice chose to be shown under on the portal's leaderboard.
ALICE_LEADERBOARD_NAME = "Alice W."

#: An influencer who never logs in (a member without a user) and is paid her own
#: commission terms: 10% of each referred customer's first order, instead of the
#: program's commission rule.
INFLUENCER = {
    "name": "Maya Lopez",
    "email": "maya@example.com",
    "phone": "+1 555 0100",
    "kind": MemberKind.INFLUENCER,
}
INFLUENCER_COMMISSION = (CommissionKind.PERCENT, Decimal("10"))

#: The customers she referred: username -> (signed up N days ago, first order or None as
#: (shop order number, product sku, N days ago)). Two converted: 10% of $80.00 and of
#: $249.00 is $32.90 of commission; the third has not ordered yet.
INFLUENCER_CUSTOMERS = {
    "dana": (45, ("SO-SEED-0001", "grinder", 44)),
    "eli": (40, ("SO-SEED-0002", "espresso", 38)),
    "farah": (3, None),
}

#: Her payouts, by idempotency key: (amount, requested N days ago, how far it went, the
#: bank's reference once paid). $32.90 earned - $20.00 paid - $10.00 waiting leaves
#: $2.90, below the minimum.
INFLUENCER_PAYOUTS = {
    "seed-demo:maya-payout-1": (Decimal("20.00"), 30, PayoutStatus.PAID, "BATCH-0412-07"),
    "seed-demo:maya-payout-2": (Decimal("10.00"), 2, PayoutStatus.PENDING, ""),
}
INFLUENCER_BANK_ACCOUNT = "First Example Bank, routing 011000015, account 000123456789"

#: Partner clinics we exchange customers with (professional referrals: no rewards).
PARTNERS = {
    "Northside Repair Clinic": {
        "kind": PartnerKind.CLINIC,
        "specialty": "Espresso machines",
        "contact_name": "Sam Okafor",
        "email": "sam@northside-repair.example.com",
        "phone": "+1 555 0142",
    },
    "Harbour Device Clinic": {
        "kind": PartnerKind.CLINIC,
        "specialty": "Board-level repair",
        "contact_name": "Lena Petrov",
        "email": "lena@harbour-devices.example.com",
        "phone": "+1 555 0199",
    },
}

#: (partner, direction, N days ago, reference, reason). The balance is received - sent:
#: Northside 3 - 1, "They owe us 2 referrals"; Harbour 2 - 3, "We owe them 1 referral".
PROFESSIONAL_REFERRALS = [
    ("Northside Repair Clinic", ReferralDirection.RECEIVED, 60, "C-2041", "Grinder tune-up"),
    ("Northside Repair Clinic", ReferralDirection.SENT, 41, "C-2077", "Boiler descaling"),
    ("Northside Repair Clinic", ReferralDirection.RECEIVED, 20, "C-2102", "Grinder burrs"),
    ("Northside Repair Clinic", ReferralDirection.RECEIVED, 6, "C-2130", "Pump replacement"),
    ("Harbour Device Clinic", ReferralDirection.SENT, 52, "C-2050", "Logic board repair"),
    ("Harbour Device Clinic", ReferralDirection.RECEIVED, 33, "C-2088", "Espresso machine"),
    ("Harbour Device Clinic", ReferralDirection.SENT, 25, "C-2095", "Water damage"),
    ("Harbour Device Clinic", ReferralDirection.SENT, 9, "C-2121", "Screen and battery"),
    ("Harbour Device Clinic", ReferralDirection.RECEIVED, 4, "C-2133", "Grinder motor"),
]


#: A referrer whose referred sign-ups the fraud checks caught: her username and e-mail
#: address (at Gmail, which ignores dots and ``+tags`` in addresses).
FRAUD_REFERRER = ("nina", "nina.patel@gmail.com")
#: Where she logs in from: (IP address, device cookie). Her log-ins left these traces.
FRAUD_REFERRER_SEEN = ("203.0.113.24", "demo-device-nina-laptop-0001")
#: Her code's sign-ups the checks caught: username -> (e-mail address, signed up N days
#: ago, IP address, device cookie, what the checks make of it).
#: omar signed up on nina's laptop (her device cookie, another network): same_device
#: (80) sends the referral to review, with both sign-up rewards held. "ninap" is nina
#: herself, with her address written with dots and a +tag: same_email (100) blocks it.
FRAUD_SIGNUPS = {
    "omar": (
        "omar@example.com",
        2,
        "198.51.100.61",
        FRAUD_REFERRER_SEEN[1],
        FraudStatus.REVIEW,
    ),
    "ninap": ("N.i.n.a.Patel+deals@gmail.com", 1, "192.0.2.77", "", FraudStatus.BLOCKED),
}


def demo_request(ip: str, device: str) -> Any:
    """A request as the shop's sign-up page receives it, from ``ip`` with the device
    cookie ``device`` (the referral middleware sets one on a visitor's first visit)."""
    request = RequestFactory().post(
        "/signup/", REMOTE_ADDR=ip, HTTP_USER_AGENT="Mozilla/5.0 (demo)"
    )
    if device:
        request.COOKIES[app_settings.DEVICE_COOKIE_NAME] = device
    return request


class Command(BaseCommand):
    help = (
        "Create the example project's demo users, programs, accounts, ledger entries, "
        "payouts and partners."
    )

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
            self.redeem(users["alice"], default, tech=users["tech"])
            influencer = self.influencer(default, admin=users["admin"])
            self.partners(admin=users["admin"])
            caught = self.fraud_cases(default)
        alice = users["alice"]
        for program in (None, "shop-b"):
            account = accounts.get_or_create_account(alice, program=program)
            self.stdout.write(
                f"alice @ {account.program}: {ledger.balance(account)} points, "
                f"{account.program.from_minor(ledger.balance(account, unit='credit'))} credit, "
                f"{account.program.from_minor(ledger.balance(account, unit='commission'))} "
                "commission"
            )
        self.report_influencer(influencer)
        for row in professional.balances():
            self.stdout.write(
                f"partner {row.partner.name}: sent {row.sent}, received {row.received}: "
                f"{row.description}"
            )
        for referral in caught:
            self.stdout.write(
                f"fraud: {referral.referred.member} referred by {referral.referrer.member}: "
                f"{referral.get_fraud_status_display().lower()} (score {referral.fraud_score}: "
                f"{', '.join(signal.name for signal in referral.fraud_signals.all())})"
            )
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write(
            "\nReferral demo:\n"
            f"  1. open /r/{alice_code.code}/ (alice's share link) in a private window:\n"
            "     you land on the sign-up page with her code filled in;\n"
            "  2. sign up (alice earns 500 points, you 100);\n"
            "  3. place an order on /shop/ (alice earns 10% commission, you a 15% voucher)\n"
            "     and a second one with the voucher from /portal/vouchers/;\n"
            "  4. log in as alice / alice and open /portal/ (My rewards) to see her rewards,\n"
            "     tier, the catalog and the leaderboard; she can request a payout on\n"
            "     /portal/earnings/;\n"
            "  5. her free diagnostic waits for tech / tech in the fulfilment queue\n"
            "     (/portal/fulfilment/): open it and mark it fulfilled.\n"
            "\nPayouts and partners (log in to /admin/ as admin / admin):\n"
            "  * Payouts: Maya Lopez's $10.00 bank transfer waits for approval: approve it,\n"
            "    download the bank batch (Export CSV for a bank batch), then mark it paid;\n"
            "    or cancel it, and the amount goes back to her commission. Her $20.00\n"
            "    payout is paid;\n"
            "  * Accounts: Maya Lopez's own terms (10% of each referred customer's first\n"
            "    order), her commission and its ledger entries;\n"
            "  * Partners: referrals sent and received, who owes whom, and the balances\n"
            "    report.\n"
            "\nFraud checks (in the admin, Referrals, filtered by fraud status):\n"
            "  * omar signed up with nina's code on nina's own laptop: in review, his and\n"
            "    nina's sign-up points held. Open it to see why, then Approve after review\n"
            "    (the points are released) or Reject after review… (they are voided);\n"
            "  * ninap signed up with nina's own address written N.i.n.a.Patel+deals@...:\n"
            "    blocked, nobody rewarded, and nina's code not used up."
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
        redemptions (the programs' fulfilment group). tech also holds
        ``fulfil_redemption``: the portal's fulfilment queue (``/portal/fulfilment/``)."""
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
        tech.user_permissions.add(
            Permission.objects.get(
                content_type__app_label="referral_rewards", codename="fulfil_redemption"
            )
        )

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

    def redeem(self, alice: Any, program: Program, *, tech: Any) -> None:
        """alice redeems a free diagnostic: approved at once (under the threshold) and
        assigned to the least-loaded technician, who is e-mailed; it waits in tech's
        fulfilment queue. Should nobody have been chosen (staff emptied the group), it is
        assigned to tech by hand."""
        account = accounts.get_or_create_account(alice, program=program)
        tiers.evaluate(account)
        option = RewardOption.objects.get(program=program, name="Free diagnostic")
        redemption = redemptions.request_redemption(
            account, option, idempotency_key="seed-demo:redeem-diagnostic"
        )
        if redemption.status == RedemptionStatus.APPROVED and redemption.assigned_to_id is None:
            redemptions.assign(redemption, tech)

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
        ledger.credit(
            account,
            1500,
            unit="commission",
            reason="Commission: 5% of carl's order #1002",
            reference=("shop.order", "1002"),
            idempotency_key="seed-demo:commission-1002",
        )
        # Shown on the leaderboard by the name she chose (left alone once she changes it).
        Account.objects.filter(pk=account.pk, leaderboard_name="").update(
            show_on_leaderboard=True, leaderboard_name=ALICE_LEADERBOARD_NAME
        )
        account_b = accounts.get_or_create_account(alice, program=shop_b)
        ledger.credit(
            account_b, 80, reason="Welcome bonus (Shop B)", idempotency_key="seed-demo:shop-b"
        )

    def influencer(self, program: Program, *, admin: Any) -> Account:
        """Maya, an influencer without a user, with her own commission terms (10%), her
        personal code, three referred customers (two with a first order) and two payouts:
        one paid by bank transfer, one waiting for approval. The events are dated in the
        past, as they would have happened."""
        Program.objects.filter(pk=program.pk, payout_minimum=0).update(
            payout_minimum=PAYOUT_MINIMUM
        )
        Member = get_member_model()
        member = Member._default_manager.filter(
            email=INFLUENCER["email"], user__isnull=True
        ).first()
        if member is None:
            member = Member._default_manager.create(**INFLUENCER)
            self.stdout.write(f"Created influencer {member.name} (no user account).")
        account = accounts.get_or_create_account(member, program=program)
        kind, value = INFLUENCER_COMMISSION
        Account.objects.filter(pk=account.pk, commission_kind="").update(
            commission_kind=kind, commission_value=value
        )
        code = codes.get_or_create_personal_code(account)
        now = timezone.now()
        User = get_user_model()
        for username, (signed_up, order) in INFLUENCER_CUSTOMERS.items():
            customer = User._default_manager.filter(username=username).first()
            if customer is None:
                # No password: a customer of the shop, not a demo login.
                customer = User._default_manager.create_user(
                    username=username, email=f"{username}@example.com", password=None
                )
                self.stdout.write(f"Created customer {username}, referred by {member.name}.")
            elif not Referral.objects.filter(
                referrer=account, referred__member__user=customer
            ).exists():
                # Someone signed up with this name on the demo site: not hers to refer.
                self.stdout.write(
                    self.style.WARNING(
                        f"User {username} exists and was not referred by {member.name}; left alone."
                    )
                )
                continue
            events.customer_signed_up(
                customer, code=code.code, program=program, now=now - timedelta(days=signed_up)
            )
            if order is not None:
                self.shop_order(customer, program, *order, now=now)
        for key, (amount, requested, status, reference) in INFLUENCER_PAYOUTS.items():
            # Looked up first: staff may have raised the minimum since the first seed,
            # and the request would be refused before its key is replayed.
            payout = Payout.objects.filter(idempotency_key=key).first()
            if payout is None:
                try:
                    payout = payouts.request_payout(
                        account,
                        amount=amount,
                        method=PayoutMethod.BANK_TRANSFER,
                        destination=INFLUENCER_BANK_ACCOUNT,
                        idempotency_key=key,
                        now=now - timedelta(days=requested),
                    )
                except (InsufficientBalance, PayoutBelowMinimum) as exc:
                    # Less commission than planned (a customer left alone above), or
                    # a minimum staff raised: the demo goes on without this payout.
                    self.stdout.write(
                        self.style.WARNING(f"{member.name}'s payout left out: {exc.message}")
                    )
                    continue
            if status == PayoutStatus.PENDING:
                continue
            if payout.status == PayoutStatus.PENDING:
                payouts.approve_payout(payout, by=admin, now=now - timedelta(days=requested - 1))
            if status == PayoutStatus.PAID and payout.status == PayoutStatus.APPROVED:
                payouts.mark_paid(
                    payout,
                    by=admin,
                    reference=reference,
                    note="Paid with the weekly bank batch.",
                    now=now - timedelta(days=requested - 2),
                )
        account.refresh_from_db()
        return account

    def fraud_cases(self, program: Program) -> list[Referral]:
        """nina, who refers at Gmail, the traces of her log-ins, and two sign-ups with her
        code that the fraud checks caught: one sent to review, one blocked. Returns the
        referrals (none when a visitor took nina's username first)."""
        User = get_user_model()
        username, email = FRAUD_REFERRER
        nina = User._default_manager.filter(username=username).first()
        if nina is None:
            nina = User._default_manager.create_user(username=username, email=email, password=None)
            self.stdout.write(f"Created referrer {username} ({email}).")
        elif nina.email != email:
            self.stdout.write(
                self.style.WARNING(f"User {username} exists with another address; left alone.")
            )
            return []
        code = codes.get_or_create_personal_code(nina, program=program)
        now = timezone.now()
        account = accounts.get_or_create_account(nina, program=program)
        fraud.record_traces(
            account.member_id,
            request=demo_request(*FRAUD_REFERRER_SEEN),
            now=now - timedelta(days=20),
        )
        caught = []
        for name, (address, days_ago, ip, device, expected) in FRAUD_SIGNUPS.items():
            customer = User._default_manager.filter(username=name).first()
            if customer is None:
                customer = User._default_manager.create_user(
                    username=name, email=address, password=None
                )
                self.stdout.write(f"Created customer {name}, signing up with {username}'s code.")
            elif not Referral.objects.filter(
                referrer=account, referred__member__user=customer
            ).exists():
                self.stdout.write(
                    self.style.WARNING(
                        f"User {name} exists and was not referred by {username}; left alone."
                    )
                )
                continue
            referral = events.customer_signed_up(
                customer,
                code=code.code,
                request=demo_request(ip, device),
                program=program,
                now=now - timedelta(days=days_ago),
            )
            if referral is not None and referral.fraud_status != expected:
                # Staff decided it since the first seed (or changed the thresholds).
                self.stdout.write(
                    f"{name}'s referral is {referral.get_fraud_status_display().lower()} now."
                )
            if referral is not None:
                caught.append(referral)
        return caught

    def shop_order(
        self, customer: Any, program: Program, number: str, sku: str, days_ago: int, *, now: Any
    ) -> None:
        """The shop's order (looked up by its number) and the ``order_completed`` event
        (idempotent per order id)."""
        product = catalog.PRODUCTS[sku]
        placed_at = now - timedelta(days=days_ago)
        order, created = ShopOrder.objects.get_or_create(
            number=number,
            defaults={
                "customer": customer,
                "product": product.name,
                "subtotal": product.price,
                "total": product.price,
            },
        )
        if created:
            ShopOrder.objects.filter(pk=order.pk).update(created_at=placed_at)
        events.order_completed(
            customer, order.number, order.total, program=program, occurred_at=placed_at
        )

    def partners(self, *, admin: Any) -> None:
        """Two partner clinics and the customers we sent them and they sent us."""
        today = timezone.localdate()
        by_name = {}
        for name, fields in PARTNERS.items():
            by_name[name], created = Partner.objects.get_or_create(name=name, defaults=fields)
            if created:
                self.stdout.write(f"Created partner {name}.")
        for name, direction, days_ago, reference, reason in PROFESSIONAL_REFERRALS:
            partner = by_name[name]
            if ProfessionalReferral.objects.filter(partner=partner, reference=reference).exists():
                continue
            professional.record_referral(
                partner,
                direction=direction,
                date=today - timedelta(days=days_ago),
                reference=reference,
                reason=reason,
                created_by=admin,
            )

    def report_influencer(self, account: Account) -> None:
        program = account.program
        code = codes.get_or_create_personal_code(account)

        def total(status: str) -> str:
            amounts = Payout.objects.filter(account=account, status=status).values_list(
                "amount", flat=True
            )
            return payouts.money(program, sum(amounts, Decimal(0)))

        self.stdout.write(
            f"{account.member} (influencer, code {code.code}, 10% of first orders) @ "
            f"{program}: {payouts.money(program, payouts.available(account))} of commission "
            f"available, {total(PayoutStatus.PAID)} paid out, {total(PayoutStatus.PENDING)} "
            f"waiting for approval (minimum payout "
            f"{payouts.money(program, program.payout_minimum)})"
        )
