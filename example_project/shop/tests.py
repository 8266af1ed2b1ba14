"""The example shop's own tests: the referral flow a visitor follows, through the pages
(the shop's, and the package's member portal and fulfilment queue it includes).

Run with ``python example_project/manage.py test example_project.shop`` (the package's
test suite runs them too: ``tests/test_build_smoke.py``). The data is what ``seed_demo``
makes: alice, her personal code and the default program's reward rules; the influencer
Maya with her payouts, the partner clinics, and nina's referrals the fraud checks caught.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from django_referral_rewards.enums import (
    FraudStatus,
    GrantStatus,
    PayoutStatus,
    ReferralStatus,
    VoucherStatus,
)
from django_referral_rewards.exceptions import InsufficientBalance, PayoutBelowMinimum
from django_referral_rewards.models import (
    Account,
    CodeUse,
    FraudDecision,
    FraudSignal,
    Order,
    Payout,
    Program,
    Redemption,
    Referral,
    ReferralCode,
    RewardGrant,
    RewardOption,
    Trace,
    Voucher,
)
from django_referral_rewards.resources import export_payouts
from django_referral_rewards.services import (
    accounts,
    codes,
    fraud,
    ledger,
    payouts,
    professional,
    rewards,
)

from .models import ShopOrder

User = get_user_model()

SIGNUP = reverse("shop:signup")
SHOP = reverse("shop:shop")
#: "My rewards": the package's member portal, in the shop's layout.
PORTAL = reverse("referral_rewards:portal")
VOUCHERS = reverse("referral_rewards:portal_vouchers")
REFERRALS = reverse("referral_rewards:portal_referrals")
REWARDS = reverse("referral_rewards:portal_rewards")
REDEMPTIONS = reverse("referral_rewards:portal_redemptions")
EARNINGS = reverse("referral_rewards:portal_earnings")
FULFILMENT = reverse("referral_rewards:fulfilment_queue")


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class ReferralFlowTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        call_command("seed_demo", stdout=StringIO())
        cls.alice = User.objects.get(username="alice")
        cls.code = codes.get_or_create_personal_code(cls.alice).code
        cls.alice_account = accounts.get_or_create_account(cls.alice)
        # What seed_demo gave alice in the default program.
        cls.alice_points = ledger.balance(cls.alice_account)
        cls.alice_commission = ledger.balance(cls.alice_account, unit="commission")

    # --- helpers -----------------------------------------------------------------

    def follow_share_link(self) -> None:
        response = self.client.get(f"/r/{self.code}/")
        self.assertRedirects(response, SIGNUP)

    def sign_up(self, username: str = "bob", code: str | None = None, **extra: str):
        data = {
            "username": username,
            "email": f"{username}@example.com",
            "password1": "s3cret-pass-123",
            "password2": "s3cret-pass-123",
            "referral_code": code if code is not None else "",
            **extra,
        }
        return self.client.post(SIGNUP, data)

    def order(self, product: str, voucher: str = "", **kwargs):
        return self.client.post(SHOP, {"product": product, "voucher_code": voucher}, **kwargs)

    def account(self, username: str):
        return accounts.get_or_create_account(User.objects.get(username=username))

    def refresh_alice(self):
        self.alice_account.refresh_from_db()
        return self.alice_account

    # --- the flow ------------------------------------------------------------------

    def test_share_link_prefills_the_sign_up_form(self):
        self.follow_share_link()
        response = self.client.get(SIGNUP)
        assert response.context["form"]["referral_code"].value() == self.code
        self.assertContains(response, f'value="{self.code}"')

    def test_ref_parameter_on_any_page_prefills_the_sign_up_form(self):
        self.client.get(reverse("home"), {"ref": self.code})
        response = self.client.get(SIGNUP)
        assert response.context["form"]["referral_code"].value() == self.code

    def test_visitor_signs_up_orders_and_both_are_rewarded(self):
        self.follow_share_link()
        response = self.sign_up(code=self.code)
        self.assertRedirects(response, PORTAL)
        bob = User.objects.get(username="bob")
        assert int(self.client.session["_auth_user_id"]) == bob.pk

        # Sign-up: alice 500 points, bob 100 (released at once: no hold days).
        referral = Referral.objects.get(referred__member__user=bob)
        assert referral.referrer == self.alice_account
        assert referral.status == ReferralStatus.PENDING
        assert ledger.balance(bob) == 100
        assert self.refresh_alice().points_balance == self.alice_points + 500

        # First order: converts the referral; alice 10% commission, bob a 15% voucher.
        response = self.order("grinder", follow=True)
        self.assertRedirects(response, SHOP)
        self.assertContains(response, "You earned: First order: 15% off your next order.")
        first = ShopOrder.objects.get(customer=bob)
        assert (first.subtotal, first.discount, first.total) == (80, 0, 80)
        assert Order.objects.filter(order_id=first.number, amount=80).exists()
        referral.refresh_from_db()
        assert referral.status == ReferralStatus.CONVERTED
        assert self.refresh_alice().commission_balance == self.alice_commission + 800
        voucher = Voucher.objects.get(account=self.account("bob"))
        assert (voucher.kind, voucher.value) == ("percent", 15)
        assert voucher.status == VoucherStatus.ISSUED

        # Bob's dashboard shows his points and his own share link; his vouchers page
        # the voucher.
        response = self.client.get(PORTAL)
        bob_code = codes.get_or_create_personal_code(bob).code
        self.assertContains(response, f"http://testserver/r/{bob_code}/")
        # 100 for signing up and 80 for the $80 order (a point per dollar, no hold).
        assert response.context["account"].points_balance == 180
        response = self.client.get(VOUCHERS)
        self.assertContains(response, voucher.display_code)
        assert [v.pk for v in response.context["page"]] == [voucher.pk]

        # Second order with the voucher: 15% of 249.00 off.
        response = self.order("espresso", voucher=voucher.display_code, follow=True)
        self.assertRedirects(response, SHOP)
        second = ShopOrder.objects.filter(customer=bob).latest("pk")
        assert second.discount == Decimal("37.35")
        assert second.total == Decimal("211.65")
        self.assertContains(response, f"Order {second.number} placed")
        self.assertContains(response, "voucher discount $37.35")
        voucher.refresh_from_db()
        assert voucher.status == VoucherStatus.APPLIED
        assert voucher.applied_order_id == second.number
        # Only the first order earns (no every-order rules in the demo).
        assert self.refresh_alice().commission_balance == self.alice_commission + 800

        # Alice logs in at the shop and sees both of her rewards and bob.
        self.client.post(reverse("shop:logout"))
        response = self.client.post(
            reverse("shop:login"), {"username": "alice", "password": "alice"}
        )
        self.assertRedirects(response, PORTAL)
        grants = RewardGrant.objects.filter(account=self.alice_account, referral=referral)
        assert {(g.reason, g.status) for g in grants} == {
            ("Friend signed up: 500 points", GrantStatus.RELEASED),
            ("Friend's first order: 10% commission", GrantStatus.RELEASED),
        }
        response = self.client.get(PORTAL)
        account = response.context["account"]
        assert account.points_balance == self.alice_points + 500
        assert account.commission_balance == self.alice_commission + 800
        response = self.client.get(REFERRALS)
        (row,) = response.context["rows"]
        assert (row["referral"].referred.member.name, row["referral"].status) == (
            "bob",
            ReferralStatus.CONVERTED,
        )
        assert (row["earned"].points, row["earned"].commission) == (500, Decimal("8"))
        self.assertContains(response, row["customer"])

    def test_typed_code_works_without_the_link(self):
        response = self.sign_up(code=self.code.lower())
        self.assertRedirects(response, PORTAL)
        assert Referral.objects.filter(referred__member__user__username="bob").exists()

    def test_sign_up_without_a_code(self):
        response = self.sign_up()
        self.assertRedirects(response, PORTAL)
        assert not Referral.objects.filter(referred__member__user__username="bob").exists()
        assert self.refresh_alice().points_balance == self.alice_points

    def test_invalid_code_is_a_form_error_and_creates_no_user(self):
        mistyped = self.code[:-1] + ("A" if self.code[-1] != "A" else "B")
        for code, message in (
            ("NOPE42", "This code does not exist."),
            (mistyped, "This code looks mistyped; please check it."),
        ):
            with self.subTest(code=code):
                response = self.sign_up("carol", code=code)
                assert response.status_code == 200
                self.assertFormError(response.context["form"], "referral_code", message)
                assert not User.objects.filter(username="carol").exists()
                assert "_auth_user_id" not in self.client.session

    def test_remembered_code_that_became_unusable_is_a_form_error(self):
        self.follow_share_link()
        codes.set_active(ReferralCode.objects.filter(code=self.code), active=False)
        response = self.sign_up(code=self.code)
        self.assertFormError(
            response.context["form"], "referral_code", "This code is no longer active."
        )
        assert not User.objects.filter(username="bob").exists()

    def test_signed_in_member_is_sent_to_their_rewards(self):
        self.client.force_login(self.alice)
        self.assertRedirects(self.client.get(SIGNUP), PORTAL)

    # --- checkout and refunds ----------------------------------------------------

    def referred_customer_with_voucher(self) -> tuple[ShopOrder, Voucher]:
        self.sign_up(code=self.code)
        self.order("grinder")
        return ShopOrder.objects.get(customer__username="bob"), Voucher.objects.get(
            account=self.account("bob")
        )

    def test_refund_takes_the_order_rewards_back(self):
        first, voucher = self.referred_customer_with_voucher()
        response = self.client.post(reverse("shop:refund", args=[first.pk]))
        self.assertRedirects(response, SHOP)
        first.refresh_from_db()
        assert first.status == ShopOrder.Status.REFUNDED

        # Alice's commission is reversed, bob's unused voucher voided; the referral is
        # pending again. The sign-up points were not earned by the order and stay.
        alice = self.refresh_alice()
        assert alice.commission_balance == self.alice_commission
        assert alice.points_balance == self.alice_points + 500
        commission = RewardGrant.objects.get(account=alice, kind="commission_percent")
        assert commission.status == GrantStatus.REVERSED
        voucher.refresh_from_db()
        assert voucher.status == VoucherStatus.VOID
        assert (
            Referral.objects.get(referred__member__user__username="bob").status
            == ReferralStatus.PENDING
        )
        response = self.client.get(VOUCHERS)
        self.assertContains(response, voucher.display_code)
        self.assertContains(response, "Void")

        # Refunding twice changes nothing more.
        response = self.client.post(reverse("shop:refund", args=[first.pk]), follow=True)
        self.assertContains(response, "already refunded")
        assert self.refresh_alice().commission_balance == self.alice_commission

    def test_refunding_an_order_paid_with_a_voucher_releases_it(self):
        _, voucher = self.referred_customer_with_voucher()
        self.order("beans", voucher=voucher.code)
        second = ShopOrder.objects.filter(customer__username="bob").latest("pk")
        assert second.discount == Decimal("3.68")  # 15% of 24.50, rounded half up
        self.client.post(reverse("shop:refund", args=[second.pk]))
        voucher.refresh_from_db()
        assert voucher.status == VoucherStatus.ISSUED
        # ... and it can be used again; alice keeps the first order's commission.
        self.order("espresso", voucher=voucher.code)
        third = ShopOrder.objects.filter(customer__username="bob").latest("pk")
        assert third.discount == Decimal("37.35")
        assert self.refresh_alice().commission_balance == self.alice_commission + 800

    def test_bad_voucher_is_a_form_error_and_places_no_order(self):
        _, voucher = self.referred_customer_with_voucher()
        self.client.force_login(self.alice)
        for code, message in (
            ("NOPE-NOPE-NOPE", "This voucher code does not exist."),
            (voucher.code, "This voucher belongs to another customer."),
        ):
            with self.subTest(code=code):
                response = self.order("espresso", voucher=code)
                assert response.status_code == 200
                self.assertFormError(response.context["form"], "voucher_code", message)
        assert not ShopOrder.objects.filter(customer=self.alice).exists()
        assert not Order.objects.filter(account=self.alice_account).exists()
        voucher.refresh_from_db()
        assert voucher.status == VoucherStatus.ISSUED

    def test_only_the_owner_can_refund_an_order(self):
        first, _ = self.referred_customer_with_voucher()
        self.client.force_login(self.alice)
        response = self.client.post(reverse("shop:refund", args=[first.pk]))
        assert response.status_code == 404

    def test_pages_need_a_login(self):
        for url in (SHOP, PORTAL, REWARDS, FULFILMENT):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertRedirects(response, f"{reverse('shop:login')}?next={url}")

    def test_home_links_every_page(self):
        response = self.client.get(reverse("home"))
        for url in (SIGNUP, SHOP, PORTAL, FULFILMENT, reverse("shop:login"), "/admin/"):
            self.assertContains(response, f'href="{url}"')

    def test_the_portal_is_shown_in_the_shops_layout(self):
        """``templates/referral_rewards/base.html`` puts the portal under the shop's
        navigation, with the portal's stylesheet, one <main> and its own messages."""
        self.client.force_login(self.alice)
        response = self.client.get(PORTAL)
        page = response.content.decode()
        assert '<nav class="site-nav" aria-label="Site">' in page
        assert f'<a href="{SHOP}">Shop</a>' in page
        assert f'<a href="{PORTAL}">My rewards</a>' in page
        assert 'href="/static/referral_rewards/portal.css"' in page
        assert '<a class="rr-skip" href="#rr-main">' in page
        assert page.count("<main") == 1 and 'id="rr-main"' in page
        assert "· django-referral-rewards</title>" in page
        # Members get no "Fulfilment" link; it is for staff who may fulfil.
        assert f'href="{FULFILMENT}"' not in page
        # A message appears once, in the portal's style.
        self.client.get(SIGNUP)  # "You are signed in as alice." and back to the portal
        page = self.client.get(PORTAL).content.decode()
        assert page.count("You are signed in as alice.") == 1
        assert '<ul class="rr-messages"' in page and '<ul class="messages">' not in page


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class LoyaltyTests(TestCase):
    """Tiers, the catalog and redemptions in the member portal; the leaderboard and the
    payout alice can ask for."""

    @classmethod
    def setUpTestData(cls) -> None:
        call_command("seed_demo", stdout=StringIO())
        cls.alice = User.objects.get(username="alice")
        cls.alice_account = accounts.get_or_create_account(cls.alice)

    def setUp(self) -> None:
        self.client.force_login(self.alice)

    def test_the_seed_leaves_a_diagnostic_for_the_technician(self):
        redemption = Redemption.objects.get(account=self.alice_account)
        assert redemption.option.name == "Free diagnostic"
        assert redemption.status == "approved"
        assert redemption.assigned_to.username == "tech"
        # Seeding again changes nothing.
        call_command("seed_demo", stdout=StringIO())
        assert Redemption.objects.count() == 1
        assert RewardOption.objects.count() == 10

    def test_the_portal_shows_tier_catalog_and_history(self):
        progress = self.client.get(PORTAL).context["progress"]
        assert (progress.current.name, progress.next.name) == ("Bronze", "Silver")
        assert progress.remaining == Decimal("500")
        response = self.client.get(REWARDS)
        self.assertContains(response, "Battery replacement")
        self.assertContains(response, "This reward needs the Gold tier or higher.")
        response = self.client.get(REDEMPTIONS)
        self.assertContains(response, "Free diagnostic")
        assert [(r.option.name, r.status) for r in response.context["page"]] == [
            ("Free diagnostic", "approved")
        ]

    def test_redeeming_from_the_catalog_once_per_form(self):
        ledger.credit(self.alice_account, 600, reason="Test points")
        before = ledger.balance(self.alice_account)
        option = RewardOption.objects.get(
            program=self.alice_account.program, name="$5 off your next order"
        )
        url = reverse("referral_rewards:portal_redeem", args=[option.pk])
        token = "6f1c7e0e5d2a4b0c9a8e1f2d3c4b5a69"
        response = self.client.post(url, {"token": token}, follow=True)
        self.assertContains(response, "You redeemed $5 off your next order for 500 points")
        self.client.post(url, {"token": token})  # a double submit
        redemption = Redemption.objects.get(option=option)
        assert redemption.status == "fulfilled"
        assert redemption.voucher.value == Decimal("5")
        assert ledger.balance(self.alice_account) == before - 500
        response = self.client.get(VOUCHERS)
        self.assertContains(response, redemption.voucher.display_code)

    def test_a_refused_redemption_is_a_message_and_takes_nothing(self):
        before = ledger.balance(self.alice_account)
        option = RewardOption.objects.get(
            program=self.alice_account.program, name="Battery replacement"
        )
        url = reverse("referral_rewards:portal_redeem", args=[option.pk])
        response = self.client.post(url, {"token": "0123456789abcdef0123456789abcdef"})
        assert response.status_code == 400
        self.assertContains(
            response, f"You have {before} points; this reward costs 2500.", status_code=400
        )
        assert ledger.balance(self.alice_account) == before
        assert not Redemption.objects.filter(option=option).exists()

    def test_alice_is_on_the_leaderboard_by_name(self):
        assert (self.alice_account.show_on_leaderboard, self.alice_account.leaderboard_name) == (
            True,
            "Alice W.",
        )
        # A name she chooses herself is kept by the next seed.
        Account.objects.filter(pk=self.alice_account.pk).update(
            show_on_leaderboard=False, leaderboard_name="A. W."
        )
        call_command("seed_demo", stdout=StringIO())
        self.alice_account.refresh_from_db()
        assert (self.alice_account.show_on_leaderboard, self.alice_account.leaderboard_name) == (
            False,
            "A. W.",
        )

    def test_alice_has_commission_enough_for_a_payout(self):
        program = self.alice_account.program
        assert payouts.available(self.alice_account) >= program.payout_minimum > 0
        response = self.client.get(EARNINGS)
        assert response.context["can_request"] is True
        payout = payouts.request_payout(
            self.alice_account, amount=program.payout_minimum, method="bank_transfer"
        )
        assert payout.status == PayoutStatus.PENDING


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class FulfilmentTests(TestCase):
    """tech fulfils alice's free diagnostic in the portal's fulfilment queue."""

    @classmethod
    def setUpTestData(cls) -> None:
        call_command("seed_demo", stdout=StringIO())
        cls.tech = User.objects.get(username="tech")
        cls.diagnostic = Redemption.objects.get(option__name="Free diagnostic")

    def test_tech_finds_it_in_the_queue_and_marks_it_fulfilled(self):
        response = self.client.post(reverse("shop:login"), {"username": "tech", "password": "tech"})
        self.assertRedirects(response, PORTAL, fetch_redirect_response=False)
        response = self.client.get(FULFILMENT)
        assert [r.pk for r in response.context["page"]] == [self.diagnostic.pk]
        page = response.content.decode()
        assert f'<a href="{FULFILMENT}">Fulfilment</a>' in page  # the site's navigation
        assert 'aria-current="page">Fulfilment</a>' in page  # the portal's
        detail = reverse("referral_rewards:fulfilment_detail", args=[self.diagnostic.pk])
        response = self.client.get(detail)
        self.assertContains(response, "alice@example.com")
        response = self.client.post(
            detail,
            {
                "action": "fulfil",
                "notes": "Checked the grinder: all fine.",
                "applied_to_type": "shop.repair",
                "applied_to_id": "R-1",
            },
            follow=True,
        )
        self.assertRedirects(response, FULFILMENT)
        self.assertContains(response, f"Redemption #{self.diagnostic.pk} marked fulfilled.")
        self.diagnostic.refresh_from_db()
        assert (self.diagnostic.status, self.diagnostic.fulfilled_by) == ("fulfilled", self.tech)
        assert self.diagnostic.applied_to == "shop.repair #R-1"
        # Seeding again leaves the fulfilled redemption alone.
        call_command("seed_demo", stdout=StringIO())
        assert Redemption.objects.get().status == "fulfilled"

    def test_tech_holds_the_fulfil_permission(self):
        assert self.tech.has_perm("referral_rewards.fulfil_redemption")
        assert self.diagnostic.assigned_to == self.tech

    def test_members_are_refused_the_queue(self):
        self.client.force_login(User.objects.get(username="alice"))
        response = self.client.get(FULFILMENT)
        assert response.status_code == 403
        self.assertContains(response, "This page is for staff", status_code=403)


class PayoutDemoTests(TestCase):
    """The seeded influencer, her commission and payouts, and the partner clinics."""

    @classmethod
    def setUpTestData(cls) -> None:
        call_command("seed_demo", stdout=StringIO())
        cls.admin = User.objects.get(username="admin")
        cls.maya = Account.objects.select_related("program", "member").get(
            member__email="maya@example.com"
        )
        cls.waiting = Payout.objects.get(account=cls.maya, status=PayoutStatus.PENDING)

    def test_the_influencer_earns_her_own_terms_instead_of_the_rule(self):
        assert self.maya.member.user is None
        assert (self.maya.commission_kind, self.maya.commission_value) == ("commission_percent", 10)
        assert Referral.objects.filter(referrer=self.maya).count() == 3
        commissions = RewardGrant.objects.filter(account=self.maya, kind="commission_percent")
        assert sorted(grant.value for grant in commissions) == [Decimal("8"), Decimal("24.9")]
        assert {grant.rule for grant in commissions} == {None}  # not the 10% rule
        assert all(grant.status == GrantStatus.RELEASED for grant in commissions)
        # $32.90 earned, $20.00 paid, $10.00 reserved by the waiting request.
        assert payouts.available(self.maya) == Decimal("2.90")

    def test_a_second_request_is_refused_and_takes_nothing(self):
        # Django's test runner runs these tests (python demo.py's venv has no pytest).
        with self.assertRaises(PayoutBelowMinimum):  # noqa: PT027
            payouts.request_payout(self.maya, amount=Decimal("2.90"), method="bank_transfer")
        with self.assertRaises(InsufficientBalance):  # noqa: PT027
            payouts.request_payout(self.maya, amount=Decimal("12.00"), method="cash")
        assert Payout.objects.filter(account=self.maya).count() == 2
        assert ledger.balance(self.maya, unit="commission") == 290

    def test_the_waiting_payout_is_approved_exported_and_paid(self):
        payouts.approve_payout(self.waiting, by=self.admin)
        batch = export_payouts(Payout.objects.filter(status=PayoutStatus.APPROVED))
        lines = batch.strip().splitlines()
        assert len(lines) == 2  # the header and Maya's payout
        assert "Maya Lopez" in lines[1] and "10.00" in lines[1] and "bank_transfer" in lines[1]
        payouts.mark_paid(self.waiting, by=self.admin, reference="BATCH-0419-02")
        assert self.waiting.status == PayoutStatus.PAID
        paid = export_payouts(Payout.objects.filter(status=PayoutStatus.PAID))
        assert "BATCH-0412-07" in paid and "BATCH-0419-02" in paid
        assert ledger.balance(self.maya, unit="commission") == 290

    def test_cancelling_the_waiting_payout_returns_the_amount(self):
        payouts.cancel_payout(self.waiting, by=self.admin, reason="Asked for cash instead")
        assert ledger.balance(self.maya, unit="commission") == 1290

    def test_partner_balances(self):
        assert [(row.partner.name, row.description) for row in professional.balances()] == [
            ("Northside Repair Clinic", "They owe us 2 referrals"),
            ("Harbour Device Clinic", "We owe them 1 referral"),
        ]


class SeedAgainTests(TestCase):
    """``python demo.py`` seeds on every start, after visitors have used the site."""

    def test_a_visitor_named_like_a_seeded_customer_is_left_alone(self):
        User.objects.create_user(username="dana", password="s3cret-pass-123")
        output = StringIO()
        call_command("seed_demo", stdout=output)
        assert "User dana exists and was not referred by Maya Lopez; left alone." in (
            output.getvalue()
        )
        assert not Referral.objects.filter(referred__member__user__username="dana").exists()
        maya = Account.objects.get(member__email="maya@example.com")
        assert Referral.objects.filter(referrer=maya).count() == 2
        assert not ShopOrder.objects.filter(customer__username="dana").exists()
        # eli's $24.90 covers the $20.00 payout, not the $10.00 one as well.
        assert "Maya Lopez's payout left out: 4.90 USD of commission is available" in (
            output.getvalue()
        )
        assert [payout.status for payout in Payout.objects.filter(account=maya)] == ["paid"]
        call_command("seed_demo", stdout=StringIO())  # and again
        assert Payout.objects.filter(account=maya).count() == 1

    def test_staff_raising_the_payout_minimum_does_not_break_the_seed(self):
        call_command("seed_demo", stdout=StringIO())
        Program.objects.filter(slug="default").update(payout_minimum=Decimal("50.00"))
        call_command("seed_demo", stdout=StringIO())
        assert Payout.objects.count() == 2
        assert Program.objects.get(slug="default").payout_minimum == Decimal("50.00")


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class FraudDemoTests(TestCase):
    """The referrals the fraud checks caught in the seed (nina's code), and a referrer
    signing up a second account in her own browser."""

    @classmethod
    def setUpTestData(cls) -> None:
        call_command("seed_demo", stdout=StringIO())
        cls.admin = User.objects.get(username="admin")
        cls.nina = User.objects.get(username="nina")
        cls.omar = User.objects.get(username="omar")
        cls.in_review = Referral.objects.get(referred__member__user=cls.omar)
        cls.blocked = Referral.objects.get(referred__member__user__username="ninap")

    def test_a_signup_on_the_referrers_laptop_waits_for_review(self):
        referral = self.in_review
        assert referral.referrer.member.user == self.nina
        assert (referral.status, referral.fraud_status) == ("pending", FraudStatus.REVIEW)
        assert [(s.name, s.score) for s in referral.fraud_signals.all()] == [("same_device", 80)]
        assert referral.review_deadline is not None
        # Both sign-up rewards are held, and the release sweep leaves them alone.
        rewards.release_due()
        assert ledger.balance(self.nina) == 0 and ledger.balance(self.omar) == 0
        held = RewardGrant.objects.filter(referral=referral)
        assert sorted(held.values_list("status", "value")) == [("held", 100), ("held", 500)]

    def test_approving_the_review_releases_both_rewards(self):
        fraud.approve_referral(self.in_review, by=self.admin, note="Flatmates, checked.")
        assert ledger.balance(self.nina) == 500
        assert ledger.balance(self.omar) == 100
        decision = FraudDecision.objects.filter(referral=self.in_review).latest("pk")
        assert (decision.action, decision.decided_by) == ("approved", self.admin)

    def test_rejecting_the_review_voids_both_rewards(self):
        fraud.reject_referral(self.in_review, by=self.admin, reason="Her second account.")
        self.in_review.refresh_from_db()
        assert self.in_review.status == ReferralStatus.REJECTED
        assert set(
            RewardGrant.objects.filter(referral=self.in_review).values_list("status", flat=True)
        ) == {GrantStatus.VOIDED}
        assert ledger.balance(self.nina) == 0

    def test_her_own_address_in_disguise_is_blocked_and_rewards_nobody(self):
        referral = self.blocked
        assert referral.referred.member.email == "N.i.n.a.Patel+deals@gmail.com"
        assert (referral.status, referral.fraud_status) == (
            ReferralStatus.REJECTED,
            FraudStatus.BLOCKED,
        )
        assert [s.name for s in referral.fraud_signals.all()] == ["same_email"]
        assert not RewardGrant.objects.filter(referral=referral).exists()
        assert not CodeUse.objects.filter(customer=referral.referred).exists()  # not used up

    def test_seeding_again_changes_nothing(self):
        call_command("seed_demo", stdout=StringIO())
        assert Referral.objects.filter(referrer=self.in_review.referrer).count() == 2
        assert FraudSignal.objects.count() == 2
        assert FraudDecision.objects.count() == 2
        assert Trace.objects.count() == 5

    def test_seeding_after_a_decision_keeps_it(self):
        fraud.approve_referral(self.in_review, by=self.admin)
        output = StringIO()
        call_command("seed_demo", stdout=output)
        assert "omar's referral is approved after review now." in output.getvalue()
        assert ledger.balance(self.nina) == 500

    def test_a_referrer_signing_up_again_in_her_own_browser_is_blocked(self):
        alice = User.objects.get(username="alice")
        alice_code = codes.get_or_create_personal_code(alice).code
        alice_points = ledger.balance(alice)
        # alice logs in at the shop (her browser gets the device cookie on the way),
        # then logs out and signs up again with her own code, from the same browser.
        self.client.get(reverse("home"))
        response = self.client.post(
            reverse("shop:login"), {"username": "alice", "password": "alice"}
        )
        self.assertRedirects(response, PORTAL)
        self.client.post(reverse("shop:logout"))
        response = self.client.post(
            SIGNUP,
            {
                "username": "alice2",
                "email": "alice2@example.com",
                "password1": "s3cret-pass-123",
                "password2": "s3cret-pass-123",
                "referral_code": alice_code,
            },
            follow=True,
        )
        self.assertContains(response, "Welcome to the example shop!")
        self.assertNotContains(response, "referral code is applied")
        referral = Referral.objects.get(referred__member__user__username="alice2")
        assert referral.fraud_status == FraudStatus.BLOCKED
        assert {s.name for s in referral.fraud_signals.all()} == {"same_device", "same_ip"}
        assert ledger.balance(alice) == alice_points
        assert ledger.balance(User.objects.get(username="alice2")) == 0


class FraudSeedAgainTests(TestCase):
    def test_a_visitor_named_like_a_fraud_demo_user_is_left_alone(self):
        User.objects.create_user(username="omar", password="s3cret-pass-123")
        User.objects.create_user(username="nina", email="nina@example.org", password="x")
        output = StringIO()
        call_command("seed_demo", stdout=output)
        assert "User nina exists with another address; left alone." in output.getvalue()
        assert not Referral.objects.filter(referred__member__user__username="omar").exists()
        assert not Referral.objects.filter(referrer__member__user__username="nina").exists()

    def test_a_visitor_named_like_the_reviewed_customer_is_left_alone(self):
        User.objects.create_user(username="omar", password="s3cret-pass-123")
        output = StringIO()
        call_command("seed_demo", stdout=output)
        assert "User omar exists and was not referred by nina; left alone." in output.getvalue()
        assert not Referral.objects.filter(referred__member__user__username="omar").exists()
        # The blocked sign-up is seeded all the same.
        blocked = Referral.objects.get(referred__member__user__username="ninap")
        assert blocked.fraud_status == FraudStatus.BLOCKED
