"""Members, accounts and programs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from django_referral_rewards import testing
from django_referral_rewards.adapter import MemberAdapter
from django_referral_rewards.conf import get_member_model
from django_referral_rewards.exceptions import InvalidAmount, MemberNotFound, ProgramNotFound
from django_referral_rewards.models import Program
from django_referral_rewards.money import from_minor, to_minor
from django_referral_rewards.services import accounts

pytestmark = pytest.mark.django_db


class PhoneAdapter(MemberAdapter):
    def member_defaults(self, user):
        return {**super().member_defaults(user), "phone": "+1 555 0100"}


def test_account_for_a_user_creates_the_member_once(program):
    user = testing.make_user("juan", first_name="Juan", last_name="Perez")
    account = accounts.get_or_create_account(user)
    again = accounts.get_or_create_account(user, program=program)
    assert account.pk == again.pk and account.program == program
    member = get_member_model().objects.get(user=user)
    assert (member.name, member.email) == ("Juan Perez", "juan@example.com")
    assert str(member) == "Juan Perez"


def test_one_member_many_programs():
    user = testing.make_user()
    shop_a, shop_b = testing.make_program("shop-a"), testing.make_program("shop-b")
    a = accounts.get_or_create_account(user, program="shop-a")
    b = accounts.get_or_create_account(user, program=shop_b)
    assert a.member_id == b.member_id and a.pk != b.pk
    assert [acc.program for acc in accounts.accounts_for(user)] == [shop_a, shop_b]
    assert str(a) == f"{a.member} @ Shop A"


def test_members_without_users(program):
    influencer = testing.make_member(
        user=False, name="", email="ana@example.com", kind="influencer"
    )
    account = accounts.get_or_create_account(influencer)
    assert account.member == influencer and str(influencer) == "ana@example.com"
    nameless = testing.make_member(user=False, name="")
    assert str(nameless) == f"Member #{nameless.pk}"


def test_anonymous_users_are_not_members(program):
    with pytest.raises(MemberNotFound):
        accounts.get_or_create_account(AnonymousUser())
    with pytest.raises(MemberNotFound):
        accounts.accounts_for(testing.make_user())  # does not create one


def test_adapter_is_pluggable(program):
    with override_settings(REFERRAL_REWARDS_MEMBER_ADAPTER="tests.test_accounts.PhoneAdapter"):
        account = accounts.get_or_create_account(testing.make_user())
    assert account.member.phone == "+1 555 0100"


def test_program_resolution():
    default = Program.objects.resolve(None)
    assert default.slug == "default" and default.currency == "USD"
    Program.objects.all().delete()
    with override_settings(
        REFERRAL_REWARDS_DEFAULT_PROGRAM="main", REFERRAL_REWARDS_DEFAULT_CURRENCY="eur"
    ):
        created = Program.objects.get_default()  # created on first use
        assert (created.slug, created.currency) == ("main", "EUR")
        assert Program.objects.resolve("main") == created
        assert Program.objects.resolve(created) is created
    with pytest.raises(ProgramNotFound, match="nope"):
        Program.objects.resolve("nope")
    with pytest.raises(ProgramNotFound):
        Program.objects.resolve(42)
    assert list(Program.objects.active()) == [created]
    assert str(created) == created.name


def test_money_is_decimal_in_minor_units():
    assert to_minor(Decimal("12.34")) == 1234
    assert to_minor(Decimal("12"), 0) == 12
    assert to_minor(5) == 500
    assert from_minor(1234) == Decimal("12.34")
    assert str(from_minor(5, 0)) == "5"
    for bad in (12.34, "12.34", Decimal("1.234"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(InvalidAmount):
            to_minor(bad)
    program = testing.make_program(currency="JPY", currency_decimal_places=0)
    assert program.to_minor(Decimal("500")) == 500
    assert program.from_minor(500) == Decimal("500")


def test_no_float_fields_anywhere():
    """Invariant 7: money is Decimal, points are integers; nothing is a float."""
    from django.apps import apps
    from django.db import models

    floats = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_app_config("referral_rewards").get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FloatField)
    ]
    assert floats == []
