"""The ledger: points, account credit and commission, as immutable signed entries.

Every balance on :class:`~django_referral_rewards.models.Account` is a cache of the sum of
that account's entries for the unit (invariant 1). Every write here:

* locks the account row first (``SELECT ... FOR UPDATE``; SQLite serialises writers with
  ``transaction_mode = IMMEDIATE``), so concurrent spends cannot overdraw (invariant 2);
* checks the idempotency key under that lock, with a unique constraint as the backstop,
  so a replayed key returns the first entry and a replay with another payload raises
  :class:`~django_referral_rewards.exceptions.IdempotencyConflict` (invariant 4);
* keeps earn lots in step for FIFO spending and expiry: the open lots of an account and
  unit always add up to ``max(balance, 0)``;
* sends its outbound signal only after commit (invariant 8).

Amounts are positive ``int`` (points, or minor currency units for credit and
commission); the sign comes from the operation.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, Sum
from django.utils import timezone

from .. import signals
from ..arguments import check_idempotency_key, check_reference
from ..conf import app_settings
from ..enums import EntryKind, Unit
from ..exceptions import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidArgument,
    InvalidUnit,
    NotReversible,
)
from ..models import Account, EarnLot, LedgerEntry, Program
from ..signals import send_on_commit

logger = logging.getLogger(__name__)

#: The largest single amount accepted (well inside a 64-bit column).
MAX_AMOUNT = 10**15
#: How many lots a spend reads per query while walking FIFO order.
LOT_CHUNK = 200

Reference = tuple[str, Any] | Model | None


# --- argument checking -------------------------------------------------------------


def balance_field(unit: str) -> str:
    """The ``Account`` field caching the balance of ``unit``."""
    try:
        return Account.BALANCE_FIELDS[unit]
    except KeyError:
        raise InvalidUnit(
            f"Unknown unit {unit!r}; use one of: {', '.join(Unit.values)}.", unit=unit
        ) from None


def _check_amount(amount: Any) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            "Amounts are positive whole numbers (points, or minor currency units), "
            f"not {amount!r}.",
            amount=amount,
        )
    if amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidAmount(
            f"The amount must be between 1 and {MAX_AMOUNT}, not {amount}.", amount=amount
        )
    return amount


#: The kinds of entry :func:`credit` and :func:`debit` may write.
CREDIT_KINDS = frozenset({EntryKind.EARN, EntryKind.TRANSFER})
DEBIT_KINDS = frozenset({EntryKind.SPEND, EntryKind.PAYOUT, EntryKind.TRANSFER})


def _check_kind(kind: Any, allowed: frozenset[str]) -> str:
    if kind not in allowed:
        raise InvalidArgument(
            f"kind must be one of {', '.join(sorted(allowed))}, not {kind!r}.", kind=kind
        )
    return str(kind)


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument("A reason is required for every ledger entry.")
    return reason.strip()[:255]


# --- locking and replay ------------------------------------------------------------


def _lock(account_id: int) -> Account:
    """Re-read the account with a row lock held until the transaction ends."""
    return Account.objects.select_for_update().get(pk=account_id)


def _replay(
    account_id: int, key: str | None, *, match: Callable[[LedgerEntry], bool]
) -> LedgerEntry | None:
    """The entry already written with ``key``, if any; a different payload is a conflict."""
    if key is None:
        return None
    existing = LedgerEntry.objects.filter(account_id=account_id, idempotency_key=key).first()
    if existing is not None and not match(existing):
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was already used for {existing} "
            f"(entry #{existing.pk}); nothing was written.",
            entry_id=existing.pk,
        )
    return existing


def _write_once(
    account_id: int,
    key: str | None,
    match: Callable[[LedgerEntry], bool],
    write: Callable[[], LedgerEntry],
) -> LedgerEntry:
    """Run ``write`` (which locks the account and checks the key itself) in its own
    transaction. Backstop: if the unique constraint on the key still fires (two writers
    not serialised by the row lock, e.g. SQLite without IMMEDIATE mode), the loser's work
    is rolled back and it returns the winner's entry instead."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        existing = _replay(account_id, key, match=match)
        if existing is None:
            raise
        return existing


# --- lots ----------------------------------------------------------------------------


def _is_due(lot: EarnLot, now: datetime) -> bool:
    return lot.expires_at is not None and lot.expires_at <= now


@dataclasses.dataclass
class _Plan:
    """What a negative movement does to the lots: lots to expire first (past their date
    but not yet swept), then ``(lot, amount)`` pairs consumed, soonest expiry first."""

    due: list[EarnLot] = dataclasses.field(default_factory=list)
    take: list[tuple[EarnLot, int]] = dataclasses.field(default_factory=list)

    @property
    def due_total(self) -> int:
        return sum(lot.remaining for lot in self.due)


def _plan_consumption(
    account: Account, unit: str, need: int, now: datetime, first: EarnLot | None = None
) -> _Plan:
    """Walk the open lots in FIFO order. Lots already past their date come first in that
    order (they expire soonest); they are expired, never spent."""
    plan = _Plan()
    left = need
    if first is not None and first.remaining > 0:
        if _is_due(first, now):
            plan.due.append(first)
        else:
            take = min(left, first.remaining)
            plan.take.append((first, take))
            left -= take
    queryset = EarnLot.objects.filter(account_id=account.pk, unit=unit).open().fifo()
    if first is not None:
        queryset = queryset.exclude(pk=first.pk)
    offset = 0
    while True:
        chunk = list(queryset[offset : offset + LOT_CHUNK])
        past_due_prefix = False
        for lot in chunk:
            if _is_due(lot, now):
                plan.due.append(lot)
                continue
            past_due_prefix = True
            if left == 0:
                break
            take = min(left, lot.remaining)
            plan.take.append((lot, take))
            left -= take
        if len(chunk) < LOT_CHUNK or (left == 0 and past_due_prefix):
            return plan
        offset += LOT_CHUNK


def _apply_consumption(plan: _Plan) -> None:
    full = [lot.pk for lot, amount in plan.take if amount == lot.remaining]
    if full:
        EarnLot.objects.filter(pk__in=full).update(remaining=0)
    for lot, amount in plan.take:
        if amount != lot.remaining:
            EarnLot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - amount)


def _mark_expired(lot_ids: list[int]) -> None:
    if lot_ids:
        EarnLot.objects.filter(pk__in=lot_ids).update(
            expired=F("expired") + F("remaining"), remaining=0
        )


def _expiry_entry(account: Account, unit: str, lots: list[EarnLot], now: datetime) -> LedgerEntry:
    """An unsaved ``expire`` entry for ``lots`` (all of one account and unit); the
    in-memory balance of ``account`` is lowered to match."""
    total = sum(lot.remaining for lot in lots)
    field = balance_field(unit)
    new_balance = getattr(account, field) - total
    setattr(account, field, new_balance)
    return LedgerEntry(
        account=account,
        unit=unit,
        kind=EntryKind.EXPIRE,
        amount=-total,
        balance_after=new_balance,
        memo="Expired",
        lots=[[lot.pk, lot.remaining] for lot in lots],
        created_at=now,
    )


# --- the one writer ----------------------------------------------------------------


def _post(
    account: Account,
    *,
    unit: str,
    amount: int,
    kind: str,
    memo: str,
    now: datetime,
    idempotency_key: str | None = None,
    reference: tuple[str, str] = ("", ""),
    created_by: Any = None,
    expires_at: datetime | None = None,
    reverses: LedgerEntry | None = None,
    first_lot: EarnLot | None = None,
    restore: list[tuple[int, int]] | None = None,
    allow_negative: bool = False,
) -> LedgerEntry:
    """Write one entry against the *locked* ``account`` and keep lots and the cached
    balance in step. ``amount`` is signed. Raises before writing anything."""
    field = balance_field(unit)
    balance = getattr(account, field)
    expiry: LedgerEntry | None = None
    plan: _Plan | None = None

    if amount < 0:
        need = -amount
        plan = _plan_consumption(account, unit, need, now, first=first_lot)
        spendable = balance - plan.due_total
        if not allow_negative and spendable < need:
            raise InsufficientBalance(balance=max(spendable, 0), requested=need, unit=unit)
        if plan.due:
            expiry = _expiry_entry(account, unit, plan.due, now)
            expiry.save()
            _mark_expired([lot.pk for lot in plan.due])
            balance = getattr(account, field)
        _apply_consumption(plan)

    new_balance = balance + amount
    entry = LedgerEntry(
        account=account,
        unit=unit,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        idempotency_key=idempotency_key,
        reverses=reverses,
        reference_type=reference[0],
        reference_id=reference[1],
        memo=memo,
        expires_at=expires_at,
        lots=[[lot.pk, taken] for lot, taken in plan.take] if plan else [],
        created_by=created_by if getattr(created_by, "pk", None) else None,
        created_at=now,
    )
    entry.save()

    if amount > 0:
        # A positive movement first repays any debt left by a clawback.
        available = amount - min(amount, max(-balance, 0))
        if restore is not None:
            for lot_id, qty in restore:
                give = min(qty, available)
                if give:
                    EarnLot.objects.filter(pk=lot_id).update(remaining=F("remaining") + give)
                    available -= give
        if restore is None or available:
            EarnLot.objects.create(
                account=account,
                entry=entry,
                unit=unit,
                amount=amount,
                remaining=available,
                expires_at=expires_at if restore is None else None,
                created_at=now,
            )

    setattr(account, field, new_balance)
    updates: dict[str, Any] = {field: new_balance, "modified": now}
    if unit == Unit.POINTS and kind == EntryKind.EARN:
        account.lifetime_points += amount
        updates["lifetime_points"] = account.lifetime_points
    elif unit == Unit.POINTS and reverses is not None and reverses.kind == EntryKind.EARN:
        account.lifetime_points -= -amount
        updates["lifetime_points"] = account.lifetime_points
    Account.objects.filter(pk=account.pk).update(**updates)

    if expiry is not None:
        _notify(expiry, account)
    _notify(entry, account)
    return entry


def _notify(entry: LedgerEntry, account: Account) -> None:
    """Send the matching outbound signal once the transaction commits."""
    if entry.unit != Unit.POINTS:
        return
    if entry.kind == EntryKind.EXPIRE:
        signal = signals.points_expired
    elif entry.amount > 0:
        signal = signals.points_credited
    else:
        signal = signals.points_debited
    send_on_commit(
        signal,
        sender=LedgerEntry,
        entry=entry,
        account=account,
        amount=abs(entry.amount),
        balance=entry.balance_after,
    )


def _sync(target: Account, locked: Account) -> None:
    """Copy the new cached balances onto the caller's instance."""
    for field in (*Account.BALANCE_FIELDS.values(), "lifetime_points"):
        setattr(target, field, getattr(locked, field))


# --- public API ----------------------------------------------------------------------


def _same_movement(kind: str, unit: str, amount: int) -> Callable[[LedgerEntry], bool]:
    return lambda e: e.kind == kind and e.unit == unit and e.amount == amount


def _movement(
    account: Account,
    *,
    amount: int,
    kind: str,
    unit: str,
    reason: str,
    idempotency_key: str | None,
    reference: Reference = None,
    created_by: Any = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Validate, lock, replay or post one signed movement, and keep the caller's account
    instance in step. ``amount`` has already been checked."""
    balance_field(unit)
    key = check_idempotency_key(idempotency_key)
    memo = _check_reason(reason)
    ref = check_reference(reference)
    now = now or timezone.now()
    match = _same_movement(kind, unit, amount)

    def write() -> LedgerEntry:
        locked = _lock(account.pk)
        existing = _replay(locked.pk, key, match=match)
        if existing is not None:
            return existing
        entry = _post(
            locked,
            unit=unit,
            amount=amount,
            kind=kind,
            memo=memo,
            now=now,
            idempotency_key=key,
            reference=ref,
            created_by=created_by,
            expires_at=expires_at if amount > 0 else None,
        )
        _sync(account, locked)
        return entry

    if account.pk is None:
        raise InvalidArgument("The account must be saved before it can hold entries.")
    return _write_once(account.pk, key, match, write)


def credit(
    account: Account,
    amount: int,
    *,
    unit: str = Unit.POINTS,
    reason: str,
    idempotency_key: str | None = None,
    expires_at: datetime | None = None,
    reference: Reference = None,
    created_by: Any = None,
    now: datetime | None = None,
    kind: str = EntryKind.EARN,
) -> LedgerEntry:
    """Add ``amount`` of ``unit`` to ``account`` as an earn lot (expiring at
    ``expires_at``, or never). The same ``idempotency_key`` again returns the first entry.
    ``kind`` is ``earn``, or ``transfer`` for an amount moved from another balance (a
    commission payout taken as account credit)."""
    return _movement(
        account,
        amount=_check_amount(amount),
        kind=_check_kind(kind, CREDIT_KINDS),
        unit=unit,
        reason=reason,
        idempotency_key=idempotency_key,
        reference=reference,
        created_by=created_by,
        expires_at=expires_at,
        now=now,
    )


def debit(
    account: Account,
    amount: int,
    *,
    unit: str = Unit.POINTS,
    reason: str,
    idempotency_key: str | None = None,
    reference: Reference = None,
    created_by: Any = None,
    now: datetime | None = None,
    kind: str = EntryKind.SPEND,
) -> LedgerEntry:
    """Take ``amount`` of ``unit`` from ``account``, consuming the lots that expire
    soonest first. Raises :class:`InsufficientBalance` (and writes nothing) if the
    spendable balance is lower — lots already past their date are not spendable even
    before the expiry sweep has run. ``kind`` is ``spend``, ``payout`` (commission paid
    out) or ``transfer``."""
    return _movement(
        account,
        amount=-_check_amount(amount),
        kind=_check_kind(kind, DEBIT_KINDS),
        unit=unit,
        reason=reason,
        idempotency_key=idempotency_key,
        reference=reference,
        created_by=created_by,
        now=now,
    )


def adjust(
    account: Account,
    amount: int,
    *,
    unit: str = Unit.POINTS,
    reason: str,
    created_by: Any = None,
    idempotency_key: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """A staff correction: ``amount`` is signed (positive adds a lot, negative consumes
    lots like a spend and may not take the balance below zero). The reason and the
    staff user are recorded on the entry."""
    negative = isinstance(amount, int) and not isinstance(amount, bool) and amount < 0
    return _movement(
        account,
        amount=-_check_amount(-amount) if negative else _check_amount(amount),
        kind=EntryKind.ADJUST,
        unit=unit,
        reason=reason,
        idempotency_key=idempotency_key,
        created_by=created_by,
        expires_at=expires_at,
        now=now,
    )


def reversible_amount(entry: LedgerEntry, *, now: datetime | None = None) -> int:
    """How much of ``entry`` may still be reversed.

    For a positive entry that is its amount less earlier reversals and less whatever of
    its lot has expired (or is past its date): points that already expired are not
    clawed back a second time. For a negative entry it is the amount less earlier
    reversals. Reversals and expiries themselves cannot be reversed (0).
    """
    if entry.kind in (EntryKind.REVERSE, EntryKind.EXPIRE):
        return 0
    now = now or timezone.now()
    reversed_total = abs(
        LedgerEntry.objects.filter(reverses=entry).aggregate(total=Sum("amount"))["total"] or 0
    )
    if entry.amount < 0:
        return -entry.amount - reversed_total
    lot = EarnLot.objects.filter(entry=entry).first()
    gone = 0
    if lot is not None:
        gone = lot.expired + (lot.remaining if _is_due(lot, now) else 0)
    return max(entry.amount - reversed_total - gone, 0)


def _restore_plan(entry: LedgerEntry, already: int, amount: int) -> list[tuple[int, int]]:
    """Give back to the lots ``entry`` consumed, last consumed first, skipping what
    earlier partial reversals already gave back."""
    plan: list[tuple[int, int]] = []
    skip, left = already, amount
    for lot_id, qty in reversed(entry.lots or []):
        if skip >= qty:
            skip -= qty
            continue
        qty -= skip
        skip = 0
        give = min(qty, left)
        plan.append((int(lot_id), give))
        left -= give
        if not left:
            break
    return plan


def reverse(
    entry: LedgerEntry,
    *,
    reason: str,
    amount: int | None = None,
    created_by: Any = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Post the opposite of ``entry`` (all that is still reversible, or ``amount`` of it).

    Reversing a positive entry (a clawback, e.g. after a refund) takes from that entry's
    own lot first, then FIFO, and *may* take the balance below zero (invariant 2: only
    reversals may); later credits repay the debt first. Reversing a negative entry (e.g.
    a rejected redemption) gives back to the very lots it consumed, with their original
    expiry dates, so a spend-and-cancel never extends the life of points.
    """
    requested = _check_amount(amount) if amount is not None else None
    key = check_idempotency_key(idempotency_key)
    memo = _check_reason(reason)
    moment = now or timezone.now()

    def match(existing: LedgerEntry) -> bool:
        return (
            existing.kind == EntryKind.REVERSE
            and existing.reverses_id == entry.pk
            and (requested is None or abs(existing.amount) == requested)
        )

    def write() -> LedgerEntry:
        locked = _lock(entry.account_id)
        existing = _replay(locked.pk, key, match=match)
        if existing is not None:
            return existing
        if entry.kind in (EntryKind.REVERSE, EntryKind.EXPIRE):
            raise NotReversible(
                f"A {entry.get_kind_display().lower()} entry cannot be reversed; "
                "post an adjustment instead.",
                entry_id=entry.pk,
            )
        cap = reversible_amount(entry, now=moment)
        if cap <= 0:
            raise NotReversible("Nothing of this entry is left to reverse.", entry_id=entry.pk)
        if requested is not None and requested > cap:
            raise InvalidAmount(
                f"At most {cap} of this entry can still be reversed, not {requested}.",
                amount=requested,
                reversible=cap,
            )
        size = cap if requested is None else requested
        common: dict[str, Any] = {
            "unit": entry.unit,
            "kind": EntryKind.REVERSE,
            "memo": memo,
            "now": moment,
            "idempotency_key": key,
            "reference": (entry.reference_type, entry.reference_id),
            "created_by": created_by,
            "reverses": entry,
        }
        if entry.amount > 0:
            own_lot = EarnLot.objects.filter(entry=entry).first()
            result = _post(locked, amount=-size, first_lot=own_lot, allow_negative=True, **common)
        else:
            already = -entry.amount - cap
            result = _post(
                locked, amount=size, restore=_restore_plan(entry, already, size), **common
            )
        caller_account = entry._state.fields_cache.get("account")
        if caller_account is not None:
            _sync(caller_account, locked)
        return result

    return _write_once(entry.account_id, key, match, write)


def balance(
    user_or_account: Any, *, unit: str = Unit.POINTS, program: Program | str | None = None
) -> int:
    """The cached balance of ``unit``: one indexed query, whatever the ledger's size.

    Accepts an ``Account`` (``program`` is ignored), a member, or a host user (then the
    account in ``program``, default program when ``None``). No account means 0.
    """
    field = balance_field(unit)
    if isinstance(user_or_account, Account):
        queryset = Account.objects.filter(pk=user_or_account.pk)
    else:
        from ..abstract_models import AbstractMember

        if isinstance(user_or_account, AbstractMember):
            queryset = Account.objects.filter(member_id=user_or_account.pk)
        elif getattr(user_or_account, "is_authenticated", False):
            queryset = Account.objects.for_user(user_or_account)
        else:
            return 0
        queryset = queryset.in_program(program)
    value = queryset.values_list(field, flat=True).first()
    return int(value or 0)


# --- expiry sweep ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExpirySweepResult:
    """What :func:`expire_lots` did. ``skipped_accounts`` counts accounts whose due lots
    were left for a later run because another transaction held their lock (another
    sweep worker, or a spend that expires them itself)."""

    batches: int
    lots: int
    entries: int
    amounts: dict[str, int]
    skipped_accounts: int = 0


def _batches(
    now: datetime, batch_size: int, program: Program | None
) -> Iterator[list[tuple[int, int]]]:
    cursor = 0
    while True:
        queryset = EarnLot.objects.due(now).filter(pk__gt=cursor)
        if program is not None:
            queryset = queryset.filter(account__program=program)
        candidates = list(queryset.order_by("pk").values_list("pk", "account_id")[:batch_size])
        if not candidates:
            return
        cursor = candidates[-1][0]
        yield candidates


def expire_lots(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    program: Program | str | None = None,
) -> ExpirySweepResult:
    """Expire what is left of every lot past its date. Set-based and batched: each batch
    is one transaction of a fixed number of queries, whatever the number of rows, and
    memory holds one batch at a time.

    Safe to run twice or from several workers at once: accounts are claimed with
    ``SKIP LOCKED`` where the database has it, and a lot with nothing remaining is never
    touched again, so a rerun after a crash finishes the work without repeating any.
    """
    now = now or timezone.now()
    size = batch_size or app_settings.SWEEP_BATCH_SIZE
    program_obj = Program.objects.resolve(program) if program is not None else None
    skip_locked = connection.features.has_select_for_update_skip_locked
    batches = lots_done = entries_done = skipped = 0
    amounts: dict[str, int] = defaultdict(int)
    for candidates in _batches(now, size, program_obj):
        with transaction.atomic():
            account_ids = sorted({account_id for _, account_id in candidates})
            accounts = {
                account.pk: account
                for account in Account.objects.select_for_update(skip_locked=skip_locked)
                .filter(pk__in=account_ids)
                .order_by("pk")
            }
            skipped += len(account_ids) - len(accounts)
            # Re-read under the account locks: a spend may have consumed or expired
            # some of these lots since they were listed.
            due = list(
                EarnLot.objects.due(now)
                .filter(pk__in=[pk for pk, _ in candidates], account_id__in=list(accounts))
                .order_by("pk")
            )
            groups: dict[tuple[int, str], list[EarnLot]] = defaultdict(list)
            for lot in due:
                groups[(lot.account_id, lot.unit)].append(lot)
            entries = [
                _expiry_entry(accounts[account_id], unit, group, now)
                for (account_id, unit), group in groups.items()
            ]
            if entries:
                LedgerEntry.objects.bulk_create(entries)
                _mark_expired([lot.pk for lot in due])
                touched = [accounts[account_id] for account_id, _ in groups]
                for account in touched:
                    account.modified = now
                Account.objects.bulk_update(touched, [*Account.BALANCE_FIELDS.values(), "modified"])
                for entry in entries:
                    _notify(entry, entry.account)
                    amounts[entry.unit] += -entry.amount
            batches += 1
            lots_done += len(due)
            entries_done += len(entries)
    return ExpirySweepResult(
        batches=batches,
        lots=lots_done,
        entries=entries_done,
        amounts=dict(amounts),
        skipped_accounts=skipped,
    )


# --- verification ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Discrepancy:
    """A cached value that disagrees with the ledger.

    ``what`` is ``"balance"`` (the cached balance differs from the sum of entries),
    ``"lots"`` (the open lots do not add up to the positive part of the balance) or
    ``"held"`` (``held_points`` differs from what the account's held points grants
    still hold).
    """

    account_id: int
    unit: str
    what: str
    cached: int
    expected: int


def _sums(
    model: Any, account_ids: list[int], value: str, **filters: Any
) -> dict[tuple[int, str], int]:
    rows = (
        model.objects.filter(account_id__in=account_ids, **filters)
        .order_by()
        .values("account_id", "unit")
        .annotate(total=Sum(value))
    )
    return {(row["account_id"], row["unit"]): int(row["total"] or 0) for row in rows}


def _held_sums(account_ids: list[int]) -> dict[int, int]:
    from ..enums import GrantStatus, RewardKind
    from ..models import RewardGrant

    rows = (
        RewardGrant.objects.filter(
            account_id__in=account_ids, status=GrantStatus.HELD, kind=RewardKind.POINTS
        )
        .order_by()
        .values("account_id")
        .annotate(total=Sum(F("value") - F("reversed_value")))
    )
    return {row["account_id"]: int(row["total"] or 0) for row in rows}


def recompute(
    *,
    account: Account | None = None,
    program: Program | str | None = None,
    fix: bool = False,
    batch_size: int | None = None,
) -> list[Discrepancy]:
    """Check every cached balance against the sum of its entries, the open lots
    against the balance, and held points against the held grants; with ``fix=True``
    rebuild wrong cached values (under the account lock). Returns what differed
    (before fixing)."""
    size = batch_size or app_settings.SWEEP_BATCH_SIZE
    queryset = Account.objects.order_by("pk")
    if account is not None:
        queryset = queryset.filter(pk=account.pk)
    elif program is not None:
        queryset = queryset.filter(program=Program.objects.resolve(program))
    fields = Account.BALANCE_FIELDS
    found: list[Discrepancy] = []
    cursor = 0
    while True:
        rows = list(
            queryset.filter(pk__gt=cursor).values("pk", "held_points", *fields.values())[:size]
        )
        if not rows:
            break
        cursor = rows[-1]["pk"]
        ids = [row["pk"] for row in rows]
        entry_sums = _sums(LedgerEntry, ids, "amount")
        lot_sums = _sums(EarnLot, ids, "remaining", remaining__gt=0)
        held_sums = _held_sums(ids)
        wrong: set[int] = set()
        for row in rows:
            held = held_sums.get(row["pk"], 0)
            if int(row["held_points"]) != held:
                found.append(
                    Discrepancy(row["pk"], Unit.POINTS, "held", int(row["held_points"]), held)
                )
                wrong.add(row["pk"])
            for unit, field in fields.items():
                cached = int(row[field])
                expected = entry_sums.get((row["pk"], unit), 0)
                if cached != expected:
                    found.append(Discrepancy(row["pk"], unit, "balance", cached, expected))
                    wrong.add(row["pk"])
                lots = lot_sums.get((row["pk"], unit), 0)
                if lots != max(expected, 0):
                    found.append(Discrepancy(row["pk"], unit, "lots", lots, max(expected, 0)))
        if fix and wrong:
            _rebuild(sorted(wrong))
    return found


@transaction.atomic
def _rebuild(account_ids: list[int]) -> None:
    accounts = list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))
    sums = _sums(LedgerEntry, account_ids, "amount")
    held = _held_sums(account_ids)
    for account in accounts:
        for unit, field in Account.BALANCE_FIELDS.items():
            setattr(account, field, sums.get((account.pk, unit), 0))
        account.held_points = held.get(account.pk, 0)
        logger.warning("Rebuilt cached balances of account %s from its ledger.", account.pk)
    Account.objects.bulk_update(accounts, [*Account.BALANCE_FIELDS.values(), "held_points"])


def program_totals(program: Program | str | None = None) -> dict[str, dict[str, int]]:
    """Per unit: the total of each entry kind, their sum, and the sum of the cached
    account balances (invariant 11: the two sums are equal). Two queries."""
    program_obj = Program.objects.resolve(program)
    totals: dict[str, dict[str, int]] = {
        unit: {"ledger": 0, "balances": 0} for unit in Account.BALANCE_FIELDS
    }
    rows = (
        LedgerEntry.objects.filter(account__program=program_obj)
        .order_by()
        .values("unit", "kind")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        totals[row["unit"]][row["kind"]] = int(row["total"])
        totals[row["unit"]]["ledger"] += int(row["total"])
    sums = Account.objects.filter(program=program_obj).aggregate(
        **{unit: Sum(field) for unit, field in Account.BALANCE_FIELDS.items()}
    )
    for unit in Account.BALANCE_FIELDS:
        totals[unit]["balances"] = int(sums[unit] or 0)
    return totals
