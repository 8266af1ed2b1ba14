"""Fraud decisions: screening referred sign-ups and orders, the review queue, traces.

A referral whose checks (:mod:`django_referral_rewards.fraud`) score at least its
program's ``fraud_block_score`` is **blocked**: stored as rejected, nobody rewarded.
At ``fraud_review_score`` it goes to **review**: it follows its life cycle (it may
convert) but every reward of it stays held until staff approve or reject it, or until
its ``review_deadline`` passes and the program's ``review_default_outcome`` applies.
Every signal and every decision (the checks', a person's, the deadline's) is stored
with the referral: :class:`~django_referral_rewards.models.FraudSignal` and the
append-only :class:`~django_referral_rewards.models.FraudDecision`.

Review decisions are compare-and-set on ``fraud_status`` under the referral's row lock
(the lock every event of the customer takes), so a staff decision racing the deadline
sweep, another staff member, or the customer's order applies once.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import fraud, signals
from ..conf import app_settings
from ..enums import (
    FraudAction,
    FraudStage,
    FraudStatus,
    GrantStatus,
    ReferralStatus,
    ReviewOutcome,
    TraceKind,
)
from ..exceptions import InvalidArgument, InvalidTransition
from ..hashing import keyed_hash
from ..models import Account, FraudDecision, FraudSignal, Referral, ReferralCode, RewardGrant, Trace
from ..signals import send_on_commit
from .sweeps import claim_batches
from .workflow import actor, copy_into, require_staff

#: What a fresh referral's ``fraud_status`` is for each outcome of the checks.
STATUS_FOR_OUTCOME = {
    fraud.ALLOW: FraudStatus.CLEAR,
    fraud.REVIEW: FraudStatus.REVIEW,
    fraud.BLOCK: FraudStatus.BLOCKED,
}
_ACTION_FOR_OUTCOME = {
    fraud.ALLOW: FraudAction.NOTED,
    fraud.REVIEW: FraudAction.FLAGGED,
    fraud.BLOCK: FraudAction.BLOCKED,
}


@dataclasses.dataclass(frozen=True)
class RequestHashes:
    """The keyed hashes of what a request says about its sender."""

    ip: str = ""
    device: str = ""
    user_agent: str = ""


def request_hashes(request: Any) -> RequestHashes:
    """Hash the client IP address, device cookie and user agent of ``request`` (the
    request adapter reads them); empty for ``None``."""
    if request is None:
        return RequestHashes()
    adapter = app_settings.request_adapter()
    return RequestHashes(
        ip=keyed_hash(adapter.get_client_ip(request), purpose="ip"),
        device=keyed_hash(adapter.get_device_id(request), purpose="device"),
        user_agent=keyed_hash(adapter.get_user_agent(request), purpose="user_agent"),
    )


def record_traces(
    member: Any, *, request: Any = None, hashes: RequestHashes | None = None, now: Any = None
) -> int:
    """Remember that ``member`` (a member or its primary key) was seen from the IP
    address and device of ``request`` (or the given ``hashes``): one upsert, keyed
    hashes only. Returns how many traces were written. Called at sign-up and log-in;
    call it wherever else your members are seen (a checkout, an app session)."""
    member_id = getattr(member, "pk", member)
    hashes = hashes or request_hashes(request)
    now = now or timezone.now()
    rows = [
        Trace(member_id=member_id, kind=kind, value_hash=value, first_seen=now, last_seen=now)
        for kind, value in ((TraceKind.IP, hashes.ip), (TraceKind.DEVICE, hashes.device))
        if value
    ]
    if not rows or member_id is None:
        return 0
    unique = (
        ["member", "kind", "value_hash"]
        if connection.features.supports_update_conflicts_with_target
        else None
    )
    Trace.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=unique, update_fields=["last_seen"]
    )
    return len(rows)


def screen_signup(
    code: ReferralCode,
    customer: Account,
    *,
    user: Any = None,
    hashes: RequestHashes,
    now: datetime,
) -> fraud.Assessment:
    """Run the checks on a referred sign-up (reads only)."""
    context = fraud.FraudContext(
        stage=FraudStage.SIGNUP,
        program=code.program,
        customer=customer,
        referrer_id=code.owner_id,
        referrer_account=code.owner,
        code=code,
        now=now,
        user=user,
        ip_hash=hashes.ip,
        device_hash=hashes.device,
        user_agent_hash=hashes.user_agent,
    )
    return fraud.assess(context)


def new_referral_fields(assessment: fraud.Assessment, program: Any, now: datetime) -> dict:
    """The fraud fields of a referral created with ``assessment``."""
    status = STATUS_FOR_OUTCOME[assessment.outcome]
    return {
        "fraud_status": status,
        "fraud_score": assessment.score,
        "review_deadline": (
            now + timedelta(days=program.review_days) if status == FraudStatus.REVIEW else None
        ),
    }


def record_assessment(
    referral: Referral, assessment: fraud.Assessment, *, stage: str, now: datetime
) -> FraudDecision | None:
    """Store the signals of ``assessment`` and the checks' decision on ``referral``
    (inside the caller's transaction); announce ``fraud_flagged`` after commit when it
    went to review or was blocked. Nothing is written when no check found anything."""
    if not assessment.signals:
        return None
    FraudSignal.objects.bulk_create(
        [
            FraudSignal(
                referral=referral,
                stage=stage,
                name=signal.name[:64],
                score=signal.score,
                reason=signal.reason[:255],
                evidence=signal.evidence[:64],
                created_at=now,
            )
            for signal in assessment.signals
        ]
    )
    decision = FraudDecision.objects.create(
        referral=referral,
        action=_ACTION_FOR_OUTCOME[assessment.outcome],
        stage=stage,
        score=assessment.score,
        signals=[signal.as_dict() for signal in assessment.signals],
        automatic=True,
        created_at=now,
    )
    if assessment.flagged:
        send_on_commit(
            signals.fraud_flagged,
            sender=Referral,
            referral=referral,
            outcome=assessment.outcome,
            score=assessment.score,
            signals=list(assessment.signals),
        )
    return decision


def screen_order(
    referral: Referral,
    *,
    customer: Account,
    user: Any = None,
    order_id: str,
    payment_hash: str,
    now: datetime,
) -> bool:
    """Run the checks on an order of the customer of the (locked) ``referral`` that may
    convert it, adding what they find to what the sign-up found. Returns whether the
    order still counts for the referral (``False``: the total reached the block score
    and the referral was rejected here). A referral already decided by staff or the
    deadline is not screened again."""
    if referral.fraud_status not in (FraudStatus.CLEAR, FraudStatus.REVIEW):
        return True
    if referral.status != ReferralStatus.PENDING:
        return True
    context = fraud.FraudContext(
        stage=FraudStage.ORDER,
        program=referral.program,
        customer=customer,
        referrer_id=referral.referrer_id,
        now=now,
        user=user,
        referral=referral,
        payment_hash=payment_hash,
        order_id=order_id,
    )
    signals_found = fraud.run_checks(context)
    if not signals_found:
        return True
    known = set(FraudSignal.objects.filter(referral=referral).values_list("name", flat=True))
    signals_found = [signal for signal in signals_found if signal.name not in known]
    if not signals_found:
        return True
    score = referral.fraud_score + sum(signal.score for signal in signals_found)
    outcome = fraud.outcome_for(score, referral.program)
    if outcome == fraud.ALLOW and referral.fraud_status == FraudStatus.REVIEW:
        outcome = fraud.REVIEW  # already in review: it stays there
    assessment = fraud.Assessment(signals=tuple(signals_found), score=score, outcome=outcome)
    changes: dict[str, Any] = {"fraud_score": score}
    if outcome == fraud.REVIEW and referral.fraud_status == FraudStatus.CLEAR:
        changes.update(
            fraud_status=FraudStatus.REVIEW,
            review_deadline=now + timedelta(days=referral.program.review_days),
        )
    elif outcome == fraud.BLOCK:
        changes.update(fraud_status=FraudStatus.BLOCKED, review_deadline=None)
    Referral.objects.filter(pk=referral.pk).update(**changes)
    for field, value in changes.items():
        setattr(referral, field, value)
    record_assessment(referral, assessment, stage=FraudStage.ORDER, now=now)
    if outcome == fraud.BLOCK:
        from . import referrals

        referrals.reject(referral, reason=blocked_reason(assessment), now=now, record=False)
        return False
    return True


def blocked_reason(assessment: fraud.Assessment) -> str:
    """The rejection reason of a referral the checks blocked."""
    names = ", ".join(signal.name for signal in assessment.signals)
    return gettext("Blocked by the fraud checks (score %(score)s: %(names)s).") % {
        "score": assessment.score,
        "names": names,
    }


# --- the review queue -----------------------------------------------------------------


def _check_reviewer(user: Any) -> None:
    require_staff(
        user, gettext("Only an active staff user can decide a fraud review, not %(user)s.")
    )


def _signals_snapshot(referral: Referral) -> list[dict[str, Any]]:
    return [
        {"name": name, "score": score, "reason": reason}
        for name, score, reason in FraudSignal.objects.filter(referral=referral)
        .order_by("created_at", "pk")
        .values_list("name", "score", "reason")
    ]


def _decide(
    referral: Referral,
    *,
    outcome: str,
    by: Any,
    note: str,
    automatic: bool,
    now: datetime,
) -> Referral:
    """Close the review of ``referral`` with ``outcome`` (approve or reject), under its
    row lock; raises :class:`InvalidTransition` when it is not in review."""
    from . import referrals, rewards

    new_status = FraudStatus.APPROVED if outcome == ReviewOutcome.APPROVE else FraudStatus.REJECTED
    with transaction.atomic():
        # The lock every event of the referred customer takes (see
        # ``referrals.locked_referral``), so a decision and an order apply one at a time.
        locked = (
            Referral.objects.select_for_update()
            .select_related("program")
            .filter(pk=referral.pk)
            .first()
        )
        won = locked is not None and bool(
            Referral.objects.filter(pk=locked.pk, fraud_status=FraudStatus.REVIEW).update(
                fraud_status=new_status, review_deadline=None
            )
        )
        if not won or locked is None:
            current = locked.get_fraud_status_display() if locked is not None else None
            raise InvalidTransition(
                gettext("Referral #%(pk)s is not in review (%(status)s).")
                % {"pk": referral.pk, "status": current or gettext("deleted")},
                referral_id=referral.pk,
            )
        locked.fraud_status = new_status
        locked.review_deadline = None
        approved = new_status == FraudStatus.APPROVED
        FraudDecision.objects.create(
            referral=locked,
            action=FraudAction.APPROVED if approved else FraudAction.REJECTED,
            score=locked.fraud_score,
            signals=_signals_snapshot(locked),
            decided_by=actor(by),
            automatic=automatic,
            note=note,
            created_at=now,
        )
        if approved:
            due = RewardGrant.objects.filter(
                referral=locked, status=GrantStatus.HELD, release_at__lte=now
            ).order_by("pk")
            for grant in due:
                rewards.release(grant, now=now)
        elif locked.status in (ReferralStatus.PENDING, ReferralStatus.CONVERTED):
            referrals.reject(locked, reason=note, rejected_by=actor(by), now=now, record=False)
        else:  # expired or cancelled while in review: only its held rewards remain
            for grant in RewardGrant.objects.filter(referral=locked, status=GrantStatus.HELD):
                rewards.void(grant, reason=note, revoked_by=actor(by), now=now)
    copy_into(locked, referral)
    return referral


def approve_referral(
    referral: Referral, *, by: Any, note: str = "", now: datetime | None = None
) -> Referral:
    """Approve a referral in review (``by``: an active staff user): its rewards are
    released when due (at once if their hold has passed). Raises
    :class:`InvalidTransition` when it is not in review."""
    _check_reviewer(by)
    return _decide(
        referral,
        outcome=ReviewOutcome.APPROVE,
        by=by,
        note=str(note or "").strip(),
        automatic=False,
        now=now or timezone.now(),
    )


def reject_referral(
    referral: Referral, *, by: Any, reason: str, now: datetime | None = None
) -> Referral:
    """Reject a referral in review (``by``: an active staff user; a ``reason`` is
    required): nobody is rewarded, its held rewards are voided. Raises
    :class:`InvalidTransition` when it is not in review."""
    _check_reviewer(by)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument(gettext("Give a reason for rejecting the referral."))
    return _decide(
        referral,
        outcome=ReviewOutcome.REJECT,
        by=by,
        note=reason.strip(),
        automatic=False,
        now=now or timezone.now(),
    )


@dataclasses.dataclass(frozen=True)
class ReviewSweepResult:
    approved: int
    rejected: int
    batches: int


def resolve_due_reviews(
    *, now: datetime | None = None, batch_size: int | None = None
) -> ReviewSweepResult:
    """Apply each program's default outcome to the reviews past their deadline.
    Batched; with ``SKIP LOCKED`` where the database has it, so several workers can run
    it at once; a review decided meanwhile (by staff, or another worker) is skipped, so
    running it twice has no second effect."""
    now = now or timezone.now()
    batch_size = batch_size or app_settings.SWEEP_BATCH_SIZE
    approved = rejected = batches = 0
    due = Referral.objects.filter(
        fraud_status=FraudStatus.REVIEW, review_deadline__lte=now
    ).select_related("program")
    note = gettext("The review deadline passed; the program's default outcome applied.")
    for batch in claim_batches(due, batch_size):
        batches += 1
        for referral in batch:
            outcome = referral.program.review_default_outcome
            try:
                _decide(referral, outcome=outcome, by=None, note=note, automatic=True, now=now)
            except InvalidTransition:  # decided by staff since the batch was read
                continue
            if outcome == ReviewOutcome.APPROVE:
                approved += 1
            else:
                rejected += 1
    return ReviewSweepResult(approved=approved, rejected=rejected, batches=batches)
