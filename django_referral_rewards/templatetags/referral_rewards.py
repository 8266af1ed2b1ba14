"""Template tags: ``{% load referral_rewards %}``."""

from __future__ import annotations

from typing import Any

from django import template

from ..services import tiers

register = template.Library()


@register.simple_tag
def tier_progress(account: Any) -> tiers.TierProgress | None:
    """Where ``account`` stands toward its next tier (a
    :class:`~django_referral_rewards.services.tiers.TierProgress`), or ``None`` without
    an account::

        {% tier_progress account as progress %}
        {% if progress.next %}{{ progress.remaining }} more to {{ progress.next.name }}{% endif %}
    """
    if not account:
        return None
    return tiers.progress(account)


@register.filter
def money(amount: Any, program: Any) -> str:
    """An amount of ``program``'s currency at its decimal places: ``{{ amount|money:program }}``
    → ``"20.00 USD"`` (the number localized when ``USE_L10N`` formatting applies)."""
    from decimal import Decimal, InvalidOperation

    from django.utils.formats import number_format

    if amount in (None, ""):
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return ""
    places = program.currency_decimal_places
    return f"{number_format(value, places, use_l10n=True)} {program.currency}"


@register.filter
def minor_money(minor: Any, program: Any) -> str:
    """Integer minor units (a ledger amount of credit or commission) as money of
    ``program``'s currency: ``{{ entry.amount|minor_money:program }}``."""
    if minor in (None, ""):
        return ""
    return money(program.from_minor(int(minor)), program)
