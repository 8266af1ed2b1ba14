"""Referral codes: personal and campaign codes, validation reasons, limits."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.urls import reverse

from django_referral_rewards import codes as code_format
from django_referral_rewards import testing
from django_referral_rewards.codes import CodeGenerator
from django_referral_rewards.exceptions import (
    CodeAlreadyUsed,
    CodeExhausted,
    CodeExpired,
    CodeInactive,
    CodeMistyped,
    CodeNotFound,
    CodeNotYetValid,
    CodeTaken,
    InvalidArgument,
    MemberNotFound,
    OwnCode,
)
from django_referral_rewards.models import Campaign, CodeUse, ReferralCode
from django_referral_rewards.services import codes
from django_referral_rewards.services.accounts import get_or_create_account
from tests.conftest import days

from .concurrency import run_workers


class FixedGenerator(CodeGenerator):
    """Proposes the same code first, to force collisions."""

    def generate(self, *, account=None, attempt=0):
        return "TAKEN1"


class BadGenerator(CodeGenerator):
    def generate(self, *, account=None, attempt=0):
        return "!"

    def fallback(self, *, account=None, attempt=0):
        return "??"


# --- personal codes --------------------------------------------------------------------------


@pytest.mark.django_db
def test_personal_code_is_one_per_account(program):
    user = testing.make_user()
    code = codes.get_or_create_personal_code(user)
    assert code_format.is_valid_generated(code.code)
    assert (code.kind, code.owner.member.user, code.program) == ("personal", user, program)
    assert codes.get_or_create_personal_code(user).pk == code.pk
    other_program = testing.make_program("shop-b")
    assert codes.get_or_create_personal_code(user, program=other_program).pk != code.pk
    account = get_or_create_account(user)
    assert codes.get_or_create_personal_code(account).pk == code.pk


@pytest.mark.django_db
def test_database_allows_one_personal_code_per_account(account, program):
    codes.get_or_create_personal_code(account)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralCode.objects.create(
            code="SECOND1", program=program, kind="personal", owner=account, personal_for=account
        )


@pytest.mark.django_db
def test_vanity_generator(program):
    user = testing.make_user(first_name="Juan", last_name="Perez")
    with override_settings(
        REFERRAL_REWARDS_CODE_GENERATOR="django_referral_rewards.codes.VanityCodeGenerator"
    ):
        first = codes.get_or_create_personal_code(user)
        twin = codes.get_or_create_personal_code(testing.make_user(first_name="juan"))
        nameless = codes.get_or_create_personal_code(testing.make_user(first_name="J"))
    assert first.code.startswith("JUAN20") and len(first.code) == 8
    assert twin.code.startswith(first.code) and len(twin.code) == 11
    assert code_format.is_valid_generated(nameless.code)


@pytest.mark.django_db
def test_generator_collisions_fall_back_to_random_codes(program):
    with override_settings(REFERRAL_REWARDS_CODE_GENERATOR="tests.test_codes.FixedGenerator"):
        a = codes.get_or_create_personal_code(testing.make_user())
        b = codes.get_or_create_personal_code(testing.make_user())
    assert a.code == "TAKEN1"
    assert code_format.is_valid_generated(b.code)


@pytest.mark.django_db
def test_a_generator_that_never_proposes_a_valid_code_fails_clearly(program):
    with (
        override_settings(REFERRAL_REWARDS_CODE_GENERATOR="tests.test_codes.BadGenerator"),
        pytest.raises(CodeTaken, match="try again"),
    ):
        codes.get_or_create_personal_code(testing.make_user())
    assert not ReferralCode.objects.exists()


@pytest.mark.django_db
def test_anonymous_users_have_no_code(program):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(MemberNotFound):
        codes.get_or_create_personal_code(AnonymousUser())


# --- campaign codes ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_campaign_codes(program, now):
    campaign = Campaign.objects.create(program=program, name="Summer", slug="summer")
    code = codes.create_code(
        "summer-25", campaign=campaign, max_uses=100, expires_at=now + days(30)
    )
    assert (code.code, code.kind, code.owner, code.program) == (
        "SUMMER25",
        "campaign",
        None,
        program,
    )
    referrer = testing.make_user()
    owned = codes.create_code("JUAN2025", owner=referrer, max_uses_per_customer=1)
    assert owned.owner.member.user == referrer
    generated = codes.create_code(program=program)
    assert code_format.is_valid_generated(generated.code)
    with pytest.raises(CodeTaken):
        codes.create_code("Summer 25", program=program)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "x"}, "3 to 32"),
        ({"code": "A" * 33}, "3 to 32"),
        ({"code": "ab$cd"}, "3 to 32"),
        ({"code": "ABCDEFGHJ"}, "reserved for generated"),
        ({"code": "OKCODE", "max_uses": 0}, "from 1 to 2147483647"),
        ({"code": "OKCODE", "max_uses_per_customer": "2"}, "from 1 to"),
        ({"code": "OKCODE", "max_uses": 2**31}, "from 1 to 2147483647"),
        ({"code": "OKCODE", "max_uses": True}, "from 1 to"),
    ],
)
def test_create_code_refuses_bad_input(program, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        codes.create_code(**kwargs)
    assert not ReferralCode.objects.exists()


@pytest.mark.django_db
def test_create_code_window_and_owner_program(program, now):
    with pytest.raises(InvalidArgument, match="expire after"):
        codes.create_code("OKCODE", starts_at=now, expires_at=now)
    foreign = testing.make_account(program=testing.make_program("elsewhere"))
    with pytest.raises(InvalidArgument, match="another program"):
        codes.create_code("OKCODE", owner=foreign, program=program)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lookup_ignores_case_spaces_dashes_and_confusables(program):
    code = codes.get_or_create_personal_code(testing.make_user())
    typed = f" {code.code[:4].lower()}-{code.code[4:]} "
    assert codes.validate_code(typed) == code
    vanity = codes.create_code("LOLA2025")
    assert codes.validate_code("lola-2025") == vanity


@pytest.mark.django_db
def test_typos_are_caught_before_any_lookup(program, django_assert_num_queries):
    code = codes.get_or_create_personal_code(testing.make_user()).code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with django_assert_num_queries(0), pytest.raises(CodeMistyped) as info:
        codes.validate_code(wrong)
    assert isinstance(info.value, CodeNotFound)


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["", None, "NOSUCH", 42])
def test_unknown_codes(program, typed):
    with pytest.raises(CodeNotFound):
        codes.validate_code(typed)


@pytest.mark.django_db
def test_codes_belong_to_their_program(program):
    codes.create_code("SHOPA1", program=program)
    testing.make_program("shop-b")
    with pytest.raises(CodeNotFound):
        codes.validate_code("SHOPA1", program="shop-b")
    assert codes.validate_code("SHOPA1", program=program).code == "SHOPA1"


@pytest.mark.django_db
def test_each_reason_has_its_own_exception(program, now):
    owner_user = testing.make_user()
    customer = testing.make_user()
    campaign = Campaign.objects.create(program=program, name="C", slug="c")
    codes.create_code("OFF1", active=False)
    codes.create_code("LATER1", starts_at=now + days(1))
    codes.create_code("OLD1", expires_at=now - days(1))
    codes.create_code("CAMP1", campaign=campaign)
    codes.create_code("ONCE1", owner=owner_user, max_uses=1)
    codes.create_code("MINE1", owner=owner_user)
    cases = {
        "OFF1": CodeInactive,
        "LATER1": CodeNotYetValid,
        "OLD1": CodeExpired,
    }
    for typed, error in cases.items():
        with pytest.raises(error):
            codes.validate_code(typed, customer, now=now)
    codes.use_code("ONCE1", user=customer)
    with pytest.raises(CodeExhausted):
        codes.validate_code("ONCE1", testing.make_user())
    with pytest.raises(OwnCode):
        codes.validate_code("MINE1", owner_user)
    for change, error in (
        ({"active": False}, CodeInactive),
        ({"active": True, "starts_at": now + days(1)}, CodeNotYetValid),
        ({"starts_at": None, "ends_at": now - days(1)}, CodeExpired),
    ):
        Campaign.objects.filter(pk=campaign.pk).update(**change)
        with pytest.raises(error):
            codes.validate_code("CAMP1", customer, now=now)


@pytest.mark.django_db
def test_per_customer_limit(program):
    codes.create_code("TWICE1", max_uses_per_customer=2)
    customer = testing.make_user()
    codes.use_code("TWICE1", user=customer, reference=("order", 1))
    codes.use_code("TWICE1", user=customer, reference=("order", 2))
    with pytest.raises(CodeAlreadyUsed):
        codes.validate_code("TWICE1", customer)
    with pytest.raises(CodeAlreadyUsed):
        codes.use_code("TWICE1", user=customer, reference=("order", 3))
    assert codes.use_code("TWICE1", user=testing.make_user()).code.code == "TWICE1"
    assert codes.validate_code("TWICE1") is not None  # anonymous: no per-customer check


@pytest.mark.django_db
def test_use_with_a_reference_is_idempotent(program):
    codes.create_code("LIMITED1", max_uses=5)
    customer = testing.make_user()
    first = codes.use_code("LIMITED1", user=customer, reference=("shop.order", 9))
    again = codes.use_code("LIMITED1", user=customer, reference=("shop.order", 9))
    assert again.pk == first.pk
    assert ReferralCode.objects.get(code="LIMITED1").times_used == 1


@pytest.mark.django_db
def test_unlimited_codes_keep_no_counter(program):
    codes.create_code("OPEN1")
    for _ in range(3):
        codes.use_code("OPEN1", user=testing.make_user())
    code = ReferralCode.objects.get(code="OPEN1")
    assert code.times_used == 0
    assert code.uses.count() == 3


@pytest.mark.django_db
def test_database_keeps_times_used_within_max_uses(program):
    code = codes.create_code("CAP1", max_uses=1)
    ReferralCode.objects.filter(pk=code.pk).update(times_used=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralCode.objects.filter(pk=code.pk).update(times_used=2)


@pytest.mark.django_db
def test_set_active(program):
    a, b = codes.create_code("AAA1"), codes.create_code("BBB1", active=False)
    assert codes.set_active([a, b], active=False) == 1
    assert codes.set_active(ReferralCode.objects.all(), active=True) == 2


# --- concurrency: invariant 3 -----------------------------------------------------------------


def _race(workers: int, target) -> list:
    return [value for _status, value in run_workers(workers, target)]


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_max_uses_holds_under_concurrent_uses(program):
    codes.create_code("RACE5", max_uses=5)
    users = [testing.make_user() for _ in range(16)]
    results = _race(16, lambda i: codes.use_code("RACE5", user=users[i]))
    used = [r for r in results if isinstance(r, CodeUse)]
    refused = [r for r in results if isinstance(r, CodeExhausted)]
    assert (len(used), len(refused)) == (5, 11), results
    code = ReferralCode.objects.get(code="RACE5")
    assert code.times_used == 5 == code.uses.count()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_per_customer_limit_holds_under_concurrent_uses(program):
    codes.create_code("ONEEACH", max_uses_per_customer=1)
    customer = testing.make_user()
    get_or_create_account(customer)
    results = _race(10, lambda i: codes.use_code("ONEEACH", user=customer, reference=("o", i)))
    assert sum(isinstance(r, CodeUse) for r in results) == 1, results
    assert sum(isinstance(r, CodeAlreadyUsed) for r in results) == 9
    assert CodeUse.objects.count() == 1


# --- admin -----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_admin_code_form_normalises_and_validates(staff_client, program, account):
    url = reverse("admin:referral_rewards_referralcode_add")
    base = {"program": program.pk, "kind": "campaign", "metadata": "{}", "active": "on"}
    response = staff_client.post(url, {**base, "code": "summer-25"})
    assert response.status_code == 302
    assert ReferralCode.objects.filter(code="SUMMER25").exists()
    for code, error in (("ab", "3 to 32"), ("ABCDEFGHJ", "reserved")):
        response = staff_client.post(url, {**base, "code": code})
        assert error in str(response.context["adminform"].form.errors["code"])
    response = staff_client.post(url, {**base, "code": "MINE1", "kind": "personal"})
    assert "owner" in response.context["adminform"].form.errors
    other = testing.make_program("other")
    campaign = Campaign.objects.create(program=other, name="X", slug="x")
    response = staff_client.post(url, {**base, "code": "CAMPX", "campaign": campaign.pk})
    assert "campaign" in response.context["adminform"].form.errors
    foreign = testing.make_account(program=other)
    response = staff_client.post(url, {**base, "code": "OWNX", "owner": foreign.pk})
    assert "owner" in response.context["adminform"].form.errors
    response = staff_client.post(
        url, {**base, "code": "MYCODE", "kind": "personal", "owner": account.pk}
    )
    assert response.status_code == 302
    assert ReferralCode.objects.get(code="MYCODE").personal_for == account


@pytest.mark.django_db
def test_admin_code_list_and_actions(staff_client, program):
    limited = codes.create_code("LIM1", max_uses=3)
    codes.create_code("FREE1")
    url = reverse("admin:referral_rewards_referralcode_changelist")
    page = staff_client.get(url).content.decode()
    assert "0 / 3" in page
    staff_client.post(url, {"action": "deactivate", "_selected_action": [limited.pk]})
    assert not ReferralCode.objects.get(pk=limited.pk).active
    staff_client.post(url, {"action": "activate", "_selected_action": [limited.pk]})
    assert ReferralCode.objects.get(pk=limited.pk).active
    codes.use_code("FREE1", user=testing.make_user())
    assert staff_client.get(reverse("admin:referral_rewards_codeuse_changelist")).status_code == 200
    assert (
        staff_client.get(reverse("admin:referral_rewards_campaign_changelist")).status_code == 200
    )


@pytest.mark.django_db
def test_admin_personal_codes_stay_one_per_account(staff_client, program, account):
    personal = codes.get_or_create_personal_code(account)
    add = reverse("admin:referral_rewards_referralcode_add")
    base = {"program": program.pk, "metadata": "{}", "active": "on", "owner": account.pk}
    response = staff_client.post(add, {**base, "code": "SECOND", "kind": "personal"})
    assert "already has a personal code" in str(response.context["adminform"].form.errors)
    # Turning the personal code into a campaign code releases the personal slot.
    change = reverse("admin:referral_rewards_referralcode_change", args=[personal.pk])
    response = staff_client.post(change, {**base, "code": personal.code, "kind": "campaign"})
    assert response.status_code == 302
    personal.refresh_from_db()
    assert (personal.kind, personal.personal_for) == ("campaign", None)
    response = staff_client.post(add, {**base, "code": "SECOND", "kind": "personal"})
    assert response.status_code == 302
