"""The ``referral_rewards`` template library's money filters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.utils import translation

from django_referral_rewards.models import Program


def render(source: str, **context) -> str:
    return Template("{% load referral_rewards %}" + source).render(Context(context))


@pytest.fixture
def yen(db) -> Program:
    return Program.objects.create(
        slug="jp", name="Tokyo", currency="JPY", currency_decimal_places=0
    )


def test_money_shows_the_currency_places_and_code(program):
    assert render("{{ a|money:p }}", a=Decimal("20"), p=program) == "20.00 USD"
    assert render("{{ a|money:p }}", a=Decimal("3.5"), p=program) == "3.50 USD"


def test_money_follows_a_currency_without_decimals(yen):
    assert render("{{ a|money:p }}", a=Decimal("1200"), p=yen) == "1200 JPY"


@pytest.mark.parametrize("value", [None, "", "not a number"])
def test_money_renders_nothing_for_missing_or_bad_amounts(program, value):
    assert render("{{ a|money:p }}", a=value, p=program) == ""


def test_minor_money_converts_minor_units(program, yen):
    assert render("{{ a|minor_money:p }}", a=1234, p=program) == "12.34 USD"
    assert render("{{ a|minor_money:p }}", a=-50, p=program) == "-0.50 USD"
    assert render("{{ a|minor_money:p }}", a=1200, p=yen) == "1200 JPY"
    assert render("{{ a|minor_money:p }}", a=None, p=program) == ""


@override_settings(USE_THOUSAND_SEPARATOR=True)
def test_money_is_localized(program):
    with translation.override("fr"):
        text = render("{{ a|money:p }}", a=Decimal("1234.5"), p=program)
    assert text.endswith(" USD")
    assert "1234,50" in text.replace("\xa0", "").replace(" ", "").replace("\u202f", "")
