"""Authorization: a member reaches only their own objects, staff only what their
permissions cover, anonymous users nothing; every URL the package serves is accounted
for here, so a new endpoint cannot ship without its access test."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.http import Http404
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from django_referral_rewards import permissions, testing
from django_referral_rewards.models import Payout, Redemption, ReferralCode, RewardOption, Voucher
from django_referral_rewards.services import codes, payouts, redemptions, vouchers

rf = RequestFactory()

#: Every URL name the package's ``urls.py`` serves, and why it needs no owner check.
PUBLIC_ENDPOINTS = {
    "referral_rewards:landing": "the share link: public by design, rate-limited",
    "referral_rewards:validate_code": "says only valid/invalid and the offer, rate-limited",
}
#: URL names that take an object of a member; each needs an entry here with the test
#: that tries it as another member and as an anonymous user.
OBJECT_ENDPOINTS: dict[str, str] = {
    "referral_rewards:portal": "the member's own dashboard; anonymous -> login "
    "(tests/portal/test_dashboard.py)",
    "referral_rewards:portal_program": "switches only among the member's own accounts; "
    "another program -> 400, anonymous -> login (tests/portal/test_dashboard.py)",
    # Codes, QR codes and cards (tests/portal/test_codes.py).
    "referral_rewards:portal_codes": "member's own list (only the account's own codes); "
    "anonymous -> login (test_the_list_shows_only_the_accounts_own_codes, "
    "test_anonymous_visitors_are_sent_to_log_in)",
    "referral_rewards:portal_generate_code": "creates only the member's own personal code, "
    "POST only; anonymous -> login (test_creating_the_personal_code_is_idempotent, "
    "test_anonymous_visitors_are_sent_to_log_in)",
    "referral_rewards:portal_code_qr": "another member's code, a house code or an unknown "
    "code -> 404, anonymous -> login (test_only_the_owner_gets_the_qr_code_and_card, "
    "test_anonymous_visitors_are_sent_to_log_in)",
    "referral_rewards:portal_code_card": "another member's code, a house code or an "
    "unknown code -> 404, anonymous -> login "
    "(test_only_the_owner_gets_the_qr_code_and_card, "
    "test_anonymous_visitors_are_sent_to_log_in)",
    # Rewards, redemptions, vouchers (tests/portal/test_rewards_pages.py).
    "referral_rewards:portal_rewards": "the catalog of the member's chosen program only; "
    "anonymous -> login (test_the_catalog_is_the_chosen_programs, "
    "test_the_catalog_needs_a_login)",
    "referral_rewards:portal_redeem": "an option of another program, inactive or unknown "
    "-> 404; redeems from the member's own account only; anonymous -> login "
    "(test_options_of_another_program_or_inactive_are_not_found, "
    "test_redeeming_needs_a_login)",
    "referral_rewards:portal_redemptions": "lists only the member's own redemptions; "
    "anonymous -> login (test_my_redemptions_list_status_points_date_and_voucher, "
    "test_my_redemptions_need_a_login)",
    "referral_rewards:portal_redemption": "another member's redemption -> 404, anonymous "
    "-> login (test_another_members_redemption_is_not_found, "
    "test_a_redemption_page_needs_a_login)",
    "referral_rewards:portal_cancel_redemption": "another member's redemption -> 404, "
    "anonymous -> login (test_another_members_redemption_is_not_found, "
    "test_a_redemption_page_needs_a_login)",
    "referral_rewards:portal_vouchers": "lists only the member's own vouchers; anonymous "
    "-> login (test_my_vouchers_show_code_value_status_expiry_and_order, "
    "test_vouchers_need_a_login)",
    # Earnings and payouts (tests/portal/test_earnings_pages.py).
    "referral_rewards:portal_earnings": "only the member's own ledger and payouts; "
    "anonymous -> login (test_the_earnings_page_shows_balances_ledger_and_payouts, "
    "test_the_earnings_page_needs_a_login)",
    "referral_rewards:portal_request_payout": "pays out from the member's own account "
    "only; anonymous -> login (test_a_payout_request_reserves_the_amount_and_shows_the_"
    "payout, test_the_payout_form_needs_a_login)",
    "referral_rewards:portal_payout": "another member's payout -> 404, anonymous -> login "
    "(test_another_members_payout_is_not_found, test_a_payout_page_needs_a_login)",
    "referral_rewards:portal_cancel_payout": "another member's payout -> 404, anonymous "
    "-> login (test_another_members_payout_is_not_found, test_a_payout_page_needs_a_login)",
    # Referrals and the leaderboard (tests/portal/test_community_pages.py).
    "referral_rewards:portal_referrals": "lists only the member's own referrals in the "
    "chosen program; anonymous -> login (test_only_my_referrals_of_the_chosen_program, "
    "test_referrals_need_a_login)",
    "referral_rewards:portal_leaderboard": "public names only of those who opted in; the "
    "opt-in changes only the member's own account; anonymous -> login "
    "(test_opting_in_saves_the_name_and_shows_it_to_others, "
    "test_the_leaderboard_needs_a_login)",
    # The staff fulfilment queue: staff pages, no member objects; a technician
    # (fulfil_redemption) reaches only the redemptions assigned to them, a supervisor
    # (change_redemption) all; anyone else gets a 403 page.
    "referral_rewards:fulfilment_queue": "lists only what the staff user may see; "
    "anonymous -> login, no permission -> 403 (tests/portal/test_fulfilment.py: "
    "test_a_technician_sees_only_the_redemptions_assigned_to_them, "
    "test_users_without_the_permission_get_a_403_page)",
    "referral_rewards:fulfilment_detail": "another technician's redemption -> 404, "
    "anonymous -> login, no permission -> 403 (tests/portal/test_fulfilment.py: "
    "test_a_technician_sees_only_the_redemptions_assigned_to_them, "
    "test_anonymous_visitors_are_sent_to_log_in)",
}


def package_url_names() -> set[str]:
    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                yield f"{namespace}{entry.name}"

    resolver = get_resolver("django_referral_rewards.urls")
    return {f"referral_rewards:{name}" for name in walk(resolver.url_patterns)}


def test_every_package_url_is_accounted_for():
    unclassified = package_url_names() - set(PUBLIC_ENDPOINTS) - set(OBJECT_ENDPOINTS)
    assert not unclassified, (
        f"Add an access test for {sorted(unclassified)}: as another member (404) and as "
        "an anonymous user (401/403 or a redirect to log in)."
    )


#: Sample arguments for reversing any package URL (a real object is not needed: an
#: anonymous visitor must be turned away before anything is looked up).
SAMPLE_KWARGS = {"pk": 1, "code": "K7Q2MX9PA", "format": "svg"}


def sample_url(name: str) -> str:
    resolver = get_resolver("django_referral_rewards.urls")
    short = name.split(":", 1)[1]
    for possibility, _pattern, _defaults, _converters in resolver.reverse_dict.getlist(short):
        params = possibility[0][1]
        return reverse(name, kwargs={key: SAMPLE_KWARGS[key] for key in params})
    raise AssertionError(f"{name} cannot be reversed")


@pytest.mark.parametrize("name", sorted(OBJECT_ENDPOINTS))
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_member_endpoint_sends_anonymous_visitors_to_log_in(client, db, name, method):
    """Belt and braces for the per-page tests: every URL that is not public turns an
    anonymous visitor away (to the login page, or 405 for a method it does not take)
    before it reads or writes anything."""
    url = sample_url(name)
    response = getattr(client, method)(url)
    if response.status_code == 405:
        return
    assert response.status_code == 302, (name, method, response.status_code)
    assert response["Location"].startswith(settings.LOGIN_URL), response["Location"]


# --- the ownership helpers ---------------------------------------------------------------


@pytest.fixture
def owners(db, program):
    """Two members with a voucher, a code, a redemption and a payout each."""
    option = RewardOption.objects.create(
        program=program, name="Mug", points_cost=10, kind="item", stock=None
    )
    found = {}
    for name in ("alice", "bob"):
        user = testing.make_user(name)
        account = testing.make_account(
            testing.make_member(user), program=program, points=100, commission=5000
        )
        found[name] = {
            "user": user,
            "voucher": vouchers.issue_voucher(account, kind="fixed", value=Decimal("5.00")),
            "code": codes.get_or_create_personal_code(account),
            "redemption": redemptions.request_redemption(account, option),
            "payout": payouts.request_payout(
                account, amount=Decimal("20.00"), method="bank_transfer"
            ),
        }
    return found


OWNED = [
    (Voucher, "voucher", "account__member"),
    (ReferralCode, "code", "owner__member"),
    (Redemption, "redemption", "account__member"),
    (Payout, "payout", "account__member"),
]


def as_user(user):
    request = rf.get("/")
    request.user = user
    return request


@pytest.mark.parametrize(("model", "key", "owner"), OWNED)
def test_a_member_gets_their_own_object(owners, model, key, owner):
    mine = owners["alice"][key]
    found = permissions.get_for_request(
        model.objects.all(), as_user(owners["alice"]["user"]), owner=owner, pk=mine.pk
    )
    assert found == mine


@pytest.mark.parametrize(("model", "key", "owner"), OWNED)
def test_another_members_object_is_not_found(owners, model, key, owner):
    theirs = owners["bob"][key]
    with pytest.raises(Http404):
        permissions.get_for_request(
            model.objects.all(), as_user(owners["alice"]["user"]), owner=owner, pk=theirs.pk
        )
    missing = model.objects.order_by("-pk").first().pk + 1000
    with pytest.raises(Http404) as not_there:
        permissions.get_for_request(
            model.objects.all(), as_user(owners["alice"]["user"]), owner=owner, pk=missing
        )
    assert str(not_there.value).startswith("No ")  # the same answer: no existence leak


@pytest.mark.parametrize(("model", "key", "owner"), OWNED)
def test_anonymous_users_and_users_without_a_member_get_nothing(owners, model, key, owner):
    from django.contrib.auth.models import AnonymousUser

    target = owners["bob"][key]
    for user in (AnonymousUser(), None, testing.make_user("nomember")):
        with pytest.raises(Http404):
            permissions.get_for_request(
                model.objects.all(), as_user(user), owner=owner, pk=target.pk
            )
        assert not permissions.visible_to(model.objects.all(), user, owner=owner).exists()


@pytest.mark.parametrize(("model", "key", "owner"), OWNED)
def test_staff_need_the_models_view_permission(owners, model, key, owner):
    staff = testing.make_user("clerk", is_staff=True)
    target = owners["bob"][key]
    with pytest.raises(Http404):
        permissions.get_for_request(model.objects.all(), as_user(staff), owner=owner, pk=target.pk)
    opts = model._meta
    staff.user_permissions.add(
        Permission.objects.get(
            content_type__app_label=opts.app_label, codename=f"view_{opts.model_name}"
        )
    )
    staff = type(staff).objects.get(pk=staff.pk)  # a fresh permission cache
    assert (
        permissions.get_for_request(model.objects.all(), as_user(staff), owner=owner, pk=target.pk)
        == target
    )
    # A view that grants staff no wider access (staff_action=None) still refuses.
    with pytest.raises(Http404):
        permissions.get_for_request(
            model.objects.all(), as_user(staff), owner=owner, staff_action=None, pk=target.pk
        )
    staff.is_active = False
    assert not permissions.has_staff_permission(staff, model)


def test_visible_to_lists_only_ones_own(owners):
    alice = owners["alice"]
    listed = permissions.visible_to(Voucher.objects.all(), alice["user"], owner="account__member")
    assert list(listed) == [alice["voucher"]]


# --- the admin ----------------------------------------------------------------------------


def admin_urls(owners, empty: set[str] | None = None) -> list[str]:
    """Every URL of every admin of this app, with the primary key of a real object
    where the URL takes one (models without a row are added to ``empty``)."""
    empty = set() if empty is None else empty
    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "referral_rewards":
            continue
        some = model._default_manager.order_by("pk").first()
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            if pattern.pattern.converters and some is None:
                empty.add(model._meta.model_name)
                continue
            kwargs = {
                name: (some.pk if some is not None else 1) for name in pattern.pattern.converters
            }
            found.append(reverse(f"admin:{pattern.name}", kwargs=kwargs))
    return found


@pytest.fixture
def everything(owners, program):
    """One row of each model whose admin has object pages, beyond ``owners``'s."""
    from django_referral_rewards.models import Campaign, Partner, ProfessionalReferral, Tier
    from django_referral_rewards.services import events

    Campaign.objects.create(program=program, name="Spring", slug="spring")
    Tier.objects.create(program=program, name="Gold", rank=1, threshold=100)
    partner = Partner.objects.create(name="Clinic")
    ProfessionalReferral.objects.create(partner=partner, direction="sent")
    from django_referral_rewards.models import IdempotencyRecord, RewardRule, WebhookEndpoint

    IdempotencyRecord.objects.create(
        scope="user:1", key="k", method="POST", path="/api/", fingerprint="f" * 64
    )

    # Before the events, so that they leave deliveries in its outbox.
    WebhookEndpoint.objects.create(name="Hooks", url="http://127.0.0.1:9/hooks")
    RewardRule.objects.create(
        program=program,
        name="Bonus",
        trigger="signup",
        beneficiary="referrer",
        kind="points",
        value=Decimal(10),
    )
    customer = testing.make_user("temp", email="temp@mailinator.com")  # flagged: review
    events.customer_signed_up(
        customer, code=owners["alice"]["code"].code, request=rf.post("/", REMOTE_ADDR="192.0.2.1")
    )
    events.order_completed(customer, "O-1", Decimal("10.00"))
    events.order_refunded(customer, "O-1")
    from django_referral_rewards.models import WebhookDelivery

    assert WebhookDelivery.objects.exists()
    return owners


@pytest.mark.django_db
def test_every_admin_url_refuses_anonymous_and_non_staff_users(client, everything):
    owners = everything
    empty: set[str] = set()
    urls = admin_urls(owners, empty)
    assert len(urls) > 50
    assert not empty, f"give these models a row in the fixture: {empty}"
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    client.force_login(owners["alice"]["user"])  # a member, not staff
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


@pytest.mark.django_db
def test_every_admin_url_refuses_staff_without_permissions(client, everything):
    client.force_login(testing.make_user("clerk", is_staff=True))
    for url in admin_urls(everything):
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
