"""Referrals: attaching a signed-up customer to the referrer whose code they used."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import signals
from ..enums import ConversionEvent, ReferralStatus
from ..exceptions import AlreadyReferred, CodeError
from ..models import Program, Referral, ReferralCode
from ..signals import send_after_commit
from . import attribution
from .accounts import get_or_create_account
from .codes import record_use, validate_code


def _replay_or_refuse(existing: Referral, code: ReferralCode) -> Referral:
    if existing.code_id == code.pk:
        return existing
    raise AlreadyReferred(referral_id=existing.pk)


def attach(
    user: Any,
    *,
    code: str | None = None,
    request: Any = None,
    program: Program | str | None = None,
    now: datetime | None = None,
) -> Referral | None:
    """Attach the newly signed-up ``user`` to the owner of ``code`` (as typed), or else
    of the code remembered from a followed share link on ``request``.

    Returns the ``Referral``, or ``None`` when there is no code. A *typed* code that
    cannot be used raises its :class:`CodeError` (``OwnCode`` for a self-referral); a
    *remembered* one that has become unusable is dropped silently. Signing up twice with
    the same code returns the first referral; with another code it raises
    :class:`AlreadyReferred` (a customer is referred once per program).
    """
    now = now or timezone.now()
    remembered = None
    if not code and request is not None:
        remembered = attribution.remembered_code(request)
    typed = code or remembered
    if not typed:
        get_or_create_account(user, program=program)
        return None
    try:
        found = validate_code(typed, user, program, now=now)
    except CodeError:
        if request is not None and remembered:
            attribution.forget_code(request)
        if code:
            raise
        return None
    customer = get_or_create_account(user, program=found.program)
    existing = Referral.objects.filter(referred=customer).first()
    if existing is not None:
        return _replay_or_refuse(existing, found)
    converts = found.program.conversion_event == ConversionEvent.SIGNUP
    try:
        with transaction.atomic():
            record_use(found, customer=customer, reference=("signup", customer.pk), now=now)
            referral = Referral.objects.create(
                program=found.program,
                referrer=found.owner,
                referred=customer,
                code=found,
                campaign=found.campaign,
                status=ReferralStatus.CONVERTED if converts else ReferralStatus.PENDING,
                attached_at=now,
                converted_at=now if converts else None,
            )
            transaction.on_commit(
                functools.partial(
                    send_after_commit,
                    signals.referral_attached,
                    sender=Referral,
                    referral=referral,
                    referrer=referral.referrer,
                    referred=customer,
                )
            )
            if converts:
                transaction.on_commit(
                    functools.partial(
                        send_after_commit,
                        signals.referral_converted,
                        sender=Referral,
                        referral=referral,
                    )
                )
    except IntegrityError:
        # Two sign-up events for one customer raced; the other one attached first.
        return _replay_or_refuse(Referral.objects.get(referred=customer), found)
    if request is not None:
        attribution.forget_code(request)
    return referral
