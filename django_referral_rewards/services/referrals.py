"""Referrals: attaching a signed-up customer to the referrer whose code they used,
converting, expiring and rejecting them.

State machine (every change a compare-and-set on ``status``)::

    (created rejected when the fraud checks block it)
    pending -> converted          (the program's conversion event)
    pending -> expired            (not converted within the attribution window)
    converted -> pending          (its only qualifying order was fully refunded)
    pending / converted -> rejected   (staff or fraud decision)
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import signals
from ..conf import app_settings
from ..enums import (
    ConversionEvent,
    FraudAction,
    FraudStage,
    GrantStatus,
    ReferralStatus,
    RewardTrigger,
)
from ..exceptions import AlreadyReferred, CodeError, InvalidArgument, InvalidTransition, OwnCode
from ..fraud import BLOCK
from ..models import Account, FraudDecision, Program, Referral, ReferralCode, RewardGrant
from ..signals import send_on_commit
from . import attribution, fraud, rewards, workflow
from .accounts import get_or_create_account
from .codes import record_use, validate_code
from .sweeps import claim_batches


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

    The fraud checks (:mod:`django_referral_rewards.services.fraud`) run first: a
    referral they block is returned *rejected* (``fraud_status="blocked"``: nobody is
    rewarded, the code is not used up, and the customer cannot be referred again in
    the program); one they send to review is pending with its rewards held until the
    decision. The sign-up's IP address and device are remembered, hashed, as the
    customer's traces (with or without a code).
    """
    now = now or timezone.now()
    remembered = None
    if not code and request is not None:
        remembered = attribution.remembered_code(request)
    typed = code or remembered
    hashes = fraud.request_hashes(request)
    if not typed:
        customer = get_or_create_account(user, program=program)
        fraud.record_traces(customer.member_id, hashes=hashes, now=now)
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
    if customer.pk == found.owner_id:
        raise OwnCode()
    existing = Referral.objects.filter(referred=customer).first()
    if existing is not None:
        return _replay_or_refuse(existing, found)
    program_obj = found.program
    assessment = fraud.screen_signup(found, customer, user=user, hashes=hashes, now=now)
    blocked = assessment.outcome == BLOCK
    converts = program_obj.conversion_event == ConversionEvent.SIGNUP and not blocked
    try:
        with transaction.atomic():
            if not blocked:  # a blocked sign-up does not use up the code
                record_use(found, customer=customer, reference=("signup", customer.pk), now=now)
            referral = Referral.objects.create(
                program=program_obj,
                referrer=found.owner,
                referred=customer,
                code=found,
                campaign=found.campaign,
                status=ReferralStatus.REJECTED if blocked else ReferralStatus.PENDING,
                attached_at=now,
                expires_at=now + timedelta(days=program_obj.attribution_window_days),
                ip_hash=hashes.ip,
                device_hash=hashes.device,
                user_agent_hash=hashes.user_agent,
                **fraud.new_referral_fields(assessment, program_obj, now),
            )
            fraud.record_assessment(referral, assessment, stage=FraudStage.SIGNUP, now=now)
            fraud.record_traces(customer.member_id, hashes=hashes, now=now)
            if blocked:
                send_on_commit(
                    signals.referral_rejected,
                    sender=Referral,
                    referral=referral,
                    reason=fraud.blocked_reason(assessment),
                    rejected_by=None,
                )
            else:
                send_on_commit(
                    signals.referral_attached,
                    sender=Referral,
                    referral=referral,
                    referrer=referral.referrer,
                    referred=customer,
                )
                number = convert(referral, now=now) if converts else None
                rewards.decide_and_grant(
                    referral,
                    triggers={RewardTrigger.SIGNUP},
                    source="signup",
                    occurred_at=now,
                    conversion_number=number,
                )
    except IntegrityError:
        # Two sign-up events for one customer raced; the other one attached first.
        return _replay_or_refuse(Referral.objects.get(referred=customer), found)
    if request is not None:
        attribution.forget_code(request)
    return referral


def _count_conversion(referral: Referral, step: int) -> int | None:
    """Add ``step`` to the referrer's conversion counter under its row lock and return
    the new count (the conversion's number, for milestones)."""
    if referral.referrer_id is None:
        return None
    Account.objects.filter(pk=referral.referrer_id).update(
        conversions_count=F("conversions_count") + step
    )
    count, kind, value = (
        Account.objects.filter(pk=referral.referrer_id)
        .values_list("conversions_count", "commission_kind", "commission_value")
        .get()
    )
    # Read with the count for free: the reward decision that follows needs them.
    referral.referrer_commission_terms = (kind, value)  # type: ignore[attr-defined]
    return int(count)


def convert(referral: Referral, *, now: datetime) -> int | None:
    """Convert a pending referral (inside the caller's transaction). Returns the
    referrer's conversion number (``None`` for house codes); raises
    :class:`InvalidTransition` when the referral is not pending."""
    won = Referral.objects.filter(pk=referral.pk, status=ReferralStatus.PENDING).update(
        status=ReferralStatus.CONVERTED, converted_at=now
    )
    if not won:
        raise InvalidTransition("Only a pending referral can convert.", referral_id=referral.pk)
    referral.status = ReferralStatus.CONVERTED
    referral.converted_at = now
    number = _count_conversion(referral, +1)
    send_on_commit(signals.referral_converted, sender=Referral, referral=referral)
    return number


def unconvert(referral: Referral) -> bool:
    """Return a converted referral to pending (its converting order was refunded).
    The referrer's conversion counter goes down with it."""
    won = Referral.objects.filter(pk=referral.pk, status=ReferralStatus.CONVERTED).update(
        status=ReferralStatus.PENDING, converted_at=None, first_order_id="", first_order_amount=None
    )
    if won:
        referral.status = ReferralStatus.PENDING
        referral.converted_at = None
        referral.first_order_id = ""
        referral.first_order_amount = None
        _count_conversion(referral, -1)
    return bool(won)


def locked_referral(account: Account) -> Referral | None:
    """The referral of the customer ``account``, row-locked, or ``None``. Every event
    of one referred customer takes this lock, so they apply one at a time."""
    # The join locks the program row too (``FOR UPDATE`` covers every joined row), which
    # serialises the events of a program's referred customers. MariaDB deadlocks on
    # concurrent conversions of one referrer without it; see the performance issue.
    return (
        Referral.objects.select_for_update()
        .select_related("program")
        .filter(referred=account)
        .first()
    )


def expire_if_due(referral: Referral, now: datetime) -> bool:
    """Expire ``referral`` if it is pending past its window (the sweep may not have run
    yet). Returns whether it is expired now."""
    if referral.status != ReferralStatus.PENDING or referral.expires_at is None:
        return referral.status == ReferralStatus.EXPIRED
    if referral.expires_at > now:
        return False
    Referral.objects.filter(pk=referral.pk, status=ReferralStatus.PENDING).update(
        status=ReferralStatus.EXPIRED
    )
    referral.status = ReferralStatus.EXPIRED
    return True


def activate(
    user: Any, *, program: Program | str | None = None, occurred_at: datetime | None = None
) -> Referral | None:
    """The customer ``user`` activated. Records it once; converts the referral when the
    program converts on activation; grants ``activation`` rewards. Returns the referral,
    or ``None`` when the customer was not referred."""
    now = occurred_at or timezone.now()
    customer = get_or_create_account(user, program=program)
    with transaction.atomic():
        referral = locked_referral(customer)
        if referral is None or referral.activated_at is not None:
            return referral
        Referral.objects.filter(pk=referral.pk).update(activated_at=now)
        referral.activated_at = now
        if expire_if_due(referral, now):
            return referral
        number = None
        if (
            referral.status == ReferralStatus.PENDING
            and referral.program.conversion_event == ConversionEvent.ACTIVATION
        ):
            number = convert(referral, now=now)
        rewards.decide_and_grant(
            referral,
            triggers={RewardTrigger.ACTIVATION},
            source="activation",
            occurred_at=now,
            conversion_number=number,
        )
    return referral


@dataclasses.dataclass(frozen=True)
class ExpirySweepResult:
    expired: int
    batches: int


def expire_pending(
    *, now: datetime | None = None, batch_size: int | None = None
) -> ExpirySweepResult:
    """Expire pending referrals past their attribution window. Set-based and batched
    (one ``UPDATE`` per batch); running it twice, or on two workers, changes nothing
    more."""
    now = now or timezone.now()
    batch_size = batch_size or app_settings.SWEEP_BATCH_SIZE
    expired = batches = 0
    due = Referral.objects.filter(status=ReferralStatus.PENDING, expires_at__lte=now)
    for batch in claim_batches(due.only("pk"), batch_size):
        batches += 1
        expired += due.filter(pk__in=[referral.pk for referral in batch]).update(
            status=ReferralStatus.EXPIRED
        )
    return ExpirySweepResult(expired=expired, batches=batches)


def reject(
    referral: Referral,
    *,
    reason: str,
    rejected_by: Any = None,
    now: datetime | None = None,
    record: bool = True,
) -> Referral:
    """Reject a referral: nobody is rewarded for it. Its held rewards are voided
    (released ones stay; revoke them one by one if they must be taken back). Who
    rejected it, when and why is kept as a
    :class:`~django_referral_rewards.models.FraudDecision` (``record=False`` is for
    callers that record their own decision). Raises :class:`InvalidTransition` when it
    is already expired, cancelled or rejected."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument("Give a reason for rejecting the referral.")
    now = now or timezone.now()
    with transaction.atomic():
        won = Referral.objects.filter(
            pk=referral.pk,
            status__in=[ReferralStatus.PENDING, ReferralStatus.CONVERTED],
        ).update(status=ReferralStatus.REJECTED)
        if not won:
            referral.refresh_from_db()
            raise InvalidTransition(
                f"A {referral.get_status_display().lower()} referral cannot be rejected.",
                status=referral.status,
            )
        referral.refresh_from_db()
        if record:
            FraudDecision.objects.create(
                referral=referral,
                action=FraudAction.REJECTED,
                score=referral.fraud_score,
                decided_by=workflow.actor(rejected_by),
                automatic=workflow.actor(rejected_by) is None,
                note=reason.strip(),
                created_at=now,
            )
        if referral.converted_at is not None:
            _count_conversion(referral, -1)
        for grant in RewardGrant.objects.filter(referral=referral, status=GrantStatus.HELD):
            rewards.void(grant, reason=reason, revoked_by=rejected_by, now=now)
        send_on_commit(
            signals.referral_rejected,
            sender=Referral,
            referral=referral,
            reason=reason,
            rejected_by=rejected_by,
        )
    return referral
