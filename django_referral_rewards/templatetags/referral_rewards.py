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
