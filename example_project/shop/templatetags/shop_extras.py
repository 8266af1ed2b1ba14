"""``{% load shop_extras %}``: readable values of rewards and vouchers."""

from __future__ import annotations

from decimal import Decimal

from django import template

from django_referral_rewards.enums import RewardKind, VoucherKind

register = template.Library()


def _money(value: Decimal, program) -> str:
    places = program.currency_decimal_places
    return f"{value.quantize(Decimal(1).scaleb(-places))} {program.currency}"


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}%"


@register.filter
def grant_value(grant) -> str:
    """What a grant is worth: ``500 points``, ``15% off``, ``8.00 USD``."""
    if grant.kind == RewardKind.POINTS:
        return f"{int(grant.value)} points"
    if grant.kind == RewardKind.VOUCHER_PERCENT:
        return f"{_percent(grant.value)} off"
    if grant.kind in (RewardKind.FREE_ITEM, RewardKind.FREE_PERIOD) and not grant.value:
        return grant.description or grant.get_kind_display()
    # Commission percentages are stored as the amount they came to.
    return _money(grant.value, grant.program)


@register.filter
def voucher_value(voucher) -> str:
    """What a voucher takes off: ``15% off``, ``10.00 USD off``, or its description."""
    if voucher.kind == VoucherKind.PERCENT:
        text = f"{_percent(voucher.value)} off"
    elif voucher.kind == VoucherKind.FIXED:
        text = f"{_money(voucher.value, voucher.program)} off"
    else:
        text = voucher.get_kind_display()
        if voucher.value:
            text += f" (up to {_money(voucher.value, voucher.program)})"
    return f"{text}: {voucher.description}" if voucher.description else text
