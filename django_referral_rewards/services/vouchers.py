"""Vouchers: discount codes issued as rewards, applied by the host to an order.

A voucher is applied to one order at a time. Applying it again to the same order (a
retried checkout) returns the same discount; to another order it is refused until it is
released (``release_voucher``, or a full refund of the order). Every change is a
compare-and-set on the status, so two checkouts racing for one voucher cannot both win.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import signals
from ..arguments import check_days, check_order_id
from ..codes import ALPHABET, normalize
from ..enums import VoucherKind, VoucherStatus
from ..exceptions import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidArgument,
    VoucherAlreadyApplied,
    VoucherExpired,
    VoucherNotFound,
    VoucherNotYours,
    VoucherVoid,
)
from ..models import Account, Program, RewardGrant, Voucher
from ..money import as_decimal
from ..signals import send_on_commit
from .accounts import resolve_member

#: Random characters in a voucher code: 16 of Crockford base32 = 80 bits.
VOUCHER_LENGTH = 16


def new_code() -> str:
    """A fresh random voucher code (stored form, without dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(VOUCHER_LENGTH))


def issue_voucher(
    account: Account | None,
    *,
    program: Program | str | None = None,
    kind: str,
    value: Decimal,
    description: str = "",
    expires_at: datetime | None = None,
    valid_days: int | None = None,
    grant: RewardGrant | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Issue a voucher owned by ``account`` (``None``: a bearer voucher anyone holding
    the code may use). ``value`` is a percentage for ``percent`` vouchers, an amount
    for ``fixed`` ones, and the largest discount (0: the whole order) for
    ``free_item`` / ``free_period``."""
    if kind not in VoucherKind.values:
        raise InvalidArgument(f"Unknown voucher kind {kind!r}.", kind=kind)
    prog = account.program if account is not None else Program.objects.resolve(program)
    value = as_decimal(value, "value")
    if value < 0 or (kind == VoucherKind.PERCENT and not 0 < value <= 100):
        raise InvalidAmount(f"Invalid voucher value {value}.", value=value)
    if kind == VoucherKind.FIXED and value == 0:
        raise InvalidAmount("A fixed voucher needs an amount.", value=value)
    now = now or timezone.now()
    valid_days = check_days(valid_days, "valid_days", minimum=1)
    if expires_at is None and valid_days is not None:
        expires_at = now + timedelta(days=valid_days)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Voucher.objects.create(
                    code=new_code(),
                    program=prog,
                    account=account,
                    grant=grant,
                    kind=kind,
                    value=value,
                    currency=prog.currency,
                    description=description[:255],
                    expires_at=expires_at,
                    created_at=now,
                )
        except IntegrityError:
            if grant is not None and Voucher.objects.filter(grant=grant).exists():
                return Voucher.objects.get(grant=grant)
    raise RuntimeError("Could not find a free voucher code in 5 attempts.")  # pragma: no cover


def discount_for(voucher: Voucher, order_amount: Decimal, places: int) -> Decimal:
    """The discount ``voucher`` gives on an order of ``order_amount``: never more than
    the order, rounded half up to the currency's minor unit."""
    quantum = Decimal(1).scaleb(-places)
    if voucher.kind == VoucherKind.PERCENT:
        discount = order_amount * voucher.value / 100
    elif voucher.kind == VoucherKind.FIXED:
        discount = voucher.value
    else:
        discount = voucher.value if voucher.value > 0 else order_amount
    return min(discount, order_amount).quantize(quantum, rounding=ROUND_HALF_UP)


def get_voucher(code: str, *, program: Program | str | None = None) -> Voucher:
    """The voucher with ``code`` (dashes, spaces and case ignored), or
    :class:`VoucherNotFound`."""
    normalized = normalize(code)
    queryset = Voucher.objects.select_related("program")
    if program is not None:
        queryset = queryset.filter(program=Program.objects.resolve(program))
    voucher = queryset.filter(code=normalized).first() if normalized else None
    if voucher is None:
        raise VoucherNotFound(code=code)
    return voucher


def apply_voucher(
    code: str,
    *,
    user: Any,
    order_id: Any,
    order_amount: Any,
    program: Program | str | None = None,
    now: datetime | None = None,
) -> Decimal:
    """Apply the voucher ``code`` to the host's order ``order_id`` of ``order_amount``
    for ``user`` (a user or member) and return the discount.

    Raises :class:`VoucherNotFound`, :class:`VoucherExpired`, :class:`VoucherVoid`,
    :class:`VoucherNotYours` or :class:`VoucherAlreadyApplied` (applied to another
    order). Applying it to the same order again returns the same discount; with another
    order amount it raises :class:`IdempotencyConflict`.
    """
    now = now or timezone.now()
    order_id = check_order_id(order_id)
    amount = as_decimal(order_amount, "order_amount")
    voucher = get_voucher(code, program=program)
    if amount < 0:
        raise InvalidAmount("The order amount cannot be negative.", order_amount=amount)
    member = resolve_member(user)
    customer = Account.objects.filter(member_id=member.pk, program=voucher.program).first()
    if voucher.account_id is not None and (customer is None or customer.pk != voucher.account_id):
        raise VoucherNotYours(code=voucher.display_code)
    if customer is None:
        from .accounts import get_or_create_account

        customer = get_or_create_account(member, program=voucher.program)
    if voucher.status == VoucherStatus.APPLIED:
        return _replay(voucher, order_id, amount, customer)
    if voucher.status == VoucherStatus.VOID:
        raise VoucherVoid(code=voucher.display_code)
    if voucher.expires_at is not None and voucher.expires_at <= now:
        raise VoucherExpired(code=voucher.display_code, expired_at=voucher.expires_at)
    discount = discount_for(voucher, amount, voucher.program.currency_decimal_places)
    applied = {
        "status": VoucherStatus.APPLIED,
        "applied_order_id": order_id,
        "applied_account": customer,
        "order_amount": amount,
        "discount": discount,
        "applied_at": now,
    }
    with transaction.atomic():
        won = Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.ISSUED).update(**applied)
        if not won:
            voucher.refresh_from_db()
            if voucher.status == VoucherStatus.APPLIED:
                return _replay(voucher, order_id, amount, customer)
            raise VoucherVoid(code=voucher.display_code)
        for field, value in applied.items():
            setattr(voucher, field, value)
        send_on_commit(
            signals.voucher_applied,
            sender=Voucher,
            voucher=voucher,
            order_id=order_id,
            discount=discount,
        )
    return discount


def _replay(voucher: Voucher, order_id: str, amount: Decimal, customer: Account) -> Decimal:
    if voucher.applied_order_id != order_id or voucher.applied_account_id != customer.pk:
        raise VoucherAlreadyApplied(code=voucher.display_code)
    if voucher.order_amount != amount:
        raise IdempotencyConflict(
            f"Voucher {voucher.display_code} is already applied to order {order_id} "
            f"of {voucher.order_amount}, not {amount}; release it first.",
            order_id=order_id,
        )
    assert voucher.discount is not None
    return voucher.discount


def release_voucher(code: str, *, order_id: Any, program: Program | str | None = None) -> bool:
    """Undo :func:`apply_voucher` for ``order_id`` (a cancelled checkout or order): the
    voucher can be used again. Returns whether it was released; releasing a voucher that
    is not applied to that order changes nothing and returns ``False``."""
    order_id = check_order_id(order_id)
    voucher = get_voucher(code, program=program)
    return bool(_release(Voucher.objects.filter(pk=voucher.pk, applied_order_id=order_id)))


def release_for_order(program: Program, order_id: str, account: Account) -> int:
    """Release every voucher ``account`` applied to ``order_id`` (a full refund)."""
    return _release(
        Voucher.objects.filter(program=program, applied_order_id=order_id, applied_account=account)
    )


def _release(queryset: Any) -> int:
    return int(
        queryset.filter(status=VoucherStatus.APPLIED).update(
            status=VoucherStatus.ISSUED,
            applied_order_id="",
            applied_account=None,
            order_amount=None,
            discount=None,
            applied_at=None,
        )
    )


def void_voucher(voucher: Voucher) -> bool:
    """Void an issued (unused) voucher. Returns ``False`` when it is applied or void
    already (an applied voucher has been used; it is not taken back)."""
    return bool(
        Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.ISSUED).update(
            status=VoucherStatus.VOID
        )
    )
