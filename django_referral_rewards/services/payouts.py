"""Commission payouts: members ask to be paid the commission they earned; staff
approve and pay them.

The state machine (every arrow is a compare-and-set on ``status``; anything else raises
:class:`~django_referral_rewards.exceptions.InvalidTransition` and changes nothing)::

    pending ──approve──▶ approved ──mark paid──▶ paid
       │                  │    ▲
       │                  send │ failed
       │                  ▼    │
       │                processing ──sent──▶ paid
       │                  │
       └──cancel──▶ cancelled ◀──cancel── (pending or approved)

* :func:`request_payout` takes the amount from the commission balance at once (a
  ``payout`` ledger entry, under the account's row lock), so two requests, however
  concurrent, can never pay out more than was earned (invariant 2). It is refused below
  the program's ``payout_minimum`` and above the available commission.
* :func:`approve_payout` is a staff user's decision. An account-credit payout is then
  paid at once, in the same transaction: the amount arrives in the account's credit
  balance (a ``transfer`` entry), for the host to apply to its billing.
* Other methods are paid outside: staff pay (a bank batch exported from the admin, cash,
  a cheque) and :func:`mark_paid` records the payment's reference. With an automatic
  payout backend (``REFERRAL_REWARDS_PAYOUT_BACKEND``), :func:`send_payout` sends it:
  the payout is marked ``processing`` and committed, the backend is called outside any
  transaction or lock, and the answer is recorded in a second transaction — paid with
  the provider's reference, or back to ``approved`` with the error (retryable).
* :func:`cancel_payout` gives the amount back (the reversal of the ``payout`` entry,
  to the very commission it came from).
* Every step writes a :class:`~django_referral_rewards.models.PayoutEvent`; the
  ``payout_requested`` and ``payout_status_changed`` signals are sent after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from .. import signals
from ..arguments import check_idempotency_key, check_text
from ..conf import app_settings
from ..enums import EntryKind, PayoutAction, PayoutMethod, PayoutStatus, Unit
from ..exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidArgument,
    PayoutBelowMinimum,
    PayoutError,
    PayoutSendFailed,
)
from ..models import Account, LedgerEntry, Payout, PayoutEvent, Program
from ..money import as_decimal
from ..signals import send_on_commit
from . import ledger
from .accounts import get_or_create_account
from .workflow import (
    Step,
    actor,
    announce,
    compare_and_set,
    copy_into,
    illegal,
    is_active_staff,
    require_staff,
    when,
)

logger = logging.getLogger(__name__)

MAX_DESTINATION = 255
MAX_REFERENCE = 200


# --- checks -----------------------------------------------------------------------------


def _check_positive(value: Any) -> Decimal:
    amount = as_decimal(value)
    if amount <= 0:
        raise InvalidAmount(gettext("The payout amount must be more than zero."), amount=value)
    return amount


def _check_method(method: Any) -> str:
    if method not in PayoutMethod.values:
        raise InvalidArgument(
            gettext("Unknown payout method %(method)r; use one of: %(choices)s.")
            % {"method": method, "choices": ", ".join(PayoutMethod.values)},
            method=method,
        )
    return str(method)


def _check_user(value: Any, name: str) -> Any:
    """``value`` when it is ``None`` (the system, or the member themselves, acted) or a
    saved user; anything else (a member, a username) is refused, never stored."""
    if value is None:
        return None
    if not isinstance(value, get_user_model()) or value.pk is None:
        raise InvalidArgument(
            gettext("%(name)s must be a saved user or None, not %(value)r.")
            % {"name": name, "value": value},
        )
    return value


def check_staff(user: Any, doing: str) -> None:
    """Refuse anyone but an active staff user for a staff step."""
    require_staff(
        user,
        gettext("Only an active staff user can %(doing)s a payout, not %(user)s."),
        doing=doing,
    )


def money(program: Program, amount: Decimal) -> str:
    """``"20.00 EUR"`` (at the currency's decimal places)."""
    places = Decimal(1).scaleb(-program.currency_decimal_places)
    return f"{amount.quantize(places)} {program.currency}"


def available(account: Account) -> Decimal:
    """The commission ``account`` may ask to be paid now (its balance as loaded; never
    negative)."""
    return account.program.from_minor(max(account.commission_balance, 0))


# --- plumbing ---------------------------------------------------------------------------


def _event(
    payout: Payout, action: str, *, by: Any = None, note: str = "", now: datetime
) -> PayoutEvent:
    return PayoutEvent.objects.create(
        payout=payout,
        action=action,
        status=payout.status,
        actor=actor(by),
        note=note,
        created_at=now,
    )


def _load(payout: Payout) -> Payout:
    if not isinstance(payout, Payout) or payout.pk is None:
        raise InvalidArgument(gettext("payout must be a saved payout."))
    current = Payout.objects.select_related("program", "account", "reserve_entry").get(pk=payout.pk)
    current.account.program = current.program
    if current.reserve_entry is not None:
        # Lets the ledger refresh this account's balances when it gives the amount back.
        current.reserve_entry.account = current.account
    return current


def _begin(
    payout: Payout, *, allowed: tuple[str, ...], attempted: str, new: str, **updates: Any
) -> str:
    current = _load(payout)
    old = compare_and_set(current, allowed=allowed, attempted=attempted, new=new, **updates)
    copy_into(current, payout)
    return old


def _pay(payout: Payout, *, by: Any, reference: str, note: str, now: datetime) -> Step:
    """Move an approved (or processing) payout to ``paid``; an account-credit payout
    credits the account's credit balance in the same transaction."""
    old = compare_and_set(
        payout,
        allowed=(PayoutStatus.APPROVED, PayoutStatus.PROCESSING),
        attempted=gettext("paid"),
        new=PayoutStatus.PAID,
        paid_at=now,
        paid_by=actor(by),
        external_reference=reference,
    )
    if payout.method == PayoutMethod.ACCOUNT_CREDIT:
        entry = ledger.credit(
            payout.account,
            payout.program.to_minor(payout.amount),
            unit=Unit.CREDIT,
            kind=EntryKind.TRANSFER,
            reason=gettext("Commission taken as account credit"),
            idempotency_key=f"payout:{payout.pk}:credit",
            reference=payout,
            created_by=actor(by),
            now=now,
        )
        Payout.objects.filter(pk=payout.pk).update(credit_entry=entry)
        payout.credit_entry = entry
        note = note or gettext("%(amount)s credited to the account.") % {
            "amount": money(payout.program, payout.amount)
        }
    _event(payout, PayoutAction.PAID, by=by, note=note, now=now)
    return (old, PayoutStatus.PAID, by)


# --- the member's request ---------------------------------------------------------------


def _replay(existing: Payout, account: Account, amount: Decimal, method: str, key: str) -> Payout:
    if existing.account_id != account.pk or existing.amount != amount or existing.method != method:
        raise IdempotencyConflict(
            gettext(
                "Idempotency key %(key)r was already used for payout #%(pk)s of another "
                "amount, method or account; nothing was written."
            )
            % {"key": key, "pk": existing.pk},
            payout_id=existing.pk,
        )
    return existing


def _request(
    account: Account,
    *,
    amount: Decimal,
    minor: int,
    method: str,
    destination: str,
    key: str | None,
    requested_by: Any,
    now: datetime,
) -> Payout:
    # The account lock first: it serialises this member's requests, so the balance and
    # the idempotency key read below cannot change until this transaction ends.
    locked = Account.objects.select_for_update().select_related("program").get(pk=account.pk)
    program = locked.program
    if key is not None:
        existing = Payout.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _replay(existing, locked, amount, method, key)
    payout = Payout.objects.create(
        program=program,
        account=locked,
        amount=amount,
        currency=program.currency,
        method=method,
        destination=destination,
        idempotency_key=key,
        requested_by=actor(requested_by),
        requested_at=now,
    )
    try:
        entry = ledger.debit(
            locked,
            minor,
            unit=Unit.COMMISSION,
            kind=EntryKind.PAYOUT,
            reason=gettext("Payout requested (%(method)s)")
            % {"method": PayoutMethod(method).label.lower()},
            reference=payout,
            created_by=actor(requested_by),
            now=now,
        )
    except InsufficientBalance as exc:
        left = program.from_minor(max(exc.balance or 0, 0))
        raise InsufficientBalance(
            gettext("%(available)s of commission is available; %(amount)s was requested.")
            % {"available": money(program, left), "amount": money(program, amount)},
            balance=exc.balance,
            requested=minor,
            unit=Unit.COMMISSION,
        ) from None
    Payout.objects.filter(pk=payout.pk).update(reserve_entry=entry)
    payout.reserve_entry = entry
    payout.account = locked
    _event(payout, PayoutAction.REQUESTED, by=requested_by, now=now)
    send_on_commit(signals.payout_requested, sender=Payout, payout=payout, account=locked)
    for field in Account.BALANCE_FIELDS.values():
        setattr(account, field, getattr(locked, field))
    return payout


def request_payout(
    account: Any,
    *,
    amount: Any,
    method: str,
    destination: str = "",
    program: Program | str | None = None,
    idempotency_key: str | None = None,
    requested_by: Any = None,
    now: datetime | None = None,
) -> Payout:
    """Ask for ``amount`` (a ``Decimal`` of the program currency) of ``account``'s
    commission to be paid by ``method`` (``bank_transfer``, ``cash``, ``cheque`` or
    ``account_credit``), and return the new ``pending`` :class:`Payout`.

    ``account`` is an :class:`Account`, or a host user or member (then their account in
    ``program``; a user is also recorded as the requester unless ``requested_by`` says
    who asked). ``destination`` says where to send it (an account number, an address).

    The amount leaves the commission balance at once (reserved), under the account's
    row lock. Raises :class:`PayoutBelowMinimum` below the program's ``payout_minimum``,
    :class:`InsufficientBalance` above the available commission,
    :class:`InvalidAmount` or :class:`InvalidArgument` for bad input; nothing is written
    then. The same ``idempotency_key`` again returns the first payout; with another
    account, amount or method it raises :class:`IdempotencyConflict`.

    After commit: ``payout_requested``.
    """
    now = now or timezone.now()
    key = check_idempotency_key(idempotency_key)
    method = _check_method(method)
    destination = check_text(destination, "destination", MAX_DESTINATION)
    requested_by = _check_user(requested_by, "requested_by")
    amount = _check_positive(amount)
    if not isinstance(account, Account):
        if requested_by is None and getattr(account, "is_authenticated", False):
            requested_by = account
        account = get_or_create_account(account, program=program)
    if account.pk is None:
        raise InvalidArgument(gettext("The account must be saved before it can be paid."))
    program_obj = Program.objects.get(pk=account.program_id)
    minor = program_obj.to_minor(amount)
    if key is not None:
        # A retry returns the first payout even if the program's terms changed since.
        existing = Payout.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _replay(existing, account, amount, method, key)
    if amount < program_obj.payout_minimum:
        raise PayoutBelowMinimum(
            gettext("The minimum payout is %(minimum)s.")
            % {"minimum": money(program_obj, program_obj.payout_minimum)},
            minimum=str(program_obj.payout_minimum),
            amount=str(amount),
        )
    try:
        with transaction.atomic():
            return _request(
                account,
                amount=amount,
                minor=minor,
                method=method,
                destination=destination,
                key=key,
                requested_by=requested_by,
                now=now,
            )
    except IntegrityError:
        # Two requests with one key raced and the other committed first.
        if key is None:
            raise
        existing = Payout.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, account, amount, method, key)


# --- staff steps ------------------------------------------------------------------------


def approve_payout(
    payout: Payout, *, by: Any, note: str = "", now: datetime | None = None
) -> Payout:
    """Approve a pending payout (``pending`` → ``approved``); ``by`` must be an active
    staff user. An account-credit payout is paid at once (→ ``paid``): its amount is
    added to the account's credit balance in the same transaction. ``payout`` is
    refreshed and returned."""
    check_staff(by, gettext("approve"))
    note = check_text(note, "note", 10_000)
    now = now or timezone.now()
    with transaction.atomic():
        old = _begin(
            payout,
            allowed=(PayoutStatus.PENDING,),
            attempted=gettext("approved"),
            new=PayoutStatus.APPROVED,
            approved_by=by,
            approved_at=now,
        )
        _event(payout, PayoutAction.APPROVED, by=by, note=note, now=now)
        steps: list[Step] = [(old, PayoutStatus.APPROVED, by)]
        if payout.method == PayoutMethod.ACCOUNT_CREDIT:
            steps.append(_pay(payout, by=by, reference="", note="", now=now))
        announce(signals.payout_status_changed, payout, steps)
    return payout


def mark_paid(
    payout: Payout,
    *,
    by: Any,
    reference: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Payout:
    """Record that an approved payout was paid (by bank transfer, cash or cheque,
    outside this system): ``approved`` (or ``processing``) → ``paid``, with the
    payment's ``reference`` (the bank's, the cheque number). ``by`` must be an active
    staff user."""
    check_staff(by, gettext("mark paid"))
    reference = check_text(reference, "reference", MAX_REFERENCE)
    note = check_text(note, "note", 10_000)
    now = now or timezone.now()
    with transaction.atomic():
        current = _load(payout)
        step = _pay(current, by=by, reference=reference, note=note, now=now)
        copy_into(current, payout)
        announce(signals.payout_status_changed, payout, [step])
    return payout


def cancel_payout(
    payout: Payout,
    *,
    by: Any = None,
    reason: str = "",
    as_member: bool = False,
    now: datetime | None = None,
) -> Payout:
    """Cancel a payout that is not paid or being sent (``pending`` or ``approved`` →
    ``cancelled``): the member may cancel a pending payout; an approved one (perhaps in
    a bank batch already) only staff, or code acting as the system (``by=None``). The
    amount goes back to the commission
    balance (``return_entry``, the reversal of the reservation). A negative balance
    left by a clawback meanwhile is repaid first.

    ``as_member=True`` says ``by`` acts as the payout's member (the member portal), even
    if they are staff: only a pending payout may then be cancelled, checked in the same
    compare-and-set as the change, so an approval that lands first wins."""
    by = _check_user(by, "by")
    reason = check_text(reason, "reason", 255)
    now = now or timezone.now()
    staff = is_active_staff(by) and not as_member
    with transaction.atomic():
        old = _begin(
            payout,
            # Once approved it may be in a bank batch already: only staff cancel it.
            allowed=(PayoutStatus.PENDING, PayoutStatus.APPROVED)
            if staff or (by is None and not as_member)
            else (PayoutStatus.PENDING,),
            attempted=gettext("cancelled"),
            new=PayoutStatus.CANCELLED,
            cancelled_at=now,
            reason=reason,
        )
        if payout.reserve_entry is not None:
            back = ledger.reverse(
                payout.reserve_entry,
                reason=gettext("Payout cancelled") + (f" ({reason})" if reason else ""),
                created_by=actor(by),
                idempotency_key=f"payout:{payout.pk}:return",
                now=now,
            )
            Payout.objects.filter(pk=payout.pk).update(return_entry=back)
            payout.return_entry = back
        _event(payout, PayoutAction.CANCELLED, by=by, note=reason, now=now)
        announce(signals.payout_status_changed, payout, [(old, PayoutStatus.CANCELLED, by)])
    return payout


#: How long a payout stays ``processing`` before ``send_payout(resume=True)`` takes it
#: for a dead attempt: a live attempt (a slow provider) is never sent a second time.
RESUME_AFTER = timedelta(minutes=15)


def _claim_for_sending(current: Payout, *, resume: bool, now: datetime) -> str:
    """Mark ``current`` ``processing`` for one more attempt, only if nobody has started
    an attempt since it was read (the attempt count is part of the condition) and, for
    a payout already ``processing``, only when ``resume`` is set and that attempt began
    at least :data:`RESUME_AFTER` ago. So two workers can never call the provider for
    one payout at once. Returns the old status."""
    old = current.status
    claimable = Q(status=PayoutStatus.APPROVED)
    if resume:
        claimable |= Q(status=PayoutStatus.PROCESSING) & (
            Q(submitted_at__lte=now - RESUME_AFTER) | Q(submitted_at__isnull=True)
        )
    won = Payout.objects.filter(claimable, pk=current.pk, attempts=current.attempts).update(
        status=PayoutStatus.PROCESSING,
        attempts=current.attempts + 1,
        submitted_at=now,
        last_error="",
    )
    if not won:
        status, started = Payout.objects.filter(pk=current.pk).values_list(
            "status", "submitted_at"
        ).first() or (None, None)
        if status != PayoutStatus.PROCESSING or not resume or started is None:
            raise illegal(current, status, gettext("sent"))
        raise PayoutError(
            gettext(
                "Payout #%(pk)s is being sent (an attempt began at %(started)s); it can be "
                "sent again from %(retry)s if that attempt died."
            )
            % {
                "pk": current.pk,
                "started": when(started),
                "retry": when(started + RESUME_AFTER),
            },
            payout_id=current.pk,
        )
    current.status = PayoutStatus.PROCESSING
    current.attempts += 1
    current.submitted_at = now
    current.last_error = ""
    return str(old)


def send_payout(
    payout: Payout, *, by: Any = None, resume: bool = False, now: datetime | None = None
) -> Payout:
    """Send an approved payout through the payout backend (``approved`` →
    ``processing`` → ``paid``).

    Must be called outside any transaction: the payout is marked ``processing`` and
    committed, then the backend's ``submit`` runs with no transaction open and no row
    locked, then its answer is recorded. On success the payout is ``paid`` with the
    provider's reference. If the backend raises, the payout goes back to ``approved``
    with the error in ``last_error`` and :class:`PayoutSendFailed` is raised: send it
    again when the cause is fixed. ``resume=True`` also sends a payout left
    ``processing`` by a crash, once its attempt began :data:`RESUME_AFTER` (15 minutes)
    ago (the backend receives the same ``submission_key``, so it cannot pay twice);
    sooner, :class:`PayoutError` says when it may be resumed. Raises
    :class:`PayoutError` with the manual backend.
    """
    by = _check_user(by, "by")
    backend = app_settings.payout_backend()
    if not backend.automatic:
        raise PayoutError(
            gettext(
                "The payout backend does not send payouts: pay it, then mark it paid with "
                "the payment's reference."
            ),
            payout_id=payout.pk,
        )
    if transaction.get_connection().in_atomic_block:
        raise PayoutError(
            gettext(
                "send_payout() calls the payout provider and must run outside a database "
                "transaction (no locks may be held while it waits)."
            ),
            payout_id=payout.pk,
        )
    given_now = now
    now = now or timezone.now()
    with transaction.atomic():
        current = _load(payout)
        if current.method == PayoutMethod.ACCOUNT_CREDIT:
            raise PayoutError(
                gettext("Account-credit payouts are paid when approved; nothing to send."),
                payout_id=payout.pk,
            )
        old = _claim_for_sending(current, resume=resume, now=now)
        _event(current, PayoutAction.SUBMITTED, by=by, now=now)
        if old != PayoutStatus.PROCESSING:
            announce(signals.payout_status_changed, current, [(old, PayoutStatus.PROCESSING, by)])
    copy_into(current, payout)
    try:
        reference = backend.submit(current)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning("Sending payout %s failed: %s", payout.pk, error)
        with transaction.atomic():
            compare_and_set(
                current,
                allowed=(PayoutStatus.PROCESSING,),
                attempted=gettext("returned to approved"),
                new=PayoutStatus.APPROVED,
                last_error=error,
            )
            _event(current, PayoutAction.FAILED, by=by, note=error, now=given_now or timezone.now())
            announce(
                signals.payout_status_changed,
                current,
                [(PayoutStatus.PROCESSING, PayoutStatus.APPROVED, by)],
            )
        copy_into(current, payout)
        raise PayoutSendFailed(
            gettext("Payout #%(pk)s could not be sent (%(error)s); it is approved again.")
            % {"pk": payout.pk, "error": error},
            payout_id=payout.pk,
        ) from exc
    with transaction.atomic():
        step = _pay(
            current,
            by=by,
            reference=str(reference or "")[:MAX_REFERENCE],
            note="",
            now=given_now or timezone.now(),
        )
        announce(signals.payout_status_changed, current, [step])
    copy_into(current, payout)
    return payout


# --- reads ------------------------------------------------------------------------------


def covered_entries(payout: Payout) -> list[LedgerEntry]:
    """The commission entries this payout pays out (oldest first): the earn entries
    whose lots its reservation consumed."""
    if payout.reserve_entry_id is None:
        return []
    lots = LedgerEntry.objects.values_list("lots", flat=True).get(pk=payout.reserve_entry_id)
    lot_ids = [lot_id for lot_id, _taken in lots]
    return list(LedgerEntry.objects.filter(lot__pk__in=lot_ids).order_by("created_at", "pk"))


def history(payout: Payout) -> list[PayoutEvent]:
    """The payout's steps, oldest first, with who took them."""
    return list(PayoutEvent.objects.filter(payout=payout).select_related("actor"))


__all__ = [
    "approve_payout",
    "available",
    "cancel_payout",
    "covered_entries",
    "history",
    "mark_paid",
    "request_payout",
    "send_payout",
]
