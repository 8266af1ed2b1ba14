"""The JSON body of each webhook delivery.

Every delivery is one event::

    {"id": "<uuid: the event id, the same for every endpoint>",
     "event": "referral_converted",
     "created_at": "2025-03-01T12:00:00+00:00",
     "data": {"referral": {...}}}

``data`` holds the signal's keyword arguments (but ``sender``), each serialised by
:func:`serialize`: a model instance as a small dict of its public fields (one function
per model type below: ids, statuses, amounts, the program's slug, the member's id, never
personal data such as names, e-mail addresses, phone numbers, bank details or voucher
codes), a ``Decimal`` as a string, a date-time in ISO 8601, a list item by item.
Points and minor-unit balances are integers; money amounts (``Decimal``) are strings.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models

JSON = Any
Serializer = Callable[[Any, "Context"], dict[str, JSON]]


class Context:
    """What serialising one event shares: the program slugs already looked up."""

    def __init__(self) -> None:
        self.slugs: dict[Any, str | None] = {}

    def program(self, obj: models.Model) -> str | None:
        """The slug of ``obj``'s program (one query per program and event at most, none
        when the program is already loaded)."""
        program_id = getattr(obj, "program_id", None)
        if program_id is None:
            return None
        if program_id not in self.slugs:
            cached = obj._state.fields_cache.get("program")
            if cached is not None:
                self.slugs[program_id] = cached.slug
            else:
                from ..models import Program

                self.slugs[program_id] = (
                    Program.objects.filter(pk=program_id).values_list("slug", flat=True).first()
                )
        return self.slugs[program_id]


def _when(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def account(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program`` (slug), ``member_id``, the balances (points, and credit and
    commission in minor units), ``held_points``, ``lifetime_points``, ``tier_id``."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "member_id": obj.member_id,
        "points_balance": obj.points_balance,
        "held_points": obj.held_points,
        "credit_balance": obj.credit_balance,
        "commission_balance": obj.commission_balance,
        "lifetime_points": obj.lifetime_points,
        "tier_id": obj.tier_id,
    }


def ledger_entry(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``account_id``, ``unit``, ``kind``, ``amount`` (signed), ``balance_after``,
    ``reverses_id``, ``reference_type``/``reference_id``, ``expires_at``, ``created_at``."""
    return {
        "id": obj.pk,
        "account_id": obj.account_id,
        "unit": str(obj.unit),
        "kind": str(obj.kind),
        "amount": obj.amount,
        "balance_after": obj.balance_after,
        "reverses_id": obj.reverses_id,
        "reference_type": obj.reference_type,
        "reference_id": obj.reference_id,
        "expires_at": _when(obj.expires_at),
        "created_at": _when(obj.created_at),
    }


def earn_lot(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``account_id``, ``entry_id``, ``unit``, ``amount``, ``remaining``,
    ``expires_at``."""
    return {
        "id": obj.pk,
        "account_id": obj.account_id,
        "entry_id": obj.entry_id,
        "unit": str(obj.unit),
        "amount": obj.amount,
        "remaining": obj.remaining,
        "expires_at": _when(obj.expires_at),
    }


def referral(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program``, ``referrer_id`` and ``referred_id`` (accounts), ``code_id``,
    ``campaign_id``, ``status``, the times (``attached_at``, ``expires_at``,
    ``activated_at``, ``converted_at``), ``first_order_id``, ``first_order_amount``,
    ``fraud_status``, ``fraud_score``."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "referrer_id": obj.referrer_id,
        "referred_id": obj.referred_id,
        "code_id": obj.code_id,
        "campaign_id": obj.campaign_id,
        "status": str(obj.status),
        "attached_at": _when(obj.attached_at),
        "expires_at": _when(obj.expires_at),
        "activated_at": _when(obj.activated_at),
        "converted_at": _when(obj.converted_at),
        "first_order_id": obj.first_order_id,
        "first_order_amount": _money(obj.first_order_amount),
        "fraud_status": str(obj.fraud_status),
        "fraud_score": obj.fraud_score,
    }


def reward_grant(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program``, ``account_id``, ``referral_id``, ``rule_id``, ``source``,
    ``trigger``, ``kind``, ``value`` and ``reversed_value`` (strings), ``status``,
    ``release_at``, ``resolved_at``, ``entry_id``, ``created_at``."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "account_id": obj.account_id,
        "referral_id": obj.referral_id,
        "rule_id": obj.rule_id,
        "source": str(obj.source),
        "trigger": str(obj.trigger),
        "kind": str(obj.kind),
        "value": _money(obj.value),
        "reversed_value": _money(obj.reversed_value),
        "status": str(obj.status),
        "release_at": _when(obj.release_at),
        "resolved_at": _when(obj.resolved_at),
        "entry_id": obj.entry_id,
        "created_at": _when(obj.created_at),
    }


def voucher(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program``, ``account_id``, ``grant_id``, ``kind``, ``value``,
    ``currency``, ``status``, ``expires_at``, ``applied_order_id``, ``order_amount``,
    ``discount``, ``applied_at``. Never the code: it is a bearer secret."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "account_id": obj.account_id,
        "grant_id": obj.grant_id,
        "kind": str(obj.kind),
        "value": _money(obj.value),
        "currency": obj.currency,
        "status": str(obj.status),
        "expires_at": _when(obj.expires_at),
        "applied_order_id": obj.applied_order_id,
        "order_amount": _money(obj.order_amount),
        "discount": _money(obj.discount),
        "applied_at": _when(obj.applied_at),
    }


def tier(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program``, ``name``, ``rank``, ``multiplier`` (a string)."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "name": obj.name,
        "rank": obj.rank,
        "multiplier": _money(obj.multiplier),
    }


def redemption(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program``, ``account_id``, ``option_id``, ``points``, ``status``,
    ``voucher_id``, ``requested_at``, ``processed_at``, ``fulfilled_at``."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "account_id": obj.account_id,
        "option_id": obj.option_id,
        "points": obj.points,
        "status": str(obj.status),
        "voucher_id": obj.voucher_id,
        "requested_at": _when(obj.requested_at),
        "processed_at": _when(obj.processed_at),
        "fulfilled_at": _when(obj.fulfilled_at),
    }


def payout(obj: Any, ctx: Context) -> dict[str, JSON]:
    """``id``, ``program``, ``account_id``, ``amount`` (a string), ``currency``,
    ``method``, ``status``, ``external_reference``, ``requested_at``, ``approved_at``,
    ``paid_at``, ``cancelled_at``. Never the destination (bank details)."""
    return {
        "id": obj.pk,
        "program": ctx.program(obj),
        "account_id": obj.account_id,
        "amount": _money(obj.amount),
        "currency": obj.currency,
        "method": str(obj.method),
        "status": str(obj.status),
        "external_reference": obj.external_reference,
        "requested_at": _when(obj.requested_at),
        "approved_at": _when(obj.approved_at),
        "paid_at": _when(obj.paid_at),
        "cancelled_at": _when(obj.cancelled_at),
    }


def fraud_signal(obj: Any, ctx: Context) -> dict[str, JSON]:
    """A fraud check's finding: ``name``, ``score``, ``reason`` (not its evidence)."""
    return {"name": obj.name, "score": obj.score, "reason": obj.reason}


def other_model(obj: models.Model, ctx: Context) -> dict[str, JSON]:
    """Any other model instance (a user who acted, a host object): only
    ``{"type": "app_label.model", "id": ...}``."""
    return {"type": obj._meta.label_lower, "id": serialize(obj.pk, ctx)}


def _serializers() -> dict[type, Serializer]:
    from .. import models as m
    from ..fraud import Signal

    return {
        m.Account: account,
        m.LedgerEntry: ledger_entry,
        m.EarnLot: earn_lot,
        m.Referral: referral,
        m.RewardGrant: reward_grant,
        m.Voucher: voucher,
        m.Tier: tier,
        m.Redemption: redemption,
        m.Payout: payout,
        Signal: fraud_signal,
    }


_SERIALIZERS: dict[type, Serializer] = {}


def serializer_for(value: Any) -> Serializer | None:
    """The function serialising ``value`` (by its class or a base class), if any."""
    if not _SERIALIZERS:
        _SERIALIZERS.update(_serializers())
    for cls in type(value).__mro__:
        found = _SERIALIZERS.get(cls)
        if found is not None:
            return found
    return None


def serialize(value: Any, ctx: Context | None = None) -> JSON:
    """``value`` as JSON-ready data (see the module's docstring)."""
    ctx = ctx or Context()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, enum.Enum):
        return serialize(value.value, ctx)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    function = serializer_for(value)
    if function is not None:
        return function(value, ctx)
    if isinstance(value, models.Model):
        return other_model(value, ctx)
    if isinstance(value, Mapping):
        return {str(key): serialize(item, ctx) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [serialize(item, ctx) for item in value]
    return str(value)


def event_payload(
    event: str, kwargs: Mapping[str, Any], *, event_id: uuid.UUID, created_at: dt.datetime
) -> dict[str, JSON]:
    """The body of a delivery of ``event`` sent with the signal arguments ``kwargs``."""
    ctx = Context()
    data = {
        name: serialize(value, ctx)
        for name, value in kwargs.items()
        if name not in ("sender", "signal")
    }
    return {
        "id": str(event_id),
        "event": event,
        "created_at": created_at.isoformat(),
        "data": data,
    }
