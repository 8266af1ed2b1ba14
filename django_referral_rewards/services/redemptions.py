"""Redemptions: members spend points on the reward catalog; staff approve, assign and
fulfil what they asked for.

The state machine (every arrow is a compare-and-set on ``status``; anything else raises
:class:`~django_referral_rewards.exceptions.InvalidTransition` and changes nothing)::

    pending ──approve──▶ approved ──fulfil──▶ fulfilled
       │                    │
       ├──reject──▶ rejected│
       │                    │
       └──cancel──▶ cancelled ◀──cancel──┘

* :func:`request_redemption` takes the points at once (a ``spend`` ledger entry) and one
  unit of stock. The redemption starts ``pending`` when the option needs approval
  (:meth:`RewardOption.needs_approval`: the option always does, or it costs more than the
  program's ``redemption_approval_threshold``), otherwise it is approved on the spot.
* Approving gives what the option gives. A voucher option issues a voucher, a credit
  option credits account credit; both are then complete and move on to ``fulfilled`` in
  the same transaction. An item or service option stays ``approved`` until staff fulfil
  it (with notes, and optionally the host object it was applied to, such as a repair or
  an invoice); it is assigned to a staff user by the configured assigner
  (``REFERRAL_REWARDS_REDEMPTION_ASSIGNER``) when it picks someone.
* Rejecting or cancelling refunds the points with a ``reverse`` entry, which gives them
  back to the very lots they were spent from (with their original expiry dates), and
  puts the unit of stock back.
* ``fulfilled``, ``rejected`` and ``cancelled`` are terminal. Every step writes a
  :class:`~django_referral_rewards.models.RedemptionEvent` (see :func:`history`).

Invariants kept:

* A redemption never takes the balance below zero, whatever runs concurrently
  (invariant 2): the request locks the account row first and the ledger refuses an
  overdraft; a negative balance (after a refund clawback) refuses every redemption.
  Nor does it leave fewer points than the program's ``minimum_balance_after_redemption``.
* Stock never goes below zero: it is taken by a conditional ``UPDATE ... WHERE stock > 0``.
  The per-member limit is counted under the account lock, so concurrent requests of one
  member cannot exceed it.
* The same ``idempotency_key`` again returns the first redemption with no second effect;
  with another account or option it raises
  :class:`~django_referral_rewards.exceptions.IdempotencyConflict` (invariant 4). The
  key is unique in the database, so two racing requests cannot both write.
* Each operation is one transaction (invariant 9); the ledger stays the source of truth
  for balances (invariant 1).
* Signals (``redemption_requested``, ``redemption_status_changed``) and the e-mail to the
  assigned staff user are sent only after the transaction commits (invariant 8).

Locks are always taken in the same order — the redemption row (its status update), then
the account (every ledger write locks it), then the option (its stock) — and a request,
which creates a new redemption, locks the account and then the option, so concurrent
requests, approvals and refunds cannot deadlock one another.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext

from .. import signals
from ..adapter import user_display_name
from ..arguments import check_idempotency_key, check_reference
from ..conf import app_settings
from ..enums import (
    COUNTED_REDEMPTION_STATUSES,
    OPEN_REDEMPTION_STATUSES,
    OptionKind,
    RedemptionAction,
    RedemptionStatus,
    Unit,
)
from ..exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidArgument,
    MinimumBalanceRequired,
    OptionUnavailable,
    OutOfStock,
    RedemptionError,
    RedemptionLimitReached,
    TierRequired,
)
from ..models import Account, Redemption, RedemptionEvent, RewardOption, Tier
from ..signals import send_on_commit
from . import ledger, vouchers
from .accounts import get_or_create_account
from .workflow import Step, announce, compare_and_set, copy_into, illegal, require_staff, when
from .workflow import actor as _actor

logger = logging.getLogger(__name__)

#: Why an option cannot be redeemed: a :class:`RedemptionError` subclass, or
#: :class:`InsufficientBalance` (raised by the ledger, so not a ``RedemptionError``).
Refusal = RedemptionError | InsufficientBalance


@dataclasses.dataclass(frozen=True)
class OptionChoice:
    """One catalog option as a member sees it: whether they may redeem it now, and if
    not, the error :func:`request_redemption` would raise (its ``message`` says why)."""

    option: RewardOption
    allowed: bool
    error: Refusal | None = None


# --- checks ---------------------------------------------------------------------------


def _refusal(
    option: RewardOption,
    account: Account,
    *,
    balance: int,
    rank: Callable[[], int | None],
    used: Callable[[], int],
    now: datetime,
) -> Refusal | None:
    """The first reason ``account`` (with ``balance`` points) cannot redeem ``option``
    at ``now``, or ``None``. ``rank`` and ``used`` are called only when needed: the
    rank of the account's tier, and how many redemptions of the option count against
    its per-member limit."""
    context = {"option_id": option.pk, "account_id": account.pk}
    if option.program_id != account.program_id:
        return OptionUnavailable(gettext("This reward belongs to another program."), **context)
    if not option.active:
        return OptionUnavailable(gettext("This reward is no longer offered."), **context)
    if option.starts_at is not None and now < option.starts_at:
        return OptionUnavailable(
            gettext("This reward is available from %(date)s.") % {"date": when(option.starts_at)},
            **context,
        )
    if option.ends_at is not None and now >= option.ends_at:
        return OptionUnavailable(
            gettext("This reward was available until %(date)s.") % {"date": when(option.ends_at)},
            **context,
        )
    if option.stock is not None and option.stock <= 0:
        return OutOfStock(gettext("This reward is out of stock."), **context)
    if option.minimum_tier_id is not None and account.tier_id != option.minimum_tier_id:
        minimum = option.minimum_tier
        current = rank() if account.tier_id is not None else None
        if minimum is not None and (current is None or current < minimum.rank):
            return TierRequired(
                gettext("This reward needs the %(tier)s tier or higher.") % {"tier": minimum.name},
                tier_id=minimum.pk,
                **context,
            )
    limit = option.per_member_limit
    if limit is not None and used() >= limit:
        return RedemptionLimitReached(
            gettext("You have redeemed this reward as many times as allowed (%(limit)s).")
            % {"limit": limit},
            limit=limit,
            **context,
        )
    cost = option.points_cost
    if balance < cost:
        return InsufficientBalance(
            gettext("You have %(balance)s points; this reward costs %(cost)s.")
            % {"balance": balance, "cost": cost},
            balance=balance,
            requested=cost,
            unit=Unit.POINTS,
            **context,
        )
    minimum_left = option.program.minimum_balance_after_redemption
    if balance - cost < minimum_left:
        return MinimumBalanceRequired(
            gettext(
                "You must keep at least %(minimum)s points after a redemption; "
                "you have %(balance)s and this reward costs %(cost)s."
            )
            % {"minimum": minimum_left, "balance": balance, "cost": cost},
            minimum=minimum_left,
            balance=balance,
            requested=cost,
            **context,
        )
    return None


def _tier_rank(account: Account) -> int | None:
    if account.tier_id is None:
        return None
    ranks = Tier.objects.filter(pk=account.tier_id).order_by().values_list("rank", flat=True)
    return next(iter(ranks), None)


def _count_of(counts: dict[int, int], option_id: int) -> int:
    return counts.get(option_id, 0)


def _times_redeemed(account: Account, option: RewardOption) -> int:
    return Redemption.objects.filter(
        account_id=account.pk, option_id=option.pk, status__in=COUNTED_REDEMPTION_STATUSES
    ).count()


def available(option: RewardOption, account: Account, *, now: datetime | None = None) -> None:
    """Raise the error explaining why ``account`` cannot redeem ``option`` now; return
    ``None`` when it can.

    The errors: :class:`OptionUnavailable` (inactive, outside its ``starts_at`` ..
    ``ends_at`` window, or in another program), :class:`OutOfStock`,
    :class:`TierRequired`, :class:`RedemptionLimitReached`, :class:`InsufficientBalance`
    (also for a negative balance) and :class:`MinimumBalanceRequired`. A read-only
    pre-check for the portal and the API, using the balance and tier loaded on
    ``account``; :func:`request_redemption` checks again under the account lock.
    """
    now = now or timezone.now()
    error = _refusal(
        option,
        account,
        balance=account.points_balance,
        rank=lambda: _tier_rank(account),
        used=lambda: _times_redeemed(account, option),
        now=now,
    )
    if error is not None:
        raise error


def options_for(account: Account, *, now: datetime | None = None) -> list[OptionChoice]:
    """The catalog of ``account``'s program as the member sees it: every active option
    whose availability window has not ended (upcoming ones are listed as not yet
    available), in catalog order, each with whether the member may redeem it now and
    why not. At most three queries, whatever the number of options."""
    now = now or timezone.now()
    options = list(
        RewardOption.objects.filter(program_id=account.program_id, active=True)
        .exclude(ends_at__lte=now)
        .select_related("program", "minimum_tier")
        .order_by("position", "points_cost", "pk")
    )
    rank: int | None = None
    if account.tier_id is not None and any(o.minimum_tier_id for o in options):
        rank = _tier_rank(account)
    limited = [o.pk for o in options if o.per_member_limit is not None]
    used: dict[int, int] = {}
    if limited:
        used = dict(
            Redemption.objects.filter(
                account_id=account.pk,
                option_id__in=limited,
                status__in=COUNTED_REDEMPTION_STATUSES,
            )
            .order_by()
            .values("option_id")
            .annotate(n=Count("pk"))
            .values_list("option_id", "n")
        )
    choices = []
    for option in options:
        error = _refusal(
            option,
            account,
            balance=account.points_balance,
            rank=lambda: rank,
            used=functools.partial(_count_of, used, option.pk),
            now=now,
        )
        choices.append(OptionChoice(option=option, allowed=error is None, error=error))
    return choices


# --- arguments ------------------------------------------------------------------------


def _ledger_key(key: str | None, suffix: str) -> str | None:
    """The ledger idempotency key derived from a redemption's key (hashed when the key
    is too long to carry whole)."""
    if key is None:
        return None
    derived = f"redemption-key:{key}:{suffix}"
    if len(derived) > 200:
        digest = hashlib.sha256(key.encode()).hexdigest()
        derived = f"redemption-key:sha256:{digest}:{suffix}"
    return derived


def _check_staff(user: Any) -> None:
    require_staff(
        user, gettext("Redemptions can only be assigned to active staff users, not %(user)s.")
    )


# --- plumbing -------------------------------------------------------------------------


def _event(
    redemption: Redemption,
    action: str,
    *,
    status: str | None = None,
    actor: Any = None,
    note: str = "",
    now: datetime,
) -> RedemptionEvent:
    """An unsaved history entry (saved in bulk by the caller)."""
    return RedemptionEvent(
        redemption=redemption,
        action=action,
        status=status or redemption.status,
        actor=_actor(actor),
        note=note,
        created_at=now,
    )


def _load(redemption: Redemption) -> Redemption:
    current = Redemption.objects.select_related("program", "account", "option", "spend_entry").get(
        pk=redemption.pk
    )
    current.account.program = current.program
    current.option.program = current.program
    # Lets the ledger refresh this account's balances when it refunds the spend.
    current.spend_entry.account = current.account
    return current


def _begin(
    redemption: Redemption,
    *,
    allowed: tuple[str, ...],
    attempted: str,
    new: str,
    **updates: Any,
) -> str:
    """Load, compare-and-set, and refresh the caller's instance (which the step then
    works on). Returns the old status."""
    current = _load(redemption)
    old = compare_and_set(current, allowed=allowed, attempted=attempted, new=new, **updates)
    copy_into(current, redemption)
    return old


def _notify_assigned(redemption: Redemption, user: Any) -> None:
    def send() -> None:
        app_settings.notifier().redemption_assigned(redemption, user=user)

    transaction.on_commit(send, robust=True)


def _set_assignee(
    redemption: Redemption, user: Any, *, by: Any, now: datetime, events: list[RedemptionEvent]
) -> None:
    compare_and_set(
        redemption,
        allowed=tuple(OPEN_REDEMPTION_STATUSES),
        attempted=gettext("assigned"),
        assigned_to=user,
        assigned_at=now,
    )
    events.append(
        _event(
            redemption,
            RedemptionAction.ASSIGNED,
            actor=by,
            note=gettext("Assigned to %(user)s.") % {"user": user_display_name(user)},
            now=now,
        )
    )
    _notify_assigned(redemption, user)


def _auto_assign(redemption: Redemption, *, now: datetime, events: list[RedemptionEvent]) -> None:
    """Assign an approved item to whoever the assigner picks; nobody picked (or a user
    who cannot fulfil) leaves it unassigned for staff to assign by hand."""
    if redemption.assigned_to_id is not None:
        return
    user = app_settings.redemption_assigner().choose(redemption)
    if user is None:
        return
    try:
        _check_staff(user)
    except InvalidArgument:
        logger.warning(
            "The redemption assigner chose %r for redemption %s, who is not an active "
            "staff user; it stays unassigned.",
            user,
            redemption.pk,
        )
        return
    _set_assignee(redemption, user, by=None, now=now, events=events)


def _deliver(
    redemption: Redemption, *, by: Any, now: datetime, events: list[RedemptionEvent]
) -> list[Step]:
    """Give what an approved redemption's option gives (inside the caller's
    transaction). Vouchers and credit are then complete: the redemption moves on to
    ``fulfilled``. Items stay approved for staff, assigned if the assigner picks
    someone. Returns the status steps taken."""
    option = redemption.option
    account = redemption.account
    updates: dict[str, Any]
    if option.kind == OptionKind.VOUCHER:
        voucher = vouchers.issue_voucher(
            account,
            kind=option.voucher_kind,
            value=option.value,
            valid_days=option.voucher_valid_days,
            description=option.name,
            now=now,
        )
        updates = {"voucher": voucher}
        note = gettext("Voucher %(code)s issued.") % {"code": voucher.display_code}
    elif option.kind == OptionKind.CREDIT:
        program = redemption.program
        minor = program.to_minor(option.value)
        entry = ledger.credit(
            account,
            minor,
            unit=Unit.CREDIT,
            reason=gettext("Reward: %(name)s") % {"name": option.name},
            idempotency_key=f"redemption:{redemption.pk}:credit",
            reference=redemption,
            created_by=_actor(by),
            now=now,
        )
        updates = {"credit_entry": entry}
        note = gettext("%(amount)s %(currency)s credited.") % {
            "amount": program.from_minor(minor),
            "currency": program.currency,
        }
    else:
        _auto_assign(redemption, now=now, events=events)
        return []
    old = compare_and_set(
        redemption,
        allowed=(RedemptionStatus.APPROVED,),
        attempted=gettext("fulfilled"),
        new=RedemptionStatus.FULFILLED,
        fulfilled_at=now,
        fulfilled_by=_actor(by),
        **updates,
    )
    events.append(_event(redemption, RedemptionAction.FULFILLED, actor=by, note=note, now=now))
    return [(old, RedemptionStatus.FULFILLED, by)]


def _give_back(redemption: Redemption, *, by: Any, why: str, now: datetime) -> None:
    """Refund the points (to the lots they came from) and return the unit of stock."""
    option = redemption.option
    reason = gettext("Refund: %(name)s") % {"name": option.name}
    if why:
        reason = f"{reason} ({why})"
    refund = ledger.reverse(
        redemption.spend_entry,
        reason=reason,
        created_by=_actor(by),
        idempotency_key=f"redemption:{redemption.pk}:refund",
        now=now,
    )
    Redemption.objects.filter(pk=redemption.pk).update(refund_entry=refund)
    redemption.refund_entry = refund
    # ``NULL + 1`` stays NULL: an option made unlimited since keeps no count.
    RewardOption.objects.filter(pk=option.pk, stock__isnull=False).update(stock=F("stock") + 1)


# --- the member's request ---------------------------------------------------------------


def _replay(existing: Redemption, account: Account, option_id: int, key: str) -> Redemption:
    if existing.account_id != account.pk or existing.option_id != option_id:
        raise IdempotencyConflict(
            gettext(
                "Idempotency key %(key)r was already used for redemption #%(pk)s of another "
                "option or account; nothing was written."
            )
            % {"key": key, "pk": existing.pk},
            redemption_id=existing.pk,
        )
    return existing


def _request(
    account: Account,
    option_id: int,
    *,
    key: str | None,
    requested_by: Any,
    now: datetime,
) -> Redemption:
    # The account lock comes first: it serialises this member's requests, so the
    # balance, the per-member count and the idempotency key read below cannot change
    # until this transaction ends.
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if key is not None:
        existing = Redemption.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _replay(existing, locked, option_id, key)
    option = RewardOption.objects.select_related("program", "minimum_tier").get(pk=option_id)
    error = _refusal(
        option,
        locked,
        balance=locked.points_balance,
        rank=lambda: _tier_rank(locked),
        used=lambda: _times_redeemed(locked, option),
        now=now,
    )
    if error is not None:
        raise error
    if option.stock is not None:
        taken = RewardOption.objects.filter(pk=option.pk, stock__gt=0).update(stock=F("stock") - 1)
        if not taken:
            raise OutOfStock(gettext("This reward is out of stock."), option_id=option.pk)
    program = option.program
    locked.program = program
    spend = ledger.debit(
        locked,
        option.points_cost,
        reason=gettext("Redeemed: %(name)s") % {"name": option.name},
        idempotency_key=_ledger_key(key, "spend"),
        reference=option,
        created_by=_actor(requested_by),
        now=now,
    )
    minimum_left = program.minimum_balance_after_redemption
    if spend.balance_after < minimum_left:
        # Points past their date were expired by the spend; what is left is too little.
        raise MinimumBalanceRequired(
            gettext("You must keep at least %(minimum)s points after a redemption.")
            % {"minimum": minimum_left},
            minimum=minimum_left,
            option_id=option.pk,
        )
    auto = not option.needs_approval()
    redemption = Redemption.objects.create(
        program=program,
        account=locked,
        option=option,
        points=option.points_cost,
        status=RedemptionStatus.APPROVED if auto else RedemptionStatus.PENDING,
        idempotency_key=key,
        spend_entry=spend,
        processed_at=now if auto else None,
        requested_at=now,
    )
    events = [
        _event(
            redemption,
            RedemptionAction.REQUESTED,
            status=RedemptionStatus.PENDING,
            actor=requested_by,
            now=now,
        )
    ]
    send_on_commit(
        signals.redemption_requested, sender=Redemption, redemption=redemption, account=locked
    )
    steps: list[Step] = []
    if auto:
        events.append(
            _event(
                redemption,
                RedemptionAction.APPROVED,
                status=RedemptionStatus.APPROVED,
                note=gettext("Approved automatically: this reward needs no approval."),
                now=now,
            )
        )
        steps.append((RedemptionStatus.PENDING, RedemptionStatus.APPROVED, None))
        steps += _deliver(redemption, by=None, now=now, events=events)
    RedemptionEvent.objects.bulk_create(events)
    announce(signals.redemption_status_changed, redemption, steps)
    for field in (*Account.BALANCE_FIELDS.values(), "lifetime_points"):
        setattr(account, field, getattr(locked, field))
    return redemption


def request_redemption(
    account: Any,
    option: RewardOption,
    *,
    idempotency_key: str | None = None,
    requested_by: Any = None,
    now: datetime | None = None,
) -> Redemption:
    """Redeem ``option`` for ``account`` and return the new :class:`Redemption`.

    ``account`` is an :class:`Account`, or a host user or member (then their account in
    the option's program, created if needed; a user is also recorded as the requester
    unless ``requested_by`` says who asked). In one transaction it locks the account,
    checks again everything :func:`available` checks, takes one unit of stock (if the
    option counts stock) and debits the points. The redemption is ``pending`` when the
    option needs approval; otherwise it is approved at once and, for a voucher or credit
    option, fulfilled (the voucher issued, the credit given) before this returns. Raises
    the errors listed in :func:`available`; nothing is written then.

    The same ``idempotency_key`` again returns the first redemption and does nothing
    else; with another account or option it raises :class:`IdempotencyConflict`.

    After commit: ``redemption_requested``, then ``redemption_status_changed`` for each
    step taken at once (approved, fulfilled).
    """
    now = now or timezone.now()
    key = check_idempotency_key(idempotency_key)
    if not isinstance(option, RewardOption) or option.pk is None:
        raise InvalidArgument(gettext("option must be a saved reward option."))
    if not isinstance(account, Account):
        if requested_by is None and getattr(account, "is_authenticated", False):
            requested_by = account
        account = get_or_create_account(account, program=option.program)
    if account.pk is None:
        raise InvalidArgument(gettext("The account must be saved before it can redeem."))
    try:
        with transaction.atomic():
            return _request(account, option.pk, key=key, requested_by=requested_by, now=now)
    except IntegrityError:
        # Two requests with one key raced and the other committed first.
        if key is None:
            raise
        existing = Redemption.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, account, option.pk, key)


# --- staff steps --------------------------------------------------------------------------


def approve(
    redemption: Redemption, *, by: Any = None, note: str = "", now: datetime | None = None
) -> Redemption:
    """Approve a pending redemption (``pending`` → ``approved``) and give what its option
    gives: a voucher or credit (the redemption is then ``fulfilled`` too), or, for an item,
    an assignment to the staff user the assigner picks. Raises :class:`InvalidTransition`
    for a redemption that is not pending. ``redemption`` is refreshed and returned."""
    now = now or timezone.now()
    with transaction.atomic():
        old = _begin(
            redemption,
            allowed=(RedemptionStatus.PENDING,),
            attempted=gettext("approved"),
            new=RedemptionStatus.APPROVED,
            processed_by=_actor(by),
            processed_at=now,
        )
        events = [_event(redemption, RedemptionAction.APPROVED, actor=by, note=note, now=now)]
        steps: list[Step] = [(old, RedemptionStatus.APPROVED, by)]
        steps += _deliver(redemption, by=by, now=now, events=events)
        RedemptionEvent.objects.bulk_create(events)
        announce(signals.redemption_status_changed, redemption, steps)
    return redemption


def reject(
    redemption: Redemption, *, by: Any = None, reason: str, now: datetime | None = None
) -> Redemption:
    """Reject a pending redemption (``pending`` → ``rejected``): the points are refunded
    (``refund_entry``, a reversal giving them back to the lots they came from) and the
    unit of stock returned. ``reason`` is required and recorded. Raises
    :class:`InvalidTransition` for a redemption that is not pending."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument(gettext("Give a reason for rejecting the redemption."))
    reason = reason.strip()
    now = now or timezone.now()
    with transaction.atomic():
        old = _begin(
            redemption,
            allowed=(RedemptionStatus.PENDING,),
            attempted=gettext("rejected"),
            new=RedemptionStatus.REJECTED,
            processed_by=_actor(by),
            processed_at=now,
            reason=reason[:255],
        )
        _give_back(redemption, by=by, why=reason, now=now)
        _event(redemption, RedemptionAction.REJECTED, actor=by, note=reason, now=now).save()
        announce(
            signals.redemption_status_changed, redemption, [(old, RedemptionStatus.REJECTED, by)]
        )
    return redemption


def cancel(
    redemption: Redemption, *, by: Any = None, reason: str = "", now: datetime | None = None
) -> Redemption:
    """Cancel a redemption that is not fulfilled yet (``pending`` or ``approved`` →
    ``cancelled``), by the member or staff: the points are refunded and the unit of
    stock returned, as for :func:`reject`. A voucher or credit already given stays
    given (such redemptions are fulfilled at once, so cannot be cancelled)."""
    if not isinstance(reason, str):
        raise InvalidArgument(gettext("The reason must be text."))
    reason = reason.strip()
    now = now or timezone.now()
    with transaction.atomic():
        old = _begin(
            redemption,
            allowed=tuple(OPEN_REDEMPTION_STATUSES),
            attempted=gettext("cancelled"),
            new=RedemptionStatus.CANCELLED,
            reason=reason[:255],
        )
        _give_back(redemption, by=by, why=reason, now=now)
        _event(redemption, RedemptionAction.CANCELLED, actor=by, note=reason, now=now).save()
        announce(
            signals.redemption_status_changed, redemption, [(old, RedemptionStatus.CANCELLED, by)]
        )
    return redemption


def assign(
    redemption: Redemption,
    user: Any = None,
    *,
    by: Any = None,
    now: datetime | None = None,
) -> Redemption:
    """Assign a pending or approved redemption to staff ``user`` (``None``: whoever
    ``REFERRAL_REWARDS_REDEMPTION_ASSIGNER`` chooses), who is e-mailed after commit
    (``REFERRAL_REWARDS_NOTIFIER``; a failure to send is logged, not raised: the
    assignment stands). The user must be an active staff user; when the
    assigner finds nobody, :class:`InvalidArgument` says so. Assigning to someone else
    later is allowed and recorded again; assigning to the current assignee changes
    nothing. Raises :class:`InvalidTransition` once the redemption is closed."""
    now = now or timezone.now()
    with transaction.atomic():
        current = _load(redemption)
        if current.status not in OPEN_REDEMPTION_STATUSES:
            raise illegal(current, current.status, gettext("assigned"))
        copy_into(current, redemption)
        current = redemption
        if user is None:
            user = app_settings.redemption_assigner().choose(current)
            if user is None:
                raise InvalidArgument(
                    gettext(
                        "Nobody could be chosen to fulfil redemption #%(pk)s: add active "
                        "staff users to the fulfilment group (the program's, or the "
                        "REFERRAL_REWARDS_FULFILMENT_GROUP setting), or choose a user."
                    )
                    % {"pk": current.pk},
                    redemption_id=current.pk,
                )
        _check_staff(user)
        if current.assigned_to_id == user.pk:
            return redemption
        events: list[RedemptionEvent] = []
        _set_assignee(redemption, user, by=by, now=now, events=events)
        RedemptionEvent.objects.bulk_create(events)
    return redemption


def fulfil(
    redemption: Redemption,
    *,
    by: Any,
    notes: str = "",
    applied_to: Any = None,
    now: datetime | None = None,
) -> Redemption:
    """Mark an approved redemption done (``approved`` → ``fulfilled``) by staff ``by``,
    with fulfilment ``notes`` and optionally the host object it was applied to:
    a ``(type, id)`` pair such as ``("repair", 123)``, or a saved model instance, stored
    as ``("app_label.modelname", str(pk))`` (the form ledger references use). Type and id
    are at most 100 characters each (:class:`InvalidArgument`)."""
    if not isinstance(notes, str):
        raise InvalidArgument(gettext("Fulfilment notes must be text."))
    ref_type, ref_id = check_reference(applied_to, "applied_to")
    now = now or timezone.now()
    with transaction.atomic():
        old = _begin(
            redemption,
            allowed=(RedemptionStatus.APPROVED,),
            attempted=gettext("fulfilled"),
            new=RedemptionStatus.FULFILLED,
            fulfilled_by=_actor(by),
            fulfilled_at=now,
            notes=notes,
            applied_to_type=ref_type,
            applied_to_id=ref_id,
        )
        _event(redemption, RedemptionAction.FULFILLED, actor=by, note=notes, now=now).save()
        announce(
            signals.redemption_status_changed, redemption, [(old, RedemptionStatus.FULFILLED, by)]
        )
    return redemption


def history(redemption: Redemption) -> list[RedemptionEvent]:
    """Every step of ``redemption``, oldest first, with the staff user who took it."""
    return list(
        RedemptionEvent.objects.filter(redemption_id=redemption.pk)
        .select_related("actor")
        .order_by("created_at", "pk")
    )


__all__ = [
    "OptionChoice",
    "Refusal",
    "approve",
    "assign",
    "available",
    "cancel",
    "fulfil",
    "history",
    "options_for",
    "reject",
    "request_redemption",
]
